use std::path::PathBuf;
use std::time::Instant;

use ml::preprocess;

use super::ModelArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image to classify; by default a generated 512x512 JPEG shaped like an MRI slice.
    #[arg(long)]
    pub image: Option<PathBuf>,
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Also time the forward pass alone at these batch sizes (per image), e.g. `1,4,16`: what
    /// batching concurrent requests would buy.
    #[arg(long, value_delimiter = ',')]
    pub batch_sizes: Vec<usize>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let classifier = args.model.load()?;
    let bytes = match &args.image {
        Some(path) => std::fs::read(path)?,
        None => ml::phantom::slice_jpeg(0, 512)?,
    };
    for _ in 0..5 {
        classifier.predict_bytes(&bytes)?;
    }
    let mut millis = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations.max(1) {
        let started = Instant::now();
        classifier.predict_bytes(&bytes)?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let summary = LatencySummary::new(millis);
    println!(
        "single-image prediction (decode + preprocess + forward + trust check), {} runs, backend {}: p50 {:.2} ms  p95 {:.2} ms  mean {:.2} ms  min {:.2} ms",
        summary.runs, args.model.backend, summary.p50, summary.p95, summary.mean, summary.min
    );
    print_stage_medians(&classifier, &bytes, args.iterations.clamp(1, 50))?;
    if !args.batch_sizes.is_empty() {
        print_batched_forward(&classifier, &bytes, &args.batch_sizes)?;
    }
    Ok(())
}

/// Forward-pass time per image at each batch size, over enough runs for about 200 images each.
fn print_batched_forward(
    classifier: &ml::Classifier,
    bytes: &[u8],
    batch_sizes: &[usize],
) -> anyhow::Result<()> {
    let config = classifier.manifest().preprocess;
    let pixels = preprocess::prepare(&preprocess::decode(bytes)?, &config);
    let mut input = vec![0.0; pixels.len()];
    preprocess::normalise_into(&pixels, &config, &mut input);
    for &batch in batch_sizes.iter().filter(|&&b| b > 0) {
        let inputs: Vec<f32> = input
            .iter()
            .copied()
            .cycle()
            .take(input.len() * batch)
            .collect();
        classifier.predict_inputs(inputs.clone())?;
        let runs = (200 / batch).max(3);
        let mut per_image = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            classifier.predict_inputs(inputs.clone())?;
            per_image.push(started.elapsed().as_secs_f64() * 1000.0 / batch as f64);
        }
        println!(
            "forward at batch {batch}: median {:.2} ms per image over {runs} runs",
            LatencySummary::new(per_image).p50
        );
    }
    Ok(())
}

struct LatencySummary {
    runs: usize,
    p50: f64,
    p95: f64,
    mean: f64,
    min: f64,
}

impl LatencySummary {
    fn new(mut millis: Vec<f64>) -> Self {
        millis.sort_by(f64::total_cmp);
        let percentile = |p: f64| millis[((millis.len() - 1) as f64 * p).round() as usize];
        Self {
            runs: millis.len(),
            p50: percentile(0.5),
            p95: percentile(0.95),
            mean: millis.iter().sum::<f64>() / millis.len() as f64,
            min: millis[0],
        }
    }
}

/// Where the time goes: the median of each stage timed on its own, so a regression points at its cause.
fn print_stage_medians(
    classifier: &ml::Classifier,
    bytes: &[u8],
    runs: usize,
) -> anyhow::Result<()> {
    let config = classifier.manifest().preprocess;
    let (mut decode_ms, mut prepare_ms, mut forward_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let image = preprocess::decode(bytes)?;
        decode_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let pixels = preprocess::prepare(&image, &config);
        let mut input = vec![0.0; pixels.len()];
        preprocess::normalise_into(&pixels, &config, &mut input);
        prepare_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        classifier.predict_inputs(input)?;
        forward_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "stage medians over {runs} runs: decode {:.2} ms  crop+resize+normalise {:.2} ms  forward {:.2} ms (trust check included)",
        LatencySummary::new(decode_ms).p50,
        LatencySummary::new(prepare_ms).p50,
        LatencySummary::new(forward_ms).p50
    );
    if let Some(trust) = classifier.trust() {
        // The distance costs the same whatever the features' values.
        let features = vec![0.5f32; trust.ood.feature_width];
        let repeats = 1000;
        let started = Instant::now();
        let mut total = 0.0f32;
        for _ in 0..repeats {
            total += trust.ood.distance(std::hint::black_box(&features));
        }
        std::hint::black_box(total);
        println!(
            "trust check (not-an-MRI distance over {} features): {:.4} ms per image",
            trust.ood.feature_width,
            started.elapsed().as_secs_f64() * 1000.0 / f64::from(repeats)
        );
    }
    Ok(())
}
