//! Tests of the hardened zip reader: inflating whole and streamed, names, garbage.
use super::data::stream_in_pieces;
use super::inflate::inflate_whole;
use super::names::{
    duplicate_names, duplicates_by_hash, duplicates_by_sort, plainly_safe,
    unsafe_name_problem_in_full,
};
use super::*;
use crate::finding::Code;

fn named(name: &str) -> Entry {
    Entry {
        name: name.to_string(),
        method: METHOD_DEFLATE,
        flags: 0,
        crc32: 0,
        compressed_size: 0,
        uncompressed_size: 0,
        local_header_offset: 0,
        data_offset: None,
    }
}

/// What reading an entry gave: its bytes and its findings' codes and messages.
type Read = (Vec<u8>, Vec<(Code, String)>);

/// Reads an entry both ways: whole (libdeflate) and in pieces (zlib-rs).
fn both_ways(file: &File, entry: &Entry) -> [Read; 2] {
    let whole = {
        let mut data = Vec::new();
        let f = inflate_whole(file, entry, 0, "t", |b| data.extend_from_slice(b)).unwrap();
        (data, f)
    };
    let pieces = {
        let mut data = Vec::new();
        let f = stream_in_pieces(file, entry, 0, "t", |b| data.extend_from_slice(b)).unwrap();
        (data, f)
    };
    [whole, pieces].map(|(data, findings)| {
        let kinds = findings.into_iter().map(|f| (f.code, f.message)).collect();
        (data, kinds)
    })
}

#[test]
fn whole_and_streamed_inflating_agree_on_good_and_bad_data() {
    use std::io::Write;
    let text: Vec<u8> = (0..50_000u32)
        .flat_map(|i| (i % 97).to_le_bytes())
        .collect();
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&text).unwrap();
    let compressed = encoder.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, &compressed).unwrap();
    let file = File::open(&path).unwrap();
    let good = Entry {
        crc32: crc32fast::hash(&text),
        compressed_size: compressed.len() as u64,
        uncompressed_size: text.len() as u64,
        ..named("e")
    };
    let [whole, pieces] = both_ways(&file, &good);
    assert_eq!(whole, (text.clone(), vec![]));
    assert_eq!(pieces, whole);
    let located = Entry {
        data_offset: Some(0),
        ..good.clone()
    };
    let intact = with_intact_entry(&file, &located, "t", |b| b.to_vec()).unwrap();
    assert_eq!(intact.unwrap(), text);
    let damaged = Entry {
        crc32: good.crc32 ^ 1,
        ..located
    };
    let refused = with_intact_entry(&file, &damaged, "t", |b| b.to_vec()).unwrap();
    assert_eq!(refused.unwrap_err()[0].code, Code::CrcMismatch);
    let cases = [
        Entry {
            crc32: good.crc32 ^ 1,
            ..good.clone()
        },
        Entry {
            uncompressed_size: good.uncompressed_size + 5,
            ..good.clone()
        },
        Entry {
            uncompressed_size: good.uncompressed_size - 5,
            ..good.clone()
        },
        Entry {
            compressed_size: good.compressed_size + 10,
            ..good.clone()
        },
        Entry {
            compressed_size: good.compressed_size / 2,
            ..good.clone()
        },
    ];
    for bad in cases {
        let [whole, pieces] = both_ways(&file, &bad);
        let codes = |r: &Read| r.1.iter().map(|(c, _)| *c).collect::<Vec<_>>();
        assert!(!whole.1.is_empty(), "{bad:?}: no finding");
        assert_eq!(
            codes(&whole),
            codes(&pieces),
            "{bad:?}: {whole:?} vs {pieces:?}"
        );
    }
}

#[test]
fn duplicate_names_are_found_alike_by_hash_and_by_sort() {
    let names = [
        "b/x.txt", "a/X.txt", "a/x.txt", "b/x.txt", "ÄB/é", "äb/É", "a/x.TXT", "c", "b/x.txt",
    ];
    let entries: Vec<Entry> = names.iter().map(|n| named(n)).collect();
    let mut by_hash = duplicates_by_hash(&entries).expect("no hash collision here");
    by_hash.sort();
    let mut by_sort = duplicates_by_sort(&entries);
    by_sort.sort();
    assert_eq!(by_hash, vec![(0, 3), (0, 8), (1, 2), (1, 6), (4, 5)]);
    assert_eq!(by_hash, by_sort);
    let mut index = ZipIndex {
        entries,
        ..ZipIndex::default()
    };
    check_names("t.zip", &mut index);
    let found: Vec<(&str, &str)> = index
        .findings
        .iter()
        .map(|f| (f.entry.as_deref().unwrap_or(""), f.message.as_str()))
        .collect();
    assert_eq!(
        found[0],
        ("a/x.txt", "differs only in case from \"a/X.txt\"")
    );
    assert_eq!(found[1], ("b/x.txt", "the name appears more than once"));
    assert_eq!(found.len(), 5, "{found:?}");
}

#[test]
fn unsafe_names_are_named() {
    for bad in [
        "/etc/passwd",
        "a/../b",
        "a\\b",
        "C:/x",
        "a//b",
        "./a",
        "a\u{0}b",
        "~/x",
    ] {
        assert!(
            unsafe_name_problem(bad).is_some(),
            "{bad:?} should be unsafe"
        );
    }
    for good in [
        "bag/data/cables/05ALMATY4285/2011-10-04_0123456789ab.txt",
        "bag/bagit.txt",
    ] {
        assert_eq!(unsafe_name_problem(good), None, "{good:?}");
    }
}

/// The one-pass check may only send names on to the full check, never pass an unsafe one.
#[test]
fn the_quick_name_check_never_passes_an_unsafe_name() {
    let parts = [
        "", "a", ".", "..", "/", "//", "\\", "~", "C:", "é", "\u{1}", "\u{7f}", "x.txt",
    ];
    let mut checked = 0;
    for a in parts {
        for b in parts {
            for c in parts {
                let name = format!("{a}{b}{c}");
                if plainly_safe(&name) {
                    assert_eq!(unsafe_name_problem_in_full(&name), None, "{name:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
    assert!(plainly_safe("bag/data/cables/05ALMATY4285/x.txt"));
    assert!(plainly_safe("bag/data/"));
    assert!(!plainly_safe("bag//"));
}

/// A sorted directory (cablekeep's) takes the sorting path; the pairs are the same.
#[test]
fn a_sorted_directory_finds_the_same_duplicates() {
    let names = [
        "a/X.txt",
        "a/x.txt",
        "a/x.txt",
        "b",
        "c/D",
        "c/d",
        "bagit.txt",
        "B",
    ];
    let entries: Vec<Entry> = names.iter().map(|n| named(n)).collect();
    let mut quick = duplicate_names(&entries);
    quick.sort();
    let mut by_hash = duplicates_by_hash(&entries).expect("no hash collision here");
    by_hash.sort();
    assert_eq!(quick, vec![(0, 1), (0, 2), (3, 7), (4, 5)]);
    assert_eq!(quick, by_hash);
}

#[test]
fn garbage_is_a_finding_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.zip");
    std::fs::write(&path, b"not a zip at all, just some words here").unwrap();
    let index = open(&path).unwrap();
    assert!(!index.readable);
    assert_eq!(index.findings[0].code, Code::ZipUnreadable);
}

/// A file holding one entry's local header (with `extra` bytes of extra field) and its data.
fn local_entry(text: &[u8], extra: usize, local_crc: u32) -> (tempfile::TempDir, Entry) {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text).unwrap();
    let data = encoder.finish().unwrap();
    let name = b"bag/data/a.txt";
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    bytes.extend_from_slice(&20u16.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&METHOD_DEFLATE.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&local_crc.to_le_bytes());
    bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&(extra as u16).to_le_bytes());
    bytes.extend_from_slice(name);
    // An extra field of an unknown kind (0xcafe) that readers skip.
    if extra >= 4 {
        bytes.extend_from_slice(&0xcafeu16.to_le_bytes());
        bytes.extend_from_slice(&((extra - 4) as u16).to_le_bytes());
        bytes.resize(bytes.len() + extra - 4, 0);
    }
    bytes.extend_from_slice(&data);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("z"), &bytes).unwrap();
    let entry = Entry {
        crc32: crc32fast::hash(text),
        compressed_size: data.len() as u64,
        uncompressed_size: text.len() as u64,
        ..named("bag/data/a.txt")
    };
    (dir, entry)
}

#[test]
fn an_entry_read_with_its_unread_local_header_is_checked_in_the_same_read() {
    let text = b"a cable text, a cable text, a cable text".repeat(50);
    let read = |extra: usize, local_crc: Option<u32>, cut: usize| {
        let crc = local_crc.unwrap_or(crc32fast::hash(&text));
        let (dir, entry) = local_entry(&text, extra, crc);
        let path = dir.path().join("z");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - cut]).unwrap();
        let file = File::open(&path).unwrap();
        with_intact_entry(&file, &entry, "t", |b| b.to_vec())
            .unwrap()
            .map_err(|findings| findings.iter().map(|f| f.code).collect::<Vec<_>>())
    };
    // Its header in the same read, or (an extra field longer than the read allows) on its own.
    for extra in [0, 4, 32, 200] {
        assert_eq!(
            read(extra, None, 0).as_deref(),
            Ok(&text[..]),
            "extra {extra}"
        );
    }
    assert_eq!(read(0, Some(7), 0), Err(vec![Code::HeaderMismatch]));
    assert_eq!(read(200, Some(7), 0), Err(vec![Code::HeaderMismatch]));
    assert_eq!(read(0, None, 5), Err(vec![Code::DecompressFailed]));
}

/// A zip of a few entries, written by the `zip` crate.
fn small_zip() -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in [
        ("bag/a.txt", "alpha"),
        ("bag/b.txt", "beta"),
        ("bag/c.txt", "gamma"),
    ] {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(text.repeat(100).as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn a_zip_read_from_memory_reads_as_the_same_zip_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    for bytes in [small_zip(), small_zip()[..small_zip().len() - 30].to_vec()] {
        let path = dir.path().join("z.zip");
        std::fs::write(&path, &bytes).unwrap();
        let label = path.display().to_string();
        let on_disk = open(&path).unwrap();
        let in_memory = open_source(&bytes, &label, Opening::Whole).unwrap();
        assert_eq!(in_memory.entries, on_disk.entries);
        assert_eq!(in_memory.findings, on_disk.findings);
        assert_eq!(in_memory.readable, on_disk.readable);
        let keep = |name: &str| name.ends_with("b.txt");
        let selected = open_source(&bytes, &label, Opening::Selected(&keep)).unwrap();
        assert!(selected.entries.iter().all(|e| keep(&e.name)));
        if on_disk.readable {
            let b = selected.entry("bag/b.txt").unwrap();
            let (data, findings) = read_entry(&bytes, b, &label).unwrap();
            assert!(findings.is_empty(), "{findings:?}");
            assert_eq!(data.unwrap(), "beta".repeat(100).as_bytes());
        }
    }
}

#[test]
fn positioned_reads_stop_at_the_end() {
    use std::io::Read;
    let bytes: Vec<u8> = (0..=255).collect();
    let mut buf = [0u8; 16];
    assert_eq!(ReadAt::read_at(&bytes, &mut buf, 250).unwrap(), 6);
    assert_eq!(&buf[..6], &bytes[250..]);
    assert_eq!(ReadAt::read_at(&bytes, &mut buf, 400).unwrap(), 0);
    read_exact_at(&bytes, &mut buf, 240).unwrap();
    assert_eq!(&buf[..], &bytes[240..]);
    let short = read_exact_at(&bytes, &mut buf, 241).unwrap_err();
    assert_eq!(short.kind(), std::io::ErrorKind::UnexpectedEof);
    let mut all = Vec::new();
    SourceReader::new(std::sync::Arc::new(bytes.clone()))
        .read_to_end(&mut all)
        .unwrap();
    assert_eq!(all, bytes);
}
