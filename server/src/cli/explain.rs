//! `brainscan explain`: where the model looked (Grad-CAM), for one image or, with `--data`, the
//! sanity figures over the validation split's tumour slices.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use ml::dataset;

use super::ModelArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The image to explain.
    #[arg(required_unless_present = "data")]
    pub image: Option<PathBuf>,
    /// Where to write the slice with the heatmap over it (PNG).
    #[arg(long, default_value = "heat.png")]
    pub out: PathBuf,
    /// Instead of one image: the model's validation tumour slices from this training folder,
    /// reporting the share of heat inside the head and the cost per explanation.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With `--data`, at most this many slices.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let classifier = args.model.load()?;
    if let Some(data) = &args.data {
        return sanity(&classifier, data, args.limit);
    }
    let path = args
        .image
        .as_ref()
        .context("an image or --data is needed")?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let started = Instant::now();
    let explanation = classifier.explain_bytes(&bytes)?;
    let seconds = started.elapsed().as_secs_f64();
    explanation.overlay(0.6).save(&args.out)?;
    let prediction = &explanation.prediction;
    println!(
        "{}: {} ({:.1}%){}; heatmap {}x{}, {:.0}% of it on the head; {:.1} ms; overlay written to {}",
        path.display(),
        prediction.predicted_class,
        prediction.confidence * 100.0,
        if prediction.needs_review {
            "  NEEDS REVIEW"
        } else {
            ""
        },
        explanation.grid_width,
        explanation.grid_height,
        explanation.share_in_head(classifier.manifest().preprocess.crop_threshold) * 100.0,
        seconds * 1000.0,
        args.out.display()
    );
    Ok(())
}

/// The sanity check: on validation tumour slices, how much of the heat lies inside the
/// head, and what one explanation costs against one prediction.
fn sanity(classifier: &ml::Classifier, data: &std::path::Path, limit: usize) -> anyhow::Result<()> {
    let manifest = classifier.manifest();
    let training = manifest
        .training
        .as_ref()
        .context("the model's manifest does not record its training split")?;
    let items = dataset::scan_class_folders(data)?;
    let (_, validation) =
        dataset::stratified_split(&items, training.validation_fraction, training.config.seed);
    let notumor = ml::classes::class_index("notumor");
    let tumours: Vec<_> = validation
        .iter()
        .filter(|item| Some(item.label) != notumor)
        .take(limit)
        .collect();
    let threshold = manifest.preprocess.crop_threshold;
    let random = classifier.with_random_weights(7);
    let mut correlations = Vec::new();
    let (mut shares, mut ceilings) = (Vec::new(), Vec::new());
    let (mut explain_ms, mut predict_ms) = (Vec::new(), Vec::new());
    let mut grid = (0, 0);
    for item in &tumours {
        let bytes = std::fs::read(&item.path)?;
        let started = Instant::now();
        let _ = classifier.predict_bytes(&bytes);
        predict_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        match classifier.explain_bytes(&bytes) {
            Ok(explanation) => {
                explain_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                shares.push(f64::from(explanation.share_in_head(threshold)));
                ceilings.push(f64::from(explanation.head_share_ceiling(threshold)));
                grid = (explanation.grid_width, explanation.grid_height);
                let baseline = random.explain_bytes(&bytes)?;
                correlations.push(f64::from(ml::explain::heatmap_correlation(
                    &explanation.heatmap,
                    &baseline.heatmap,
                )));
            }
            Err(ml::MlError::NotBrainMri { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    anyhow::ensure!(!shares.is_empty(), "no validation tumour slices to explain");
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mean_share = shares.iter().sum::<f64>() / shares.len() as f64;
    let (explain, predict) = (median(&mut explain_ms), median(&mut predict_ms));
    println!(
        "{} validation tumour slices: {:.1}% of the heat inside the head on average (lowest {:.1}%); \
         median {:.1} ms per explanation vs {:.1} ms per prediction ({:.1}x)",
        shares.len(),
        mean_share * 100.0,
        shares.iter().copied().fold(1.0, f64::min) * 100.0,
        explain,
        predict,
        explain / predict
    );
    println!(
        "the {}x{} grid's ceiling: a map as hot as the head itself would put {:.1}% inside it",
        grid.0,
        grid.1,
        ceilings.iter().sum::<f64>() / ceilings.len().max(1) as f64 * 100.0
    );
    println!(
        "against the same network with random weights: mean correlation of the heatmaps {:.3} \
         (1 = the same map)",
        correlations.iter().sum::<f64>() / correlations.len().max(1) as f64
    );
    Ok(())
}
