//! The part of a client's prediction budget a request spends once its size is known. The HTTP
//! layer charges one image at the door (before the body is read) and puts an [`ImageBudget`] in the
//! request's extensions; a batch charges the rest here once its images are counted, so a batch of
//! N costs N.

use std::sync::Arc;
use std::time::Duration;

use crate::error::AppError;

type Charge = dyn Fn(usize) -> Result<(), Duration> + Send + Sync;

/// Charges images against the caller's per-minute prediction budget.
#[derive(Clone)]
pub struct ImageBudget {
    per_minute: u32,
    charge: Arc<Charge>,
}

impl ImageBudget {
    /// `charge(n)` takes `n` images from the budget or answers how long until they are there.
    pub fn new(
        per_minute: u32,
        charge: impl Fn(usize) -> Result<(), Duration> + Send + Sync + 'static,
    ) -> Self {
        Self {
            per_minute,
            charge: Arc::new(charge),
        }
    }
}

/// Charges this request's `images` beyond the one paid at the door: 429 with `Retry-After` when the
/// budget does not cover them. Without a budget (the command line, tests of a page) it is free.
pub fn charge_images(images: usize) -> Result<(), AppError> {
    let budget = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ImageBudget>().cloned());
    let (Some(budget), true) = (budget, images > 1) else {
        return Ok(());
    };
    (budget.charge)(images - 1).map_err(|wait| {
        let seconds = wait.as_secs().max(1);
        set_retry_after(seconds);
        AppError::TooManyRequests(format!(
            "a request of {images} images costs {images} of the {} predictions a client may ask \
             for per minute; try again in {seconds} s or send fewer images",
            budget.per_minute
        ))
    })
}

/// Tells the client when to try again (on a 429 or 503).
pub fn set_retry_after(seconds: u64) {
    if let (Some(response), Ok(value)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(&seconds.max(1).to_string()),
    ) {
        response.insert_header(axum::http::header::RETRY_AFTER, value);
    }
}
