//! The brain-MRI classifier: everything from image bytes to calibrated class probabilities, and the
//! training that produces the model. Backend-agnostic: the Burn `Device` is chosen at run time
//! ([`device`]); nothing here knows about HTTP, the database or the UI.

pub mod artifact;
pub mod batching;
pub mod checkpoint;
pub mod dataset;
pub mod device;
pub mod dicom;
pub mod dicom_writer;
pub mod drift;
pub mod efficientnet;
pub mod explain;
pub mod features;
pub mod finetune;
pub mod infer;
pub mod kernels;
pub mod label_check;
pub mod metrics;
pub mod model;
pub mod non_mri;
pub mod plots;
pub mod preprocess;
pub mod scanner_variation;
pub mod secondary_capture;
pub mod series;
pub mod train;
pub mod trust;

// Seeded generator and phantom slices live in their own light crate (the load generator uses them
// without Burn); re-exported so `ml::rng` and `ml::phantom` stay where the ML code expects them.
pub use synthetic::{exif, phantom, rng};

use std::path::PathBuf;

pub use artifact::{Manifest, ModelArtifact};
pub use device::Backend;
/// The classes are the workspace's shared vocabulary, defined once in `domain`.
pub use domain::{classes, CLASS_NAMES, NUM_CLASSES};
pub use infer::{Classifier, Prediction};
pub use metrics::EvaluationReport;

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a readable image: {0}")]
    Decode(String),
    #[error("image is empty (0 bytes)")]
    EmptyImage,
    #[error("dataset problem: {0}")]
    Dataset(String),
    #[error("no model found in {dir}: {reason}")]
    ModelMissing { dir: PathBuf, reason: String },
    #[error("model files in {dir} do not agree: {reason}")]
    ModelMismatch { dir: PathBuf, reason: String },
    #[error("invalid model manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("backend {0} is not available in this build (enable its cargo feature)")]
    BackendUnavailable(String),
    #[error(
        "this DICOM file's modality is {modality}, not MR: only brain MRI slices are classified"
    )]
    NotMrModality { modality: String },
    #[error(
        "this DICOM file's transfer syntax {name} ({uid}) cannot be decoded here; decodable: \
         uncompressed (implicit/explicit VR, little or big endian), deflated, RLE lossless, JPEG \
         baseline/extended/lossless and JPEG 2000"
    )]
    UnsupportedTransferSyntax { uid: String, name: String },
    #[error("cannot encode image: {0}")]
    Encode(String),
    #[error("cannot draw plot: {0}")]
    Plot(String),
    #[error("pretrained weights: {0}")]
    Pretrained(String),
    #[error("training failed: {0}")]
    Training(String),
    #[error(
        "this does not look like a brain MRI slice: its distance from the training slices is \
         {distance:.2}, above the model's threshold of {threshold:.2}"
    )]
    NotBrainMri { distance: f32, threshold: f32 },
}

pub type MlResult<T> = Result<T, MlError>;

impl MlError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MlError::Io {
            path: path.into(),
            source,
        }
    }
}
