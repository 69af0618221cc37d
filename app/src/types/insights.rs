//! The summarised dataset behind the Insights charts (`GET /visualizations/data`), keyed as the
//! original service keyed it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many scatter points per class.
pub const SCATTER_POINTS_PER_CLASS: usize = 150;

/// Histogram bins per distribution.
pub const HISTOGRAM_BINS: usize = 24;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

/// One feature's distribution per class: box-plot statistics and counts in shared bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Distribution {
    pub feature: String,
    pub bin_edges: Vec<f64>,
    pub histograms: BTreeMap<String, Vec<usize>>,
    pub summaries: BTreeMap<String, Summary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScatterPoint {
    pub class_name: String,
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Scatter {
    pub x_feature: String,
    pub y_feature: String,
    pub points: Vec<ScatterPoint>,
    /// How many rows the points were sampled from.
    pub sampled_from: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VisualizationData {
    /// Every feature column available.
    pub features: Vec<String>,
    pub total_samples: usize,
    pub source: String,
    /// Training images per class (from the committed feature CSV).
    pub class_distribution: BTreeMap<String, usize>,
    /// Uploaded images per class (from the database).
    pub upload_class_distribution: BTreeMap<String, i64>,
    pub mean_intensity_data: Distribution,
    pub std_intensity_data: Distribution,
    /// Gradient mean against mean intensity, sampled per class.
    pub gradient_data: Scatter,
    /// How the data was reduced, for clients that expected raw rows.
    pub note: String,
}
