//! Writes a synthetic MR series: `count` 16-bit phantom instances of one study and series, each with
//! its Instance Number and Image Position, e.g. to try `POST /predict/series` or the Series page, or
//! for `scripts/measure-series.py`:
//!   cargo run --release -p ml --example dicom_series -- OUT_DIR [count] [side]

use ml::dicom_writer::{phantom_frame, DicomWriter, InstancePlace};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: dicom_series OUT_DIR [count] [side]")?,
    );
    let count: u32 = args.next().map_or(Ok(24), |s| s.parse())?;
    let side: u16 = args.next().map_or(Ok(256), |s| s.parse())?;
    std::fs::create_dir_all(&out)?;
    let study = "1.2.826.0.1.3680043.2.1125.4242";
    for number in 1..=count {
        let writer = DicomWriter {
            window: Some((2000.0, 4001.0)),
            place: Some(InstancePlace {
                study_uid: study.into(),
                series_uid: format!("{study}.1"),
                instance_number: number,
                z: f64::from(number) * 5.0,
            }),
            ..Default::default()
        };
        let bytes = writer.write(&[phantom_frame(number, u32::from(side))], side, side)?;
        std::fs::write(out.join(format!("{number:03}.dcm")), bytes)?;
    }
    println!(
        "{}: {count} instances of {side}x{side}, 16-bit",
        out.display()
    );
    Ok(())
}
