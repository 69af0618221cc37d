//! The error type every server function returns, shared by server and browser.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The request could not reach the server function or its payload was malformed.
    #[error("request failed: {0}")]
    Transport(ServerFnErrorErr),
    /// A server-side failure whose details were logged on the server, not sent to the browser.
    #[error("the server could not complete the request; details are in the server log")]
    Internal,
    #[error("{0}")]
    BadRequest(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value)
    }
}

#[cfg(feature = "ssr")]
impl From<db::DbError> for AppError {
    fn from(error: db::DbError) -> Self {
        leptos::logging::error!("database error in a server function: {error}");
        AppError::Internal
    }
}
