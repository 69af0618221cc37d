//! How the running job tells the world how far it is: its live progress goes to the database with
//! every heartbeat, so whichever process answers `GET /retrain/status` shows it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use domain::JobPhase;
use ml::train::{BatchProgress, EpochRecord, TrainingObserver};
use tokio::sync::watch;

use crate::types::retrain::LiveProgress;

/// The latest progress of one job, written from the training thread and read by its heartbeat;
/// and the other way, whether an admin asked the job to stop (set by the heartbeat, read by the
/// training loop between batches).
#[derive(Clone)]
pub(super) struct ProgressReporter {
    progress: watch::Sender<LiveProgress>,
    stop: Arc<AtomicBool>,
}

impl ProgressReporter {
    pub fn new(epochs: usize) -> (Self, watch::Receiver<LiveProgress>) {
        let (progress, receiver) =
            watch::channel(LiveProgress::new(JobPhase::Preprocessing, epochs));
        let stop = Arc::new(AtomicBool::new(false));
        (Self { progress, stop }, receiver)
    }

    pub fn set_phase(&self, phase: JobPhase) {
        self.progress.send_modify(|progress| progress.phase = phase);
    }

    fn set(&self, progress: LiveProgress) {
        self.progress.send_replace(progress);
    }

    /// Asks the job to stop at its next check.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Copies training progress into the reporter.
pub(super) struct ProgressObserver {
    pub reporter: ProgressReporter,
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
        self.reporter.set(LiveProgress {
            phase,
            epoch: progress.epoch,
            epochs: progress.epochs,
            batch: progress.batch,
            batches: progress.batches,
            loss: Some(progress.loss),
            accuracy: Some(progress.accuracy),
            eta_seconds: eta,
            fraction,
        });
    }

    fn should_stop(&self) -> bool {
        self.reporter.stop_requested()
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
