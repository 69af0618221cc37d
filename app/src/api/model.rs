//! `GET /models/active/report`: how the serving model scores on its validation images and how each
//! training run got there. The Model page draws it.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::model::ModelReport;

use crate::error::AppError;

#[server(prefix = "", endpoint = "models/active/report", input = GetUrl)]
pub async fn get_model_report() -> Result<ModelReport, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::model_report::active(&state).await
}
