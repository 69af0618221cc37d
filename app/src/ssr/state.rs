use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::ssr::insights::FeatureCache;
use crate::ssr::models::ModelSlot;
use crate::ssr::multipart::UploadLimits;
use crate::ssr::retrain::RetrainWorker;
use crate::types::status::{format_uptime, HealthReport, ServerStatus, UptimeReport};

/// Forward passes that may run at once. Measured at 50 users: two threads gave the same throughput
/// (170 predictions/s, the cores are saturated) with 20% more memory, so one.
const INFERENCE_THREADS: usize = 1;
/// Images in one forward pass. EfficientNet-Lite0's per-image forward is lowest at 4 (5.3 ms,
/// against 6.2 ms alone and 6.4 ms at 8 or 16: larger batches outgrow the caches).
const MAX_BATCH_IMAGES: usize = 4;
/// Requests that may wait for the inference thread before new ones are answered 503.
const MAX_QUEUED_REQUESTS: usize = 256;

/// Counts every HTTP request the server answers (for `/uptime`) and remembers when the last
/// minute's arrived (for requests per minute on `/metrics`).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<RequestCounts>);

#[derive(Debug, Default)]
pub struct RequestCounts {
    total: AtomicU64,
    recent: Mutex<VecDeque<Instant>>,
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

impl RequestCounter {
    /// Counts a request; `in_traffic` is false for monitoring reads (the Monitor page's own polls,
    /// scrapers, health checks), which the last minute's figure leaves out.
    pub fn increment(&self, in_traffic: bool) {
        self.0.total.fetch_add(1, Ordering::Relaxed);
        if !in_traffic {
            return;
        }
        let now = Instant::now();
        let mut recent = self.0.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > RATE_WINDOW)
        {
            recent.pop_front();
        }
    }

    pub fn get(&self) -> u64 {
        self.0.total.load(Ordering::Relaxed)
    }

    /// Requests answered in the last 60 seconds.
    pub fn last_minute(&self) -> usize {
        let now = Instant::now();
        let recent = self.0.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .filter(|t| now.duration_since(**t) <= RATE_WINDOW)
            .count()
    }
}

/// The latest prediction latencies (at most [`LATENCY_WINDOW`]), for p50/p95 on `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct LatencyWindow(Arc<Mutex<VecDeque<f64>>>);

pub const LATENCY_WINDOW: usize = 500;

impl LatencyWindow {
    pub fn record(&self, milliseconds: f64) {
        let mut window = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if window.len() == LATENCY_WINDOW {
            window.pop_front();
        }
        window.push_back(milliseconds);
    }

    /// `(p50, p95, samples)`, or `None` before the first prediction.
    pub fn percentiles(&self) -> Option<(f64, f64, usize)> {
        let mut values: Vec<f64> = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.95), values.len()))
    }
}

/// What one client address may send per minute before it is answered 429. Each is a separate
/// budget, so an upload burst does not lock its sender out of logging in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudgets {
    /// Images classified (a batch of N costs N, an explanation several).
    pub predict_images: u32,
    pub uploads: u32,
    pub logins: u32,
    /// Other changes (retraining, activation, administration).
    pub writes: u32,
    /// Pages and reads.
    pub reads: u32,
    /// Requests the access check refused; past it, everything from the address is refused
    /// without a lookup, an audit row or a log line.
    pub refused: u32,
}

/// Security events counted since start-up, for `/metrics/prometheus`.
#[derive(Debug, Clone, Default)]
pub struct SecurityCounters(Arc<SecurityCounts>);

#[derive(Debug, Default)]
struct SecurityCounts {
    login_lockouts: AtomicU64,
}

impl SecurityCounters {
    /// A login refused because its account is locked after repeated failures.
    pub fn count_login_lockout(&self) {
        self.0.login_lockouts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn login_lockouts(&self) -> u64 {
        self.0.login_lockouts.load(Ordering::Relaxed)
    }
}

/// Where the service keeps its files and how much it accepts; set once at start-up.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The model shipped with the app, registered as the first version on a fresh database.
    pub shipped_model_dir: PathBuf,
    /// Uploaded training images (content-addressed) and model versions: local folders, or a
    /// bucket shared by every replica and worker.
    pub storage: storage::Storage,
    /// The original training images (one folder per class), for replay and validation when set.
    pub data_dir: Option<PathBuf>,
    /// Features of the training images (`brainscan extract-features`), for the Insights charts.
    pub features_csv: PathBuf,
    pub max_upload_bytes: u64,
    pub max_files_per_request: usize,
    pub max_request_bytes: u64,
    /// A retrained model is activated unless its validation accuracy drops by more than this.
    pub activation_tolerance: f64,
    /// Whether predicting and reading pages and statistics work without logging in.
    pub public_read: bool,
    /// Whether `X-Forwarded-For`/`-Proto` come from a proxy we trust (client address, https).
    pub trust_proxy: bool,
    /// Per-client budgets before 429.
    pub budgets: RequestBudgets,
    /// The longest a request (its body included) may take.
    pub request_timeout: Duration,
    /// Where retraining jobs run (the worker's `--backend`).
    pub training_backend: ml::Backend,
    /// How long a prediction's slice is kept for reviewers; `None`: slices are not kept.
    pub slice_retention: Option<Duration>,
    /// Which predictions count as recent for drift, and when a signal drifts.
    pub drift: crate::ssr::drift::DriftSettings,
    /// The PACS (`DICOMWEB_URL`), when one is configured.
    pub dicomweb: Option<pacs::DicomWebClient>,
}

impl ServiceConfig {
    pub fn limits(&self) -> UploadLimits {
        UploadLimits {
            max_file_bytes: self.max_upload_bytes,
            max_files: self.max_files_per_request,
            max_request_bytes: self.max_request_bytes,
        }
    }
}

/// Everything a request handler or server function may need, cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: db::Pool,
    pub requests: RequestCounter,
    pub models: ModelSlot,
    pub service: Arc<ServiceConfig>,
    pub retrain: RetrainWorker,
    pub insights: FeatureCache,
    /// Time per image classified (a request's time over its images).
    pub latencies: LatencyWindow,
    /// Time per prediction request, whatever it held.
    #[from_ref(skip)]
    pub request_latencies: LatencyWindow,
    pub security: SecurityCounters,
    /// Refused requests counted but not yet written to the audit trail.
    pub refusals: crate::ssr::auth::RefusalTally,
    /// The inference thread every prediction's forward pass goes through, batched.
    pub inference: ml::batching::BatchQueue,
    /// Requests, predictions, refusals and review flags per minute, not yet written.
    pub traffic: crate::ssr::traffic::TrafficTally,
    /// This process's latest drift report.
    pub drift: crate::ssr::drift::DriftCache,
    started: Instant,
    started_at: String,
}

impl AppState {
    /// Starts the inference thread too; fails only if the OS refuses a thread.
    pub fn new(
        leptos_options: LeptosOptions,
        db: db::Pool,
        service: ServiceConfig,
    ) -> std::io::Result<Self> {
        let inference = ml::batching::BatchQueue::start(
            INFERENCE_THREADS,
            MAX_BATCH_IMAGES,
            MAX_QUEUED_REQUESTS,
        )?;
        Ok(Self {
            leptos_options,
            db,
            requests: RequestCounter::default(),
            models: ModelSlot::default(),
            service: Arc::new(service),
            retrain: RetrainWorker::default(),
            insights: FeatureCache::default(),
            latencies: LatencyWindow::default(),
            request_latencies: LatencyWindow::default(),
            security: SecurityCounters::default(),
            refusals: Default::default(),
            inference,
            traffic: Default::default(),
            drift: Default::default(),
            started: Instant::now(),
            started_at: db::now_rfc3339(),
        })
    }

    /// Whether a classifier is loaded and able to serve predictions.
    pub fn model_loaded(&self) -> bool {
        self.models.is_loaded()
    }

    pub fn health(&self) -> HealthReport {
        let model_loaded = self.model_loaded();
        HealthReport {
            status: if model_loaded {
                "healthy"
            } else {
                "model_not_loaded"
            }
            .to_owned(),
            model_loaded,
            timestamp: db::now_rfc3339(),
            details: crate::types::status::HealthDetails {
                // The kept report (refreshed every minute), so a health check costs no query.
                drift: self.drift.alert_for(
                    self.models
                        .current()
                        .as_ref()
                        .map(|model| model.version.as_str()),
                ),
            },
        }
    }

    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn uptime(&self) -> UptimeReport {
        let elapsed = self.started.elapsed();
        UptimeReport {
            uptime_seconds: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            uptime_formatted: format_uptime(elapsed.as_secs()),
            total_requests: self.requests.get(),
            model_loaded: self.model_loaded(),
            timestamp: db::now_rfc3339(),
        }
    }

    pub async fn server_status(&self) -> ServerStatus {
        let predictions = db::predictions::count(&self.db).await;
        if let Err(error) = &predictions {
            tracing::error!("status check could not read the database: {error}");
        }
        ServerStatus {
            health: self.health(),
            uptime: self.uptime(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at.clone(),
            database_ok: predictions.is_ok(),
            predictions_recorded: predictions.unwrap_or(0),
        }
    }
}
