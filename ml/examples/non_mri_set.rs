//! Writes the non-MRI measurement set: `cargo run --release -p ml --example non_mri_set -- OUT [PER_KIND]`
//! makes `OUT/<kind>/NNN.png` for every generated kind, and `OUT/photo/` from the photographs in
//! `.cache/pretrained/` when `scripts/fetch-pretrained.sh` has fetched them.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: non_mri_set OUT [PER_KIND]")?);
    let per_kind: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(40);
    for kind in ml::non_mri::KINDS {
        let dir = out.join(kind);
        std::fs::create_dir_all(&dir)?;
        for index in 0..per_kind {
            ml::non_mri::generate(kind, index)?.save(dir.join(format!("{index:03}.png")))?;
        }
    }
    let photos = PathBuf::from(".cache/pretrained");
    let dir = out.join("photo");
    std::fs::create_dir_all(&dir)?;
    let mut written = 0;
    for name in ["chelsea.png", "coffee.png"] {
        let path = photos.join(name);
        if path.exists() {
            for (i, crop) in ml::non_mri::photo_crops(&path, per_kind / 2 + 1)?
                .iter()
                .enumerate()
            {
                crop.save(dir.join(format!("{}-{i:03}.png", name.trim_end_matches(".png"))))?;
                written += 1;
            }
        }
    }
    eprintln!(
        "{} kinds x {per_kind}, {written} photo crops in {}",
        ml::non_mri::KINDS.len(),
        out.display()
    );
    Ok(())
}
