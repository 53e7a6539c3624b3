//! Every finding code provoked for real: each test builds a crafted input (a page, a bulk
//! table row, an input zip, a stored archive rewritten, a link log line), runs the command that
//! reads it, and asserts the code, where the docs (`docs/FINDINGS.md`) say it points (the file,
//! the entry) and the command's exit code (1 when the finding is an error, 0 for a warning).
//!
//! The last test is a guard: it fails when a code of `Code::ALL` is named by no test, so a new
//! code comes with a test that provokes it.

use crate::util::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The collection the fixtures write.
const C: &str = "t";

// ---------------------------------------------------------------------------------------------
// Inputs (bundle)

/// `bundle --json` of `inputs` into a fresh store: the exit code and the findings reported.
fn bundle_findings(inputs: &[PathBuf], extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let store = temp_store();
    let out = run(cablekeep(store.path())
        .args(["bundle", "--json", "-c", C, "-m", "findings"])
        .args(extra)
        .args(inputs));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = json_lines(&stdout)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no report on stdout; stderr: {stderr}"));
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    (out.status.code(), findings)
}

/// The findings of this code.
fn with_code<'a>(findings: &'a [Value], code: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["code"] == code).collect()
}

/// Asserts exactly one finding of `code`, on `file` (and `entry`, when given), with `severity`,
/// whose message contains `says`.
fn assert_one(
    findings: &[Value],
    code: &str,
    severity: &str,
    file: &str,
    entry: Option<&str>,
    says: &str,
) {
    let found = with_code(findings, code);
    assert_eq!(found.len(), 1, "one {code} expected: {findings:#?}");
    let f = found[0];
    assert_eq!(f["severity"], severity, "{f}");
    assert_eq!(f["file"], file, "{f}");
    match entry {
        Some(e) => assert_eq!(f["entry"], e, "{f}"),
        None => assert!(f.get("entry").is_none(), "{f}"),
    }
    let message = f["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{code}: {message:?} lacks {says:?}");
}

/// A sample page with `from` replaced by `to`, written as `name` in `dir`.
fn sample_page_changed(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let page = std::fs::read_to_string(examples().join("09EXAMPLE101.html")).unwrap();
    assert!(page.contains(from), "the sample page holds {from:?}");
    let path = dir.join(name);
    std::fs::write(&path, page.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn a_page_with_its_cable_table_not_closed_is_p004() {
    let dir = tempfile::tempdir().unwrap();
    let page = sample_page_changed(dir.path(), "open.html", "</table>", "");
    let (code, findings) = bundle_findings(&[page], &[]);
    assert_one(
        &findings,
        "P004",
        "warning",
        "open.html",
        None,
        "cable table is not closed",
    );
    assert_eq!(code, Some(0), "a warning leaves the exit code 0");
}

#[test]
fn a_page_with_an_unreadable_created_date_is_p005() {
    let dir = tempfile::tempdir().unwrap();
    let page = sample_page_changed(
        dir.path(),
        "date.html",
        "2009-05-03 14:02",
        "yesterday noon",
    );
    let (code, findings) = bundle_findings(&[page], &[]);
    assert_one(
        &findings,
        "P005",
        "warning",
        "date.html",
        None,
        "Created date \"yesterday noon\" cannot be read",
    );
    assert_eq!(code, Some(0), "a warning leaves the exit code 0");
}

#[test]
fn a_page_with_a_malformed_reference_id_is_p006() {
    let dir = tempfile::tempdir().unwrap();
    let page = sample_page_changed(
        dir.path(),
        "id.html",
        ">09EXAMPLE101</a>",
        ">09ECTION01OF02EXAMPLE101</a>",
    );
    let (code, findings) = bundle_findings(&[page], &[]);
    assert_one(
        &findings,
        "P006",
        "warning",
        "id.html",
        None,
        "09ECTION01OF02EXAMPLE101 is malformed; read as 09EXAMPLE101",
    );
    assert_eq!(code, Some(0), "a warning leaves the exit code 0");
}

#[test]
fn a_bulk_table_row_of_three_fields_is_p007_naming_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("cables.csv");
    std::fs::write(
        &table,
        "\"1\",\"5/3/2009 14:02\",\"09EXAMPLE101\",\"Embassy Example\",\"CONFIDENTIAL\",\"\",\
         \"header\",\"body\"\n\"2\",\"only\",\"three\"\n",
    )
    .unwrap();
    let (code, findings) = bundle_findings(&[table], &[]);
    assert_one(
        &findings,
        "P007",
        "error",
        "cables.csv#000000002",
        None,
        "3 fields, expected 8",
    );
    assert_eq!(code, Some(1), "an error finding makes the exit code 1");
}

/// A zip holding the sample page as `page.html`, Stored, written by the zip crate.
fn zip_of_sample_page(path: &Path) {
    let page = std::fs::read(examples().join("09EXAMPLE101.html")).unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("page.html", options).unwrap();
    zip.write_all(&page).unwrap();
    zip.finish().unwrap();
}

#[test]
fn an_input_member_over_the_size_limit_is_i002_naming_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("in.zip");
    zip_of_sample_page(&zip);
    let (code, findings) = bundle_findings(&[zip], &["--max-input-bytes", "100"]);
    assert_one(
        &findings,
        "I002",
        "error",
        "in.zip",
        Some("page.html"),
        "over the limit of 100",
    );
    assert_eq!(code, Some(1), "an error finding makes the exit code 1");
}

#[test]
fn the_same_page_given_twice_is_i003() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.html"), dir.path().join("b.html"));
    std::fs::copy(examples().join("09EXAMPLE101.html"), &a).unwrap();
    std::fs::copy(examples().join("09EXAMPLE101.html"), &b).unwrap();
    let (code, findings) = bundle_findings(&[a, b], &[]);
    let found = with_code(&findings, "I003");
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(found[0]["file"], "b.html", "the second copy is named");
    assert_eq!(code, Some(0), "a warning leaves the exit code 0");
}

#[test]
fn an_input_zip_that_is_no_zip_is_i004() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("broken.zip");
    std::fs::write(&zip, b"PK\x03\x04 this is not a zip at all").unwrap();
    let page = dir.path().join("good.html");
    std::fs::copy(examples().join("09EXAMPLE101.html"), &page).unwrap();
    let (code, findings) = bundle_findings(&[zip, page], &[]);
    assert_one(
        &findings,
        "I004",
        "error",
        "broken.zip",
        None,
        "not a readable zip",
    );
    assert_eq!(code, Some(1), "an error finding makes the exit code 1");
}

/// The local header names the member `Page.html`, the central directory `page.html`: other zip
/// readers may see another name. The member is still read, as the directory lists it.
#[test]
fn an_input_zip_whose_local_header_disagrees_is_i007_and_its_member_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("ambiguous.zip");
    zip_of_sample_page(&zip);
    let mut bytes = std::fs::read(&zip).unwrap();
    assert_eq!(
        &bytes[..4],
        b"PK\x03\x04",
        "the zip starts with its local header"
    );
    assert_eq!(&bytes[30..39], b"page.html", "the local header's name");
    bytes[30] = b'P';
    std::fs::write(&zip, &bytes).unwrap();

    let store = temp_store();
    let out = run_ok(
        cablekeep(store.path())
            .args(["bundle", "--json", "-c", C, "-m", "findings"])
            .arg(&zip),
        0,
    );
    let report = &json_lines(&out)[0];
    let findings = report["findings"].as_array().unwrap();
    let found = with_code(findings, "I007");
    assert!(!found.is_empty(), "{findings:#?}");
    for f in &found {
        assert_eq!(f["severity"], "warning", "{f}");
        assert_eq!(f["file"], "ambiguous.zip", "{f}");
        assert_eq!(f["entry"], "page.html", "{f}");
    }
    assert_eq!(report["new_captures"], 1, "the member was read: {report}");
}

/// Bytes between the member and the central directory (the directory's offset moved to match):
/// they could hide a local header that another zip reader would take for a member.
#[test]
fn an_input_zip_with_bytes_between_its_records_is_i007() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("gap.zip");
    zip_of_sample_page(&zip);
    let mut bytes = std::fs::read(&zip).unwrap();
    let end = bytes.len() - 22;
    assert_eq!(
        &bytes[end..end + 4],
        b"PK\x05\x06",
        "an end record without a comment"
    );
    let cd_offset = u32::from_le_bytes(bytes[end + 16..end + 20].try_into().unwrap());
    let gap = b"sixteen stray by";
    bytes.splice(cd_offset as usize..cd_offset as usize, gap.iter().copied());
    let end = end + gap.len();
    let moved = cd_offset + gap.len() as u32;
    bytes[end + 16..end + 20].copy_from_slice(&moved.to_le_bytes());
    std::fs::write(&zip, &bytes).unwrap();

    let (code, findings) = bundle_findings(&[zip], &[]);
    let found = with_code(&findings, "I007");
    assert!(!found.is_empty(), "{findings:#?}");
    assert!(
        found
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("unexplained bytes")),
        "{findings:#?}"
    );
    assert_eq!(with_code(&findings, "I004").len(), 0, "{findings:#?}");
    assert_eq!(code, Some(0), "a warning leaves the exit code 0");
}

/// Bytes appended after the end record, which a comment length of 0 says is the zip's last
/// record.
#[test]
fn an_input_zip_with_bytes_after_its_end_record_is_i007() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("padded.zip");
    zip_of_sample_page(&zip);
    let mut bytes = std::fs::read(&zip).unwrap();
    let end = bytes.len() - 22;
    assert_eq!(
        &bytes[end..end + 4],
        b"PK\x05\x06",
        "an end record without a comment"
    );
    bytes.extend_from_slice(b"sixteen stray by");
    std::fs::write(&zip, &bytes).unwrap();

    let (code, findings) = bundle_findings(&[zip], &[]);
    let found = with_code(&findings, "I007");
    assert!(!found.is_empty(), "{findings:#?}");
    for f in &found {
        assert_eq!(f["severity"], "warning", "{f}");
        assert_eq!(f["file"], "padded.zip", "{f}");
    }
    assert_eq!(with_code(&findings, "I004").len(), 0, "{findings:#?}");
    assert_eq!(code, Some(0), "a warning leaves the exit code 0");
}

// ---------------------------------------------------------------------------------------------
// Stored archives (verify)

/// A store with `t@v1` made of the sample pages.
fn store_with_one_version() -> tempfile::TempDir {
    crate::util::sample_store(C)
}

fn zip_of(store: &Path) -> PathBuf {
    store.join(format!("archives/{C}/{C}-v1.zip"))
}

/// `verify --json` of the store: the exit code and every finding.
fn verify_findings(store: &Path) -> (Option<i32>, Vec<Value>) {
    let out = run(cablekeep(store).args(["verify", "--json"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code(),
        json_lines(&String::from_utf8_lossy(&out.stdout)),
    )
}

/// Rewrites `zip` with the zip crate: every entry copied as it is stored, but the entry whose
/// name ends with `/<replace.0>` written anew with `replace.1`, and `add` entries appended.
fn rewrite_zip(zip: &Path, replace: Option<(&str, &[u8])>, add: &[(&str, &[u8])]) {
    let mut source = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let out_path = zip.with_extension("rewritten");
    let mut out = zip::ZipWriter::new(std::fs::File::create(&out_path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut replaced = false;
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).unwrap();
        let name = entry.name().unwrap().to_string();
        match replace {
            Some((suffix, data)) if name.ends_with(&format!("/{suffix}")) => {
                out.start_file(name, options).unwrap();
                out.write_all(data).unwrap();
                replaced = true;
            }
            _ => out.raw_copy_file(entry).unwrap(),
        }
    }
    assert!(replace.is_none() || replaced, "{replace:?} names an entry");
    for (name, data) in add {
        out.start_file(*name, options).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap();
    std::fs::rename(&out_path, zip).unwrap();
}

/// The names of the archive's entries.
fn entry_names(zip: &Path) -> Vec<String> {
    let archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect()
}

/// The positions of `needle` in `haystack`.
fn positions(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The two sample `.html` payload entries (their names have the same length: the ids and the
/// digest prefixes do).
fn html_payload_entries(zip: &Path) -> (String, String) {
    let mut html: Vec<String> = entry_names(zip)
        .into_iter()
        .filter(|n| n.contains("/data/cables/") && n.ends_with(".html"))
        .collect();
    html.sort();
    assert_eq!(html.len(), 2, "{html:?}");
    assert_eq!(html[0].len(), html[1].len(), "{html:?}");
    (html[0].clone(), html[1].clone())
}

/// Asserts that a finding of `code` about the archive names `entry` and contains `says`.
fn assert_archive_finding(findings: &[Value], zip: &Path, code: &str, entry: &str, says: &str) {
    let zip = zip.display().to_string();
    let found: Vec<&Value> = with_code(findings, code)
        .into_iter()
        .filter(|f| f["entry"] == entry)
        .collect();
    assert!(
        !found.is_empty(),
        "{code} at {entry:?} expected: {findings:#?}"
    );
    for f in found {
        assert_eq!(f["severity"], "error", "{f}");
        assert_eq!(f["file"], zip.as_str(), "{f}");
        assert_eq!(f["archive"], zip.as_str(), "{f}");
        let message = f["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{code}: {message:?} lacks {says:?}");
    }
}

/// The second `.html` entry renamed, in its local header and its central directory record, to
/// the first one's name: two entries of one name, each intact.
#[test]
fn two_entries_of_one_name_are_z008() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    let (first, second) = html_payload_entries(&zip);
    let mut bytes = std::fs::read(&zip).unwrap();
    let at = positions(&bytes, second.as_bytes());
    assert_eq!(
        at.len(),
        2,
        "the name is in its local header and its record"
    );
    for i in at {
        bytes[i..i + first.len()].copy_from_slice(first.as_bytes());
    }
    std::fs::write(&zip, &bytes).unwrap();

    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(
        &findings,
        &zip,
        "Z008",
        &first,
        "the name appears more than once",
    );
    assert_eq!(code, Some(1), "{findings:#?}");
}

/// An entry named like another but for the case of its extension.
#[test]
fn two_entries_whose_names_differ_only_in_case_are_z008() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    let (first, _) = html_payload_entries(&zip);
    let shouting = first.replace(".html", ".HTML");
    rewrite_zip(&zip, None, &[(&shouting, b"a copy")]);

    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(&findings, &zip, "Z008", &shouting, "differs only in case");
    assert_eq!(code, Some(1), "{findings:#?}");
}

/// Sets a 16-bit field of the entry `name`'s local header (at `local`) and of its central
/// directory record (at `central`) to `change(old value)`, alike in both, so that the two agree.
fn patch_entry_field(zip: &Path, name: &str, local: usize, central: usize, change: fn(u16) -> u16) {
    let mut bytes = std::fs::read(zip).unwrap();
    let at = positions(&bytes, name.as_bytes());
    assert_eq!(
        at.len(),
        2,
        "the name is in its local header and its record"
    );
    let (header, record) = (at[0] - 30, at[1] - 46);
    assert_eq!(&bytes[header..header + 4], b"PK\x03\x04");
    assert_eq!(&bytes[record..record + 4], b"PK\x01\x02");
    for at in [header + local, record + central] {
        let old = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        bytes[at..at + 2].copy_from_slice(&change(old).to_le_bytes());
    }
    std::fs::write(zip, &bytes).unwrap();
}

/// An entry whose method says bzip2 (12), in its local header and its central directory record
/// alike: a method cablekeep never writes.
#[test]
fn an_entry_compressed_with_another_method_is_z010() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    let (first, _) = html_payload_entries(&zip);
    patch_entry_field(&zip, &first, 8, 10, |_| 12);
    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(&findings, &zip, "Z010", &first, "compression method 12");
    assert!(with_code(&findings, "Z004").is_empty(), "{findings:#?}");
    assert_eq!(code, Some(1), "{findings:#?}");
}

/// An entry whose flags say it is encrypted (bit 0), in both headers alike.
#[test]
fn an_entry_flagged_encrypted_is_z010() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    let (first, _) = html_payload_entries(&zip);
    patch_entry_field(&zip, &first, 6, 8, |flags| flags | 1);
    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(&findings, &zip, "Z010", &first, "entry is encrypted");
    assert!(with_code(&findings, "Z004").is_empty(), "{findings:#?}");
    assert_eq!(code, Some(1), "{findings:#?}");
}

/// The end record says the zip is the second disk of a multi-disk archive.
#[test]
fn a_multi_disk_zip_is_z010() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    let mut bytes = std::fs::read(&zip).unwrap();
    let end = *positions(&bytes, b"PK\x05\x06").last().unwrap();
    assert_eq!(end + 22, bytes.len(), "an end record without a comment");
    bytes[end + 4..end + 6].copy_from_slice(&1u16.to_le_bytes());
    std::fs::write(&zip, &bytes).unwrap();
    let (code, findings) = verify_findings(store.path());
    let found = with_code(&findings, "Z010");
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0]["file"], zip.display().to_string());
    assert!(found[0].get("entry").is_none(), "{}", found[0]);
    assert_eq!(found[0]["message"], "multi-disk zip");
    assert_eq!(code, Some(1), "{findings:#?}");
}

#[test]
fn a_bagit_txt_of_one_line_is_b001() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    rewrite_zip(&zip, Some(("bagit.txt", b"BagIt-Version: 1.0\n")), &[]);
    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(
        &findings,
        &zip,
        "B001",
        "bagit.txt",
        "expected exactly `BagIt-Version: M.N`",
    );
    assert_eq!(code, Some(1), "{findings:#?}");
}

#[test]
fn a_missing_bagit_txt_is_b001() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    // Every entry copied but bagit.txt.
    let mut source = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let out_path = zip.with_extension("rewritten");
    let mut out = zip::ZipWriter::new(std::fs::File::create(&out_path).unwrap());
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).unwrap();
        if !entry.name().unwrap().ends_with("/bagit.txt") {
            out.raw_copy_file(entry).unwrap();
        }
    }
    out.finish().unwrap();
    std::fs::rename(&out_path, &zip).unwrap();

    // Without bagit.txt no folder is a bag: the finding is about the whole zip.
    let (code, findings) = verify_findings(store.path());
    let found = with_code(&findings, "B001");
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0]["file"], zip.display().to_string());
    assert!(found[0].get("entry").is_none(), "{}", found[0]);
    assert_eq!(
        found[0]["message"],
        "no <folder>/bagit.txt: the zip holds no bag"
    );
    assert_eq!(code, Some(1), "{findings:#?}");
}

/// A line that is no `Label: value`, and Payload-Oxum twice: each its own B002.
#[test]
fn a_bag_info_with_a_bad_line_and_a_repeated_label_is_b002() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    let bag_info = String::from_utf8(read_entry(&zip, "/bag-info.txt")).unwrap();
    let oxum = bag_info
        .lines()
        .find(|l| l.starts_with("Payload-Oxum: "))
        .unwrap()
        .to_string();
    let crafted = format!("{bag_info}this line has no label\n{oxum}\n");
    rewrite_zip(&zip, Some(("bag-info.txt", crafted.as_bytes())), &[]);

    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(&findings, &zip, "B002", "bag-info.txt", "");
    let messages: Vec<&str> = with_code(&findings, "B002")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("is not `Label: value`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Payload-Oxum appears 2 times")),
        "{messages:?}"
    );
    assert_eq!(code, Some(1), "{findings:#?}");
}

/// An entry of the archive, inflated.
fn read_entry(zip: &Path, suffix: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .name_for_index(i)
                .unwrap()
                .unwrap()
                .ends_with(suffix)
        })
        .unwrap();
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(index).unwrap(), &mut data).unwrap();
    data
}

/// A tag file that no tag manifest lists: one B009 per tag manifest.
#[test]
fn a_tag_file_no_tag_manifest_lists_is_b009() {
    let store = store_with_one_version();
    let zip = zip_of(store.path());
    rewrite_zip(
        &zip,
        None,
        &[(&format!("{C}-v1/extra-tag.txt"), b"extra\n")],
    );
    let (code, findings) = verify_findings(store.path());
    assert_archive_finding(&findings, &zip, "B009", "extra-tag.txt", "not listed in");
    let manifests: Vec<&str> = with_code(&findings, "B009")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    for name in ["tagmanifest-sha256.txt", "tagmanifest-sha512.txt"] {
        assert!(manifests.iter().any(|m| m.ends_with(name)), "{manifests:?}");
    }
    assert_eq!(code, Some(1), "{findings:#?}");
}

// ---------------------------------------------------------------------------------------------
// Link log (verify)

/// A link log whose second line is no JSON and whose last line has no newline.
#[test]
fn a_link_log_line_that_is_no_json_or_cut_short_is_l002() {
    let store = store_with_one_version();
    let log = store.path().join(format!("manifests/{C}/links.jsonl"));
    std::fs::write(
        &log,
        format!("{{\"prev\":\"{}\"}}\nnot json\n{{\"prev\":", "0".repeat(64)),
    )
    .unwrap();
    let (code, findings) = verify_findings(store.path());
    let found = with_code(&findings, "L002");
    let log = log.display().to_string();
    assert!(
        found
            .iter()
            .any(|f| f["entry"] == "line 2" && f["file"] == log.as_str()),
        "{findings:#?}"
    );
    assert!(
        found.iter().any(|f| f["file"] == log.as_str()
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("cut short"))),
        "{findings:#?}"
    );
    assert_eq!(code, Some(1), "{findings:#?}");
}

// ---------------------------------------------------------------------------------------------
// The guard

/// The `#[cfg(test)] mod ... { ... }` modules of a source file: each from its attribute to the
/// first line after it that is a lone `}` (rustfmt puts a top-level module's closing brace, and
/// nothing inside it, at the start of a line; a cut made early only makes the guard stricter).
fn test_modules(source: &str) -> impl Iterator<Item = &str> {
    source
        .match_indices("#[cfg(test)]\nmod ")
        .map(|(start, _)| {
            let rest = &source[start..];
            &rest[..rest.find("\n}\n").unwrap_or(rest.len())]
        })
}

/// Every code of `Code::ALL` is named by some test. The rule: a code is named when, in a `.rs`
/// file under `tests/` other than `tests/docs.rs` (which checks the documentation table and
/// provokes nothing), or in a `#[cfg(test)]` module of a file under `src/`, there is the code
/// right after a double quote (a string literal starting with it), or its variant written
/// `Code::<Variant>`. It checks names, not what the tests do with them: a new code fails here
/// until a test names it, and that test should provoke it, as the ones above do.
#[test]
fn every_finding_code_is_named_by_a_test() {
    let mut texts = Vec::new();
    let root = project_root();
    for entry in walkdir::WalkDir::new(root.join("tests")) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests/docs.rs") {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    for entry in walkdir::WalkDir::new(root.join("src")) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            texts.extend(test_modules(&text).map(str::to_string));
        }
    }
    let unnamed: Vec<&str> = cablekeep::Code::ALL
        .iter()
        .filter(|code| {
            let quoted = format!("\"{}", code.as_str());
            let variant = format!("Code::{code:?}");
            !texts
                .iter()
                .any(|t| t.contains(&quoted) || t.contains(&variant))
        })
        .map(|code| code.as_str())
        .collect();
    assert!(
        unnamed.is_empty(),
        "no test names these finding codes: {unnamed:?}"
    );
}
