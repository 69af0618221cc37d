use ml::artifact::ModelArtifact;

use super::ModelArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Prints a model's recorded validation report and redraws its plots from the manifest, so the PNGs
/// can be regenerated without training again.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let dir = &args.model.dir;
    let manifest = ModelArtifact::read_manifest(dir)?;
    println!(
        "model {} ({} parameters)",
        manifest.version, manifest.parameters
    );
    if !manifest.history.is_empty() {
        let path = dir.join("training_curves.png");
        ml::plots::training_curves_png(&manifest.history, &path)?;
        println!("wrote {}", path.display());
    }
    match &manifest.validation {
        Some(report) => {
            let path = dir.join("confusion_matrix.png");
            ml::plots::confusion_matrix_png(report, &path)?;
            println!("wrote {}", path.display());
            super::evaluate::print_report(report);
        }
        None => println!("the manifest records no validation report"),
    }
    Ok(())
}
