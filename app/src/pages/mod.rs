//! One page per route.

pub mod data;
pub mod home;
pub mod insights;
pub mod login;
pub mod model;
pub mod monitor;
pub mod not_found;
pub mod predict;
pub mod retrain;
pub mod review;
pub mod series;
pub mod studies;
pub mod upload;
pub mod users;
