//! Turning any uploaded image into the model's input, identically in training and serving:
//! decode (with decompression-bomb limits) -> grayscale -> crop to the head -> pad to a square ->
//! resize -> normalise.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::dicom::{self, DicomSummary};
use crate::{MlError, MlResult};

/// Largest accepted width or height; MRI slices are far smaller.
pub const MAX_DIMENSION: u32 = 8_192;
/// Largest accepted pixel count, read from the header before any pixel is decoded: a 16-bit RGBA
/// image this size still decodes within [`MAX_DECODE_BYTES`]. MRI slices are well under 1 MP.
pub const MAX_PIXELS: u64 = 4_096 * 4_096;
/// Largest buffer the decoder may allocate for one image.
pub const MAX_DECODE_BYTES: u64 = 160 * 1024 * 1024;
/// Pixels that may be decoding at once, process-wide: one image at the budget, or many ordinary
/// slices (512 x 512 is 0.26 MP) side by side. With [`MAX_DECODE_BYTES`] per image this bounds the
/// memory all decoding takes, whatever the number of concurrent requests; the rest wait their turn.
pub const MAX_PIXELS_IN_FLIGHT: u64 = MAX_PIXELS;

/// A counting semaphore over pixels for blocking threads (decoding runs on them, never on async
/// workers).
pub(crate) struct DecodePermits {
    in_use: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
}

pub(crate) static DECODE_PERMITS: DecodePermits = DecodePermits {
    in_use: std::sync::Mutex::new(0),
    freed: std::sync::Condvar::new(),
};

pub(crate) struct DecodePermit(u64);

impl DecodePermits {
    /// Waits until `pixels` more may decode; callers never ask for more than the budget.
    pub(crate) fn acquire(&'static self, pixels: u64) -> DecodePermit {
        let pixels = pixels.min(MAX_PIXELS_IN_FLIGHT);
        let mut in_use = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
        while *in_use + pixels > MAX_PIXELS_IN_FLIGHT {
            in_use = self.freed.wait(in_use).unwrap_or_else(|p| p.into_inner());
        }
        *in_use += pixels;
        DecodePermit(pixels)
    }
}

impl Drop for DecodePermit {
    fn drop(&mut self) {
        let mut in_use = DECODE_PERMITS
            .in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *in_use -= self.0;
        DECODE_PERMITS.freed.notify_all();
    }
}

/// Refuses an image whose header claims more pixels than [`MAX_PIXELS`].
pub(crate) fn check_pixel_budget(width: u64, height: u64) -> MlResult<()> {
    let pixels = width * height;
    if pixels > MAX_PIXELS {
        return Err(MlError::Decode(format!(
            "the image is {width}x{height} pixels ({:.1} MP); the limit is {:.1} MP",
            pixels as f64 / 1e6,
            MAX_PIXELS as f64 / 1e6
        )));
    }
    Ok(())
}

/// Everything preprocessing needs; stored in the model manifest so serving repeats training exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Side of the square model input, in pixels.
    pub input_size: usize,
    /// Pixels brighter than this (0-255) count as head when cropping away the black border.
    pub crop_threshold: u8,
    /// Extra border kept around the detected head, as a fraction of its size.
    pub crop_margin: f32,
    /// Mean and standard deviation of training pixels (0-1 scale) used to normalise inputs.
    pub mean: f32,
    pub std: f32,
}

impl PreprocessConfig {
    pub fn new(input_size: usize) -> Self {
        Self {
            input_size,
            crop_threshold: 20,
            crop_margin: 0.04,
            mean: 0.2,
            std: 0.2,
        }
    }
}

/// An upload decoded: its grey image, or one per frame of a DICOM file with the file's summary.
#[derive(Debug, Clone)]
pub struct DecodedInput {
    /// Never empty.
    pub frames: Vec<GrayImage>,
    pub dicom: Option<DicomSummary>,
}

impl DecodedInput {
    /// The frame a single prediction reads: the middle one of a multi-frame file (0-based).
    pub fn middle_index(&self) -> usize {
        self.frames.len() / 2
    }

    pub fn into_middle_frame(mut self) -> GrayImage {
        let middle = self.middle_index();
        self.frames.swap_remove(middle)
    }
}

/// Decodes an upload: a DICOM Part 10 file (recognised by its `DICM` preamble, whatever its name)
/// into its windowed frames, anything else as [`decode`] does.
pub fn decode_input(bytes: &[u8]) -> MlResult<DecodedInput> {
    if dicom::is_dicom(bytes) {
        let image = dicom::read(bytes)?;
        if image.frames.is_empty() {
            return Err(MlError::Decode("the DICOM file has no frames".into()));
        }
        return Ok(DecodedInput {
            frames: image.frames,
            dicom: Some(image.summary),
        });
    }
    Ok(DecodedInput {
        frames: vec![decode_image(bytes)?],
        dicom: None,
    })
}

/// Decodes JPEG, PNG, BMP, WebP, GIF or DICOM bytes of any size and colour type into 8-bit
/// grayscale; of a multi-frame DICOM file, its middle frame.
pub fn decode(bytes: &[u8]) -> MlResult<GrayImage> {
    decode_input(bytes).map(DecodedInput::into_middle_frame)
}

fn decode_image(bytes: &[u8]) -> MlResult<GrayImage> {
    if bytes.is_empty() {
        return Err(MlError::EmptyImage);
    }
    // The header alone (a few bytes) says how big the image claims to be.
    let (width, height) = dimensions(bytes)?;
    check_pixel_budget(u64::from(width), u64::from(height))?;
    let _permit = DECODE_PERMITS.acquire(u64::from(width) * u64::from(height));
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        if let Some(result) = decode_jpeg_luma(bytes) {
            return result;
        }
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable("image", e))?;
    let Some(format) = reader.format() else {
        return Err(MlError::Decode(
            "the file is not a JPEG, PNG, BMP, WebP, GIF or DICOM image".into(),
        ));
    };
    let name = format_name(format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(name, e))?;
    decoder
        .set_limits(limits)
        .map_err(|e| unreadable(name, e))?;
    // A missing or malformed tag means the pixels are stored as they are shown.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(name, e))?;
    if image.width() == 0 || image.height() == 0 {
        return Err(MlError::Decode("the image has no pixels".into()));
    }
    image.apply_orientation(orientation);
    Ok(image.into_luma8())
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        _ => "image",
    }
}

/// A decoder's failure in this project's words: what a client can act on. The decoder's own text
/// names its internals (markers, byte offsets), so it goes to the debug log only.
fn unreadable(format: &str, error: impl std::fmt::Display) -> MlError {
    tracing::debug!(%error, "{format} decoding failed");
    MlError::Decode(format!(
        "the {format} data is truncated, corrupt or encoded in a way this server does not read"
    ))
}

/// Width and height as the file's header states them, without decoding a pixel.
fn dimensions(bytes: &[u8]) -> MlResult<(u32, u32)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let mut decoder = JpegDecoder::new(ZCursor::new(bytes));
        decoder
            .decode_headers()
            .map_err(|e| unreadable("JPEG", e))?;
        if let Some((width, height)) = decoder.dimensions() {
            return Ok((width as u32, height as u32));
        }
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable("image", e))?;
    let Some(format) = reader.format() else {
        return Err(MlError::Decode(
            "the file is not a JPEG, PNG, BMP, WebP, GIF or DICOM image".into(),
        ));
    };
    reader
        .into_dimensions()
        .map_err(|e| unreadable(format_name(format), e))
}

/// Decodes only a JPEG's luma plane: MRI slices are grey, and skipping chroma upsampling and colour
/// conversion makes this several times faster than decoding to RGB and converting. `None` for colour
/// spaces it does not cover (CMYK, Adobe RGB), which the generic decoder handles. An EXIF
/// orientation is applied, so the slice is read the way a viewer shows it.
fn decode_jpeg_luma(bytes: &[u8]) -> Option<MlResult<GrayImage>> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        // A truncated or corrupt upload is an error, never a half-grey image.
        .set_strict_mode(true)
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    if let Err(error) = decoder.decode_headers() {
        return Some(Err(unreadable("JPEG", error)));
    }
    if !matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::Luma)
    ) {
        return None;
    }
    let orientation = decoder
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(exif))
        .unwrap_or(Orientation::NoTransforms);
    let result = decoder
        .decode()
        .map_err(|e| unreadable("JPEG", e))
        .and_then(|pixels| {
            let (width, height) = decoder
                .dimensions()
                .filter(|&(w, h)| w > 0 && h > 0)
                .ok_or_else(|| MlError::Decode("the image has no pixels".into()))?;
            GrayImage::from_raw(width as u32, height as u32, pixels)
                .ok_or_else(|| unreadable("JPEG", "decoded to an unexpected size"))
        })
        .map(|gray| {
            if orientation == Orientation::NoTransforms {
                return gray;
            }
            let mut image = DynamicImage::ImageLuma8(gray);
            image.apply_orientation(orientation);
            image.into_luma8()
        });
    Some(result)
}

pub fn load(path: &Path) -> MlResult<GrayImage> {
    let bytes = std::fs::read(path).map_err(|e| MlError::io(path, e))?;
    decode(&bytes)
}

/// Bounding box `(x0, y0, x1, y1)` (exclusive ends) of the head: the rows and columns where more than
/// 1% of pixels are brighter than `threshold`, so isolated noise and thin text do not widen it.
pub fn head_bounds(image: &GrayImage, threshold: u8) -> Option<(u32, u32, u32, u32)> {
    let (width, height) = image.dimensions();
    let mut column_counts = vec![0u32; width as usize];
    let mut row_counts = vec![0u32; height as usize];
    // Row slices rather than per-pixel lookups: the compiler vectorises this, and serving runs it on
    // every request.
    for (row, pixels) in image.as_raw().chunks_exact(width as usize).enumerate() {
        let mut in_row = 0;
        for (count, &pixel) in column_counts.iter_mut().zip(pixels) {
            let bright = u32::from(pixel > threshold);
            *count += bright;
            in_row += bright;
        }
        row_counts[row] = in_row;
    }
    let span = |counts: &[u32], other_side: u32| {
        let minimum = (other_side / 100).max(1);
        let first = counts.iter().position(|&c| c > minimum)?;
        let last = counts.iter().rposition(|&c| c > minimum)?;
        Some((first as u32, last as u32 + 1))
    };
    let (x0, x1) = span(&column_counts, height)?;
    let (y0, y1) = span(&row_counts, width)?;
    Some((x0, y0, x1, y1))
}

/// Crops to the head (plus margin) and pads the crop to a centred square with black.
pub fn crop_to_head(image: &GrayImage, config: &PreprocessConfig) -> GrayImage {
    let (width, height) = image.dimensions();
    let (x0, y0, x1, y1) =
        head_bounds(image, config.crop_threshold).unwrap_or((0, 0, width, height));
    let margin = |extent: u32| (extent as f32 * config.crop_margin).round() as u32;
    let (mx, my) = (margin(x1 - x0), margin(y1 - y0));
    let (x0, y0) = (x0.saturating_sub(mx), y0.saturating_sub(my));
    let (x1, y1) = ((x1 + mx).min(width), (y1 + my).min(height));
    let (crop_w, crop_h) = (x1 - x0, y1 - y0);
    let side = crop_w.max(crop_h);
    let mut square = GrayImage::new(side, side);
    let crop = image::imageops::crop_imm(image, x0, y0, crop_w, crop_h).to_image();
    image::imageops::replace(
        &mut square,
        &crop,
        ((side - crop_w) / 2).into(),
        ((side - crop_h) / 2).into(),
    );
    square
}

/// The model-sized grayscale square, before normalisation (what the training cache stores).
pub fn prepare(image: &GrayImage, config: &PreprocessConfig) -> Vec<u8> {
    resize_square(crop_to_head(image, config), config.input_size as u32).into_raw()
}

/// A square (as [`crop_to_head`] gives it) at `side` pixels: halved cheaply while at least twice
/// `side`, then filtered to the exact size.
pub fn resize_square(square: GrayImage, side: u32) -> GrayImage {
    let square = halve_while_at_least(square, 2 * side);
    if square.width() == side {
        square
    } else {
        image::imageops::resize(&square, side, side, FilterType::Triangle)
    }
}

/// Halves a square with 2x2 averaging while its side is at least `limit`: cheap integer work that
/// leaves the filtered resize a quarter of the pixels per halving, and anti-aliases as it goes.
fn halve_while_at_least(mut square: GrayImage, limit: u32) -> GrayImage {
    while square.width() >= limit {
        let side = square.width() / 2;
        let source_width = square.width() as usize;
        let source = square.as_raw();
        let mut halved = Vec::with_capacity((side * side) as usize);
        for y in 0..side as usize {
            let top = &source[2 * y * source_width..][..2 * side as usize];
            let bottom = &source[(2 * y + 1) * source_width..][..2 * side as usize];
            halved.extend(
                top.chunks_exact(2)
                    .zip(bottom.chunks_exact(2))
                    .map(|(t, b)| {
                        let sum =
                            u32::from(t[0]) + u32::from(t[1]) + u32::from(b[0]) + u32::from(b[1]);
                        ((sum + 2) / 4) as u8
                    }),
            );
        }
        square =
            GrayImage::from_raw(side, side, halved).unwrap_or_else(|| GrayImage::new(side, side));
    }
    square
}

/// Maps 0-255 pixels to the normalised floats the model expects.
pub fn normalise_into(pixels: &[u8], config: &PreprocessConfig, out: &mut [f32]) {
    let scale = 1.0 / (255.0 * config.std);
    let offset = config.mean / config.std;
    for (o, &p) in out.iter_mut().zip(pixels) {
        *o = p as f32 * scale - offset;
    }
}

/// Bytes to model input in one call: what serving does per request.
pub fn preprocess_bytes(bytes: &[u8], config: &PreprocessConfig) -> MlResult<Vec<f32>> {
    Ok(model_input(&decode(bytes)?, config))
}

/// A decoded image to model input, for callers that already hold the decoded image.
pub fn model_input(image: &GrayImage, config: &PreprocessConfig) -> Vec<f32> {
    normalised(&prepare(image, config), config)
}

/// [`prepare`]d pixels as the model's normalised input.
pub fn normalised(pixels: &[u8], config: &PreprocessConfig) -> Vec<f32> {
    let mut out = vec![0.0; pixels.len()];
    normalise_into(pixels, config, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};

    #[test]
    fn every_exif_orientation_is_read_as_the_upright_image() {
        // Not square and not symmetric: a bright block in the top-left corner of a gradient.
        let upright = GrayImage::from_fn(96, 64, |x, y| {
            Luma([if x < 24 && y < 16 { 250 } else { (x + y) as u8 }])
        });
        let mean_gap = |a: &GrayImage, b: &GrayImage| {
            a.pixels()
                .zip(b.pixels())
                .map(|(p, q)| (f64::from(p[0]) - f64::from(q[0])).abs())
                .sum::<f64>()
                / f64::from(a.width() * a.height())
        };
        for tag in 1..=8u16 {
            let orientation = Orientation::from_exif(tag as u8).unwrap();
            // Stored as a camera would: the pixels that the tag's transform turns upright.
            let mut stored = DynamicImage::ImageLuma8(upright.clone());
            stored.apply_orientation(inverse(orientation));
            let stored = stored.into_luma8();
            let jpeg = encode(DynamicImage::ImageLuma8(stored.clone()), ImageFormat::Jpeg);
            let bytes = synthetic::exif::with_orientation(&jpeg, tag);
            let read = decode(&bytes).unwrap();
            assert_eq!(read.dimensions(), upright.dimensions(), "orientation {tag}");
            let gap = mean_gap(&read, &upright);
            assert!(gap < 3.0, "orientation {tag}: mean gap {gap:.1}");
            if tag != 1 && stored.dimensions() == upright.dimensions() {
                assert!(
                    mean_gap(&stored, &upright) > 20.0,
                    "orientation {tag} changes nothing"
                );
            }
        }
    }

    /// The transform that undoes `orientation` (rotations by 90 degrees swap direction; flips and
    /// transposes are their own inverse).
    fn inverse(orientation: Orientation) -> Orientation {
        match orientation {
            Orientation::Rotate90 => Orientation::Rotate270,
            Orientation::Rotate270 => Orientation::Rotate90,
            other => other,
        }
    }

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    /// A bright disc on black, off-centre, like a head in a wide frame.
    fn head_like(width: u32, height: u32) -> GrayImage {
        GrayImage::from_fn(width, height, |x, y| {
            let (dx, dy) = (
                x as f32 - width as f32 * 0.6,
                y as f32 - height as f32 * 0.5,
            );
            let r = (width.min(height) as f32) * 0.25;
            Luma([if dx * dx + dy * dy < r * r { 180 } else { 3 }])
        })
    }

    #[test]
    fn crop_finds_the_head_and_discards_the_border() {
        let image = head_like(400, 300);
        let (x0, y0, x1, y1) = head_bounds(&image, 20).unwrap();
        // Disc centre (240, 150), radius 75.
        assert!(
            (163..=168).contains(&x0) && (312..=318).contains(&x1),
            "{x0} {x1}"
        );
        assert!(
            (73..=78).contains(&y0) && (222..=228).contains(&y1),
            "{y0} {y1}"
        );
        let square = crop_to_head(&image, &PreprocessConfig::new(64));
        assert_eq!(square.width(), square.height());
        assert!(
            square.width() < 170,
            "crop keeps little more than the head: {}",
            square.width()
        );
    }

    #[test]
    fn all_black_image_is_kept_whole() {
        let image = GrayImage::new(50, 30);
        assert_eq!(head_bounds(&image, 20), None);
        assert_eq!(prepare(&image, &PreprocessConfig::new(32)).len(), 32 * 32);
    }

    #[test]
    fn any_format_colour_type_and_size_gives_the_same_shape() {
        let config = PreprocessConfig::new(48);
        let gray = DynamicImage::ImageLuma8(head_like(512, 512));
        let rgb =
            DynamicImage::ImageRgb8(RgbImage::from_fn(300, 200, |x, _| Rgb([x as u8, 90, 200])));
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(17, 90, |_, y| {
            Rgba([y as u8, 10, 10, 128])
        }));
        let tiny = DynamicImage::ImageLuma8(GrayImage::from_pixel(1, 1, Luma([200])));
        let huge = DynamicImage::ImageLuma8(head_like(3000, 2000));
        let cases = [
            encode(gray.clone(), ImageFormat::Jpeg),
            encode(gray, ImageFormat::Png),
            encode(rgb.clone(), ImageFormat::Bmp),
            encode(rgb, ImageFormat::WebP),
            encode(rgba, ImageFormat::Png),
            encode(tiny, ImageFormat::Png),
            encode(huge, ImageFormat::Jpeg),
        ];
        for bytes in cases {
            let input = preprocess_bytes(&bytes, &config).expect("decodes");
            assert_eq!(input.len(), 48 * 48);
            assert!(input.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn preprocessing_is_deterministic() {
        let bytes = encode(
            DynamicImage::ImageLuma8(head_like(256, 256)),
            ImageFormat::Png,
        );
        let config = PreprocessConfig::new(40);
        assert_eq!(
            preprocess_bytes(&bytes, &config).unwrap(),
            preprocess_bytes(&bytes, &config).unwrap()
        );
    }

    #[test]
    fn bad_bytes_are_clear_errors() {
        assert!(matches!(decode(&[]), Err(MlError::EmptyImage)));
        assert!(matches!(
            decode(b"this is not an image"),
            Err(MlError::Decode(_))
        ));
        let png = encode(
            DynamicImage::ImageLuma8(head_like(64, 64)),
            ImageFormat::Png,
        );
        let truncated = &png[..png.len() / 2];
        assert!(matches!(decode(truncated), Err(MlError::Decode(_))));
    }

    #[test]
    fn colour_jpegs_decode_to_the_same_grey_as_the_generic_path() {
        let grey = head_like(120, 90);
        let colour = RgbImage::from_fn(120, 90, |x, y| {
            let v = grey.get_pixel(x, y).0[0];
            Rgb([v, v, v])
        });
        let bytes = encode(DynamicImage::ImageRgb8(colour), ImageFormat::Jpeg);
        let fast = decode(&bytes).unwrap();
        let generic = image::load_from_memory(&bytes).unwrap().into_luma8();
        assert_eq!(fast.dimensions(), (120, 90));
        let worst = fast
            .pixels()
            .zip(generic.pixels())
            .map(|(a, b)| (a.0[0] as i16 - b.0[0] as i16).abs())
            .max()
            .unwrap();
        assert!(worst <= 2, "luma differs by {worst}");
    }

    #[test]
    fn large_squares_are_halved_by_averaging_before_the_final_resize() {
        let checker = GrayImage::from_fn(64, 64, |x, y| {
            Luma([if (x + y) % 2 == 0 { 200 } else { 0 }])
        });
        let halved = halve_while_at_least(checker, 16);
        // 64 -> 32 -> 16 -> 8: every 2x2 block of a checkerboard averages to mid-grey.
        assert_eq!(halved.dimensions(), (8, 8));
        assert!(halved.pixels().all(|p| p.0[0] == 100));
        let small = GrayImage::new(30, 30);
        assert_eq!(halve_while_at_least(small, 32).dimensions(), (30, 30));
    }

    #[test]
    fn truncated_jpegs_are_errors() {
        let bytes = encode(
            DynamicImage::ImageLuma8(head_like(200, 200)),
            ImageFormat::Jpeg,
        );
        let error = decode(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(error, MlError::Decode(_)), "{error}");
    }

    #[test]
    fn decompression_bombs_are_refused() {
        // A valid PNG header announcing 100000 x 100000 pixels.
        let mut header = Vec::new();
        header.extend_from_slice(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR");
        header.extend_from_slice(&100_000u32.to_be_bytes());
        header.extend_from_slice(&100_000u32.to_be_bytes());
        header.extend_from_slice(&[8, 0, 0, 0, 0]);
        header.extend_from_slice(&[0, 0, 0, 0]);
        let error = decode(&header).unwrap_err().to_string();
        assert!(error.contains("not a readable image"), "{error}");
    }

    #[test]
    fn images_over_the_pixel_budget_are_refused_from_their_header() {
        // 8192 x 8192 is within the per-side limit but four times the pixel budget. A valid header
        // (its checksum included) and empty data: the claim alone must get it refused.
        let header = crate::phantom::png_claiming(8_192, 8_192);
        let error = decode(&header).unwrap_err().to_string();
        assert!(
            error.contains("67.1 MP") && error.contains("16.8 MP"),
            "{error}"
        );
        assert!(check_pixel_budget(4_096, 4_096).is_ok());
        assert!(check_pixel_budget(4_097, 4_096).is_err());
    }

    #[test]
    fn normalisation_uses_the_configured_statistics() {
        let mut config = PreprocessConfig::new(2);
        config.mean = 0.5;
        config.std = 0.25;
        let mut out = [0.0; 3];
        normalise_into(&[0, 255, 128], &config, &mut out);
        assert!((out[0] + 2.0).abs() < 1e-5 && (out[1] - 2.0).abs() < 1e-5 && out[2].abs() < 0.02);
    }
}
