//! The PACS over DICOMweb (`DICOMWEB_URL`): its studies and series listed with the verdicts recorded
//! for them, a series fetched with WADO-RS and classified as an uploaded one is, and the result stored
//! back as a Secondary Capture series of the source study (STOW-RS).
//!
//! Patient names and IDs pass through to the signed-in caller and nowhere else: no log line, no
//! database row, no stored object. Recorded verdicts carry the UIDs only hashed.

use std::time::Instant;

use crate::error::AppError;
use crate::ssr::multipart::UploadedFile;
use crate::ssr::predictions::{on_blocking_thread, serving_model};
use crate::ssr::AppState;
use crate::types::pacs::{
    PacsClassification, SeriesRow, StoredInPacs, StoredSeriesResult, StudyList, StudyRow,
    StudySeries,
};
use crate::types::series::SeriesResult;

/// Studies a page lists at most.
pub const MAX_STUDIES_PER_PAGE: usize = 100;

fn client(state: &AppState) -> Result<&pacs::DicomWebClient, AppError> {
    state.service.dicomweb.as_ref().ok_or_else(|| {
        AppError::Unavailable("no PACS is configured on this server (set DICOMWEB_URL)".into())
    })
}

fn stored(row: db::series_results::SeriesResultRow) -> StoredSeriesResult {
    StoredSeriesResult {
        id: row.id,
        class_name: row.class_name,
        confidence: row.confidence,
        needs_review: row.needs_review != 0,
        slices: row.slices,
        model_version: row.model_version,
        source: row.source,
        sent_to_pacs_at: row.sent_to_pacs_at,
        created_at: row.created_at,
    }
}

/// `YYYYMMDD` as `YYYY-MM-DD`; anything else as it came.
fn iso_date(date: String) -> String {
    let is_dicom_date = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    if is_dicom_date {
        format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..])
    } else {
        date
    }
}

/// What a study search asks for.
#[derive(Debug, Clone, Default)]
pub struct StudySearch {
    pub limit: usize,
    pub offset: usize,
    pub mr_only: bool,
    pub patient_id: Option<String>,
    pub patient_name: Option<String>,
}

pub async fn studies(state: &AppState, search: StudySearch) -> Result<StudyList, AppError> {
    let limit = search.limit.clamp(1, MAX_STUDIES_PER_PAGE);
    let (offset, mr_only) = (search.offset, search.mr_only);
    let given =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let query = pacs::StudyQuery {
        limit,
        offset,
        modality: mr_only.then(|| "MR".to_owned()),
        patient_id: given(search.patient_id),
        patient_name: given(search.patient_name),
    };
    let found = client(state)?.studies(&query).await?;
    let key = db::series_results::uid_key(&state.db).await?;
    let mut studies = Vec::with_capacity(found.len());
    for study in found {
        let last_result = db::series_results::for_study(&state.db, &key, &study.study_uid)
            .await?
            .into_iter()
            .next()
            .map(stored);
        studies.push(StudyRow {
            study_instance_uid: study.study_uid,
            study_date: study.date.map(iso_date),
            study_description: study.description,
            modalities: study.modalities,
            patient_name: study
                .patient_name
                .map(|name| name.replace('^', " ").trim().to_owned()),
            patient_id: study.patient_id,
            series_count: study.series_count,
            instance_count: study.instance_count,
            last_result,
        });
    }
    Ok(StudyList {
        studies,
        limit,
        offset,
        mr_only,
    })
}

pub async fn series(state: &AppState, study_uid: &str) -> Result<StudySeries, AppError> {
    let found = client(state)?.series(study_uid).await?;
    let key = db::series_results::uid_key(&state.db).await?;
    let mut series = Vec::with_capacity(found.len());
    for one in found {
        let last_result =
            db::series_results::latest_for_series(&state.db, &key, study_uid, &one.series_uid)
                .await?
                .map(stored);
        series.push(SeriesRow {
            classifiable: one.modality.as_deref() == Some("MR"),
            series_instance_uid: one.series_uid,
            modality: one.modality,
            series_description: one.description,
            series_number: one.number,
            instance_count: one.instance_count,
            last_result,
        });
    }
    series.sort_by_key(|s| (s.series_number.is_none(), s.series_number));
    Ok(StudySeries {
        study_instance_uid: study_uid.to_owned(),
        series,
    })
}

/// Fetches a series with WADO-RS and classifies it; with `store`, also stores the result in the
/// PACS (the caller's role was checked by the route).
pub async fn classify(
    state: &AppState,
    study_uid: &str,
    series_uid: &str,
    pictures: bool,
    store: bool,
) -> Result<PacsClassification, AppError> {
    let client = client(state)?;
    let started = Instant::now();
    let instances = client
        .fetch_series(
            study_uid,
            series_uid,
            state.service.limits().max_request_bytes,
        )
        .await?;
    let fetch_seconds = started.elapsed().as_secs_f64();
    if instances.len() > crate::ssr::series::MAX_SERIES_SLICES {
        return Err(AppError::PayloadTooLarge(format!(
            "the series has {} instances; at most {} are classified at once",
            instances.len(),
            crate::ssr::series::MAX_SERIES_SLICES
        )));
    }
    // Storing the result needs the instances again after classifying: only then are they copied.
    let kept = store.then(|| instances.clone());
    let files: Vec<UploadedFile> = instances
        .into_iter()
        .enumerate()
        .map(|(index, bytes)| UploadedFile {
            field: "files".into(),
            filename: instance_name(index),
            bytes,
        })
        .collect();
    let classified = Instant::now();
    let mut result = crate::ssr::series::classify_series(
        state,
        files,
        pictures,
        db::series_results::Source::Pacs,
    )
    .await?;
    let classify_seconds = classified.elapsed().as_secs_f64();
    // WADO-RS answered this series only; anything else in it is not what was asked for.
    result
        .series
        .retain(|s| s.series_instance_uid.as_deref() == Some(series_uid));
    if result.series.is_empty() {
        return Err(AppError::BadRequest(format!(
            "series {series_uid} holds no classifiable MR slice"
        )));
    }
    let stored = match kept {
        Some(instances) => {
            let outcome = store_result(state, client, &result.series[0], &instances).await;
            // Writing into the hospital's PACS is audited; the target is the recorded verdict's
            // id, since the audit trail holds no UID.
            let target = result.series[0]
                .result_id
                .map(|id| format!("series result {id}"));
            let (audited, detail) = match &outcome {
                Ok(stored) => (
                    domain::AuditOutcome::Ok,
                    format!("{} image(s) stored in the PACS", stored.images),
                ),
                Err(error) => (domain::AuditOutcome::Failed, error.to_string()),
            };
            crate::ssr::auth::audit(
                &state.db,
                &crate::ssr::auth::principal(),
                "pacs_store",
                target.as_deref(),
                audited,
                Some(&detail),
            )
            .await;
            Some(outcome?)
        }
        None => None,
    };
    Ok(PacsClassification {
        result,
        fetch_seconds,
        classify_seconds,
        stored,
    })
}

/// Where the serving model looks on one instance of a PACS series (the viewer's heatmap): fetched
/// with WADO-RS and explained without recording a prediction (the series' classification did).
pub async fn explain(
    state: &AppState,
    study_uid: &str,
    series_uid: &str,
    instance_uid: &str,
) -> Result<crate::types::predict::ExplanationResponse, AppError> {
    let bytes = client(state)?
        .fetch_instance(
            study_uid,
            series_uid,
            instance_uid,
            state.service.max_upload_bytes,
        )
        .await?;
    crate::ssr::explanations::explain_unrecorded(state, bytes, None).await
}

fn instance_name(index: usize) -> String {
    format!("instance-{:04}.dcm", index + 1)
}

/// Explains every answered slice, burns the answer and "research use only" into each overlay,
/// and stores them with STOW-RS as a new series of the source study.
async fn store_result(
    state: &AppState,
    client: &pacs::DicomWebClient,
    series: &SeriesResult,
    instances: &[Vec<u8>],
) -> Result<StoredInPacs, AppError> {
    use ml::secondary_capture::{SeriesCaption, SliceCaption, StudyLink};
    let started = Instant::now();
    let model = serving_model(state)?;
    let _turn = crate::ssr::explanations::explanation_turn()?;
    let source = instances.first().ok_or(AppError::Internal)?;
    let link = StudyLink::from_instance(source)
        .map_err(|error| AppError::BadRequest(format!("the series' first instance: {error}")))?;
    let caption = SeriesCaption {
        verdict: series
            .verdict
            .as_ref()
            .map(|v| (v.class_name.clone(), v.confidence, v.needs_review)),
        model_version: model.version.clone(),
    };
    let total = series.slices.len();
    let mut slices = Vec::new();
    for slice in &series.slices {
        let Some(prediction) = &slice.prediction else {
            continue;
        };
        let index = instances_index(&slice.filename).ok_or(AppError::Internal)?;
        let slice_caption = SliceCaption {
            position: slice.position,
            total,
            class_name: prediction.predicted_class.clone(),
            confidence: prediction.confidence,
            probabilities: prediction
                .probabilities
                .iter()
                .map(|(class, p)| (class.clone(), *p))
                .collect(),
            needs_review: prediction.needs_review,
        };
        slices.push((instances[index].clone(), slice_caption));
    }
    let classifier = model.classifier.clone();
    let (series_uid, captures) = on_blocking_thread("result images", move || {
        let slices: Vec<(&[u8], SliceCaption)> = slices
            .iter()
            .map(|(bytes, caption)| (bytes.as_slice(), caption.clone()))
            .collect();
        ml::secondary_capture::result_series(&classifier, &link, &slices, &caption)
    })
    .await?;
    let outcome = client.store(&captures).await?;
    if outcome.accepted.is_empty() {
        return Err(AppError::BadGateway(format!(
            "the PACS stored none of the {} result images",
            captures.len()
        )));
    }
    if let Some(id) = series.result_id {
        db::series_results::mark_sent(&state.db, id).await?;
    }
    tracing::info!(
        images = outcome.accepted.len(),
        failed = outcome.failed,
        "result stored in the PACS"
    );
    Ok(StoredInPacs {
        study_instance_uid: series.study_instance_uid.clone().unwrap_or_default(),
        series_instance_uid: series_uid,
        images: outcome.accepted.len(),
        failed: outcome.failed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn instances_index(filename: &str) -> Option<usize> {
    filename
        .strip_prefix("instance-")?
        .strip_suffix(".dcm")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_map_back_to_their_index() {
        for index in [0, 7, 499] {
            assert_eq!(instances_index(&instance_name(index)), Some(index));
        }
        assert_eq!(instances_index("instance-0000.dcm"), None);
        assert_eq!(instances_index("scan.dcm"), None);
    }

    #[test]
    fn dicom_dates_read_as_iso_dates() {
        assert_eq!(iso_date("20240131".into()), "2024-01-31");
        assert_eq!(iso_date("2024".into()), "2024");
    }
}
