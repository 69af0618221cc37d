//! Writes a synthetic 16-bit MR DICOM slice (a phantom, windowed like a scanner's export), e.g. to
//! time decoding with `brainscan bench slice.dcm` or to try the Predict page:
//!   cargo run --release -p ml --example dicom_slice -- slice.dcm [side] [frames] [no-window]
//! `no-window` leaves out Window Center/Width, so a reader has to span the values itself.

use ml::dicom_writer::{phantom_frame, DicomWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: dicom_slice OUT.dcm [side] [frames] [no-window]")?;
    let side: u16 = args.next().map_or(Ok(512), |s| s.parse())?;
    let frames: u32 = args.next().map_or(Ok(1), |s| s.parse())?;
    let window = match args.next().as_deref() {
        None => Some((2000.0, 4001.0)),
        Some("no-window") => None,
        Some(other) => return Err(format!("unknown option {other:?}").into()),
    };
    let writer = DicomWriter {
        window,
        ..Default::default()
    };
    let stored: Vec<Vec<i32>> = (0..frames)
        .map(|frame| phantom_frame(frame + 1, u32::from(side)))
        .collect();
    let bytes = writer.write(&stored, side, side)?;
    std::fs::write(&out, &bytes)?;
    println!(
        "{out}: {frames} frame(s) of {side}x{side}, 16-bit, {} bytes",
        bytes.len()
    );
    Ok(())
}
