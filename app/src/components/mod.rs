//! Reusable UI pieces.

pub mod chart_canvas;
pub mod data_table;
pub mod feedback;
pub mod file_picker;
pub mod heatmap;
pub mod loaded;
pub mod modal;
pub mod page_header;
pub mod polling;
pub mod probability_bars;
pub mod series_viewer;
pub mod session;
pub mod sidebar;
pub mod stat_card;
pub mod text_input;
pub mod time;
pub mod windowed_slice;
