//! Seeded data that needs no dataset: [`rng`], the generator behind every split, shuffle and
//! augmentation, and [`phantom`], MRI-like slices. Kept apart from `ml` so that the load generator
//! can make its images without compiling Burn.

pub mod exif;
pub mod phantom;
pub mod rng;
