use std::path::PathBuf;
use std::time::Instant;

use ml::dataset;
use ml::label_check::{LabelCheck, LabelCheckReport};
use ml::EvaluationReport;

use super::{progress, ModelArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Every image in the folder.
    All,
    /// Only the images the model held out for validation (same seed and fraction as its training).
    Validation,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateArgs {
    /// Folder with one sub-folder per class.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, value_enum, default_value = "all")]
    pub split: Split,
    /// Print exactly one JSON object on stdout instead of the readable report.
    #[arg(long)]
    pub json: bool,
    /// A second model folder: also print what a cascade would give, in which this model answers
    /// when it is sure enough and the second one answers the rest.
    #[arg(long)]
    pub second_opinion: Option<PathBuf>,
    /// Print the chosen images' paths, one per line, and score nothing (for measurement scripts
    /// that send the held-out split to a server).
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let classifier = args.model.load()?;
    let manifest = classifier.manifest();
    let mut items = dataset::scan_class_folders(&args.data)?;
    if args.split == Split::Validation {
        let training = manifest.training.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "the model's manifest does not record its training split; use --split all"
            )
        })?;
        items =
            dataset::stratified_split(&items, training.validation_fraction, training.config.seed).1;
    }
    if args.list {
        for item in &items {
            println!("{}", item.path.display());
        }
        return Ok(());
    }
    let bar = progress::bar(
        items.len() as u64,
        "preprocessing [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let (cache, skipped) = dataset::build_cache(&items, &manifest.preprocess, &|done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    for image in &skipped {
        eprintln!("skipped {}: {}", image.path.display(), image.error);
    }
    anyhow::ensure!(
        !cache.is_empty(),
        "no readable images in {}",
        args.data.display()
    );
    let (mut report, probabilities) = classifier.evaluate_with_probabilities(&cache, 64)?;
    report.seconds = started.elapsed().as_secs_f64();
    let label_check = LabelCheck::default().measure(&probabilities, &cache.labels);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&EvaluationOutput {
                report: &report,
                label_check: &label_check,
            })?
        );
    } else {
        println!(
            "model {} ({}) on {} ({:?} split)",
            classifier.version(),
            manifest.architecture,
            args.data.display(),
            args.split
        );
        print_report(&report);
        print_label_checks(&probabilities, &cache.labels);
    }
    if let Some(dir) = &args.second_opinion {
        let second = ml::Classifier::load(dir, args.model.backend.device()?)?;
        let (second_cache, _) =
            dataset::build_cache(&items, &second.manifest().preprocess, &|_| {});
        anyhow::ensure!(
            second_cache.labels == cache.labels,
            "the second model's preprocessing skipped other images than the first's"
        );
        let (second_report, second_probabilities) =
            second.evaluate_with_probabilities(&second_cache, 16)?;
        eprintln!(
            "\nsecond opinion {} ({}): accuracy {:.2}%",
            second.version(),
            second.manifest().architecture,
            second_report.accuracy * 100.0
        );
        print_cascade(&probabilities, &second_probabilities, &cache.labels);
    }
    Ok(())
}

/// Accuracy, worst class recall and the share of images the second model sees, for cascades that
/// hand it every image on which the first model's top probability is below a threshold.
fn print_cascade(first: &[Vec<f32>], second: &[Vec<f32>], labels: &[usize]) {
    eprintln!(
        "{:>10} {:>14} {:>10} {:>18}",
        "p(top) <", "second opinion", "accuracy", "worst class recall"
    );
    let classes = ml::CLASS_NAMES.len();
    for threshold in [0.0f32, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.01] {
        let (mut escalated, mut hits) = (0usize, vec![0usize; classes]);
        let mut totals = vec![0usize; classes];
        for ((first, second), &label) in first.iter().zip(second).zip(labels) {
            let top = first.iter().copied().fold(0.0f32, f32::max);
            let answer = if top < threshold {
                escalated += 1;
                second
            } else {
                first
            };
            totals[label] += 1;
            if ml::train::argmax(answer) == label {
                hits[label] += 1;
            }
        }
        let worst = hits
            .iter()
            .zip(&totals)
            .map(|(&hit, &total)| hit as f64 / total.max(1) as f64)
            .fold(1.0f64, f64::min);
        eprintln!(
            "{:>10} {:>13.1}% {:>9.2}% {:>18.3}",
            threshold,
            escalated as f64 * 100.0 / labels.len().max(1) as f64,
            hits.iter().sum::<usize>() as f64 * 100.0 / labels.len().max(1) as f64,
            worst
        );
    }
}

/// `--json`: the evaluation report's fields, plus what the upload label check would do here.
#[derive(serde::Serialize)]
struct EvaluationOutput<'a> {
    #[serde(flatten)]
    report: &'a EvaluationReport,
    label_check: &'a LabelCheckReport,
}

/// The suspect-label hold's cost and benefit on these images, at the serving setting and around
/// it, so the setting can be chosen (and re-checked) by measurement.
fn print_label_checks(probabilities: &[Vec<f32>], labels: &[usize]) {
    let serving = LabelCheck::default();
    println!("\nsuspect-label hold (uploads whose label the model confidently contradicts)");
    println!(
        "{:>8} {:>8} {:>16} {:>18} {:>16}",
        "p(label)", "p(top)", "held good labels", "caught shifted by 1", "caught any wrong"
    );
    for max_label_probability in [0.01, 0.05, 0.10, 0.20] {
        for min_top_probability in [0.7, 0.8, 0.9, 0.95] {
            let check = LabelCheck {
                max_label_probability,
                min_top_probability,
            };
            let measured = check.measure(probabilities, labels);
            println!(
                "{:>8} {:>8} {:>9} {:>5.2}% {:>11} {:>5.2}% {:>15.2}%{}",
                format!("<={max_label_probability}"),
                format!(">={min_top_probability}"),
                measured.held_correct_labels,
                measured.held_share * 100.0,
                measured.caught_shifted_labels,
                measured.caught_shifted_share * 100.0,
                measured.caught_any_wrong_share * 100.0,
                if check == serving { "  <- serving" } else { "" }
            );
        }
    }
}

/// The human-readable report shared by `train` and `evaluate`.
pub fn print_report(report: &EvaluationReport) {
    println!(
        "\n{} images  accuracy {:.2}%  macro F1 {:.4}  loss {}  ({:.1}s)",
        report.images,
        report.accuracy * 100.0,
        report.macro_f1,
        report.loss.map_or("-".into(), |l| format!("{l:.4}")),
        report.seconds
    );
    println!(
        "\n{:<12} {:>9} {:>9} {:>9} {:>8}",
        "class", "precision", "recall", "f1", "support"
    );
    for class in &report.classes {
        if let Some(s) = report.per_class.get(class) {
            println!(
                "{class:<12} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                s.precision, s.recall, s.f1, s.support
            );
        }
    }
    let (m, w) = (report.macro_avg, report.weighted_avg);
    println!(
        "{:<12} {:>9.4} {:>9.4} {:>9.4}",
        "macro avg", m.precision, m.recall, m.f1
    );
    println!(
        "{:<12} {:>9.4} {:>9.4} {:>9.4}",
        "weighted avg", w.precision, w.recall, w.f1
    );
    println!("\nconfusion matrix (rows = true, columns = predicted)");
    print!("{:<12}", "");
    for class in &report.classes {
        print!(" {:>10}", class);
    }
    println!();
    for (class, row) in report.classes.iter().zip(&report.confusion_matrix.0) {
        print!("{class:<12}");
        for count in row {
            print!(" {count:>10}");
        }
        println!();
    }
}
