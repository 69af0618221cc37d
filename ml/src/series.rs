//! A series verdict: one answer for a stack of slices, from each slice's answer.
//!
//! **The rule.** Slices are taken in anatomical order. A tumour class is *supported* when at least
//! two adjacent slices both answer it with a probability at or above the review threshold (the
//! calibrated confidence below which a single answer needs review). The verdict is the supported
//! class with the longest such run (ties: the higher mean probability over its runs). With no
//! supported class, a tumour class that reaches the threshold on any single slice is still the
//! verdict, flagged for review: "no tumour" is answered only when no tumour class reaches the
//! threshold anywhere. The verdict needs review when it rests on one slice, when another tumour
//! class is supported or reaches the threshold too, when a "no tumour" series has unsure slices, or
//! when the series has a single slice.
//!
//! Pure: the caller classifies the slices.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::{MlError, MlResult};

/// The class that is not a tumour.
pub const NO_TUMOUR: &str = "notumor";

/// One slice's answer, as the rule reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceAnswer {
    /// What the reason calls the slice: its 1-based place in the whole series (slices the model
    /// refused are not given, so places may skip).
    pub position: usize,
    /// Each class's probability, in `classes` order.
    pub probabilities: Vec<f32>,
}

/// The series' answer and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesVerdict {
    pub class_name: String,
    /// The mean probability of `class_name` over the driving slices (over every slice for "no
    /// tumour").
    pub confidence: f32,
    /// Indices (0-based, into the slices given) of the slices the verdict rests on: the verdict
    /// class's longest run, or its single slice; empty for "no tumour".
    pub driving_slices: Vec<usize>,
    pub needs_review: bool,
    /// Why, in a sentence a radiologist can check against the slices.
    pub reason: String,
}

impl SeriesVerdict {
    /// The driving slices as the positions `slices` (the answers the verdict was reached on) give
    /// them, for people: the rule itself works on indices.
    pub fn driving_positions(&self, slices: &[SliceAnswer]) -> Vec<usize> {
        self.driving_slices
            .iter()
            .filter_map(|&i| slices.get(i).map(|slice| slice.position))
            .collect()
    }
}

/// Whether `bytes` are a zip archive (its local file header signature).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The files in a zip archive, `(name, bytes)` in archive order, skipping folders and the
/// `__MACOSX` clutter macOS adds. Refuses more than `max_files` entries or more than
/// `max_total_bytes` unpacked (counted as read, not as the archive claims: a zip bomb stops at the
/// limit), and encrypted entries.
pub fn unzip(
    bytes: &[u8],
    max_files: usize,
    max_total_bytes: u64,
) -> MlResult<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| MlError::Decode(format!("not a readable zip archive: {e}")))?;
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| MlError::Decode(format!("zip entry {}: {e}", index + 1)))?;
        let name = entry
            .name()
            .map_err(|e| MlError::Decode(format!("zip entry {}: {e}", index + 1)))?
            .into_owned();
        if entry.is_dir() || name.starts_with("__MACOSX/") {
            continue;
        }
        if files.len() == max_files {
            return Err(MlError::Decode(format!(
                "the zip holds more than {max_files} files"
            )));
        }
        let mut content = Vec::new();
        let room = max_total_bytes.saturating_sub(total);
        entry
            .take(room + 1)
            .read_to_end(&mut content)
            .map_err(|e| MlError::Decode(format!("zip entry {name}: {e}")))?;
        total += content.len() as u64;
        if total > max_total_bytes {
            return Err(MlError::Decode(format!(
                "the zip unpacks to more than {max_total_bytes} bytes"
            )));
        }
        files.push((name, content));
    }
    Ok(files)
}

/// A run of adjacent confident slices of one class.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    class: usize,
    start: usize,
    len: usize,
    mean: f32,
}

/// The verdict for `slices` (in anatomical order) over `classes`, with `threshold` the confidence a
/// slice's answer needs to count. `None` for an empty series.
pub fn verdict(slices: &[SliceAnswer], classes: &[&str], threshold: f32) -> Option<SeriesVerdict> {
    if slices.is_empty() {
        return None;
    }
    let no_tumour = classes.iter().position(|c| *c == NO_TUMOUR);
    // Each slice's confident tumour class, if any.
    let confident: Vec<Option<(usize, f32)>> = slices
        .iter()
        .map(|slice| {
            let best = crate::train::argmax(&slice.probabilities);
            let p = slice.probabilities[best];
            (Some(best) != no_tumour && p >= threshold).then_some((best, p))
        })
        .collect();
    let runs = confident_runs(&confident);
    let supported: Vec<&Run> = runs.iter().filter(|run| run.len >= 2).collect();
    let confident_classes: std::collections::BTreeSet<usize> = confident
        .iter()
        .flatten()
        .map(|(class, _)| *class)
        .collect();
    let single = slices.len() == 1;

    if let Some(best) = supported.iter().copied().max_by(|a, b| {
        a.len
            .cmp(&b.len)
            .then(class_mean(&runs, a.class).total_cmp(&class_mean(&runs, b.class)))
    }) {
        let others: Vec<&str> = confident_classes
            .iter()
            .filter(|&&class| class != best.class)
            .map(|&class| classes[class])
            .collect();
        let reason = if others.is_empty() {
            format!(
                "{} on {} adjacent slices ({}-{}) at or above {:.0}%",
                classes[best.class],
                best.len,
                slices[best.start].position,
                slices[best.start + best.len - 1].position,
                threshold * 100.0
            )
        } else {
            format!(
                "{} on {} adjacent slices ({}-{}), but {} also reached {:.0}% elsewhere",
                classes[best.class],
                best.len,
                slices[best.start].position,
                slices[best.start + best.len - 1].position,
                others.join(" and "),
                threshold * 100.0
            )
        };
        return Some(SeriesVerdict {
            class_name: classes[best.class].to_owned(),
            confidence: best.mean,
            driving_slices: (best.start..best.start + best.len).collect(),
            needs_review: !others.is_empty() || single,
            reason,
        });
    }
    if let Some((position, (class, p))) = confident
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
    {
        return Some(SeriesVerdict {
            class_name: classes[class].to_owned(),
            confidence: p,
            driving_slices: vec![position],
            needs_review: true,
            reason: format!(
                "{} reached {:.0}% on slice {} alone (no two adjacent slices agree): a single \
                 slice is not enough to rule a tumour in or out",
                classes[class],
                threshold * 100.0,
                slices[position].position
            ),
        });
    }
    let no_tumour = no_tumour?;
    let mean = slices
        .iter()
        .map(|slice| slice.probabilities[no_tumour])
        .sum::<f32>()
        / slices.len() as f32;
    let unsure = slices
        .iter()
        .filter(|slice| {
            let best = crate::train::argmax(&slice.probabilities);
            slice.probabilities[best] < threshold
        })
        .count();
    Some(SeriesVerdict {
        class_name: NO_TUMOUR.to_owned(),
        confidence: mean,
        driving_slices: Vec::new(),
        needs_review: unsure > 0 || single,
        reason: if unsure > 0 {
            format!(
                "no tumour class reached {:.0}% on any slice, but {unsure} slice(s) were unsure",
                threshold * 100.0
            )
        } else {
            format!(
                "no tumour class reached {:.0}% on any of the {} slices",
                threshold * 100.0,
                slices.len()
            )
        },
    })
}

/// Maximal runs of adjacent slices confidently answering the same tumour class.
fn confident_runs(confident: &[Option<(usize, f32)>]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (position, slice) in confident.iter().enumerate() {
        match (slice, runs.last_mut()) {
            (Some((class, p)), Some(run))
                if run.class == *class && run.start + run.len == position =>
            {
                run.mean = (run.mean * run.len as f32 + p) / (run.len + 1) as f32;
                run.len += 1;
            }
            (Some((class, p)), _) => runs.push(Run {
                class: *class,
                start: position,
                len: 1,
                mean: *p,
            }),
            (None, _) => {}
        }
    }
    runs
}

/// The mean probability over every run of `class` (weighted by length).
fn class_mean(runs: &[Run], class: usize) -> f32 {
    let (sum, count) = runs
        .iter()
        .filter(|run| run.class == class)
        .fold((0.0, 0), |(s, n), run| {
            (s + run.mean * run.len as f32, n + run.len)
        });
    sum / count.max(1) as f32
}

/// How a series' slices were put in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SliceOrder {
    /// Along the slice normal (Image Position projected on the orientation's normal).
    ImagePosition,
    InstanceNumber,
    /// As sent: neither is known for every slice.
    Upload,
}

impl SliceOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SliceOrder::ImagePosition => "image_position",
            SliceOrder::InstanceNumber => "instance_number",
            SliceOrder::Upload => "upload",
        }
    }
}

/// One slice to order: its instance's place, the instance's upload order and the frame's index.
#[derive(Debug, Clone, Copy)]
pub struct SliceKey<'a> {
    pub place: &'a crate::dicom::SeriesPlace,
    pub order: usize,
    pub frame: usize,
}

/// The order of one series' slices (indices into `slices`): along the slice normal when every
/// slice has a position, else by Instance Number when every one has one, else as uploaded; a
/// multi-frame file's frames keep their order, and ties keep the upload order.
pub fn order_slices(slices: &[SliceKey<'_>]) -> (Vec<usize>, SliceOrder) {
    let mut indices: Vec<usize> = (0..slices.len()).collect();
    let rule = if slices.iter().all(|s| s.place.slice_position.is_some()) {
        indices.sort_by(|&a, &b| {
            let (a, b) = (&slices[a], &slices[b]);
            let position = |s: &SliceKey<'_>| s.place.slice_position.unwrap_or_default();
            position(a)
                .total_cmp(&position(b))
                .then(a.order.cmp(&b.order))
                .then(a.frame.cmp(&b.frame))
        });
        SliceOrder::ImagePosition
    } else if slices.iter().all(|s| s.place.instance_number.is_some()) {
        indices.sort_by_key(|&i| {
            (
                slices[i].place.instance_number,
                slices[i].order,
                slices[i].frame,
            )
        });
        SliceOrder::InstanceNumber
    } else {
        indices.sort_by_key(|&i| (slices[i].order, slices[i].frame));
        SliceOrder::Upload
    };
    (indices, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [&str; 4] = ["glioma", "meningioma", "notumor", "pituitary"];

    /// A slice answering `class` with probability `p`, the rest spread evenly.
    fn slice(class: &str, p: f32) -> SliceAnswer {
        let rest = (1.0 - p) / 3.0;
        SliceAnswer {
            position: 1,
            probabilities: CLASSES
                .iter()
                .map(|c| if *c == class { p } else { rest })
                .collect(),
        }
    }

    fn series(spec: &[(&str, f32)]) -> Vec<SliceAnswer> {
        spec.iter()
            .enumerate()
            .map(|(i, (c, p))| SliceAnswer {
                position: i + 1,
                ..slice(c, *p)
            })
            .collect()
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            if name.ends_with('/') {
                writer.add_directory(*name, options).unwrap();
            } else {
                writer.start_file(*name, options).unwrap();
                std::io::Write::write_all(&mut writer, bytes).unwrap();
            }
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_zip_gives_its_files_in_order_within_its_limits() {
        let archive = zip_of(&[
            ("series/", b""),
            ("series/1.dcm", b"one"),
            ("__MACOSX/series/._1.dcm", b"junk"),
            ("series/2.dcm", b"two"),
        ]);
        assert!(is_zip(&archive));
        let files = unzip(&archive, 10, 100).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["series/1.dcm", "series/2.dcm"]);
        assert_eq!(files[1].1, b"two");
        let too_many = unzip(&archive, 1, 100).unwrap_err().to_string();
        assert!(too_many.contains("more than 1 files"), "{too_many}");
        // A small archive of a large, very compressible file stops at the byte limit.
        let bomb = zip_of(&[("zeros.dcm", &vec![0u8; 1_000_000])]);
        assert!(bomb.len() < 10_000);
        let refused = unzip(&bomb, 10, 50_000).unwrap_err().to_string();
        assert!(refused.contains("more than 50000 bytes"), "{refused}");
        assert!(unzip(b"PK\x03\x04 not really", 10, 100).is_err());
        assert!(!is_zip(b"DICM"));
    }

    #[test]
    fn two_adjacent_confident_slices_make_the_verdict() {
        let slices = series(&[
            ("notumor", 0.99),
            ("glioma", 0.95),
            ("glioma", 0.97),
            ("notumor", 0.99),
        ]);
        let verdict = super::verdict(&slices, &CLASSES, 0.9).unwrap();
        assert_eq!(verdict.class_name, "glioma");
        assert_eq!(verdict.driving_slices, vec![1, 2]);
        assert!(
            verdict.reason.contains("slices (2-3)"),
            "{}",
            verdict.reason
        );
        assert!((verdict.confidence - 0.96).abs() < 1e-6);
        assert!(!verdict.needs_review, "{verdict:?}");
    }

    #[test]
    fn the_longest_run_wins_and_a_rival_class_asks_for_review() {
        let slices = series(&[
            ("meningioma", 0.95),
            ("meningioma", 0.95),
            ("notumor", 0.99),
            ("pituitary", 0.92),
            ("pituitary", 0.93),
            ("pituitary", 0.91),
        ]);
        let verdict = super::verdict(&slices, &CLASSES, 0.9).unwrap();
        assert_eq!(verdict.class_name, "pituitary");
        assert_eq!(verdict.driving_slices, vec![3, 4, 5]);
        assert!(verdict.needs_review);
        assert!(
            verdict.reason.contains("meningioma also reached"),
            "{}",
            verdict.reason
        );
    }

    #[test]
    fn a_single_confident_tumour_slice_rules_out_no_tumour_but_needs_review() {
        let mut slices = series(&[("notumor", 0.99), ("glioma", 0.93), ("notumor", 0.99)]);
        // The reason names the slice by its place in the series (a refused slice before it).
        slices[1].position = 3;
        let verdict = super::verdict(&slices, &CLASSES, 0.9).unwrap();
        assert_eq!(verdict.class_name, "glioma");
        assert_eq!(verdict.driving_slices, vec![1]);
        assert!(
            verdict.reason.contains("on slice 3 alone"),
            "{}",
            verdict.reason
        );
        assert!(verdict.needs_review);
        // Unsure tumour answers do not count: below the threshold, it is no tumour (flagged).
        let slices = series(&[("notumor", 0.99), ("glioma", 0.6), ("glioma", 0.7)]);
        let verdict = super::verdict(&slices, &CLASSES, 0.9).unwrap();
        assert_eq!(verdict.class_name, "notumor");
        assert!(verdict.needs_review);
        assert!(verdict.driving_slices.is_empty());
    }

    #[test]
    fn a_clear_series_is_no_tumour_and_an_empty_one_has_no_verdict() {
        let slices = series(&[("notumor", 0.99), ("notumor", 0.97)]);
        let verdict = super::verdict(&slices, &CLASSES, 0.9).unwrap();
        assert_eq!(verdict.class_name, "notumor");
        assert!(!verdict.needs_review);
        assert!((verdict.confidence - 0.98).abs() < 1e-6);
        assert!(super::verdict(&[], &CLASSES, 0.9).is_none());
        let one = series(&[("glioma", 0.99)]);
        assert!(super::verdict(&one, &CLASSES, 0.9).unwrap().needs_review);
    }

    #[test]
    fn confident_slices_of_one_class_apart_are_not_adjacent() {
        let slices = series(&[
            ("glioma", 0.95),
            ("notumor", 0.99),
            ("glioma", 0.96),
            ("meningioma", 0.91),
            ("meningioma", 0.92),
        ]);
        let verdict = super::verdict(&slices, &CLASSES, 0.9).unwrap();
        assert_eq!(verdict.class_name, "meningioma");
        assert_eq!(verdict.driving_slices, vec![3, 4]);
        assert!(verdict.needs_review, "glioma reached the threshold too");
    }

    #[test]
    fn slices_are_ordered_by_position_then_number_then_upload() {
        use crate::dicom::SeriesPlace;
        let place = |number: Option<i64>, position: Option<f64>| SeriesPlace {
            instance_number: number,
            slice_position: position,
            ..SeriesPlace::default()
        };
        let keys = |places: &[SeriesPlace]| -> Vec<usize> {
            let keys: Vec<SliceKey<'_>> = places
                .iter()
                .enumerate()
                .map(|(order, place)| SliceKey {
                    place,
                    order,
                    frame: 0,
                })
                .collect();
            order_slices(&keys).0
        };
        // Positions win over instance numbers that disagree with them.
        let by_position = [
            place(Some(1), Some(10.0)),
            place(Some(2), Some(-5.0)),
            place(Some(3), Some(0.0)),
        ];
        assert_eq!(keys(&by_position), vec![1, 2, 0]);
        // One slice without a position: instance numbers.
        let by_number = [
            place(Some(3), Some(10.0)),
            place(Some(1), None),
            place(Some(2), Some(0.0)),
        ];
        assert_eq!(keys(&by_number), vec![1, 2, 0]);
        // Neither for every slice: as uploaded.
        let as_sent = [
            place(Some(3), None),
            place(None, None),
            place(Some(1), None),
        ];
        assert_eq!(keys(&as_sent), vec![0, 1, 2]);
        let key = SliceKey {
            place: &as_sent[1],
            order: 0,
            frame: 0,
        };
        assert_eq!(order_slices(&[key]).1, SliceOrder::Upload);
    }

    #[test]
    fn driving_slices_read_as_the_positions_given() {
        let slices: Vec<SliceAnswer> = [3, 7, 8]
            .into_iter()
            .map(|position| SliceAnswer {
                position,
                probabilities: vec![0.97, 0.01, 0.01, 0.01],
            })
            .collect();
        let classes = ["glioma", "meningioma", NO_TUMOUR, "pituitary"];
        let verdict = verdict(&slices, &classes, 0.9).unwrap();
        assert_eq!(verdict.driving_slices, vec![0, 1, 2]);
        assert_eq!(verdict.driving_positions(&slices), vec![3, 7, 8]);
    }
}
