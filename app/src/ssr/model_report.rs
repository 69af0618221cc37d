//! The serving model's validation report and training curves, from its manifest and the sessions
//! recorded in the database.

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::model::{
    ClassScore, EpochPoint, ModelReport, ReliabilityBin, TrainingCurve, TrustSummary, MAX_CURVES,
};

pub async fn active(state: &AppState) -> Result<ModelReport, AppError> {
    let serving = state
        .models
        .current()
        .ok_or_else(|| AppError::Unavailable("no model is loaded".into()))?;
    let manifest = serving.classifier.manifest();
    let validation = manifest.validation.as_ref().ok_or_else(|| {
        AppError::NotFound(format!(
            "model {} was saved without a validation report",
            serving.version
        ))
    })?;
    let registered = db::model_versions::find(&state.db, &serving.version).await?;

    let mut curves = Vec::new();
    if !manifest.history.is_empty() {
        curves.push(TrainingCurve {
            label: format!("Training of {}", serving.version),
            session_id: None,
            epochs: manifest
                .history
                .iter()
                .map(|record| EpochPoint {
                    epoch: record.epoch,
                    train_loss: record.train_loss,
                    train_accuracy: record.train_accuracy,
                    validation_loss: Some(record.validation_loss),
                    validation_accuracy: Some(record.validation_accuracy),
                })
                .collect(),
        });
    }
    for session in db::training_sessions::recent(&state.db, MAX_CURVES).await? {
        // The session that made the serving model is already drawn from its manifest.
        if session.model_version.as_deref() == Some(serving.version.as_str()) && !curves.is_empty()
        {
            continue;
        }
        // A session that failed before its first epoch has nothing to draw.
        let epochs: Vec<EpochPoint> = serde_json::from_str(&session.history).unwrap_or_default();
        if epochs.is_empty() {
            continue;
        }
        let outcome = session
            .model_version
            .as_deref()
            .map_or(session.status.to_string(), |v| {
                format!("{}, {v}", session.status)
            });
        curves.push(TrainingCurve {
            label: format!("Retraining session #{} ({outcome})", session.id),
            session_id: Some(session.id),
            epochs,
        });
    }

    // What the figures below were measured on, as the versions table says it.
    let evaluated_on = registered.as_ref().and_then(|row| {
        let metrics = serde_json::from_str(&row.metrics).unwrap_or(serde_json::Value::Null);
        crate::ssr::versions::StoredVersion::parse(
            &row.version,
            row.parent_version.as_deref(),
            &metrics,
        )
        .evaluated_on
    });
    Ok(ModelReport {
        evaluated_on,
        version: serving.version.clone(),
        created_at: manifest.created_at.clone(),
        activated_at: registered.and_then(|row| row.activated_at),
        parameters: manifest.parameters,
        architecture: manifest.architecture.to_string(),
        input_size: manifest.preprocess.input_size as u32,
        validation_images: validation.images,
        accuracy: validation.accuracy,
        macro_f1: validation.macro_f1,
        classes: validation.classes.clone(),
        per_class: validation
            .classes
            .iter()
            .filter_map(|class| {
                validation.per_class.get(class).map(|scores| ClassScore {
                    class_name: class.clone(),
                    precision: scores.precision,
                    recall: scores.recall,
                    f1: scores.f1,
                    support: scores.support,
                })
            })
            .collect(),
        confusion_matrix: validation.confusion_matrix.0.clone(),
        curves,
        trust: serving.classifier.trust().map(trust_summary),
    })
}

fn trust_summary(trust: &ml::trust::Trust) -> TrustSummary {
    let bins = |bins: &[ml::trust::ReliabilityBin]| {
        bins.iter()
            .map(|bin| ReliabilityBin {
                lower: f64::from(bin.lower),
                upper: f64::from(bin.upper),
                count: bin.count as u64,
                mean_confidence: f64::from(bin.mean_confidence),
                accuracy: f64::from(bin.accuracy),
            })
            .collect()
    };
    let report = &trust.report;
    TrustSummary {
        ood_threshold: f64::from(trust.ood.threshold),
        mri_pass_rate: report.mri_pass_rate,
        altered_pass_rate: report.altered_pass_rate,
        review_threshold: f64::from(trust.review_threshold),
        flagged_share: report.flagged_share,
        unflagged_accuracy: report.unflagged_accuracy,
        ece_uncalibrated: report.ece_uncalibrated,
        ece_calibrated: report.ece_calibrated,
        reliability_uncalibrated: bins(&report.reliability_uncalibrated),
        reliability_calibrated: bins(&report.reliability_calibrated),
    }
}
