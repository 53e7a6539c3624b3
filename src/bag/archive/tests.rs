//! Tests of `OpenArchive`: records read whole, the directory read forward, selected entries.
use super::*;

/// A zip with one bag folder holding a deflated, a stored and an empty file.
fn small_zip(path: &std::path::Path, text: &[u8]) {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut z = zip::ZipWriter::new(File::create(path).unwrap());
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = deflated.compression_method(zip::CompressionMethod::Stored);
    for (name, options, data) in [
        ("bag/a.json", deflated, text),
        ("bag/b.json", stored, text),
        ("bag/empty.json", deflated, &b""[..]),
    ] {
        z.start_file(name, options).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn records_read_whole_are_the_archives_bytes_and_damage_is_told_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zip");
    let text: Vec<u8> = (0..50_000u32)
        .flat_map(|i| format!("{{\"n\": {i}, \"t\": \"a\\nb\"}}\n").into_bytes())
        .collect();
    small_zip(&path, &text);
    let archive = OpenArchive::open(&path).unwrap();
    let read = |archive: &OpenArchive, p: &str| archive.with_required(p, |b| b.to_vec());
    for p in ["a.json", "b.json", "empty.json", "a.json"] {
        let expected = archive.read_required(p).unwrap();
        assert_eq!(read(&archive, p).unwrap(), expected, "{p}");
    }
    let missing = archive.read_required("c.json").unwrap_err().to_string();
    assert_eq!(read(&archive, "c.json").unwrap_err().to_string(), missing);

    // A flipped byte in each file's data: the archive's reader says what is wrong.
    let mut bytes = std::fs::read(&path).unwrap();
    for p in ["a.json", "b.json"] {
        let e = archive.entry(p).unwrap();
        let middle = e.data_offset.unwrap() + e.compressed_size / 2;
        bytes[middle as usize] ^= 0x55;
    }
    std::fs::write(&path, &bytes).unwrap();
    let archive = OpenArchive::open(&path).unwrap();
    for p in ["a.json", "b.json"] {
        let expected = archive.read_required(p).unwrap_err().to_string();
        assert!(expected.contains("is damaged"), "{expected}");
        assert_eq!(read(&archive, p).unwrap_err().to_string(), expected);
    }
}

#[test]
fn the_directory_read_forward_finds_entries_in_its_order_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zip");
    small_zip(&path, &b"{\"n\": 1}\n".repeat(1000));
    let whole = OpenArchive::open(&path).unwrap();
    let none = OpenArchive::open_selected(&path, &|_| false).unwrap();
    assert!(none.index.entries.is_empty());
    let mut cursor = none.directory_cursor().unwrap();
    let mut find = |name: &str| cursor.find(name).unwrap();
    // Found with where its data starts, as the whole directory's table has it.
    assert_eq!(find("bag/a.json").as_ref(), whole.index.entry("bag/a.json"));
    assert!(
        whole
            .index
            .entry("bag/a.json")
            .unwrap()
            .data_offset
            .is_some()
    );
    // Not listed: the next name sorts after it (and is kept for the next question).
    assert_eq!(find("bag/aa.json"), None);
    assert_eq!(find("bag/b.json").as_ref(), whole.index.entry("bag/b.json"));
    // Listed, but behind the cursor.
    assert_eq!(find("bag/a.json"), None);
    let empty = find("bag/empty.json");
    assert_eq!(empty.as_ref(), whole.index.entry("bag/empty.json"));
    assert_eq!(find("bag/z.json"), None);
}

#[test]
fn an_archive_opened_for_some_entries_holds_and_reads_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zip");
    let text = b"{\"n\": 1}\n".repeat(1000);
    small_zip(&path, &text);
    let whole = OpenArchive::open(&path).unwrap();
    let some = OpenArchive::open_selected(&path, &|p| p == "b.json").unwrap();
    assert_eq!(some.folder.as_deref(), Some("bag"));
    let names: Vec<&str> = some.index.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["bag/b.json"]);
    assert_eq!(
        some.index.entry("bag/b.json"),
        whole.index.entry("bag/b.json")
    );
    assert_eq!(some.read_required("b.json").unwrap(), text);
    assert!(some.read_required("a.json").is_err());
    // The whole file's layout is only checked when every entry is read: the bytes of the
    // entries left out are not "unexplained".
    assert!(
        whole.index.findings.is_empty(),
        "{:?}",
        whole.index.findings
    );
    assert!(some.index.findings.is_empty(), "{:?}", some.index.findings);

    // A damaged central directory is still found, and counted over every record.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let some = OpenArchive::open_selected(&path, &|p| p == "b.json").unwrap();
    let codes: Vec<_> = some.index.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [crate::finding::Code::CentralDirectoryCorrupt]);
    assert!(some.index.findings[0].message.contains("after 2 entries"));
}
