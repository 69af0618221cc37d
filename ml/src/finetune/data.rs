//! The images a fine-tuning run learns from and is judged on: the new uploads, a replay sample of
//! the original training images (so the model does not forget), and a validation set chosen by
//! how much it can be trusted.

use std::path::Path;

use crate::artifact::DataSplit;
use crate::dataset::{self, ImageCache, LabeledImage};
use crate::preprocess::PreprocessConfig;
use crate::{MlError, MlResult};

/// Original training images replayed per new image.
pub const REPLAY_PER_NEW_IMAGE: usize = 4;
pub const MIN_REPLAY_IMAGES: usize = 200;
/// Reference images needed before they can stand in for the original validation split: enough that
/// one accuracy point is a handful of images.
pub const MIN_REFERENCE_IMAGES: usize = 300;
/// Share of the uploads held out when nothing better exists to validate on.
const HELD_OUT_UPLOAD_FRACTION: f64 = 0.2;

/// The original dataset and the split the serving model's lineage was validated on.
#[derive(Debug, Clone, Copy)]
pub struct OriginalData<'a> {
    /// The folder with one sub-folder per class.
    pub dir: &'a Path,
    pub split: DataSplit,
}

pub struct FineTuneSources<'a> {
    pub uploads: &'a [LabeledImage],
    /// Labelled images an admin set aside to judge versions on (never trained on).
    pub reference: &'a [LabeledImage],
    pub original: Option<OriginalData<'a>>,
    /// Seeds the replay sample and the held-out split.
    pub seed: u64,
}

/// What the new version is judged on, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationSet {
    /// The original validation split, the one the shipped model was scored on.
    OriginalSplit,
    /// The admins' reference set.
    ReferenceSet,
    /// A stratified share of the uploads themselves.
    HeldOutUploads,
    /// Too few uploads to hold any out: the training uploads again.
    TrainingUploads,
}

impl ValidationSet {
    /// Whether uploads cannot change it: only then may a version judged on it serve by itself.
    /// Uploads cannot vouch for themselves, since wrong labels would confirm themselves.
    pub fn is_trusted(self) -> bool {
        matches!(
            self,
            ValidationSet::OriginalSplit | ValidationSet::ReferenceSet
        )
    }

    /// The set's name in the vocabulary every layer shares (the versions table shows it).
    pub fn kind(self) -> domain::comparison::EvaluationSetKind {
        use domain::comparison::EvaluationSetKind as Kind;
        match self {
            ValidationSet::OriginalSplit => Kind::OriginalSplit,
            ValidationSet::ReferenceSet => Kind::ReferenceSet,
            ValidationSet::HeldOutUploads => Kind::HeldOutUploads,
            ValidationSet::TrainingUploads => Kind::TrainingUploads,
        }
    }
}

pub struct PreparedData {
    pub train: ImageCache,
    pub validation: ImageCache,
    pub validation_set: ValidationSet,
    /// Every image decoded, for the preprocessing log.
    pub images_processed: usize,
    /// Where the training images came from, for the manifest.
    pub description: String,
}

/// Decodes and preprocesses the images for one fine-tuning run, the way the serving model expects.
pub fn prepare(
    sources: &FineTuneSources<'_>,
    preprocess: &PreprocessConfig,
) -> MlResult<PreparedData> {
    let no_progress = |_: usize| {};
    let (mut train, skipped) = dataset::build_cache(sources.uploads, preprocess, &no_progress);
    if train.is_empty() {
        return Err(MlError::Dataset(format!(
            "none of the {} uploaded images could be read ({} skipped)",
            sources.uploads.len(),
            skipped.len()
        )));
    }
    let uploads_read = train.len();
    if let Some(original) = sources.original {
        let items = dataset::scan_class_folders(original.dir)?;
        let (original_train, validation_items) = dataset::stratified_split(
            &items,
            original.split.validation_fraction,
            original.split.seed,
        );
        let replay_items = replay_sample(&original_train, uploads_read, sources.seed);
        let (replay, _) = dataset::build_cache(&replay_items, preprocess, &no_progress);
        let (validation, _) = dataset::build_cache(&validation_items, preprocess, &no_progress);
        train.extend_from(&replay);
        return Ok(PreparedData {
            description: format!(
                "{uploads_read} uploaded images + {} replayed from the original training set",
                replay.len(),
            ),
            images_processed: train.len() + validation.len(),
            train,
            validation,
            validation_set: ValidationSet::OriginalSplit,
        });
    }
    if sources.reference.len() >= MIN_REFERENCE_IMAGES {
        let (validation, _) = dataset::build_cache(sources.reference, preprocess, &no_progress);
        return Ok(PreparedData {
            description: format!("{uploads_read} uploaded images"),
            images_processed: train.len() + validation.len(),
            train,
            validation,
            validation_set: ValidationSet::ReferenceSet,
        });
    }
    let (train_indices, validation_indices) =
        dataset::stratified_indices(&train.labels, HELD_OUT_UPLOAD_FRACTION, sources.seed);
    let (fitted, held_out, validation_set) = if validation_indices.is_empty() {
        (train.clone(), train, ValidationSet::TrainingUploads)
    } else {
        (
            train.subset(&train_indices),
            train.subset(&validation_indices),
            ValidationSet::HeldOutUploads,
        )
    };
    Ok(PreparedData {
        description: format!("{} uploaded images", fitted.len()),
        train: fitted,
        validation: held_out,
        validation_set,
        images_processed: uploads_read,
    })
}

/// A seeded sample of the original training images, [`REPLAY_PER_NEW_IMAGE`] per new image (at
/// least [`MIN_REPLAY_IMAGES`], at most all of them).
fn replay_sample(
    original_train: &[LabeledImage],
    new_images: usize,
    seed: u64,
) -> Vec<LabeledImage> {
    let count = (REPLAY_PER_NEW_IMAGE * new_images)
        .max(MIN_REPLAY_IMAGES)
        .min(original_train.len());
    let mut order: Vec<usize> = (0..original_train.len()).collect();
    crate::rng::Rng::new(seed).shuffle(&mut order);
    order[..count]
        .iter()
        .map(|&i| original_train[i].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(count: usize) -> Vec<LabeledImage> {
        (0..count)
            .map(|i| LabeledImage {
                path: format!("{i}.png").into(),
                label: i % crate::NUM_CLASSES,
            })
            .collect()
    }

    #[test]
    fn replay_is_four_per_new_image_within_its_bounds_and_seeded() {
        let original = items(1000);
        assert_eq!(replay_sample(&original, 10, 1).len(), MIN_REPLAY_IMAGES);
        assert_eq!(replay_sample(&original, 100, 1).len(), 400);
        assert_eq!(replay_sample(&original, 900, 1).len(), 1000);
        let paths = |sample: Vec<LabeledImage>| -> Vec<_> {
            sample.into_iter().map(|item| item.path).collect()
        };
        assert_eq!(
            paths(replay_sample(&original, 100, 7)),
            paths(replay_sample(&original, 100, 7))
        );
        assert_ne!(
            paths(replay_sample(&original, 100, 7)),
            paths(replay_sample(&original, 100, 8))
        );
    }

    #[test]
    fn only_sets_uploads_cannot_change_are_trusted() {
        assert!(ValidationSet::OriginalSplit.is_trusted());
        assert!(ValidationSet::ReferenceSet.is_trusted());
        assert!(!ValidationSet::HeldOutUploads.is_trusted());
        assert!(!ValidationSet::TrainingUploads.is_trusted());
    }
}
