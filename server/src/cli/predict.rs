use std::path::PathBuf;

use serde::Serialize;

use super::ModelArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    /// Image files (JPEG, PNG, BMP, WebP, GIF).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON array with a result per image.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome {
    Predicted {
        path: String,
        predicted_class: String,
        confidence: f32,
        probabilities: std::collections::BTreeMap<String, f32>,
        needs_review: bool,
        runner_up: Option<String>,
        /// Distance from the training slices' features (refused above the model's threshold).
        ood_distance: Option<f32>,
    },
    Failed {
        path: String,
        error: String,
    },
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let classifier = args.model.load()?;
    let mut outcomes = Vec::new();
    for path in &args.images {
        let shown = path.display().to_string();
        let result = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| classifier.predict_bytes(&bytes).map_err(|e| e.to_string()));
        outcomes.push(match result {
            Ok(prediction) => Outcome::Predicted {
                path: shown,
                predicted_class: prediction.predicted_class,
                confidence: prediction.confidence,
                probabilities: prediction.probabilities.into_iter().collect(),
                needs_review: prediction.needs_review,
                runner_up: prediction.runner_up,
                ood_distance: prediction.ood_distance,
            },
            Err(error) => Outcome::Failed { path: shown, error },
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for outcome in &outcomes {
            match outcome {
                Outcome::Predicted {
                    path,
                    predicted_class,
                    confidence,
                    probabilities,
                    needs_review,
                    runner_up,
                    ..
                } => {
                    let all: Vec<String> = probabilities
                        .iter()
                        .map(|(c, p)| format!("{c} {p:.3}"))
                        .collect();
                    let review = match (needs_review, runner_up) {
                        (true, Some(runner_up)) => {
                            format!("  NEEDS REVIEW (runner-up {runner_up})")
                        }
                        _ => String::new(),
                    };
                    println!(
                        "{path}: {predicted_class} ({:.1}%)  [{}]{review}",
                        confidence * 100.0,
                        all.join(", ")
                    );
                }
                Outcome::Failed { path, error } => eprintln!("{path}: error: {error}"),
            }
        }
    }
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .count();
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} images could not be classified",
        outcomes.len()
    );
    Ok(())
}
