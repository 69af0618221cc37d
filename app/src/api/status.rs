//! Liveness and uptime: the original service's `/health` and `/uptime` payloads and the server
//! function the Home page polls.

use leptos::prelude::*;

use crate::types::status::ServerStatus;

use crate::error::AppError;

#[server(endpoint = "server_status")]
pub async fn get_server_status() -> Result<ServerStatus, AppError> {
    let state = crate::ssr::state()?;
    Ok(state.server_status().await)
}
