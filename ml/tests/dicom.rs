//! DICOM input, from files this crate writes: each pixel rule (bit depth, sign, rescale, window,
//! MONOCHROME1, frames, compression), each refusal, and that nothing identifying comes out.

use ml::dicom::{self, DicomImage};
use ml::dicom_writer::{self, DicomWriter, Encoding};
use ml::preprocess::{decode, decode_input};
use ml::MlError;

/// A 4x2 frame of stored values.
fn ramp(values: [i32; 8]) -> Vec<Vec<i32>> {
    vec![values.to_vec()]
}

fn read(writer: &DicomWriter, frames: &[Vec<i32>], columns: u16, rows: u16) -> DicomImage {
    let bytes = writer.write(frames, columns, rows).unwrap();
    dicom::read(&bytes).unwrap()
}

/// Stored values around a window of centre 1000 and width 1001, and beyond it on both sides.
fn read_window_ramp(writer: &DicomWriter) -> DicomImage {
    read(
        writer,
        &ramp([0, 499, 500, 1000, 1500, 1501, 3000, 60_000]),
        4,
        2,
    )
}

fn grey(image: &DicomImage, frame: usize) -> Vec<u8> {
    image.frames[frame].as_raw().clone()
}

#[test]
fn sixteen_bit_monochrome2_uses_the_files_first_window() {
    let writer = DicomWriter {
        window: Some((1000.0, 1001.0)),
        ..Default::default()
    };
    let image = read_window_ramp(&writer);
    // The linear function: center - 0.5 - (width - 1) / 2 = 499.5 is black, 1500.5 white.
    assert_eq!(grey(&image, 0), [0, 0, 0, 128, 255, 255, 255, 255]);
    let summary = &image.summary;
    assert!(summary.window.from_file);
    assert_eq!(
        (summary.window.center, summary.window.width),
        (1000.0, 1001.0)
    );
    assert_eq!(summary.bits_stored, 16);
    assert_eq!((summary.rows, summary.columns, summary.frames), (2, 4, 1));
    assert_eq!(summary.modality, "MR");
    assert_eq!(summary.manufacturer.as_deref(), Some("SynthScan"));
    assert_eq!(summary.magnetic_field_strength, Some(3.0));
    assert_eq!(summary.slice_thickness, Some(5.0));
    assert_eq!(summary.series_description.as_deref(), Some("AX T1 POST"));
    assert_eq!(summary.transfer_syntax, "Explicit VR Little Endian");
}

#[test]
fn monochrome1_is_inverted() {
    let values = ramp([0, 499, 500, 1000, 1500, 1501, 3000, 4000]);
    let plain = DicomWriter {
        window: Some((1000.0, 1001.0)),
        ..Default::default()
    };
    let inverted = DicomWriter {
        monochrome1: true,
        ..plain.clone()
    };
    let expected: Vec<u8> = grey(&read(&plain, &values, 4, 2), 0)
        .iter()
        .map(|v| 255 - v)
        .collect();
    let image = read(&inverted, &values, 4, 2);
    assert_eq!(grey(&image, 0), expected);
    assert_eq!(image.summary.photometric_interpretation, "MONOCHROME1");
}

#[test]
fn eight_bit_without_a_window_is_stretched_min_to_max() {
    let writer = DicomWriter {
        bits: 8,
        ..Default::default()
    };
    let image = read(&writer, &ramp([20, 20, 60, 60, 100, 100, 220, 220]), 4, 2);
    assert_eq!(grey(&image, 0), [0, 0, 51, 51, 102, 102, 255, 255]);
    assert!(!image.summary.window.from_file);
    assert_eq!(image.summary.bits_stored, 8);
}

#[test]
fn signed_values_are_rescaled_before_windowing() {
    // Stored -500..500, slope 2, intercept -1000: values -2000..0. The window 40/80 of a CT-like
    // scale would be all white if the intercept were ignored, all black if the sign were.
    let writer = DicomWriter {
        signed: true,
        rescale: Some((2.0, -1000.0)),
        window: Some((-1000.0, 2001.0)),
        ..Default::default()
    };
    let image = read(&writer, &ramp([-500, -500, 0, 0, 250, 250, 500, 500]), 4, 2);
    // -2000 -> black, -1000 -> mid grey, -500 -> 3/4, 0 -> white.
    assert_eq!(grey(&image, 0), [0, 0, 128, 128, 191, 191, 255, 255]);
}

#[test]
fn every_frame_decodes_and_a_single_answer_reads_the_middle_one() {
    let frames: Vec<Vec<i32>> = (0..5).map(|f| vec![f * 100; 16]).collect();
    // Each frame's flat value, against a window that spans them: frame k is k * 255 / 4.
    let writer = DicomWriter {
        window: Some((200.5, 401.0)),
        ..Default::default()
    };
    let bytes = writer.write(&frames, 4, 4).unwrap();
    let input = decode_input(&bytes).unwrap();
    assert_eq!(input.frames.len(), 5);
    assert_eq!(input.dicom.as_ref().map(|d| d.frames), Some(5));
    let levels: Vec<u8> = input.frames.iter().map(|f| f.as_raw()[0]).collect();
    assert_eq!(levels, [0, 64, 128, 191, 255]);
    assert_eq!(input.middle_index(), 2);
    assert_eq!(decode(&bytes).unwrap().as_raw()[0], 128);
}

#[test]
fn jpeg_baseline_frames_decode_close_to_their_source() {
    let source: Vec<i32> = (0..64 * 64).map(|i| (i % 64) * 4).collect();
    let writer = DicomWriter {
        bits: 8,
        encoding: Encoding::JpegBaseline,
        window: Some((127.5, 256.0)),
        ..Default::default()
    };
    let image = read(&writer, &[source.clone(), source.clone()], 64, 64);
    assert_eq!(image.frames.len(), 2);
    assert_eq!(image.summary.transfer_syntax, "JPEG Baseline (Process 1)");
    let worst = grey(&image, 1)
        .iter()
        .zip(&source)
        .map(|(&g, &s)| (i32::from(g) - s).abs())
        .max()
        .unwrap();
    assert!(worst <= 8, "JPEG at quality 95 is off by {worst}");
}

#[test]
fn implicit_vr_files_read_too() {
    let writer = DicomWriter {
        encoding: Encoding::ImplicitLittleEndian,
        window: Some((1000.0, 1001.0)),
        ..Default::default()
    };
    let image = read_window_ramp(&writer);
    assert_eq!(grey(&image, 0), [0, 0, 0, 128, 255, 255, 255, 255]);
}

#[test]
fn other_modalities_are_refused_before_decoding() {
    for modality in ["CT", "CR"] {
        let writer = DicomWriter {
            modality: modality.into(),
            ..Default::default()
        };
        let bytes = writer.write(&ramp([0; 8]), 4, 2).unwrap();
        match dicom::read(&bytes) {
            Err(MlError::NotMrModality { modality: found }) => assert_eq!(found, modality),
            other => panic!("{modality}: {other:?}"),
        }
    }
}

#[test]
fn an_undecodable_transfer_syntax_is_named() {
    let writer = DicomWriter {
        transfer_syntax_override: Some("1.2.840.10008.1.2.4.80".into()),
        ..Default::default()
    };
    let bytes = writer.write(&ramp([0; 8]), 4, 2).unwrap();
    let error = dicom::read(&bytes).unwrap_err();
    assert!(
        matches!(&error, MlError::UnsupportedTransferSyntax { uid, .. } if uid == "1.2.840.10008.1.2.4.80"),
        "{error:?}"
    );
    assert!(error.to_string().contains("JPEG-LS"), "{error}");
}

#[test]
fn truncated_and_garbage_files_are_errors_not_panics() {
    let bytes = DicomWriter::default()
        .write(&[dicom_writer::phantom_frame(1, 64)], 64, 64)
        .unwrap();
    for cut in [140, 300, bytes.len() / 2, bytes.len() - 7] {
        let error = dicom::read(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(error, MlError::Decode(_)),
            "cut at {cut}: {error:?}"
        );
    }
    let mut garbage = vec![0u8; 128];
    garbage.extend_from_slice(b"DICM");
    garbage.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    assert!(matches!(dicom::read(&garbage), Err(MlError::Decode(_))));
    // Headers claiming a 4-gigapixel frame, or 700 frames of 512x512, are refused from the
    // header alone (the files hold a few bytes of pixels).
    let huge_frame = DicomWriter::default()
        .write(&ramp([0; 8]), 65_000, 65_000)
        .unwrap();
    let error = dicom::read(&huge_frame).unwrap_err().to_string();
    assert!(error.contains("limit"), "{error}");
    let many_frames = DicomWriter::default()
        .write(&vec![Vec::new(); 700], 512, 512)
        .unwrap();
    let error = dicom::read(&many_frames).unwrap_err().to_string();
    assert!(
        error.contains("700 frame(s)") && error.contains("limit"),
        "{error}"
    );
}

#[test]
fn nothing_identifying_comes_out_of_a_file_that_has_it() {
    let bytes = DicomWriter::default()
        .with_patient()
        .write(&[dicom_writer::phantom_frame(1, 64)], 64, 64)
        .unwrap();
    let raw = String::from_utf8_lossy(&bytes);
    assert!(
        raw.contains(dicom_writer::PATIENT_NAME),
        "the file carries it"
    );
    let image = dicom::read(&bytes).unwrap();
    let summary = serde_json::to_string(&image.summary).unwrap();
    for secret in dicom_writer::IDENTIFYING_VALUES {
        assert!(!summary.contains(secret), "{secret} in {summary}");
    }
}

#[test]
fn the_readme_list_of_decodable_transfer_syntaxes_is_what_this_build_decodes() {
    use dicom_encoding::TransferSyntaxIndex;
    use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
    let decodes = |uid: &str| {
        TransferSyntaxRegistry
            .get(uid)
            .is_some_and(|syntax| syntax.can_decode_all())
    };
    for uid in [
        "1.2.840.10008.1.2",      // Implicit VR Little Endian
        "1.2.840.10008.1.2.1",    // Explicit VR Little Endian
        "1.2.840.10008.1.2.2",    // Explicit VR Big Endian
        "1.2.840.10008.1.2.1.99", // Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.5",    // RLE Lossless
        "1.2.840.10008.1.2.4.50", // JPEG Baseline
        "1.2.840.10008.1.2.4.51", // JPEG Extended
        "1.2.840.10008.1.2.4.57", // JPEG Lossless
        "1.2.840.10008.1.2.4.70", // JPEG Lossless SV1
        "1.2.840.10008.1.2.4.90", // JPEG 2000 Lossless
        "1.2.840.10008.1.2.4.91", // JPEG 2000
    ] {
        assert!(decodes(uid), "{uid} should decode");
    }
    for uid in ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"] {
        assert!(
            !decodes(uid),
            "{uid} (JPEG-LS) needs CharLS, which is not built"
        );
    }
}

#[test]
fn an_instance_says_its_study_series_number_and_place_and_a_bare_one_says_nothing() {
    let writer = DicomWriter {
        place: Some(dicom_writer::InstancePlace {
            study_uid: "1.2.3.4".into(),
            series_uid: "1.2.3.4.5".into(),
            instance_number: 7,
            z: -42.5,
        }),
        ..Default::default()
    };
    let place = read(&writer, &ramp([0, 1, 2, 3, 4, 5, 6, 7]), 4, 2).place;
    assert_eq!(place.study_uid.as_deref(), Some("1.2.3.4"));
    assert_eq!(place.series_uid.as_deref(), Some("1.2.3.4.5"));
    assert_eq!(place.instance_number, Some(7));
    // Axial: the normal of 1\0\0\0\1\0 is z.
    assert_eq!(place.slice_position, Some(-42.5));
    let bare = read(
        &DicomWriter::default(),
        &ramp([0, 1, 2, 3, 4, 5, 6, 7]),
        4,
        2,
    )
    .place;
    assert_eq!(bare.series_uid, None);
    assert_eq!(bare.slice_position, None);
}
