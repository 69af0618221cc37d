use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use ml::artifact::{
    write_version, DataSplit, Existing, Manifest, ModelArtifact, ModelShape, TrainingRecord,
};
use ml::dataset::{self, ImageCache};
use ml::model::{Architecture, Model, ModelConfig};
use ml::preprocess::PreprocessConfig;
use ml::train::{
    self, BatchProgress, Distillation, EpochRecord, ProgressiveResize, TrainConfig,
    TrainingObserver,
};
use ml::Backend;

use super::progress;

#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Folder with one sub-folder per class (glioma, meningioma, notumor, pituitary).
    #[arg(long)]
    pub data: PathBuf,
    /// Default: 12 for the CNN, 7 for EfficientNet-Lite0 (its reference recipe).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the model and its manifest are written.
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
    #[arg(long, default_value = "cpu")]
    pub backend: Backend,
    /// Side of the square model input in pixels (a multiple of 16; of 32 for Lite0). Default: 112
    /// for the CNN, 160 for Lite0.
    #[arg(long)]
    pub input_size: Option<usize>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Peak learning rate. Default: 3e-3 for the CNN, 6e-4 for Lite0.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Stop after this many epochs without a better validation accuracy. Default: 6 for the CNN;
    /// Lite0's recipe runs every epoch.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Share of each class held out for validation.
    #[arg(long, default_value_t = 0.15)]
    pub validation_fraction: f64,
    /// Use at most this many images per class (quick experiments).
    #[arg(long)]
    pub max_per_class: Option<usize>,
    /// Channel widths of the stem and the three stages.
    #[arg(long, value_delimiter = ',', default_value = "24,48,96,192")]
    pub widths: Vec<usize>,
    /// Shortcut connections around each stage (ResNet-style); `false` trains the plain CNN.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub residual: bool,
    /// Train the first N epochs on smaller images (progressive resizing); 0 turns it off.
    #[arg(long, default_value_t = 0)]
    pub small_epochs: usize,
    /// Side of the images in those first epochs (a multiple of 16, below --input-size).
    #[arg(long, default_value_t = 80)]
    pub small_size: usize,
    /// The network: the compact CNN or EfficientNet-Lite0.
    #[arg(long, value_enum, default_value = "cnn")]
    pub arch: ArchArg,
    /// Where the weights start: random, or ImageNet (EfficientNet-Lite0; the weights come from
    /// scripts/fetch-pretrained.sh).
    #[arg(long, value_enum, default_value = "random")]
    pub init: InitArg,
    /// Folder with `efficientnet-lite0.pth` (what scripts/fetch-pretrained.sh fills).
    #[arg(long, env = "PRETRAINED_DIR", default_value = ".cache/pretrained")]
    pub pretrained_dir: PathBuf,
    /// Save the run's state here after every epoch, so `--resume` can continue it.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Continue the run saved in `--checkpoint` from its last finished epoch (same command).
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
    /// A trained model folder (e.g. the EfficientNet-Lite0 teacher) whose outputs on the training
    /// images the new model learns from as well as from the labels (knowledge distillation).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Share of the loss that comes from the teacher.
    #[arg(long, default_value_t = 0.7, requires = "teacher")]
    pub distill_weight: f32,
    /// Temperature both models' logits are softened with.
    #[arg(long, default_value_t = 4.0, requires = "teacher")]
    pub distill_temperature: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    Cnn,
    EfficientnetLite0,
}

impl From<ArchArg> for Architecture {
    fn from(arch: ArchArg) -> Self {
        match arch {
            ArchArg::Cnn => Architecture::Cnn,
            ArchArg::EfficientnetLite0 => Architecture::EfficientNetLite0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitArg {
    Random,
    Imagenet,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let architecture = Architecture::from(args.arch);
    // Each architecture's recipe: the CNN's as tuned for it, Lite0's as the reference fine-tuning
    // of its ImageNet weights ran (`TrainConfig::lite0_recipe`). Flags override single settings.
    let (recipe, default_size) = match architecture {
        Architecture::Cnn => (
            TrainConfig {
                epochs: 12,
                patience: 6,
                ..TrainConfig::default()
            },
            112,
        ),
        Architecture::EfficientNetLite0 => (TrainConfig::lite0_recipe(), 160),
    };
    let input_size = args.input_size.unwrap_or(default_size);
    anyhow::ensure!(
        input_size >= 16 && input_size.is_multiple_of(16),
        "--input-size must be a multiple of 16"
    );
    let widths: [usize; 4] = args
        .widths
        .clone()
        .try_into()
        .map_err(|_| anyhow::anyhow!("--widths needs exactly four numbers"))?;
    anyhow::ensure!(
        args.small_epochs == 0
            || (args.small_size >= 16
                && args.small_size.is_multiple_of(16)
                && args.small_size < input_size),
        "--small-size must be a multiple of 16 below --input-size"
    );
    anyhow::ensure!(
        (0.01..0.9).contains(&args.validation_fraction),
        "--validation-fraction must be between 0.01 and 0.9"
    );
    // Lite0 halves the input five times, and its "SAME" padding assumes an even side each time.
    anyhow::ensure!(
        architecture != Architecture::EfficientNetLite0 || input_size.is_multiple_of(32),
        "--arch efficientnet-lite0 needs an --input-size that is a multiple of 32 (e.g. 128, 160)"
    );
    anyhow::ensure!(
        args.init == InitArg::Random || architecture == Architecture::EfficientNetLite0,
        "--init imagenet needs --arch efficientnet-lite0 (the CNN has no ImageNet weights)"
    );
    let started = Instant::now();
    let mut items = dataset::scan_class_folders(&args.data)?;
    if let Some(limit) = args.max_per_class {
        let mut kept = [0usize; ml::CLASS_NAMES.len()];
        items.retain(|item| {
            kept[item.label] += 1;
            kept[item.label] <= limit
        });
    }
    let (train_items, validation_items) =
        dataset::stratified_split(&items, args.validation_fraction, args.seed);
    eprintln!(
        "data: {} images in {} ({} train, {} validation; seed {})",
        items.len(),
        args.data.display(),
        train_items.len(),
        validation_items.len(),
        args.seed
    );

    anyhow::ensure!(
        (0.0..=1.0).contains(&args.distill_weight) && args.distill_temperature > 0.0,
        "--distill-weight must be between 0 and 1 and --distill-temperature above 0"
    );
    let mut preprocess = PreprocessConfig::new(input_size);
    let train_size = recipe.train_cache_size(input_size);
    let (mut train_cache, validation_cache, skipped) =
        preprocess_all(&train_items, &validation_items, &preprocess, train_size);
    if let Some(teacher) = &args.teacher {
        train_cache.teacher_logits =
            teacher_logits(teacher, &train_items, train_cache.len(), args.backend)?;
    }
    let (mean, std) = if args.init == InitArg::Imagenet {
        // The recipe the ImageNet weights were trained with: (x - 127) / 128.
        (127.0 / 255.0, 128.0 / 255.0)
    } else {
        train_cache.pixel_statistics()
    };
    preprocess.mean = mean;
    preprocess.std = std;
    eprintln!(
        "preprocessed in {:.1}s; pixel mean {mean:.3}, std {std:.3}",
        started.elapsed().as_secs_f64()
    );

    let device = args.backend.device()?.autodiff();
    device.seed(args.seed);
    let model_config = ModelConfig::new()
        .with_widths(widths)
        .with_residual(args.residual);
    let model = match args.init {
        InitArg::Random => architecture.init(&model_config, &device),
        InitArg::Imagenet => {
            let weights = args.pretrained_dir.join("efficientnet-lite0.pth");
            let imagenet =
                ml::efficientnet::EfficientNetLite::from_imagenet_pth(&weights, &device)?;
            Model::EfficientNetLite(
                imagenet
                    .into_grayscale()
                    .with_new_head(ml::CLASS_NAMES.len(), &device),
            )
        }
    };
    let parameters = model.parameter_count();
    let epochs = args.epochs.unwrap_or(recipe.epochs);
    let config = TrainConfig {
        epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate.unwrap_or(recipe.learning_rate),
        seed: args.seed,
        patience: args.patience.unwrap_or(recipe.patience),
        progressive_resize: (args.small_epochs > 0).then_some(ProgressiveResize {
            size: args.small_size,
            epochs: args.small_epochs,
        }),
        distillation: args.teacher.is_some().then_some(Distillation {
            weight: args.distill_weight,
            temperature: args.distill_temperature,
        }),
        ..recipe
    };
    eprintln!(
        "model: {architecture} ({init:?} init), {parameters} parameters, input {0}x{0}, backend {1}",
        input_size,
        args.backend,
        init = args.init
    );

    let checkpoint = args
        .checkpoint
        .as_ref()
        .map(ml::checkpoint::Checkpoint::new);
    if let Some(checkpoint) = &checkpoint {
        let saved = checkpoint.latest()?;
        match (&saved, args.resume) {
            (Some(saved), true) => eprintln!(
                "resuming after epoch {} of {} from {}",
                saved.state.epochs_done,
                saved.state.config.epochs,
                checkpoint.dir().display()
            ),
            (None, true) => anyhow::bail!(
                "--resume: {} holds no checkpoint to continue",
                checkpoint.dir().display()
            ),
            (Some(_), false) => anyhow::bail!(
                "{} already holds a checkpoint: add --resume to continue it, or remove it",
                checkpoint.dir().display()
            ),
            (None, false) => {}
        }
    }

    let steps = (train_cache.len().div_ceil(config.batch_size) * config.epochs) as u64;
    let mut observer = CliObserver {
        bar: progress::bar(
            steps,
            "{spinner} epoch {msg} [{bar:30}] {pos}/{len} steps  elapsed {elapsed_precise}  ETA {eta_precise}",
        ),
    };
    let outcome = train::train(
        model,
        &train_cache,
        &validation_cache,
        &preprocess,
        &config,
        &device,
        &mut observer,
        checkpoint.as_ref(),
    )?;
    observer.bar.finish_and_clear();

    let version = format!("v{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let manifest = Manifest::after_training(
        ModelShape {
            preprocess,
            architecture,
            model: model_config,
            parameters,
        },
        TrainingRecord {
            version: &version,
            data_description: args.data.display().to_string(),
            train_images: &train_cache,
            validation_images: &validation_cache,
            validation_fraction: args.validation_fraction,
            split: Some(DataSplit {
                validation_fraction: args.validation_fraction,
                seed: args.seed,
            }),
            skipped_images: skipped,
            config,
            backend: args.backend.to_string(),
        },
        &outcome,
    );
    // The trust check reads the training images as the model will be served them.
    let served_train_cache = if train_cache.size == input_size {
        train_cache
    } else {
        dataset::build_cache(&train_items, &preprocess, &|_| {}).0
    };
    let trust = match ml::Classifier::from_parts(
        outcome.model.clone(),
        manifest.clone(),
        args.backend.device()?,
    )
    .fit_trust(
        &served_train_cache,
        &validation_cache,
        Some(&super::trust::altered_validation(
            &validation_items,
            &preprocess,
            args.seed,
        )),
    ) {
        Ok(trust) => Some(trust),
        // A model trained on a handful of images still serves, only without the trust check.
        Err(error) => {
            eprintln!("no trust check written: {error}");
            None
        }
    };
    write_version(
        &args.out,
        &outcome.model,
        &manifest,
        trust.as_ref(),
        Existing::Replace,
    )
    .with_context(|| format!("saving the model to {}", args.out.display()))?;

    let curves = args.out.join("training_curves.png");
    let confusion = args.out.join("confusion_matrix.png");
    ml::plots::training_curves_png(&outcome.history, &curves)?;
    ml::plots::confusion_matrix_png(&outcome.validation, &confusion)?;

    println!("\nmodel {version} saved to {}", args.out.display());
    println!("plots: {}, {}", curves.display(), confusion.display());
    println!(
        "best epoch {} of {}; {:.1} images/s; training {:.0}s; total {:.0}s; temperature {:.2}",
        outcome.best_epoch,
        outcome.history.len(),
        outcome.images_per_second,
        outcome.seconds,
        started.elapsed().as_secs_f64(),
        outcome.temperature
    );
    super::evaluate::print_report(&outcome.validation);
    if let Some(trust) = &trust {
        super::trust::print_trust(trust);
    }
    Ok(())
}

/// The training images at `train_size` (see `TrainConfig::train_cache_size`) and the validation
/// images at the model's input size, and how many could not be read.
fn preprocess_all(
    train_items: &[dataset::LabeledImage],
    validation_items: &[dataset::LabeledImage],
    preprocess: &PreprocessConfig,
    train_size: usize,
) -> (ImageCache, ImageCache, usize) {
    let mut caches = Vec::new();
    let mut skipped_total = 0;
    let train_preprocess = PreprocessConfig {
        input_size: train_size,
        ..*preprocess
    };
    for (name, items, preprocess) in [
        ("train", train_items, &train_preprocess),
        ("validation", validation_items, preprocess),
    ] {
        let bar = progress::bar(
            items.len() as u64,
            "preprocessing {msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
        );
        bar.set_message(name);
        let (cache, skipped) =
            dataset::build_cache(items, preprocess, &|done| bar.set_position(done as u64));
        bar.finish_and_clear();
        for image in &skipped {
            eprintln!("skipped {}: {}", image.path.display(), image.error);
        }
        skipped_total += skipped.len();
        caches.push(cache);
    }
    let validation = caches.pop().unwrap_or_default();
    let train = caches.pop().unwrap_or_default();
    (train, validation, skipped_total)
}

/// The teacher's logits for every training image (in the order of `items`, which the training
/// cache shares), each image preprocessed the way the teacher was trained.
fn teacher_logits(
    dir: &Path,
    items: &[dataset::LabeledImage],
    expected: usize,
    backend: Backend,
) -> anyhow::Result<Vec<f32>> {
    let device = backend.device()?;
    let (teacher, manifest) = ModelArtifact::load(dir, &device)
        .with_context(|| format!("loading the teacher from {}", dir.display()))?;
    let (cache, skipped) = dataset::build_cache(items, &manifest.preprocess, &|_| {});
    anyhow::ensure!(
        skipped.is_empty() && cache.len() == expected,
        "the teacher's preprocessing skipped {} images the student keeps",
        skipped.len()
    );
    let bar = progress::bar(
        cache.len() as u64,
        "teacher {msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
    );
    bar.set_message(manifest.version.clone());
    let started = Instant::now();
    let mut logits = Vec::with_capacity(cache.len() * ml::CLASS_NAMES.len());
    let indices: Vec<usize> = (0..cache.len()).collect();
    // Small batches keep the teacher's large early activations within a few tens of MB.
    for chunk in indices.chunks(64) {
        let part = cache.subset(chunk);
        logits.extend(
            train::evaluate(&teacher, &part, &manifest.preprocess, 1.0, 16, &device)?.logits,
        );
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let agreement = ml::train::Evaluation::from_logits(logits.clone(), &cache.labels, 1.0, 0.0);
    eprintln!(
        "teacher {} ({}): {:.2}% of the training images right, {:.0}s",
        manifest.version,
        manifest.architecture,
        agreement.report.accuracy * 100.0,
        started.elapsed().as_secs_f64()
    );
    Ok(logits)
}

struct CliObserver {
    bar: ProgressBar,
}

impl TrainingObserver for CliObserver {
    fn on_batch(&mut self, progress: &BatchProgress) {
        self.bar.inc(1);
        self.bar.set_message(format!(
            "{}/{}  loss {:.3}  acc {:.3}  {:.1} img/s",
            progress.epoch,
            progress.epochs,
            progress.loss,
            progress.accuracy,
            progress.images_per_second
        ));
    }

    fn on_epoch(&mut self, record: &EpochRecord, is_best: bool) {
        let line = format!(
            "epoch {:>2}: train loss {:.4} acc {:.4} | validation loss {:.4} acc {:.4} | lr {:.2e} | {:.0}s{}",
            record.epoch,
            record.train_loss,
            record.train_accuracy,
            record.validation_loss,
            record.validation_accuracy,
            record.learning_rate,
            record.seconds,
            if is_best { "  *best" } else { "" }
        );
        // Without a terminal the bar is hidden and would swallow the line; logs still need it.
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}
