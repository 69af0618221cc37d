//! `brainscan trust`: fits a model's trust check (the refusal of images that are not brain MRI
//! slices and the review threshold) on the model's own training split, writes it beside the
//! weights, and measures the refusal on folders of images that are not MRI.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ml::dataset;
use ml::trust::Trust;

use super::{progress, ModelArgs};

#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// The model's training data (one sub-folder per class); its recorded split is reused.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folders of images that are not brain MRI slices, one sub-folder per kind (photos, charts,
    /// ...): the share refused is reported per kind.
    #[arg(long)]
    pub non_mri: Option<PathBuf>,
    /// Measure only: do not write trust.json.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the fitted check and measure only its drift baseline on the validation split (for a
    /// model whose trust.json predates drift measurement): one pass over the validation slices.
    #[arg(long)]
    pub drift_only: bool,
}

/// The refusal measured on one kind of non-MRI image.
#[derive(Debug)]
pub struct KindRefusal {
    pub kind: String,
    pub images: usize,
    pub refused: usize,
    pub unreadable: usize,
}

pub fn run(args: TrustArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let classifier = args.model.load()?;
    let manifest = classifier.manifest();
    let training = manifest.training.as_ref().ok_or_else(|| {
        anyhow::anyhow!("the model's manifest does not record its training split")
    })?;
    let items = dataset::scan_class_folders(&args.data)?;
    let (train_items, validation_items) =
        dataset::stratified_split(&items, training.validation_fraction, training.config.seed);
    let bar = progress::bar(
        items.len() as u64,
        "preprocessing [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
    );
    if args.drift_only {
        return drift_only(&args, &classifier, &validation_items, started);
    }
    let (train, _) = dataset::build_cache(&train_items, &manifest.preprocess, &|done| {
        bar.set_position(done as u64)
    });
    let (validation, _) = dataset::build_cache(&validation_items, &manifest.preprocess, &|done| {
        bar.set_position((train_items.len() + done) as u64)
    });
    bar.finish_and_clear();
    let altered = altered_validation(
        &validation_items,
        &manifest.preprocess,
        training.config.seed,
    );
    let trust = classifier.fit_trust(&train, &validation, Some(&altered))?;
    print_trust(&trust);
    if !args.dry_run {
        trust.save(&args.model.dir)?;
        eprintln!(
            "wrote {}",
            args.model.dir.join(ml::trust::TRUST_FILE).display()
        );
    }
    if let Some(dir) = &args.non_mri {
        let classifier = classifier.with_trust(Some(trust));
        let refusals = measure_refusals(&classifier, dir)?;
        print_refusals(&refusals);
    }
    eprintln!("{:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Measures the drift baseline of a model's existing check and writes it into its trust.json.
fn drift_only(
    args: &TrustArgs,
    classifier: &ml::Classifier,
    validation_items: &[dataset::LabeledImage],
    started: Instant,
) -> anyhow::Result<()> {
    let mut trust = classifier
        .trust()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the model has no trust.json to add a drift baseline to"))?;
    let bar = progress::bar(
        validation_items.len() as u64,
        "preprocessing [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
    );
    let (validation, _) = dataset::build_cache(
        validation_items,
        &classifier.manifest().preprocess,
        &|done| bar.set_position(done as u64),
    );
    bar.finish_and_clear();
    let baseline = classifier.drift_baseline(&validation)?;
    eprintln!(
        "drift baseline on {} validation slices: class mix {:?}",
        baseline.images,
        baseline
            .class_mix
            .iter()
            .map(|share| format!("{:.3}", share))
            .collect::<Vec<_>>()
    );
    trust.drift_baseline = Some(baseline);
    if !args.dry_run {
        trust.save(&args.model.dir)?;
        eprintln!(
            "wrote {}",
            args.model.dir.join(ml::trust::TRUST_FILE).display()
        );
    }
    eprintln!("{:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The validation slices altered as other scanners and exports alter them
/// ([`ml::scanner_variation`]), which the not-an-MRI check must let through too.
pub fn altered_validation(
    items: &[dataset::LabeledImage],
    preprocess: &ml::preprocess::PreprocessConfig,
    seed: u64,
) -> dataset::ImageCache {
    let started = Instant::now();
    let altered = ml::scanner_variation::altered_cache(items, preprocess, seed);
    eprintln!(
        "{} validation slices altered as other scanners deliver them in {:.0}s",
        altered.len(),
        started.elapsed().as_secs_f64()
    );
    altered
}

pub fn print_trust(trust: &Trust) {
    let report = &trust.report;
    println!(
        "not-an-MRI threshold {:.3}: {:.2}% of {} validation slices pass",
        trust.ood.threshold,
        report.mri_pass_rate * 100.0,
        report.validation_images
    );
    if let Some(rate) = report.altered_pass_rate {
        println!(
            "  and {:.2}% of the same slices altered as other scanners and exports deliver them",
            rate * 100.0
        );
    }
    println!(
        "review below p {:.3}: {:.1}% of validation answers flagged, the rest {:.2}% right",
        trust.review_threshold,
        report.flagged_share * 100.0,
        report.unflagged_accuracy * 100.0
    );
    println!(
        "expected calibration error: {:.4} before temperature calibration, {:.4} after",
        report.ece_uncalibrated, report.ece_calibrated
    );
}

/// Runs every image under `root/<kind>/` through the classifier and counts the refusals.
fn measure_refusals(classifier: &ml::Classifier, root: &Path) -> anyhow::Result<Vec<KindRefusal>> {
    let mut kinds: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    kinds.sort();
    let mut refusals = Vec::new();
    for kind in kinds {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&kind)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        let mut counts = KindRefusal {
            kind: kind
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            images: 0,
            refused: 0,
            unreadable: 0,
        };
        for file in files {
            let bytes = std::fs::read(&file)?;
            counts.images += 1;
            match classifier.predict_bytes(&bytes) {
                Err(ml::MlError::NotBrainMri { .. }) => counts.refused += 1,
                Err(ml::MlError::Decode(_) | ml::MlError::EmptyImage) => counts.unreadable += 1,
                Err(other) => return Err(other.into()),
                Ok(_) => {}
            }
        }
        refusals.push(counts);
    }
    Ok(refusals)
}

fn print_refusals(refusals: &[KindRefusal]) {
    println!(
        "{:<14} {:>7} {:>8} {:>9}",
        "kind", "images", "refused", "share"
    );
    let (mut images, mut refused) = (0, 0);
    for kind in refusals {
        let readable = kind.images - kind.unreadable;
        println!(
            "{:<14} {:>7} {:>8} {:>8.1}%",
            kind.kind,
            readable,
            kind.refused,
            kind.refused as f64 / readable.max(1) as f64 * 100.0
        );
        images += readable;
        refused += kind.refused;
    }
    println!(
        "{:<14} {:>7} {:>8} {:>8.1}%",
        "all",
        images,
        refused,
        refused as f64 / images.max(1) as f64 * 100.0
    );
}
