//! The model registry at run time: which version serves, loaded once and shared by every request,
//! swapped atomically when another version is activated.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use domain::AuditOutcome;

use crate::types::retrain::{ModelVersionInfo, ModelsResponse};
use domain::comparison::VersionComparison;

use super::versions::{self, StoredVersion};
use crate::error::AppError;

/// A loaded classifier and the version it is registered under.
pub struct ServingModel {
    /// Shared with the inference thread, which may still be finishing requests after a swap.
    pub classifier: Arc<ml::Classifier>,
    pub version: String,
    pub path: PathBuf,
}

/// The serving model, behind a lock held only long enough to clone or replace an `Arc`: requests
/// keep using the model they started with while a new one is swapped in.
#[derive(Clone, Default)]
pub struct ModelSlot(Arc<RwLock<Option<Arc<ServingModel>>>>);

impl ModelSlot {
    pub fn current(&self) -> Option<Arc<ServingModel>> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, model: ServingModel) {
        let model = Some(Arc::new(model));
        match self.0.write() {
            Ok(mut guard) => *guard = model,
            Err(poisoned) => *poisoned.into_inner() = model,
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.current().is_some()
    }
}

/// Loads the model stored in `dir` on the CPU backend.
pub fn load(dir: &Path, version_hint: Option<&str>) -> Result<ServingModel, ml::MlError> {
    let classifier = Arc::new(ml::Classifier::load(dir, ml::Backend::Cpu.device()?)?);
    let version = version_hint
        .map(str::to_owned)
        .unwrap_or_else(|| classifier.version().to_owned());
    Ok(ServingModel {
        classifier,
        version,
        path: dir.to_path_buf(),
    })
}

/// [`load`] on a blocking thread, so the async threads keep serving while the weights are read; a
/// panic while loading is an error like any other.
async fn load_in_background(dir: PathBuf, version: Option<String>) -> Result<ServingModel, String> {
    tokio::task::spawn_blocking(move || load(&dir, version.as_deref()))
        .await
        .map_err(|panic| format!("loading the model panicked: {panic}"))?
        .map_err(|error| error.to_string())
}

/// Loads the version registered at `registered` (a local folder, or a location in the shared store,
/// copied into this process's cache first).
async fn load_registered(
    state: &super::AppState,
    registered: &str,
    version: &str,
) -> Result<ServingModel, String> {
    let dir = state
        .service
        .storage
        .models
        .local_dir(registered, version, ml::artifact::MANIFEST_FILE)
        .await
        .map_err(|error| error.to_string())?;
    load_in_background(dir, Some(version.to_owned())).await
}

/// Makes `version` the serving model: loads it from its registered path first, so a broken model is
/// refused before the database or the serving slot change.
/// [`activate`] on an admin's request, recorded in the audit trail. A version the gate rejected
/// needs `force` and a reason: the gate exists so a bad version never serves by accident.
pub async fn activate_as(
    state: &super::AppState,
    caller: &crate::ssr::auth::Principal,
    version: &str,
    force: bool,
    reason: Option<&str>,
) -> Result<(), AppError> {
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    let rejected = db::training_sessions::rejected_by_gate(&state.db, version).await?;
    let action = if rejected {
        "model.force_activate"
    } else {
        "model.activate"
    };
    if rejected && (!force || reason.is_none()) {
        let error = AppError::BadRequest(format!(
            "{version} was rejected by the activation gate; to serve it anyway send \
             {{\"force\": true, \"reason\": \"...\"}} (recorded in the audit trail)"
        ));
        crate::ssr::auth::audit(
            &state.db,
            caller,
            action,
            Some(version),
            AuditOutcome::Refused,
            Some(&error.to_string()),
        )
        .await;
        return Err(error);
    }
    let result = activate(state, version).await;
    match &result {
        Ok(()) => {
            crate::ssr::auth::audit(
                &state.db,
                caller,
                action,
                Some(version),
                AuditOutcome::Ok,
                reason,
            )
            .await
        }
        Err(error) => {
            crate::ssr::auth::audit(
                &state.db,
                caller,
                action,
                Some(version),
                AuditOutcome::Failed,
                Some(&error.to_string()),
            )
            .await
        }
    }
    result
}

pub async fn activate(state: &super::AppState, version: &str) -> Result<(), AppError> {
    let row = db::model_versions::find(&state.db, version)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no model version {version:?}")))?;
    let model = load_registered(state, &row.path, version)
        .await
        .map_err(|error| {
            tracing::error!("cannot load model {version}: {error}");
            AppError::Unavailable(format!(
                "model {version} cannot be loaded; the reason is in the server log"
            ))
        })?;
    if !db::model_versions::activate(&state.db, version).await? {
        return Err(AppError::NotFound(format!("no model version {version:?}")));
    }
    state.models.replace(model);
    Ok(())
}

/// How often a process checks which version the database says serves.
pub const ROLLOUT_POLL: Duration = Duration::from_secs(2);

/// Keeps this process serving the version the database marks active, whichever process activated
/// it (another replica, a worker's retraining job), within [`ROLLOUT_POLL`], without a restart.
pub fn spawn_rollout(state: super::AppState) {
    tokio::spawn(async move {
        // A version whose files this process cannot load is not retried every poll.
        let mut unloadable: Option<String> = None;
        loop {
            tokio::time::sleep(ROLLOUT_POLL).await;
            let active = match db::model_versions::active(&state.db).await {
                Ok(Some(active)) => active,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the active model version");
                    continue;
                }
            };
            let serving = state.models.current().map(|model| model.version.clone());
            if serving.as_deref() == Some(active.version.as_str())
                || unloadable.as_deref() == Some(active.version.as_str())
            {
                continue;
            }
            match load_registered(&state, &active.path, &active.version).await {
                Ok(model) => {
                    // Another activation may have landed while this one loaded: serve only what
                    // the database still says.
                    let still_active = matches!(
                        db::model_versions::active(&state.db).await,
                        Ok(Some(now)) if now.version == active.version
                    );
                    if still_active {
                        tracing::info!(version = %active.version, "serving the version activated elsewhere");
                        state.models.replace(model);
                    }
                    unloadable = None;
                }
                Err(error) => {
                    tracing::error!(version = %active.version, %error, "cannot load the active version; still serving the previous one");
                    unloadable = Some(active.version);
                }
            }
        }
    });
}

/// At start-up: serves the registered active version, or registers and serves the shipped model on a
/// fresh database (or when the active version's files are gone). Returns the serving version.
pub async fn load_serving(state: &super::AppState) -> Result<String, String> {
    if let Some(active) = db::model_versions::active(&state.db)
        .await
        .map_err(|e| e.to_string())?
    {
        match load_registered(state, &active.path, &active.version).await {
            Ok(model) => {
                let version = model.version.clone();
                state.models.replace(model);
                return Ok(version);
            }
            Err(error) => tracing::error!(
                "active model {} cannot be loaded ({error}); falling back to the shipped model",
                active.version
            ),
        }
    }
    let model = load_in_background(state.service.shipped_model_dir.clone(), None).await?;
    let metrics = model
        .classifier
        .manifest()
        .validation
        .as_ref()
        .and_then(|report| serde_json::to_string(report).ok())
        .unwrap_or_else(|| "{}".to_owned());
    let path = model.path.to_string_lossy().into_owned();
    let row = db::model_versions::NewModelVersion {
        version: &model.version,
        path: &path,
        metrics_json: &metrics,
        parent_version: None,
    };
    if db::model_versions::find(&state.db, &model.version)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        db::model_versions::insert_candidate(&state.db, &row)
            .await
            .map_err(|e| e.to_string())?;
    }
    db::model_versions::activate(&state.db, &model.version)
        .await
        .map_err(|e| e.to_string())?;
    let version = model.version.clone();
    state.models.replace(model);
    Ok(version)
}

/// `GET /models`: every registered version, newest first, with its validation scores, the images
/// they were measured on, and each against the serving version.
pub async fn list(state: &super::AppState) -> Result<ModelsResponse, AppError> {
    let serving = state.models.current().map(|model| model.version.clone());
    let rows = db::model_versions::list(&state.db).await?;
    let rejected = db::training_sessions::gate_rejected_versions(&state.db).await?;
    let parsed: Vec<(serde_json::Value, StoredVersion)> = rows
        .iter()
        .map(|row| {
            let metrics: serde_json::Value =
                serde_json::from_str(&row.metrics).unwrap_or(serde_json::Value::Null);
            let stored =
                StoredVersion::parse(&row.version, row.parent_version.as_deref(), &metrics);
            (metrics, stored)
        })
        .collect();
    let serving_scores = parsed
        .iter()
        .map(|(_, stored)| stored)
        .find(|stored| serving.as_deref() == Some(stored.version.as_str()));
    let models = rows
        .into_iter()
        .zip(&parsed)
        .map(|(row, (metrics, stored))| {
            let is_serving = serving.as_deref() == Some(row.version.as_str());
            ModelVersionInfo {
                accuracy: metrics.get("accuracy").and_then(serde_json::Value::as_f64),
                macro_f1: metrics.get("macro_f1").and_then(serde_json::Value::as_f64),
                serving: is_serving,
                gate_rejected: rejected.iter().any(|(version, _)| *version == row.version),
                gate_verdict: rejected
                    .iter()
                    .find(|(version, _)| *version == row.version)
                    .map(|(_, message)| message.clone().unwrap_or_default()),
                evaluated_on: stored.evaluated_on,
                versus_serving: serving_scores
                    .filter(|_| !is_serving)
                    .map(|serving| versions::compare(stored, serving)),
                version: row.version,
                status: row.status,
                created_at: row.created_at,
                activated_at: row.activated_at,
                parent_version: row.parent_version,
                metrics: metrics.clone(),
            }
        })
        .collect();
    Ok(ModelsResponse {
        models,
        active_version: serving,
    })
}

/// `GET /models/compare`: `version` against `against` (default: the serving version).
pub async fn compare(
    state: &super::AppState,
    version: &str,
    against: Option<&str>,
) -> Result<VersionComparison, AppError> {
    let serving = state.models.current().map(|model| model.version.clone());
    let Some(against) = against.map(str::to_owned).or(serving) else {
        return Err(AppError::Unavailable(
            "no version is serving; name the version to compare against".into(),
        ));
    };
    let load = |version: &str| {
        let version = version.to_owned();
        async move {
            let row = db::model_versions::find(&state.db, &version)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no model version {version}")))?;
            let metrics: serde_json::Value =
                serde_json::from_str(&row.metrics).unwrap_or(serde_json::Value::Null);
            Ok::<_, AppError>(StoredVersion::parse(
                &row.version,
                row.parent_version.as_deref(),
                &metrics,
            ))
        }
    };
    let first = load(version).await?;
    let second = load(&against).await?;
    Ok(versions::compare(&first, &second))
}
