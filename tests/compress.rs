//! Entries are compressed to exactly the bytes the `zip` crate's writer gives (that is,
//! `flate2::write::DeflateEncoder` fed the whole entry), which wrote cablekeep's archives before
//! cablekeep wrote its zips itself: the same cables still give byte-identical archives, and
//! standard tools can reproduce an entry. Synthetic text does not show the difference between
//! ways of driving the compressor; real pages do (about 1 in 20 of them).

use std::io::Write;

fn as_the_zip_crate_compresses(data: &[u8]) -> Vec<u8> {
    let level = flate2::Compression::new(cablekeep::bag::DEFLATE_LEVEL);
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), level);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn pages_under(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pages_under(&path, found);
        } else if path.extension().is_some_and(|e| e == "html") {
            found.push(path);
        }
    }
}

#[test]
fn real_pages_compress_to_the_bytes_of_the_zip_crates_writer() {
    let dev = crate::need_shared!("cables/dev/cable");
    let mut pages = Vec::new();
    pages_under(&dev, &mut pages);
    assert!(
        pages.len() >= 400,
        "only {} pages under {}",
        pages.len(),
        dev.display()
    );
    for page in &pages {
        let text = std::fs::read(page).unwrap();
        // Three copies make entries larger than the 32 KiB chunks the compressor is fed in.
        for data in [text.clone(), text.repeat(3)] {
            let ours = cablekeep::bag::compress(&data);
            assert!(
                ours.data == as_the_zip_crate_compresses(&data),
                "{} ({} bytes) compresses to other bytes than the zip crate's writer gives",
                page.display(),
                data.len()
            );
            assert_eq!(ours.facts.uncompressed, data.len() as u64);
        }
    }
}
