//! Drift of the serving model's inputs: its recent predictions' signals (stored with each
//! prediction) against the baseline its trust check measured on the validation split
//! ([`ml::drift`]). A report is computed at most every few seconds per process and kept, so
//! `/health` and the Prometheus scrape read it without touching the database.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ml::drift::{DriftBaseline, Signal};

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::drift::{DriftAlert, DriftReport, DriftStatus, SignalDrift};

/// Fewest measured predictions a status rests on (a smaller count window needs its own size):
/// with 50 values over 10 bins, a PSI's sampling noise alone is about 0.2.
pub const MIN_PREDICTIONS: usize = 100;
/// A report this recent is answered as it is.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// How often every process refreshes its report, so `/health` follows traffic unasked.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

/// Which predictions are recent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftWindow {
    /// The serving version's newest `n`.
    Last(usize),
    /// The serving version's predictions of this long before now.
    Period(Duration),
}

impl DriftWindow {
    pub fn describe(self) -> String {
        match self {
            DriftWindow::Last(n) => format!("the last {n} predictions"),
            DriftWindow::Period(period) => match period.as_secs() {
                s if s % 86_400 == 0 => format!("the last {} day(s)", s / 86_400),
                s if s % 3_600 == 0 => format!("the last {} hour(s)", s / 3_600),
                s => format!("the last {} minute(s)", s.div_ceil(60)),
            },
        }
    }

    /// The status needs this many measured predictions.
    pub fn min_predictions(self) -> usize {
        match self {
            DriftWindow::Last(n) => n.min(MIN_PREDICTIONS),
            DriftWindow::Period(_) => MIN_PREDICTIONS,
        }
    }
}

impl std::str::FromStr for DriftWindow {
    type Err = String;

    /// `500` (predictions), or a period: `24h`, `1d`, `90m`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let invalid = || {
            format!(
                "`{text}` is neither a count of predictions (e.g. 500) nor a period (e.g. 24h, 1d, 90m)"
            )
        };
        if let Ok(n) = text.parse::<usize>() {
            return if (1..=100_000).contains(&n) {
                Ok(DriftWindow::Last(n))
            } else {
                Err(format!(
                    "a window of {n} predictions is outside 1 to 100000"
                ))
            };
        }
        let unit_at = text.len().checked_sub(1).ok_or_else(invalid)?;
        let (number, unit) = text.split_at(unit_at);
        let amount: u64 = number.parse().map_err(|_| invalid())?;
        let seconds = match unit {
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(invalid()),
        };
        if amount == 0 || amount * seconds > 90 * 86_400 {
            return Err(format!(
                "a period of `{text}` is outside 1 minute to 90 days"
            ));
        }
        Ok(DriftWindow::Period(Duration::from_secs(amount * seconds)))
    }
}

/// How drift is judged; set at start-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftSettings {
    pub window: DriftWindow,
    /// A signal whose PSI is above this drifts.
    pub psi_alert: f64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            window: DriftWindow::Last(500),
            psi_alert: 0.2,
        }
    }
}

/// This process's latest report and when it was computed.
#[derive(Debug, Clone, Default)]
pub struct DriftCache(Arc<Mutex<Option<(Instant, DriftReport)>>>);

impl DriftCache {
    fn fresh(&self, version: Option<&str>) -> Option<DriftReport> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(at, report)| {
                at.elapsed() < FRESH_FOR && report.model_version.as_deref() == version
            })
            .map(|(_, report)| report.clone())
    }

    fn store(&self, report: &DriftReport) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), report.clone()));
    }

    /// The last report computed, whatever its age.
    pub fn latest(&self) -> Option<DriftReport> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, report)| report.clone())
    }

    /// The alert of the last report, when it is about `version` and drifting: what `/health`
    /// says, without copying the whole report on every health check.
    pub fn alert_for(&self, version: Option<&str>) -> Option<DriftAlert> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(_, report)| report.model_version.as_deref() == version)
            .and_then(|(_, report)| report.alert())
    }
}

/// The serving model's drift, computed when the kept report is older than a few seconds.
pub async fn report(state: &AppState) -> Result<DriftReport, AppError> {
    let serving = state.models.current();
    let version = serving.as_ref().map(|model| model.version.as_str());
    if let Some(report) = state.drift.fresh(version) {
        return Ok(report);
    }
    let settings = state.service.drift;
    let baseline = serving
        .as_ref()
        .and_then(|model| model.classifier.trust())
        .and_then(|trust| trust.drift_baseline.as_ref());
    let rows = match (version, baseline) {
        (Some(version), Some(_)) => {
            db::predictions::recent_signals(&state.db, version, &recent_window(settings.window))
                .await?
        }
        _ => Vec::new(),
    };
    let report = compare(
        version.map(str::to_owned),
        baseline,
        &rows,
        settings,
        db::now_rfc3339(),
    );
    state.drift.store(&report);
    Ok(report)
}

fn recent_window(window: DriftWindow) -> db::predictions::RecentWindow {
    match window {
        DriftWindow::Last(n) => db::predictions::RecentWindow::Last(n as i64),
        DriftWindow::Period(period) => {
            let since = chrono::Utc::now()
                - chrono::Duration::from_std(period).unwrap_or(chrono::Duration::days(1));
            db::predictions::RecentWindow::Since(
                since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
        }
    }
}

/// The report on `rows` (the recent predictions) against `baseline`: pure, for the tests.
pub fn compare(
    model_version: Option<String>,
    baseline: Option<&DriftBaseline>,
    rows: &[db::predictions::SignalRow],
    settings: DriftSettings,
    computed_at: String,
) -> DriftReport {
    let min_predictions = settings.window.min_predictions();
    let enough = rows.len() >= min_predictions;
    let signals: Vec<SignalDrift> = baseline
        .map(|baseline| {
            Signal::ALL
                .iter()
                .filter_map(|&signal| compare_signal(signal, baseline, rows))
                .map(|drift| SignalDrift {
                    signal: signal_name(drift.signal).to_owned(),
                    label: drift.signal.label().to_owned(),
                    drifting: enough && drift.psi > settings.psi_alert,
                    bins: drift.bins,
                    baseline_shares: drift.baseline_shares,
                    recent_shares: drift.recent_shares,
                    psi: drift.psi,
                    ks: drift.ks,
                    recent_values: drift.recent_values,
                })
                .collect()
        })
        .unwrap_or_default();
    let status = if baseline.is_none() {
        DriftStatus::NoBaseline
    } else if !enough {
        DriftStatus::Collecting
    } else if signals.iter().any(|signal| signal.drifting) {
        DriftStatus::Drifting
    } else {
        DriftStatus::Stable
    };
    DriftReport {
        model_version,
        status,
        window: settings.window.describe(),
        recent_predictions: rows.len(),
        min_predictions,
        baseline_images: baseline.map_or(0, |baseline| baseline.images),
        psi_alert: settings.psi_alert,
        signals,
        computed_at,
    }
}

fn compare_signal(
    signal: Signal,
    baseline: &DriftBaseline,
    rows: &[db::predictions::SignalRow],
) -> Option<ml::drift::SignalDrift> {
    if signal == Signal::ClassMix {
        let mut counts = vec![0usize; crate::CLASS_NAMES.len()];
        for row in rows {
            if let Some(i) = crate::CLASS_NAMES
                .iter()
                .position(|c| *c == row.predicted_class)
            {
                counts[i] += 1;
            }
        }
        return ml::drift::compare_class_mix(&baseline.class_mix, &counts);
    }
    let values: Vec<f32> = rows
        .iter()
        .filter_map(|row| match signal {
            Signal::NotMriDistance => row.ood_distance,
            Signal::TopProbability => Some(row.confidence),
            Signal::MeanIntensity => Some(row.mean_intensity),
            Signal::Contrast => Some(row.contrast),
            Signal::Size => Some(row.slice_size),
            Signal::ClassMix => None,
        })
        .map(|value| value as f32)
        .collect();
    ml::drift::compare_numeric(signal, baseline.numeric(signal)?, &values)
}

fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::NotMriDistance => "not_mri_distance",
        Signal::TopProbability => "top_probability",
        Signal::ClassMix => "class_mix",
        Signal::MeanIntensity => "mean_intensity",
        Signal::Contrast => "contrast",
        Signal::Size => "size",
    }
}

/// The drift gauges for `/metrics/prometheus`, from the kept report (none before the first).
pub fn prometheus_text(state: &AppState) -> String {
    let Some(report) = state.drift.latest() else {
        return String::new();
    };
    let version = report.model_version.clone().unwrap_or_default();
    let mut text = String::from(
        "# HELP brainscan_drift_psi Population stability index of a signal, recent predictions against the serving model's validation split.\n\
         # TYPE brainscan_drift_psi gauge\n",
    );
    for signal in &report.signals {
        text.push_str(&format!(
            "brainscan_drift_psi{{model_version=\"{version}\",signal=\"{}\"}} {}\n",
            signal.signal, signal.psi
        ));
    }
    text.push_str(&format!(
        "# HELP brainscan_drift_alert Whether a signal's PSI is above the alert level.\n\
         # TYPE brainscan_drift_alert gauge\n\
         brainscan_drift_alert{{model_version=\"{version}\"}} {}\n",
        u8::from(report.status == DriftStatus::Drifting)
    ));
    text
}

/// Refreshes the report every minute for as long as the process runs.
pub fn spawn_refresh(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REFRESH_EVERY);
        loop {
            ticks.tick().await;
            match report(&state).await {
                Ok(report) if report.status == DriftStatus::Drifting => {
                    if let Some(alert) = report.alert() {
                        tracing::warn!(signals = ?alert.signals, window = %alert.window, "input drift");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the drift report failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ml::drift::NumericBaseline;

    fn baseline() -> DriftBaseline {
        // Computed as the rows below compute theirs, so equal samples land in equal bins.
        let values = |scale: f64| {
            NumericBaseline::new((0..100).map(|v| (v as f64 * scale) as f32).collect())
        };
        DriftBaseline {
            images: 100,
            not_mri_distance: values(0.01),
            top_probability: values(0.01),
            class_mix: vec![0.25; 4],
            mean_intensity: values(1.0),
            contrast: values(1.0),
            size: None,
        }
    }

    fn row(class: &str, value: f64) -> db::predictions::SignalRow {
        db::predictions::SignalRow {
            predicted_class: class.into(),
            confidence: value * 0.01,
            ood_distance: Some(value * 0.01),
            mean_intensity: value,
            contrast: value,
            slice_size: 512.0,
        }
    }

    #[test]
    fn windows_parse_from_counts_and_periods_and_say_what_is_wrong() {
        assert_eq!("500".parse(), Ok(DriftWindow::Last(500)));
        assert_eq!(
            "24h".parse(),
            Ok(DriftWindow::Period(Duration::from_secs(86_400)))
        );
        assert_eq!(
            "1d".parse::<DriftWindow>().map(DriftWindow::describe),
            Ok("the last 1 day(s)".to_owned())
        );
        for bad in ["", "0", "5w", "h", "-3", "100d"] {
            assert!(bad.parse::<DriftWindow>().is_err(), "{bad}");
        }
        assert_eq!(DriftWindow::Last(20).min_predictions(), 20);
        assert_eq!(DriftWindow::Last(500).min_predictions(), MIN_PREDICTIONS);
    }

    #[test]
    fn the_status_waits_for_enough_predictions_then_follows_the_largest_psi() {
        let settings = DriftSettings {
            window: DriftWindow::Last(100),
            psi_alert: 0.2,
        };
        let classes = crate::CLASS_NAMES;
        let like_baseline: Vec<_> = (0..100).map(|v| row(classes[v % 4], v as f64)).collect();
        let report = compare(
            Some("v1".into()),
            Some(&baseline()),
            &like_baseline,
            settings,
            "t".into(),
        );
        assert_eq!(report.status, DriftStatus::Stable, "{report:?}");
        assert_eq!(report.signals.len(), 5, "no size baseline, no size signal");
        assert!(report.signals.iter().all(|s| s.psi < 1e-9));
        assert_eq!(report.alert(), None);

        let brighter: Vec<_> = (0..100)
            .map(|v| row(classes[v % 4], (v as f64 + 40.0).min(99.0)))
            .collect();
        let report = compare(
            Some("v1".into()),
            Some(&baseline()),
            &brighter,
            settings,
            "t".into(),
        );
        assert_eq!(report.status, DriftStatus::Drifting);
        let alert = report.alert().expect("an alert");
        assert!(
            alert
                .signals
                .iter()
                .any(|s| s.starts_with("mean intensity (PSI")),
            "{alert:?}"
        );
        let class_mix = report
            .signals
            .iter()
            .find(|s| s.signal == "class_mix")
            .unwrap();
        assert!(!class_mix.drifting && class_mix.ks.is_none());

        let few = compare(
            Some("v1".into()),
            Some(&baseline()),
            &brighter[..99],
            settings,
            "t".into(),
        );
        assert_eq!(few.status, DriftStatus::Collecting);
        assert!(few.signals.iter().all(|s| !s.drifting));
        let none = compare(Some("v1".into()), None, &brighter, settings, "t".into());
        assert_eq!(
            (none.status, none.signals.len()),
            (DriftStatus::NoBaseline, 0)
        );
    }
}
