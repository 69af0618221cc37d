//! The vocabulary shared by the database, the ML code, the server and the browser: the four classes
//! in the model's output order, and the states a retraining job and a model version move through.
//! One definition each, so a new state or class is added in one place and every layer (SQL column,
//! JSON field, OpenAPI enum, UI badge) follows.

pub mod classes;
pub mod comparison;
pub mod dicom;
pub mod outcome;
pub mod records;
pub mod states;
pub mod text;

pub use classes::{class_index, class_label, CLASS_NAMES, NUM_CLASSES};
pub use records::{AuditEntry, SessionScores};
pub use states::{
    AuditOutcome, JobPhase, ModelStatus, PreprocessingStatus, RetrainState, SessionStatus,
    TrainingSources,
};
