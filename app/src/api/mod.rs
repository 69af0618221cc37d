//! Server functions: one module per area of the REST surface. Their signatures compile for both
//! server and browser, their bodies run only on the server and call into `crate::ssr`; the data they
//! exchange lives in `crate::types`.

pub mod auth;
pub mod data;
pub mod feedback;
pub mod insights;
pub mod model;
pub mod monitor;
pub mod pacs;
pub mod predict;
pub mod retrain;
pub mod review;
pub mod status;
