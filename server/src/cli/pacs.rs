//! `brainscan pacs classify --study UID`: a study's MR series fetched from the PACS over DICOMweb
//! (WADO-RS), every slice classified with the local model, one verdict per series by the rule the
//! server uses (`ml::series`), and with `--store` the result stored back as a Secondary Capture
//! series of the study (STOW-RS). Nothing is written locally; patient tags are never printed.

use anyhow::Context;

use super::progress::bar;
use super::ModelArgs;
use crate::config::PacsConfig;

#[derive(Debug, Clone, clap::Args)]
pub struct PacsArgs {
    #[command(subcommand)]
    pub command: PacsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum PacsCommand {
    /// Fetch a study's MR series (or one of them), classify every slice and print each verdict.
    Classify(PacsClassifyArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct PacsClassifyArgs {
    /// Study Instance UID.
    #[arg(long)]
    pub study: String,
    /// Only this Series Instance UID (default: every MR series of the study).
    #[arg(long)]
    pub series: Option<String>,
    /// Store each series' result in the PACS: every slice's heatmap with its answer burned in, as
    /// a Secondary Capture series of the same study.
    #[arg(long)]
    pub store: bool,
    /// Print one JSON array with a result per series.
    #[arg(long)]
    pub json: bool,
    /// Largest series fetched, in MiB.
    #[arg(long, default_value_t = 512)]
    pub max_series_mb: u64,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub pacs: PacsConfig,
}

/// One series' outcome, as printed.
#[derive(Debug, serde::Serialize)]
struct SeriesOutcome {
    series_instance_uid: String,
    slices: usize,
    ordered_by: &'static str,
    /// Slices that could not be read or were refused, with why.
    skipped: Vec<String>,
    verdict: Option<ml::series::SeriesVerdict>,
    /// The stored result's series UID, with `--store`.
    stored_series_instance_uid: Option<String>,
}

pub fn run(args: PacsArgs) -> anyhow::Result<()> {
    match args.command {
        PacsCommand::Classify(args) => classify(args),
    }
}

fn classify(args: PacsClassifyArgs) -> anyhow::Result<()> {
    let client = args
        .pacs
        .client()
        .map_err(|reason| anyhow::anyhow!("DICOMWEB_URL: {reason}"))?
        .context("no PACS: set DICOMWEB_URL (or --dicomweb-url)")?;
    let classifier = args.model.load()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listed = runtime.block_on(client.series(&args.study))?;
    let mut listed = listed;
    listed.sort_by(|a, b| {
        (a.number.is_none(), a.number, &a.series_uid).cmp(&(
            b.number.is_none(),
            b.number,
            &b.series_uid,
        ))
    });
    let wanted: Vec<String> = match &args.series {
        Some(uid) => vec![uid.clone()],
        None => listed
            .iter()
            .filter(|s| s.modality.as_deref() == Some("MR"))
            .map(|s| s.series_uid.clone())
            .collect(),
    };
    anyhow::ensure!(!wanted.is_empty(), "study {} has no MR series", args.study);
    let mut outcomes = Vec::new();
    for series_uid in wanted {
        let fetched = runtime.block_on(client.fetch_series(
            &args.study,
            &series_uid,
            args.max_series_mb * 1024 * 1024,
        ))?;
        let (outcome, slices) = classify_series(&classifier, series_uid, &fetched)?;
        let mut outcome = outcome;
        if args.store && outcome.verdict.is_some() {
            let link = ml::secondary_capture::StudyLink::from_instance(&fetched[0])?;
            let caption = ml::secondary_capture::SeriesCaption {
                verdict: outcome.verdict.as_ref().map(|v| {
                    (
                        v.class_name.clone(),
                        f64::from(v.confidence),
                        v.needs_review,
                    )
                }),
                model_version: classifier.version().to_owned(),
            };
            let slices: Vec<(&[u8], ml::secondary_capture::SliceCaption)> = slices
                .into_iter()
                .map(|(instance, caption)| (fetched[instance].as_slice(), caption))
                .collect();
            let (stored_uid, files) =
                ml::secondary_capture::result_series(&classifier, &link, &slices, &caption)?;
            let stored = runtime.block_on(client.store(&files))?;
            anyhow::ensure!(
                !stored.accepted.is_empty(),
                "the PACS stored none of the {} result images",
                files.len()
            );
            outcome.stored_series_instance_uid = Some(stored_uid);
        }
        outcomes.push(outcome);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for outcome in &outcomes {
            print_outcome(outcome);
        }
    }
    Ok(())
}

/// A slice ready for the model: its instance (index into the fetched files), place and input.
struct Slice {
    instance: usize,
    frame: usize,
    place: ml::dicom::SeriesPlace,
    input: Vec<f32>,
}

/// Classifies one fetched series; answers its outcome and, per answered slice in order, its
/// instance and caption (for storing the result).
fn classify_series(
    classifier: &ml::Classifier,
    series_uid: String,
    fetched: &[Vec<u8>],
) -> anyhow::Result<(
    SeriesOutcome,
    Vec<(usize, ml::secondary_capture::SliceCaption)>,
)> {
    let config = classifier.manifest().preprocess;
    let progress = bar(
        fetched.len() as u64,
        "{msg} [{bar:30}] {pos}/{len} instances ({eta})",
    );
    progress.set_message(format!("series {series_uid}"));
    let mut slices = Vec::new();
    let mut skipped = Vec::new();
    for (instance, bytes) in fetched.iter().enumerate() {
        match ml::dicom::read(bytes) {
            Ok(image) => {
                for (frame, pixels) in image.frames.iter().enumerate() {
                    let prepared = ml::preprocess::prepare(pixels, &config);
                    slices.push(Slice {
                        instance,
                        frame,
                        place: image.place.clone(),
                        input: ml::preprocess::normalised(&prepared, &config),
                    });
                }
            }
            Err(error) => skipped.push(format!("instance {}: {error}", instance + 1)),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let keys: Vec<ml::series::SliceKey<'_>> = slices
        .iter()
        .map(|s| ml::series::SliceKey {
            place: &s.place,
            order: s.instance,
            frame: s.frame,
        })
        .collect();
    let (order, rule) = ml::series::order_slices(&keys);
    let total = order.len();
    let mut answers = Vec::new();
    let mut captions = Vec::new();
    for (chunk_start, chunk) in order.chunks(32).enumerate().map(|(i, c)| (i * 32, c)) {
        let inputs: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| slices[i].input.iter().copied())
            .collect();
        for (offset, (answer, &index)) in classifier
            .predict_inputs(inputs)?
            .into_iter()
            .zip(chunk)
            .enumerate()
        {
            let position = chunk_start + offset + 1;
            match answer {
                Ok(prediction) => {
                    answers.push(ml::series::SliceAnswer {
                        position,
                        probabilities: prediction.probabilities.iter().map(|(_, p)| *p).collect(),
                    });
                    captions.push((
                        slices[index].instance,
                        ml::secondary_capture::SliceCaption {
                            position,
                            total,
                            class_name: prediction.predicted_class.clone(),
                            confidence: f64::from(prediction.confidence),
                            probabilities: prediction
                                .probabilities
                                .iter()
                                .map(|(class, p)| (class.clone(), f64::from(*p)))
                                .collect(),
                            needs_review: prediction.needs_review,
                        },
                    ));
                }
                Err(error) => skipped.push(format!("slice {position}: {error}")),
            }
        }
    }
    let classes: Vec<&str> = classifier
        .manifest()
        .classes
        .iter()
        .map(String::as_str)
        .collect();
    let threshold = classifier.trust().map_or(0.5, |t| t.review_threshold);
    let mut verdict = ml::series::verdict(&answers, &classes, threshold);
    if let Some(verdict) = verdict.as_mut() {
        verdict.driving_slices = verdict.driving_positions(&answers);
    }
    let outcome = SeriesOutcome {
        series_instance_uid: series_uid,
        slices: total,
        ordered_by: rule.as_str(),
        skipped,
        verdict,
        stored_series_instance_uid: None,
    };
    Ok((outcome, captions))
}

fn print_outcome(outcome: &SeriesOutcome) {
    println!(
        "series {} · {} slices (ordered by {})",
        outcome.series_instance_uid, outcome.slices, outcome.ordered_by
    );
    match &outcome.verdict {
        Some(verdict) => println!(
            "  verdict: {} {:.1}%{} · slices {:?}\n  {}",
            verdict.class_name,
            verdict.confidence * 100.0,
            if verdict.needs_review {
                "  NEEDS REVIEW"
            } else {
                ""
            },
            verdict.driving_slices,
            verdict.reason
        ),
        None => println!("  no slice could be answered"),
    }
    for skipped in &outcome.skipped {
        println!("  skipped {skipped}");
    }
    if let Some(uid) = &outcome.stored_series_instance_uid {
        println!("  stored in the PACS as series {uid}");
    }
}
