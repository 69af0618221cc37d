//! The error type every server function returns, shared by server and browser. On the wire it is
//! `{"error": kind, "detail": message}` (plus `session_id` for a busy retrainer), and the server's
//! server-function handler turns the kind into the HTTP status (see [`AppError::status`]).

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(into = "ErrorBody", from = "ErrorBody")]
pub enum AppError {
    /// The request could not reach the server function or its payload was malformed.
    #[error("malformed request: {0}")]
    Transport(String),
    /// A server-side failure whose details were logged on the server, not sent to the browser.
    #[error("the server could not complete the request; details are in the server log")]
    Internal,
    #[error("{0}")]
    BadRequest(String),
    /// No valid session or token was presented for something that needs one.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but its role does not allow this, or the request came from another site.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The thing exists but its state forbids the change (e.g. an upload a version was trained on).
    #[error("{0}")]
    Conflict(String),
    /// It existed but is deleted for good (e.g. a prediction's slice after its retention).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Only one retraining job runs at a time.
    #[error("a retraining job is already running (session {session_id})")]
    RetrainBusy { session_id: i64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// The client took too long to send its request.
    #[error("{0}")]
    RequestTimeout(String),
    /// The image is not a brain MRI slice: the model's out-of-distribution check refused it
    /// (with its score and threshold), or a DICOM file's modality is not MR (without).
    #[error("{detail}")]
    NotBrainMri {
        detail: String,
        score: Option<f64>,
        threshold: Option<f64>,
    },
    /// The file's encoding cannot be decoded here (e.g. a DICOM transfer syntax without a codec).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A server we depend on (the PACS) failed or refused us; the message says which and how.
    #[error("{0}")]
    BadGateway(String),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Transport(_) | AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::RetrainBusy { .. } | AppError::Conflict(_) => 409,
            AppError::Gone(_) => 410,
            AppError::PayloadTooLarge(_) => 413,
            AppError::NotBrainMri { .. } => 422,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::Internal => 500,
            AppError::RequestTimeout(_) => 408,
            AppError::TooManyRequests(_) => 429,
            AppError::Unavailable(_) => 503,
            AppError::BadGateway(_) => 502,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AppError::Transport(_) => "malformed_request",
            AppError::Internal => "internal",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::RetrainBusy { .. } => "retrain_busy",
            AppError::Unavailable(_) => "unavailable",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::RequestTimeout(_) => "request_timeout",
            AppError::NotBrainMri { .. } => "not_brain_mri",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::BadGateway(_) => "bad_gateway",
        }
    }
}

/// The JSON shape of an error, as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
    /// For `not_brain_mri`: the image's out-of-distribution score and the model's threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

impl From<AppError> for ErrorBody {
    fn from(error: AppError) -> Self {
        let session_id = match &error {
            AppError::RetrainBusy { session_id } => Some(*session_id),
            _ => None,
        };
        let (score, threshold) = match &error {
            AppError::NotBrainMri {
                score, threshold, ..
            } => (*score, *threshold),
            _ => (None, None),
        };
        ErrorBody {
            error: error.kind().to_owned(),
            detail: error.to_string(),
            session_id,
            score,
            threshold,
        }
    }
}

impl From<ErrorBody> for AppError {
    fn from(body: ErrorBody) -> Self {
        match (body.error.as_str(), body.session_id) {
            ("retrain_busy", Some(session_id)) => AppError::RetrainBusy { session_id },
            ("not_brain_mri", _) => AppError::NotBrainMri {
                detail: body.detail,
                score: body.score,
                threshold: body.threshold,
            },
            ("unsupported_media_type", _) => AppError::UnsupportedMediaType(body.detail),
            ("internal", _) => AppError::Internal,
            ("bad_request", _) => AppError::BadRequest(body.detail),
            ("unauthorized", _) => AppError::Unauthorized(body.detail),
            ("forbidden", _) => AppError::Forbidden(body.detail),
            ("not_found", _) => AppError::NotFound(body.detail),
            ("conflict", _) => AppError::Conflict(body.detail),
            ("gone", _) => AppError::Gone(body.detail),
            ("payload_too_large", _) => AppError::PayloadTooLarge(body.detail),
            ("unavailable", _) => AppError::Unavailable(body.detail),
            ("too_many_requests", _) => AppError::TooManyRequests(body.detail),
            ("request_timeout", _) => AppError::RequestTimeout(body.detail),
            ("bad_gateway", _) => AppError::BadGateway(body.detail),
            _ => AppError::Transport(body.detail),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server, a body that does not decode into the function's arguments.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(reason) => AppError::Transport(format!(
                "the request's fields are not what this endpoint takes: {}",
                plain_reason(&reason)
            )),
            ServerFnErrorErr::Args(reason) => AppError::Transport(format!(
                "the request's fields are not what this endpoint takes: {}",
                plain_reason(&reason)
            )),
            ServerFnErrorErr::MissingArg(name) => {
                AppError::Transport(format!("the request lacks the field {name:?}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

/// A JSON or query decoder's complaint in plain words: no byte positions, no Rust type names.
fn plain_reason(reason: &str) -> String {
    let without_position = match reason.rfind(" at line ") {
        Some(at) if reason[at..].contains(" column ") => &reason[..at],
        _ => reason,
    };
    let mut plain = without_position
        .replace("invalid type: ", "a value has the wrong type: ")
        .replace('`', "\"");
    for (rust, words) in [
        ("u8", "a whole number"),
        ("u16", "a whole number"),
        ("u32", "a whole number"),
        ("u64", "a whole number"),
        ("usize", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("f32", "a number"),
        ("f64", "a number"),
    ] {
        plain = plain.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    plain
}

#[cfg(feature = "ssr")]
impl From<pacs::PacsError> for AppError {
    fn from(error: pacs::PacsError) -> Self {
        use pacs::PacsError;
        match error {
            PacsError::NotFound(_) => AppError::NotFound(error.to_string()),
            PacsError::InvalidUid(_) => AppError::BadRequest(error.to_string()),
            PacsError::TooLarge { .. } => AppError::PayloadTooLarge(error.to_string()),
            // The message names the PACS's status or why it could not be reached, never credentials.
            other => {
                // The log gets no UID: they identify a patient's examination.
                tracing::warn!(error = %other.without_uids(), "DICOMweb request failed");
                AppError::BadGateway(other.to_string())
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<db::DbError> for AppError {
    fn from(error: db::DbError) -> Self {
        tracing::error!(%error, "database error in a server function");
        AppError::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_complaints_are_told_without_positions_or_type_names() {
        assert_eq!(
            plain_reason("invalid type: string \"many\", expected u32 at line 1 column 17"),
            "a value has the wrong type: string \"many\", expected a whole number"
        );
        assert_eq!(
            plain_reason("missing field `epochs`"),
            "missing field \"epochs\""
        );
    }

    #[test]
    fn errors_travel_as_kind_and_detail_and_come_back_unchanged() {
        for error in [
            AppError::BadRequest("class_name must be one of ...".into()),
            AppError::RetrainBusy { session_id: 7 },
            AppError::PayloadTooLarge("scan.jpg is 25 MB; the limit is 20 MB".into()),
            AppError::Unauthorized("log in".into()),
            AppError::Forbidden("admins only".into()),
            AppError::TooManyRequests("slow down".into()),
            AppError::RequestTimeout("too slow".into()),
            AppError::NotBrainMri {
                detail: "not a brain MRI slice".into(),
                score: Some(3.5),
                threshold: Some(1.9),
            },
            AppError::NotBrainMri {
                detail: "modality CT".into(),
                score: None,
                threshold: None,
            },
            AppError::UnsupportedMediaType("JPEG-LS".into()),
            AppError::Internal,
        ] {
            let json = serde_json::to_value(&error).unwrap();
            assert_eq!(json["detail"], error.to_string());
            let back: AppError = serde_json::from_value(json).unwrap();
            assert_eq!(back, error);
        }
        let busy = serde_json::to_value(AppError::RetrainBusy { session_id: 7 }).unwrap();
        assert_eq!(busy["error"], "retrain_busy");
        assert_eq!(busy["session_id"], 7);
        assert_eq!(AppError::RetrainBusy { session_id: 7 }.status(), 409);
        let refused = AppError::NotBrainMri {
            detail: "not a brain MRI slice".into(),
            score: Some(3.5),
            threshold: Some(1.9),
        };
        assert_eq!(refused.status(), 422);
        let refused = serde_json::to_value(refused).unwrap();
        assert_eq!(refused["error"], "not_brain_mri");
        assert_eq!(refused["score"], 3.5);
        assert_eq!(refused["threshold"], 1.9);
        // A DICOM file of another modality is refused before the model runs: no score to give.
        let other_modality = serde_json::to_value(AppError::NotBrainMri {
            detail: "modality CT".into(),
            score: None,
            threshold: None,
        })
        .unwrap();
        assert!(other_modality.get("score").is_none(), "{other_modality}");
        assert_eq!(
            AppError::UnsupportedMediaType("JPEG-LS".into()).status(),
            415
        );
    }
}
