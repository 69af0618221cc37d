//! The running job's live progress, in memory: what `GET /retrain/status` shows between the
//! database's queued and final states.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use domain::JobPhase;
use ml::train::{BatchProgress, EpochRecord, TrainingObserver};

use crate::api::retrain::LiveProgress;

/// The running job, if any: its session and live progress. Shared with the job's thread.
#[derive(Clone, Default)]
pub struct RetrainTracker {
    running: Arc<Mutex<Option<RunningJob>>>,
    /// Serialises triggers so two requests cannot both see "idle" and start jobs.
    pub(super) trigger: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Clone)]
struct RunningJob {
    session_id: i64,
    progress: LiveProgress,
}

impl RetrainTracker {
    fn with<T>(&self, f: impl FnOnce(&mut Option<RunningJob>) -> T) -> T {
        match self.running.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn running_session(&self) -> Option<i64> {
        self.with(|job| job.as_ref().map(|job| job.session_id))
    }

    pub fn progress(&self) -> Option<LiveProgress> {
        self.with(|job| job.as_ref().map(|job| job.progress.clone()))
    }

    pub(super) fn start(&self, session_id: i64, epochs: usize) {
        self.with(|job| {
            *job = Some(RunningJob {
                session_id,
                progress: LiveProgress::new(JobPhase::Queued, epochs),
            })
        });
    }

    pub(super) fn finish(&self) {
        self.with(|job| *job = None);
    }

    pub(super) fn set_phase(&self, phase: JobPhase) {
        self.update(|progress| progress.phase = phase);
    }

    fn update(&self, f: impl FnOnce(&mut LiveProgress)) {
        self.with(|job| {
            if let Some(job) = job.as_mut() {
                f(&mut job.progress);
            }
        });
    }
}

/// Copies training progress into the tracker the status endpoint reads.
pub(super) struct ProgressObserver {
    pub tracker: RetrainTracker,
    pub started: Instant,
    pub regular_epochs: usize,
}

impl TrainingObserver for ProgressObserver {
    fn on_batch(&mut self, progress: &BatchProgress) {
        let done = (progress.epoch - 1) * progress.batches + progress.batch;
        let total = progress.epochs * progress.batches;
        let fraction = done as f64 / total.max(1) as f64;
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = (fraction > 0.0).then(|| elapsed / fraction - elapsed);
        let phase = if progress.epoch > self.regular_epochs {
            JobPhase::FineTuning
        } else {
            JobPhase::Training
        };
        self.tracker.update(|live| {
            *live = LiveProgress {
                phase,
                epoch: progress.epoch,
                epochs: progress.epochs,
                batch: progress.batch,
                batches: progress.batches,
                loss: Some(progress.loss),
                accuracy: Some(progress.accuracy),
                eta_seconds: eta,
                fraction,
            }
        });
    }

    fn on_epoch(&mut self, record: &EpochRecord, _is_best: bool) {
        tracing::info!(
            epoch = record.epoch,
            train_accuracy = record.train_accuracy,
            validation_accuracy = record.validation_accuracy,
            "retraining epoch finished"
        );
    }
}
