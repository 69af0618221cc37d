//! Reusable UI pieces.

pub mod page_header;
pub mod planned_features;
pub mod sidebar;
