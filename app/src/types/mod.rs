//! The wire types: what the server functions take and answer, serialised as JSON on the REST surface
//! and shared by the pages and the server-side bodies. Plain data with serde (and, on the server,
//! OpenAPI schemas); no server function and no server state lives here.

pub mod auth;
pub mod data;
pub mod drift;
pub mod feedback;
pub mod insights;
pub mod model;
pub mod monitor;
pub mod pacs;
pub mod predict;
pub mod retrain;
pub mod review;
pub mod series;
pub mod status;
