use std::path::PathBuf;
use std::time::Instant;

use ml::dataset;
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
    let mut report = classifier.evaluate(&cache, 64)?;
    report.seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "model {} on {} ({:?} split)",
            classifier.version(),
            args.data.display(),
            args.split
        );
        print_report(&report);
    }
    Ok(())
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
