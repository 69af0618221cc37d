//! Server functions and the data they exchange. The types compile for both server and browser; the
//! function bodies run only on the server.

pub mod auth;
pub mod data;
pub mod insights;
pub mod model;
pub mod monitor;
pub mod predict;
pub mod retrain;
pub mod review;
pub mod status;
