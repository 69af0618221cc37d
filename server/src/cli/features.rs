use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use ml::dataset;
use ml::features::{self, ImageFeatures, CSV_COLUMNS};
use rayon::prelude::*;

use super::progress;

#[derive(Debug, Clone, clap::Args)]
pub struct ExtractFeaturesArgs {
    /// Folder with one sub-folder per class.
    #[arg(long)]
    pub data: PathBuf,
    /// CSV to write; default `data/processed/image_features_<folder name>.csv`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Database that records the run in `preprocessing_logs`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/app.db")]
    pub database_url: String,
}

pub fn run(args: ExtractFeaturesArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let items = dataset::scan_class_folders(&args.data)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_output(&args.data));
    let bar = progress::bar(
        items.len() as u64,
        "extracting features [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
    );
    let done = AtomicUsize::new(0);
    let rows: Vec<Result<ImageFeatures, ml::MlError>> = items
        .par_iter()
        .map(|item| {
            let result = ml::preprocess::load(&item.path).map(|image| features::extract(&image));
            bar.set_position(done.fetch_add(1, Ordering::Relaxed) as u64 + 1);
            result
        })
        .collect();
    bar.finish_and_clear();

    let mut written = 0usize;
    let mut csv = String::from("filename,class_name");
    for column in CSV_COLUMNS {
        csv.push(',');
        csv.push_str(column);
    }
    csv.push('\n');
    for (item, row) in items.iter().zip(&rows) {
        match row {
            Ok(values) => {
                let name = item
                    .path
                    .strip_prefix(&args.data)
                    .unwrap_or(&item.path)
                    .to_string_lossy()
                    .replace(',', "_");
                csv.push_str(&format!("{name},{}", ml::CLASS_NAMES[item.label]));
                for value in values.csv_values() {
                    if value.fract() == 0.0 && value.abs() < 1e15 {
                        csv.push_str(&format!(",{value:.0}"));
                    } else {
                        csv.push_str(&format!(",{value:.6}"));
                    }
                }
                csv.push('\n');
                written += 1;
            }
            Err(error) => eprintln!("skipped {}: {error}", item.path.display()),
        }
    }
    if let Some(dir) = out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file =
        std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    file.write_all(csv.as_bytes())?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{written} of {} images -> {} in {seconds:.1}s",
        items.len(),
        out.display()
    );
    log_run(&args.database_url, items.len(), written, seconds)
}

fn default_output(data: &Path) -> PathBuf {
    let split = data
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    PathBuf::from("data/processed").join(format!("image_features_{split}.csv"))
}

/// Records the run in `preprocessing_logs`, like the original service did.
fn log_run(
    database_url: &str,
    images: usize,
    extracted: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let pool = db::connect(database_url).await?;
        db::preprocessing_logs::insert(
            &pool,
            &db::preprocessing_logs::NewPreprocessingLog {
                training_session_id: None,
                images_processed: images as i64,
                features_extracted: extracted as i64,
                seconds,
                status: db::preprocessing_logs::PreprocessingStatus::Completed,
                error: None,
            },
        )
        .await?;
        anyhow::Ok(())
    })
}
