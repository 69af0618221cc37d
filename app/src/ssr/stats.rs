//! `GET /database/stats`: what the database holds, in one answer.

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::retrain::DatabaseStats;

pub async fn database_stats(state: &AppState) -> Result<DatabaseStats, AppError> {
    let uploads = db::uploads::stats(&state.db).await?;
    let (total_sessions, completed) = db::training_sessions::counts(&state.db).await?;
    let mut images_by_class = crate::zero_per_class::<i64>();
    images_by_class.extend(uploads.by_class);
    Ok(DatabaseStats {
        total_uploaded_images: uploads.total,
        processed_images: uploads.processed,
        pending_images: uploads.pending,
        reference_images: uploads.reference,
        held_for_review: uploads.held,
        total_training_sessions: total_sessions,
        completed_sessions: completed,
        images_by_class,
        total_predictions: db::predictions::count(&state.db).await?,
        uploaded_bytes: uploads.total_bytes,
        active_model_version: state.models.current().map(|model| model.version.clone()),
    })
}
