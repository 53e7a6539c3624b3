//! The input side: input zips whose members share a name or are huge, special files (FIFOs,
//! devices) given by name or met in folders, unbounded reads, pages in other encodings.

use crate::util::{cablekeep, examples, json_lines, measure, mkfifo, run_ok, temp_store};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A zip member written by hand: the zip crate's writer refuses two members of one name.
struct Member<'a> {
    name: &'a str,
    /// 0 Stored, 8 Deflate.
    method: u16,
    crc32: u32,
    size: u32,
    data: &'a [u8],
}

impl<'a> Member<'a> {
    fn stored(name: &'a str, data: &'a [u8]) -> Self {
        Member {
            name,
            method: 0,
            crc32: crc32fast::hash(data),
            size: data.len() as u32,
            data,
        }
    }
}

/// The bytes of a zip holding `members` in order (no zip64: tests keep under 4 GiB).
fn zip_bytes(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for m in members {
        let offset = out.len() as u32;
        let fields = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&m.method.to_le_bytes());
            v.extend_from_slice(&0u32.to_le_bytes()); // time and date
            v.extend_from_slice(&m.crc32.to_le_bytes());
            v.extend_from_slice(&(m.data.len() as u32).to_le_bytes());
            v.extend_from_slice(&m.size.to_le_bytes());
            v.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        out.extend_from_slice(&0x04034b50u32.to_le_bytes());
        fields(&mut out);
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(m.data);
        central.extend_from_slice(&0x02014b50u32.to_le_bytes());
        central.extend_from_slice(&(0x0300u16 | 20).to_le_bytes()); // made by Unix
        fields(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(m.name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Three different example pages, all called `p.html`, in one zip.
fn zip_of_three_pages_named_alike(dir: &Path) -> PathBuf {
    let pages: Vec<Vec<u8>> = ["09EXAMPLE101.html", "10EXAMPLE202.html", "06EXAMPLE303.txt"]
        .iter()
        .map(|p| std::fs::read(examples().join(p)).expect("an example page"))
        .collect();
    let members: Vec<Member> = pages.iter().map(|p| Member::stored("p.html", p)).collect();
    let path = dir.join("same.zip");
    std::fs::write(&path, zip_bytes(&members)).expect("write the zip");
    path
}

fn stdout_codes(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.len() == 4 && w[1..].bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

#[test]
fn members_of_one_zip_that_share_a_name_are_all_bundled() {
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_of_three_pages_named_alike(dir.path());
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(&zip)
            .args(["-c", "z", "-m", "three"]),
        0,
    );
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(log[0]["counts"]["captures"], 3, "{:?}", log[0]);
    assert_eq!(log[0]["counts"]["cables"], 3, "{:?}", log[0]);

    let parsed = run_ok(cablekeep(store.path()).arg("parse").arg(&zip), 0);
    for id in ["09EXAMPLE101", "10EXAMPLE202", "06EXAMPLE303"] {
        assert!(parsed.contains(id), "parse lists {id}: {parsed}");
    }

    run_ok(
        cablekeep(store.path())
            .arg("add")
            .arg(&zip)
            .args(["-c", "staged"]),
        0,
    );
    let status = json_lines(&run_ok(
        cablekeep(store.path()).args(["status", "--json"]),
        0,
    ));
    let staged = status
        .iter()
        .find(|s| s["collection"] == "staged")
        .unwrap_or_else(|| panic!("{status:?}"));
    assert_eq!(staged["stage"]["items"].as_array().unwrap().len(), 3);
}

#[test]
fn unsafe_member_names_are_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read(examples().join("10EXAMPLE202.html")).unwrap();
    let members = [
        Member::stored("bell\u{7}.html", &page),
        Member::stored("../up.html", &page),
        Member::stored("ok.html", &page),
    ];
    let zip = dir.path().join("names.zip");
    std::fs::write(&zip, zip_bytes(&members)).unwrap();
    let store = temp_store();
    let out = run_ok(cablekeep(store.path()).arg("parse").arg(&zip), 1);
    let codes = stdout_codes(&out);
    assert_eq!(
        codes.iter().filter(|c| *c == "I001").count(),
        2,
        "two unsafe names: {out}"
    );
    assert!(
        out.contains("10EXAMPLE202"),
        "the safe member is read: {out}"
    );
}

/// A deflated member of `size` bytes: `first`, then zeros. Its compressed bytes and CRC-32.
fn deflated_zeros(size: usize, first: u8) -> (Vec<u8>, u32) {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let mut chunk = vec![0u8; 1 << 20];
    let mut crc = crc32fast::Hasher::new();
    for i in 0..size / chunk.len() {
        chunk[0] = if i == 0 { first } else { 0 };
        enc.write_all(&chunk).unwrap();
        crc.update(&chunk);
    }
    (enc.finish().unwrap(), crc.finalize())
}

/// A zip of `count` members of 60 MiB of zeros each, deflated (about 60 KB each); `distinct`
/// makes each member's first byte differ (else they are the same bytes, stored once).
fn zip_of_zeros(dir: &Path, count: usize, distinct: bool) -> PathBuf {
    const SIZE: usize = 60 << 20;
    let datas: Vec<(Vec<u8>, u32)> = if distinct {
        (0..count)
            .map(|i| deflated_zeros(SIZE, i as u8 + 1))
            .collect()
    } else {
        vec![deflated_zeros(SIZE, 0)]
    };
    let names: Vec<String> = (0..count).map(|i| format!("zeros{i:03}.html")).collect();
    let members: Vec<Member> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (data, crc32) = &datas[i % datas.len()];
            Member {
                name,
                method: 8,
                crc32: *crc32,
                size: SIZE as u32,
                data,
            }
        })
        .collect();
    let path = dir.join(format!("zeros{count}.zip"));
    std::fs::write(&path, zip_bytes(&members)).unwrap();
    path
}

/// The pages of an input zip are read one at a time when they are processed: memory stays flat
/// however many 60 MiB members the zip holds (it grew by ~65 MB a member when they were all
/// read first, and a zip of 100 aborted on a failed allocation).
#[test]
fn a_zip_of_large_members_is_read_a_member_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_of_zeros(dir.path(), 12, true);
    let store = temp_store();
    let limit = Duration::from_secs(300);
    let mut commands = Vec::new();
    let mut bundle = cablekeep(store.path());
    bundle
        .arg("bundle")
        .arg(&zip)
        .args(["-c", "z", "-m", "zeros"]);
    commands.push(("bundle", bundle));
    let mut parse = cablekeep(store.path());
    parse.arg("parse").arg(&zip);
    commands.push(("parse", parse));
    let mut add = cablekeep(store.path());
    add.arg("add").arg(&zip).args(["-c", "staged"]);
    commands.push(("add", add));
    for (what, cmd) in &commands {
        let m = measure(cmd, limit);
        assert!(!m.timed_out, "{what}: {m:?}");
        // Pages of zeros are in no format cablekeep reads (P001): exit 1, nothing skipped.
        assert_eq!(m.code, Some(1), "{what}: {m:?}");
        let codes = stdout_codes(&m.stdout);
        assert_eq!(
            codes,
            vec!["P001"; 12],
            "{what}: nothing skipped: {}",
            m.stdout
        );
        eprintln!(
            "{what} of 12 members of 60 MiB: peak RSS {:.0} MB",
            m.peak_rss_mb()
        );
        assert!(m.peak_rss_mb() < 256.0, "{what}: {:.0} MB", m.peak_rss_mb());
    }
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(log[0]["counts"]["unparsed"], 12, "{:?}", log[0]);
}

/// A zip bomb (100 members of 60 MiB of zeros in 6 MB) is read up to the per-zip limit, and
/// what is past it is a finding; it does not abort.
#[test]
fn a_zip_over_the_total_limit_is_read_up_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_of_zeros(dir.path(), 100, false);
    let store = temp_store();
    let mut cmd = cablekeep(store.path());
    cmd.arg("bundle")
        .arg(&zip)
        .args(["-c", "z", "-m", "bomb"])
        .args(["--max-zip-bytes", &(3u64 * (60 << 20)).to_string()]);
    let m = measure(&cmd, Duration::from_secs(300));
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(1), "{m:?}");
    assert!(m.peak_rss_mb() < 256.0, "{:.0} MB", m.peak_rss_mb());
    let over: Vec<&str> = m.stdout.lines().filter(|l| l.contains("I006")).collect();
    assert_eq!(over.len(), 1, "{}", m.stdout);
    assert!(
        over[0].contains("zeros003.html") && over[0].contains("96 after it"),
        "{over:?}"
    );
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    // The three members read are the same bytes: stored once.
    assert_eq!(log[0]["counts"]["unparsed"], 1, "{:?}", log[0]);
    assert_eq!(
        stdout_codes(&m.stdout)
            .iter()
            .filter(|c| *c == "I003")
            .count(),
        2
    );

    // Within the default limits all 100 are read (the same bytes: stored once), in flat memory.
    let mut all = cablekeep(store.path());
    all.arg("bundle")
        .arg(&zip)
        .args(["-c", "all", "-m", "bomb"]);
    let m = measure(&all, Duration::from_secs(300));
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(1), "{m:?}");
    let codes = stdout_codes(&m.stdout);
    assert_eq!(
        codes.iter().filter(|c| *c == "P001").count(),
        100,
        "{}",
        m.stdout
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "I003").count(),
        99,
        "{}",
        m.stdout
    );
    eprintln!(
        "bundle of 100 members of 60 MiB: peak RSS {:.0} MB",
        m.peak_rss_mb()
    );
    assert!(m.peak_rss_mb() < 256.0, "{:.0} MB", m.peak_rss_mb());

    let mut few = cablekeep(store.path());
    few.arg("parse").arg(&zip).args(["--max-zip-members", "2"]);
    let m = measure(&few, Duration::from_secs(120));
    assert_eq!(m.code, Some(1), "{m:?}");
    assert!(
        m.stdout.contains("I006") && m.stdout.contains("98 members past the first 2"),
        "{}",
        m.stdout
    );
}

/// A member whose data does not match its CRC-32 is skipped with a finding, the rest read.
#[test]
fn a_damaged_member_is_a_finding_and_the_others_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read(examples().join("10EXAMPLE202.html")).unwrap();
    let mut damaged = Member::stored("bad.html", &page);
    damaged.crc32 ^= 1;
    let members = [damaged, Member::stored("good.html", &page)];
    let zip = dir.path().join("damaged.zip");
    std::fs::write(&zip, zip_bytes(&members)).unwrap();
    let out = run_ok(cablekeep(temp_store().path()).arg("parse").arg(&zip), 1);
    let i004: Vec<&str> = out.lines().filter(|l| l.starts_with("I004")).collect();
    assert!(i004.len() == 1 && i004[0].contains("bad.html"), "{out}");
    assert!(out.contains("10EXAMPLE202"), "{out}");
}

/// A FIFO given by name is refused before it is opened (opening it waited for a writer
/// forever, holding the store lock); one met in a folder is skipped with a finding.
#[test]
fn a_fifo_is_refused_by_name_and_reported_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("d");
    std::fs::create_dir(&pages).unwrap();
    std::fs::copy(
        examples().join("10EXAMPLE202.html"),
        pages.join("10EXAMPLE202.html"),
    )
    .unwrap();
    let fifo = pages.join("fifo.html");
    mkfifo(&fifo);
    std::os::unix::fs::symlink(
        examples().join("09EXAMPLE101.html"),
        pages.join("link.html"),
    )
    .unwrap();
    let store = temp_store();

    let rest: [(&str, &[&str]); 3] = [
        ("bundle", &["-c", "f", "-m", "fifo"]),
        ("parse", &[]),
        ("add", &["-c", "f"]),
    ];
    for (command, rest) in rest {
        let mut cmd = cablekeep(store.path());
        cmd.arg(command).arg(&fifo).args(rest);
        let m = measure(&cmd, Duration::from_secs(20));
        assert!(!m.timed_out, "{command} of a FIFO hung: {m:?}");
        assert_eq!(m.code, Some(2), "{command}: {m:?}");
        assert!(
            m.stderr.contains("fifo.html") && m.stderr.contains("FIFO"),
            "{command}: {}",
            m.stderr
        );
    }

    let mut cmd = cablekeep(store.path());
    cmd.arg("bundle")
        .arg(&pages)
        .args(["-c", "f", "-m", "folder"]);
    let m = measure(&cmd, Duration::from_secs(20));
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(1), "{m:?}");
    let i005: Vec<&str> = m.stdout.lines().filter(|l| l.starts_with("I005")).collect();
    assert_eq!(i005.len(), 2, "{}", m.stdout);
    assert!(
        i005.iter()
            .any(|l| l.contains("fifo.html") && l.contains("FIFO"))
    );
    assert!(
        i005.iter()
            .any(|l| l.contains("link.html") && l.contains("symbolic link"))
    );
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(
        log[0]["counts"]["captures"], 1,
        "the regular page: {:?}",
        log[0]
    );
}

/// Devices given by name are refused at once, and `--ids-from` reads no more than its limit
/// (both read `/dev/zero` until memory ran out).
#[test]
fn dev_zero_is_refused_or_read_to_a_limit() {
    let zero = Path::new("/dev/zero");
    if !zero.exists() {
        eprintln!("\n!!! SKIPPED: no /dev/zero !!!\n");
        return;
    }
    let store = temp_store();
    for command in ["bundle", "parse"] {
        let mut cmd = cablekeep(store.path());
        cmd.arg(command).arg(zero);
        if command == "bundle" {
            cmd.args(["-c", "z", "-m", "zero"]);
        }
        let m = measure(&cmd, Duration::from_secs(20));
        assert!(!m.timed_out, "{command}: {m:?}");
        assert_eq!(m.code, Some(2), "{command}: {m:?}");
        assert!(m.stderr.contains("/dev/zero: is a device"), "{}", m.stderr);
        assert!(
            m.peak_rss_mb() < 64.0,
            "{command}: {:.0} MB",
            m.peak_rss_mb()
        );
    }
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex", "-m", "examples"]),
        0,
    );
    let out = tempfile::tempdir().unwrap();
    let mut cmd = cablekeep(store.path());
    cmd.args([
        "export",
        "-c",
        "ex",
        "--format",
        "jsonl",
        "--ids-from",
        "/dev/zero",
    ])
    .arg("--out")
    .arg(out.path().join("x.jsonl"));
    let m = measure(&cmd, Duration::from_secs(20));
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(2), "{m:?}");
    assert!(m.stderr.contains("longer than the limit"), "{}", m.stderr);
    assert!(m.peak_rss_mb() < 256.0, "{:.0} MB", m.peak_rss_mb());
}

/// The example WikiLeaks page with `“CAFÉ”` in its text, its XML declaration replaced.
fn page_with_cafe(declaration: &str) -> String {
    let page = std::fs::read_to_string(examples().join("10EXAMPLE202.html")).unwrap();
    let page = page.replacen("<?xml version='1.0' encoding='utf-8' ?>", declaration, 1);
    assert!(page.contains("This invented cable"));
    page.replacen("This invented cable", "This “CAFÉ” cable", 1)
}

/// `parse --json` of `bytes`: the exit code, the record, the finding codes (on stderr).
fn parse_json(bytes: &[u8], file: &str) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, bytes).unwrap();
    let out = crate::util::run(cablekeep(dir.path()).args(["parse", "--json"]).arg(&path));
    let records = json_lines(&String::from_utf8_lossy(&out.stdout));
    let record = records.into_iter().next().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), record, stderr)
}

/// A windows-1252 page was read as damaged UTF-8 when a byte pair happened to be valid UTF-8
/// (`É”` is C9 94): `“CAFÉ”` became `�CAFɔ`. Declared, it is read as declared; undeclared,
/// as the detector guesses, with a finding.
#[test]
fn a_latin1_page_is_read_in_its_encoding() {
    for (declaration, guessed) in [
        ("<?xml version='1.0' encoding='iso-8859-1' ?>", false),
        ("", true),
    ] {
        let page = page_with_cafe(declaration);
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
        let (code, record, stderr) = parse_json(&bytes, "latin1.html");
        let text = record["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("This “CAFÉ” cable"),
            "{declaration:?}: {text}"
        );
        assert_eq!(record["source"]["encoding"], "windows-1252");
        assert_eq!(stderr.contains("P008"), guessed, "{stderr}");
        assert!(!stderr.contains("P003"), "{stderr}");
        assert_eq!(code, 0, "{stderr}");
    }
}

/// UTF-16 pages were left unparsed (the formats are told by ASCII markers in the bytes).
#[test]
fn a_utf16_page_is_parsed() {
    let page = page_with_cafe("<?xml version='1.0' encoding='utf-16' ?>");
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(page.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = page.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for (bytes, encoding, guessed) in [(le, "UTF-16LE", false), (be, "UTF-16BE", true)] {
        let (code, record, stderr) = parse_json(&bytes, "wide.html");
        assert_eq!(record["id"], "10EXAMPLE202", "{encoding}: {stderr}");
        assert_eq!(record["source"]["encoding"], encoding);
        let text = record["text"].as_str().unwrap_or_default();
        assert!(text.contains("This “CAFÉ” cable"), "{text}");
        assert_eq!(stderr.contains("P008"), guessed, "{stderr}");
        assert_eq!(code, 0, "{stderr}");
    }
}
