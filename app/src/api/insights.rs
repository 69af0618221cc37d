//! `GET /visualizations/data`: the data behind the Insights charts, with the original service's keys.
//! Thousands of feature rows are summarised on the server (per-class statistics, fixed-bin histograms
//! and a bounded scatter sample), so the answer stays small however many images there are.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::insights::VisualizationData;

use crate::error::AppError;

#[server(prefix = "", endpoint = "visualizations/data", input = GetUrl)]
pub async fn get_visualization_data() -> Result<VisualizationData, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::insights::visualization_data(&state).await
}
