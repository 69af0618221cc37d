//! The command line: `serve` (the default) and the model tools that share the server's code.

mod accounts;
mod bench;
mod evaluate;
mod explain;
mod features;
mod healthcheck;
mod pacs;
mod predict;
mod progress;
mod report;
mod train;
mod trust;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ServeConfig, WorkerConfig};

pub use accounts::{TokenArgs, UserArgs};
pub use bench::BenchArgs;
pub use evaluate::EvaluateArgs;
pub use explain::ExplainArgs;
pub use features::ExtractFeaturesArgs;
pub use healthcheck::HealthcheckArgs;
pub use pacs::PacsArgs;
pub use predict::PredictArgs;
pub use report::ReportArgs;
pub use train::TrainArgs;
pub use trust::TrustArgs;

/// Brain-tumour MRI classification: web app, REST API and command-line tools.
#[derive(Debug, Parser)]
#[command(
    name = "brainscan",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Options for `serve`, which also runs when no subcommand is given.
    #[command(flatten)]
    serve: ServeConfig,
}

// One command is parsed per process, at start-up: boxing the web options would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve(ServeConfig),
    /// Run only the retraining worker: claim jobs queued in the database, run them with a
    /// heartbeat, and activate what the gate accepts (every `serve` process then serves it).
    Worker(WorkerConfig),
    /// Train the classifier on a folder with one sub-folder per class.
    Train(TrainArgs),
    /// Score a model on labelled images (one sub-folder per class).
    Evaluate(EvaluateArgs),
    /// Classify images.
    Predict(PredictArgs),
    /// Classify one image and write where the model looked (Grad-CAM heatmap over the slice).
    Explain(ExplainArgs),
    /// Measure single-image prediction latency (decode + preprocess + forward).
    Bench(BenchArgs),
    /// Fit a model's trust check (refusing what is not a brain MRI, flagging unsure answers) on
    /// its training split and write it beside the weights.
    Trust(TrustArgs),
    /// Print a model's recorded validation report and redraw its plots from its manifest.
    Report(ReportArgs),
    /// Compute intensity, gradient and texture features of every image into a CSV.
    ExtractFeatures(ExtractFeaturesArgs),
    /// Ask a running server's /health; exit 0 only when it is healthy (Docker's HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
    /// Work with the PACS over DICOMweb: `pacs classify --study UID` classifies a study's MR series.
    Pacs(PacsArgs),
    /// Add, list or remove user accounts.
    User(UserArgs),
    /// Create, list or revoke API tokens.
    Token(TokenArgs),
}

impl Cli {
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// Runs a model subcommand; `serve` is handled by `main`.
pub fn run_tool(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) | Command::Worker(_) => {
            anyhow::bail!("serve and worker are not tool commands")
        }
        Command::Train(args) => train::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Report(args) => report::run(args),
        Command::Trust(args) => trust::run(args),
        Command::ExtractFeatures(args) => features::run(args),
        Command::Healthcheck(args) => healthcheck::run(args),
        Command::Pacs(args) => pacs::run(args),
        Command::User(args) => accounts::run_user(args),
        Command::Token(args) => accounts::run_token(args),
    }
}

/// `--model` for every command that loads one.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Directory with manifest.json and model.bpk.
    #[arg(long = "model", env = "MODEL_DIR", default_value = "models")]
    pub dir: PathBuf,

    /// Backend to run on: cpu (Burn Flex), ndarray or wgpu (each needs its cargo feature).
    #[arg(long, default_value = "cpu")]
    pub backend: ml::Backend,
}

impl ModelArgs {
    pub fn load(&self) -> anyhow::Result<ml::Classifier> {
        Ok(ml::Classifier::load(&self.dir, self.backend.device()?)?)
    }
}
