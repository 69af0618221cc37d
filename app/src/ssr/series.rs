//! `POST /predict/series`: DICOM files (or one zip of them) grouped into series by their Study and
//! Series Instance UIDs, each series ordered along the slice normal (or by Instance Number), every
//! slice classified through the batching inference thread, and one verdict per series
//! ([`ml::series`]). The UIDs are only echoed to the sender: what is recorded is each slice's
//! prediction, as for any other.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::AppError;
use crate::ssr::multipart::UploadedFile;
use crate::ssr::predictions::{dicom_info, forward, image_error, record, serving_model, Recorded};
use crate::ssr::AppState;
use crate::types::series::{
    RejectedFile, SeriesPredictionResponse, SeriesResult, SeriesSlice, SeriesVerdict, SERIES_RULE,
};

/// Most DICOM files (zips unpacked) and frames one request may hold: a brain MR series has tens to
/// a few hundred slices.
pub const MAX_SERIES_SLICES: usize = 500;
/// Longest side of a slice's picture for the viewer.
const PICTURE_SIDE: u32 = 256;
/// Slices per trip through the inference thread (its queue takes requests of this size).
const CHUNK: usize = crate::ssr::predictions::MAX_FRAMES_PER_REQUEST;

/// One frame of a readable MR instance, ready for the model.
struct Instance {
    /// Upload order, for series without any ordering tag.
    order: usize,
    filename: String,
    place: ml::dicom::SeriesPlace,
    summary: ml::dicom::DicomSummary,
    frame: usize,
    input: Vec<f32>,
    signals: ml::drift::SliceSignals,
    /// The viewer's picture, when asked for: an 8-bit PNG, or the values of a file storing more.
    picture: Option<String>,
    values: Option<crate::types::series::SliceValues>,
}

/// Classifies the series in `files`; the outer error fails the request (nothing classifiable, too
/// many slices, a broken zip, no model).
/// With `pictures`, every slice comes back with its picture for the viewer.
pub async fn classify_series(
    state: &AppState,
    files: Vec<UploadedFile>,
    pictures: bool,
    source: db::series_results::Source,
) -> Result<SeriesPredictionResponse, AppError> {
    let model = serving_model(state)?;
    let config = model.classifier.manifest().preprocess;
    let max_bytes = state.service.limits().max_request_bytes;
    let (instances, rejected, total_files) =
        tokio::task::spawn_blocking(move || read_instances(files, &config, max_bytes, pictures))
            .await
            .map_err(|error| {
                tracing::error!("series decoding task failed: {error}");
                AppError::Internal
            })??;
    if instances.is_empty() {
        let reasons: Vec<String> = rejected
            .iter()
            .take(3)
            .map(|file| format!("{}: {}", file.filename, file.detail))
            .collect();
        return Err(AppError::BadRequest(format!(
            "no readable DICOM MR slice among the {total_files} file(s) ({})",
            reasons.join("; ")
        )));
    }
    crate::ssr::budget::charge_images(instances.len())?;

    let started = Instant::now();
    let mut series = group(instances);
    let inputs: Vec<Vec<f32>> = series
        .iter_mut()
        .flat_map(|(_, slices)| slices.iter_mut().map(|s| std::mem::take(&mut s.input)))
        .collect();
    let mut answers = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(CHUNK) {
        answers.extend(forward(state, &model, chunk.concat()).await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_slice = seconds / answers.len().max(1) as f64;
    state.latencies.record(per_slice * 1000.0);
    state.request_latencies.record(seconds * 1000.0);
    let threshold = model
        .classifier
        .trust()
        .map_or(0.5, |trust| trust.review_threshold);

    let uid_key = db::series_results::uid_key(&state.db).await?;
    let caller = crate::ssr::auth::principal();
    let requested_by = caller.role.map(|_| caller.subject.as_str());
    let mut answers = answers.into_iter();
    let mut results = Vec::with_capacity(series.len());
    for (key, instances) in series {
        let mut slices = Vec::with_capacity(instances.len());
        for (index, instance) in instances.into_iter().enumerate() {
            let answer = answers.next().ok_or(AppError::Internal)?;
            let mut slice = SeriesSlice {
                position: index + 1,
                filename: instance.filename,
                sop_instance_uid: instance.place.instance_uid.clone(),
                instance_number: instance.place.instance_number,
                slice_position: instance.place.slice_position,
                dicom: dicom_info(&instance.summary, instance.frame),
                image_png: instance.picture,
                values: instance.values,
                prediction: None,
                error: None,
                detail: None,
            };
            match answer {
                Ok(prediction) => {
                    state
                        .traffic
                        .count_prediction(per_slice * 1000.0, prediction.needs_review);
                    let recorded = Recorded {
                        seconds: per_slice,
                        source: db::predictions::Source::Batch,
                        slice: None,
                        signals: Some(instance.signals),
                    };
                    slice.prediction = Some(record(state, &model, prediction, recorded).await?);
                }
                Err(AppError::NotBrainMri { detail, .. }) => {
                    state.traffic.count_refusal();
                    slice.error = Some("not_brain_mri".into());
                    slice.detail = Some(detail);
                }
                Err(error) => return Err(error),
            }
            slices.push(slice);
        }
        let verdict = series_verdict(&slices, threshold);
        let first = slices.first();
        let answered = slices.iter().filter(|s| s.prediction.is_some()).count();
        let row = db::series_results::NewSeriesResult {
            study_uid: key.study_uid.as_deref(),
            series_uid: key.series_uid.as_deref(),
            source,
            model_version: &model.version,
            class_name: verdict.as_ref().map(|v| v.class_name.as_str()),
            confidence: verdict.as_ref().map(|v| v.confidence),
            needs_review: verdict.as_ref().is_none_or(|v| v.needs_review),
            slices: slices.len(),
            answered,
            driving_slices: verdict
                .as_ref()
                .map_or(&[], |v| v.driving_slices.as_slice()),
            summary: first.and_then(|s| serde_json::to_string(&s.dicom.summary).ok()),
            requested_by,
        };
        let result_id = db::series_results::insert(&state.db, &uid_key, &row).await?;
        results.push(SeriesResult {
            study_instance_uid: key.study_uid,
            series_instance_uid: key.series_uid,
            series_description: first.and_then(|s| s.dicom.summary.series_description.clone()),
            ordered_by: key.rule.to_owned(),
            slices,
            verdict,
            result_id: Some(result_id),
        });
    }
    Ok(SeriesPredictionResponse {
        series: results,
        rejected,
        total_files,
        rule: SERIES_RULE.to_owned(),
        model_version: model.version.clone(),
        timestamp: db::now_rfc3339(),
    })
}

type ReadInstances = (Vec<Instance>, Vec<RejectedFile>, usize);

/// Unpacks zips, reads every file and prepares each MR frame for the model; files that are not
/// readable DICOM MR instances are rejected one by one.
fn read_instances(
    files: Vec<UploadedFile>,
    config: &ml::preprocess::PreprocessConfig,
    max_bytes: u64,
    pictures: bool,
) -> Result<ReadInstances, AppError> {
    let mut named: Vec<(String, Vec<u8>)> = Vec::new();
    for file in files {
        if ml::series::is_zip(&file.bytes) {
            let unpacked = ml::series::unzip(&file.bytes, MAX_SERIES_SLICES, max_bytes)
                .map_err(|error| AppError::BadRequest(format!("{}: {error}", file.filename)))?;
            // An entry's name is the sender's text, shown back and on the page: cleaned like a
            // multipart file name (last path part, no control or reordering characters).
            named.extend(
                unpacked
                    .into_iter()
                    .map(|(name, bytes)| (crate::ssr::multipart::display_name(&name), bytes)),
            );
        } else {
            named.push((file.filename, file.bytes));
        }
        if named.len() > MAX_SERIES_SLICES {
            return Err(too_many());
        }
    }
    let total_files = named.len();
    let mut instances = Vec::new();
    let mut rejected = Vec::new();
    for (order, (filename, bytes)) in named.into_iter().enumerate() {
        let read = if pictures {
            ml::dicom::read_with_values(&bytes, PICTURE_SIDE)
        } else {
            ml::dicom::read(&bytes).map(|image| (image, Vec::new()))
        };
        let (image, mut frame_values) = match read {
            Ok(read) => read,
            Err(error) => {
                rejected.push(rejection(filename, &bytes, error));
                continue;
            }
        };
        // An 8-bit file's picture says all its values do; a deeper one's values go to the viewer.
        if image.summary.bits_stored <= 8 {
            frame_values.clear();
        }
        for (frame, pixels) in image.frames.iter().enumerate() {
            let values = frame_values.get(frame).map(slice_values);
            let prepared = ml::preprocess::prepare(pixels, config);
            instances.push(Instance {
                order,
                filename: filename.clone(),
                place: image.place.clone(),
                summary: image.summary.clone(),
                frame,
                signals: ml::drift::SliceSignals::measure(
                    &prepared,
                    pixels.width(),
                    pixels.height(),
                ),
                input: ml::preprocess::normalised(&prepared, config),
                picture: (pictures && values.is_none())
                    .then(|| picture(pixels))
                    .flatten(),
                values,
            });
            if instances.len() > MAX_SERIES_SLICES {
                return Err(too_many());
            }
        }
    }
    Ok((instances, rejected, total_files))
}

fn slice_values(kept: &ml::dicom::FrameValues) -> crate::types::series::SliceValues {
    use base64::Engine;
    let bytes: Vec<u8> = kept.values.iter().flat_map(|v| v.to_le_bytes()).collect();
    crate::types::series::SliceValues {
        width: kept.width,
        height: kept.height,
        data: base64::engine::general_purpose::STANDARD.encode(bytes),
        low: f64::from(kept.low),
        high: f64::from(kept.high),
    }
}

/// A frame as a base64 PNG of at most [`PICTURE_SIDE`] px; `None` (logged) if it cannot be encoded.
fn picture(frame: &image::GrayImage) -> Option<String> {
    use base64::Engine;
    let (width, height) = frame.dimensions();
    let scale = f64::from(PICTURE_SIDE) / f64::from(width.max(height).max(1));
    let shown = if scale < 1.0 {
        image::imageops::resize(
            frame,
            ((f64::from(width) * scale).round() as u32).max(1),
            ((f64::from(height) * scale).round() as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        frame.clone()
    };
    let mut png = Vec::new();
    match shown.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png) {
        Ok(()) => Some(base64::engine::general_purpose::STANDARD.encode(png)),
        Err(error) => {
            tracing::warn!(%error, "cannot encode a series slice's picture");
            None
        }
    }
}

fn too_many() -> AppError {
    AppError::PayloadTooLarge(format!(
        "the request holds more than {MAX_SERIES_SLICES} DICOM files or frames; send a series at a time"
    ))
}

fn rejection(filename: String, bytes: &[u8], error: ml::MlError) -> RejectedFile {
    let kind = match &error {
        ml::MlError::NotMrModality { .. } => "not_mr",
        ml::MlError::UnsupportedTransferSyntax { .. } => "unsupported_transfer_syntax",
        _ if !ml::dicom::is_dicom(bytes) => "not_dicom",
        _ => "unreadable",
    };
    RejectedFile {
        filename,
        error: kind.to_owned(),
        detail: image_error(error).to_string(),
    }
}

/// A series' identity and how its slices were ordered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    /// Upload order of the series' first file: series are answered in the order they came.
    first: usize,
    study_uid: Option<String>,
    series_uid: Option<String>,
    rule: &'static str,
}

/// Instances grouped by study and series (files without UIDs form one series), each ordered along
/// the slice normal when every instance has a position, else by Instance Number when every one has
/// one, else as uploaded; a multi-frame file's frames keep their order.
fn group(instances: Vec<Instance>) -> Vec<(SeriesKey, Vec<Instance>)> {
    let mut groups: BTreeMap<(Option<String>, Option<String>), Vec<Instance>> = BTreeMap::new();
    for instance in instances {
        let key = (
            instance.place.study_uid.clone(),
            instance.place.series_uid.clone(),
        );
        groups.entry(key).or_default().push(instance);
    }
    let mut series: Vec<(SeriesKey, Vec<Instance>)> = groups
        .into_iter()
        .map(|((study_uid, series_uid), instances)| {
            let keys: Vec<ml::series::SliceKey<'_>> = instances
                .iter()
                .map(|i| ml::series::SliceKey {
                    place: &i.place,
                    order: i.order,
                    frame: i.frame,
                })
                .collect();
            let (order, rule) = ml::series::order_slices(&keys);
            let mut slots: Vec<Option<Instance>> = instances.into_iter().map(Some).collect();
            let instances: Vec<Instance> = order
                .into_iter()
                .filter_map(|index| slots.get_mut(index).and_then(Option::take))
                .collect();
            let first = instances.iter().map(|i| i.order).min().unwrap_or_default();
            let key = SeriesKey {
                first,
                study_uid,
                series_uid,
                rule: rule.as_str(),
            };
            (key, instances)
        })
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

/// The verdict over the answered slices (refused ones left out), positions as in `slices`.
fn series_verdict(slices: &[SeriesSlice], threshold: f32) -> Option<SeriesVerdict> {
    let answered: Vec<(usize, &crate::types::predict::PredictionResponse)> = slices
        .iter()
        .filter_map(|slice| slice.prediction.as_ref().map(|p| (slice.position, p)))
        .collect();
    let classes: Vec<&str> = answered
        .first()?
        .1
        .probabilities
        .keys()
        .map(String::as_str)
        .collect();
    let answers: Vec<ml::series::SliceAnswer> = answered
        .iter()
        .map(|(position, prediction)| ml::series::SliceAnswer {
            position: *position,
            probabilities: prediction
                .probabilities
                .values()
                .map(|&p| p as f32)
                .collect(),
        })
        .collect();
    let verdict = ml::series::verdict(&answers, &classes, threshold)?;
    Some(SeriesVerdict {
        driving_slices: verdict.driving_positions(&answers),
        class_name: verdict.class_name,
        confidence: f64::from(verdict.confidence),
        needs_review: verdict.needs_review,
        reason: verdict.reason,
        threshold: f64::from(threshold),
    })
}
