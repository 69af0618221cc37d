//! Writes one MRI-like phantom slice as a JPEG, for scripts that need a slice without the dataset:
//! `cargo run -p synthetic --example phantom_jpeg -- OUT.jpg [VARIANT] [SIZE]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: phantom_jpeg OUT.jpg [VARIANT] [SIZE]")?;
    let variant = args.next().map(|v| v.parse()).transpose()?.unwrap_or(0);
    let size = args.next().map(|v| v.parse()).transpose()?.unwrap_or(512);
    std::fs::write(out, synthetic::phantom::slice_jpeg(variant, size)?)?;
    Ok(())
}
