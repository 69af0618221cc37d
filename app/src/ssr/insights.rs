//! Summarising the feature CSV (training images) and the uploads for `/visualizations/data`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::insights::{
    Distribution, Scatter, ScatterPoint, Summary, VisualizationData, HISTOGRAM_BINS,
    SCATTER_POINTS_PER_CLASS,
};

/// The training features, parsed once on first successful use (the CSV is part of the release,
/// never rewritten while the server runs). A missing CSV is not remembered: creating it with
/// `brainscan extract-features` takes effect without a restart.
#[derive(Clone, Default)]
pub struct FeatureCache(Arc<OnceLock<Arc<FeatureTable>>>);

impl FeatureCache {
    fn get_or_load(&self, path: &Path) -> Result<Arc<FeatureTable>, String> {
        if let Some(table) = self.0.get() {
            return Ok(table.clone());
        }
        let table = Arc::new(load_table(path)?);
        Ok(self.0.get_or_init(|| table).clone())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTable {
    pub columns: Vec<String>,
    /// `(class, values in column order)`; the class column itself is not among the values.
    pub rows: Vec<(String, Vec<f64>)>,
}

impl FeatureTable {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or("the feature CSV is empty")?
            .split(',')
            .collect();
        let class_column = header
            .iter()
            .position(|c| *c == "class_name")
            .ok_or("the feature CSV has no class_name column")?;
        let numeric: Vec<usize> = (0..header.len())
            .filter(|&i| i != class_column && header[i] != "filename")
            .collect();
        let mut rows = Vec::new();
        for (number, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                return Err(format!(
                    "line {} has {} cells, expected {}",
                    number + 2,
                    cells.len(),
                    header.len()
                ));
            }
            let values = numeric
                .iter()
                .map(|&i| {
                    cells[i]
                        .trim()
                        .parse::<f64>()
                        .map_err(|e| format!("line {}: {e}", number + 2))
                })
                .collect::<Result<Vec<f64>, String>>()?;
            rows.push((cells[class_column].to_owned(), values));
        }
        Ok(Self {
            columns: numeric.iter().map(|&i| header[i].to_owned()).collect(),
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// `(class, value)` pairs of one feature.
    fn values(&self, name: &str) -> Vec<(&str, f64)> {
        match self.column(name) {
            Some(index) => self
                .rows
                .iter()
                .map(|(class, values)| (class.as_str(), values[index]))
                .collect(),
            None => Vec::new(),
        }
    }
}

pub fn summary(values: &mut [f64]) -> Summary {
    values.sort_by(f64::total_cmp);
    let count = values.len();
    if count == 0 {
        return Summary {
            count,
            mean: 0.0,
            std: 0.0,
            min: 0.0,
            q1: 0.0,
            median: 0.0,
            q3: 0.0,
            max: 0.0,
        };
    }
    let mean = values.iter().sum::<f64>() / count as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
    let quantile = |q: f64| {
        let position = q * (count - 1) as f64;
        let (low, high) = (position.floor() as usize, position.ceil() as usize);
        values[low] + (values[high] - values[low]) * (position - low as f64)
    };
    Summary {
        count,
        mean,
        std: variance.sqrt(),
        min: values[0],
        q1: quantile(0.25),
        median: quantile(0.5),
        q3: quantile(0.75),
        max: values[count - 1],
    }
}

/// Per-class summaries and histograms over bins shared by all classes.
pub fn distribution(feature: &str, pairs: &[(&str, f64)]) -> Distribution {
    let (low, high) = pairs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let (low, high) = if low.is_finite() {
        (low, high.max(low + 1e-9))
    } else {
        (0.0, 1.0)
    };
    let width = (high - low) / HISTOGRAM_BINS as f64;
    let bin_edges = (0..=HISTOGRAM_BINS)
        .map(|i| low + width * i as f64)
        .collect();
    let mut histograms: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_class: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (class, value) in pairs {
        let bin = (((value - low) / width) as usize).min(HISTOGRAM_BINS - 1);
        histograms
            .entry(class.to_string())
            .or_insert_with(|| vec![0; HISTOGRAM_BINS])[bin] += 1;
        by_class.entry(class.to_string()).or_default().push(*value);
    }
    Distribution {
        feature: feature.to_owned(),
        bin_edges,
        histograms,
        summaries: by_class
            .into_iter()
            .map(|(class, mut values)| (class, summary(&mut values)))
            .collect(),
    }
}

/// Every k-th row of each class, so at most [`SCATTER_POINTS_PER_CLASS`] points per class spread over
/// the whole table (deterministic: the same CSV always gives the same sample).
pub fn scatter_sample(x_feature: &str, y_feature: &str, table: &FeatureTable) -> Scatter {
    let (Some(x), Some(y)) = (table.column(x_feature), table.column(y_feature)) else {
        return Scatter {
            x_feature: x_feature.into(),
            y_feature: y_feature.into(),
            points: vec![],
            sampled_from: 0,
        };
    };
    let mut by_class: BTreeMap<&str, Vec<&Vec<f64>>> = BTreeMap::new();
    for (class, values) in &table.rows {
        by_class.entry(class.as_str()).or_default().push(values);
    }
    let mut points = Vec::new();
    for (class, rows) in by_class {
        let stride = rows.len().div_ceil(SCATTER_POINTS_PER_CLASS).max(1);
        points.extend(rows.iter().step_by(stride).map(|values| ScatterPoint {
            class_name: class.to_owned(),
            x: values[x],
            y: values[y],
        }));
    }
    Scatter {
        x_feature: x_feature.into(),
        y_feature: y_feature.into(),
        points,
        sampled_from: table.rows.len(),
    }
}

fn load_table(path: &Path) -> Result<FeatureTable, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the feature CSV {}: {e}", path.display()))?;
    FeatureTable::parse(&text)
}

pub async fn visualization_data(state: &AppState) -> Result<VisualizationData, AppError> {
    let path = state.service.features_csv.clone();
    let cache = state.insights.clone();
    let table = tokio::task::spawn_blocking(move || cache.get_or_load(&path))
        .await
        .map_err(|error| {
            tracing::error!("loading features panicked: {error}");
            AppError::Internal
        })?
        .map_err(|reason| {
            tracing::error!("{reason}");
            AppError::Unavailable(
                "the training images' feature table cannot be read; run \
                 `brainscan extract-features` to create it"
                    .to_owned(),
            )
        })?;
    let uploads = db::uploads::stats(&state.db).await?;
    let mut class_distribution = crate::zero_per_class::<usize>();
    for (class, _) in &table.rows {
        *class_distribution.entry(class.clone()).or_default() += 1;
    }
    let mut upload_class_distribution = crate::zero_per_class::<i64>();
    upload_class_distribution.extend(uploads.by_class);
    Ok(VisualizationData {
        features: table.columns.clone(),
        total_samples: table.rows.len(),
        // The file's name only: where the server keeps its files is nobody else's business.
        source: format!(
            "{} (training images)",
            state
                .service
                .features_csv
                .file_name()
                .map(|name| name.to_string_lossy())
                .unwrap_or_default()
        ),
        class_distribution,
        upload_class_distribution,
        mean_intensity_data: distribution("mean_intensity", &table.values("mean_intensity")),
        std_intensity_data: distribution("std_intensity", &table.values("std_intensity")),
        gradient_data: scatter_sample("mean_intensity", "gradient_mean", &table),
        note: format!(
            "summarised on the server: per-class statistics and {HISTOGRAM_BINS}-bin histograms over \
             all {} rows, and at most {SCATTER_POINTS_PER_CLASS} scatter points per class",
            table.rows.len()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "filename,class_name,mean_intensity,std_intensity,gradient_mean\n\
                       a.jpg,glioma,10,1,5\n\
                       b.jpg,glioma,20,2,6\n\
                       c.jpg,pituitary,30,3,7\n";

    #[test]
    fn the_csv_is_parsed_by_header_name_and_bad_rows_are_reported() {
        let table = FeatureTable::parse(CSV).unwrap();
        assert_eq!(
            table.columns,
            ["mean_intensity", "std_intensity", "gradient_mean"]
        );
        assert_eq!(table.rows.len(), 3);
        assert_eq!(table.values("std_intensity")[2], ("pituitary", 3.0));
        assert!(FeatureTable::parse("filename,class_name,x\na.jpg,glioma\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(FeatureTable::parse("x,y\n1,2\n").is_err());
    }

    #[test]
    fn summaries_and_histograms_are_per_class_over_shared_bins() {
        let mut values = vec![4.0, 1.0, 3.0, 2.0, 5.0];
        let s = summary(&mut values);
        assert_eq!((s.count, s.min, s.median, s.max), (5, 1.0, 3.0, 5.0));
        assert_eq!((s.q1, s.q3), (2.0, 4.0));
        assert!((s.mean - 3.0).abs() < 1e-12);

        let table = FeatureTable::parse(CSV).unwrap();
        let d = distribution("mean_intensity", &table.values("mean_intensity"));
        assert_eq!(d.bin_edges.len(), HISTOGRAM_BINS + 1);
        assert_eq!(d.histograms["glioma"].iter().sum::<usize>(), 2);
        assert_eq!(
            d.histograms["pituitary"][HISTOGRAM_BINS - 1],
            1,
            "the maximum falls in the last bin"
        );
        assert_eq!(d.summaries["glioma"].median, 15.0);
    }

    #[test]
    fn the_scatter_sample_is_bounded_per_class() {
        let mut csv = String::from("filename,class_name,mean_intensity,gradient_mean\n");
        for i in 0..1000 {
            csv.push_str(&format!("{i}.jpg,notumor,{i},{}\n", i * 2));
        }
        let table = FeatureTable::parse(&csv).unwrap();
        let scatter = scatter_sample("mean_intensity", "gradient_mean", &table);
        assert!(scatter.points.len() <= SCATTER_POINTS_PER_CLASS);
        assert!(scatter.points.len() >= SCATTER_POINTS_PER_CLASS / 2);
        assert_eq!(scatter.sampled_from, 1000);
        assert!(scatter.points.iter().all(|p| p.y == p.x * 2.0));
    }
}
