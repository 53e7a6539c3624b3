//! Input zip members refused one by one: each problem a member has is its own finding with its
//! own code (encrypted or damaged `I004`, too large `I002`, unsafe name `I001`, past the zip's
//! byte limit `I006`), and the zip's other members are still read.

use crate::util::{cablekeep, examples, run_ok, temp_store};
use std::io::Write;
use std::path::Path;

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} is in the zip", String::from_utf8_lossy(needle)))
}

/// A zip of stored members (name, bytes), written by the zip crate.
fn stored_zip(path: &Path, members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        z.start_file(*name, options).unwrap();
        z.write_all(bytes).unwrap();
    }
    let bytes = z.finish().unwrap().into_inner();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

/// Sets the "encrypted" flag (bit 0) of the member named `name`, in its local header and its
/// central directory record alike.
fn flag_encrypted(bytes: &mut [u8], name: &str) {
    // (signature, offset of the flags, of the name's length, of the name)
    let headers: [(&[u8], usize, usize, usize); 2] =
        [(b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)];
    for (signature, flags_at, len_at, name_at) in headers {
        let mut from = 0;
        loop {
            let at = from + find(&bytes[from..], signature);
            let len = u16::from_le_bytes([bytes[at + len_at], bytes[at + len_at + 1]]) as usize;
            if bytes.get(at + name_at..at + name_at + len) == Some(name.as_bytes()) {
                bytes[at + flags_at] |= 1;
                break;
            }
            from = at + 4;
        }
    }
}

fn codes_and_lines(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let code = l.split_whitespace().next()?;
            (code.len() == 4 && code.starts_with('I')).then(|| (code.to_string(), l.to_string()))
        })
        .collect()
}

#[test]
fn each_member_problem_is_its_own_finding_and_the_rest_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read(examples().join("10EXAMPLE202.html")).unwrap();
    let other = std::fs::read(examples().join("09EXAMPLE101.html")).unwrap();
    let mut damaged = page.clone();
    damaged.extend_from_slice(b"<!-- DAMAGE-HERE -->");
    let big = vec![b'x'; 5000];
    let zip = dir.path().join("members.zip");
    let mut bytes = stored_zip(
        &zip,
        &[
            ("ok.html", &page),
            ("secret.html", &other),
            ("damaged.html", &damaged),
            ("big.html", &big),
            ("../up.html", &page),
            ("also-ok.html", &other),
        ],
    );
    flag_encrypted(&mut bytes, "secret.html");
    let mark = find(&bytes, b"DAMAGE-HERE");
    bytes[mark] = b'd';
    std::fs::write(&zip, &bytes).unwrap();

    let store = temp_store();
    let out = run_ok(
        cablekeep(store.path())
            .arg("parse")
            .arg(&zip)
            .args(["--max-input-bytes", "4096"]),
        1,
    );
    let found = codes_and_lines(&out);
    let line_of = |member: &str| {
        found
            .iter()
            .find(|(_, line)| line.contains(member))
            .unwrap_or_else(|| panic!("a finding names {member}: {out}"))
    };
    // The zip reader reports an encrypted member too: every finding about it is I004.
    let about_secret: Vec<&(String, String)> = found
        .iter()
        .filter(|(_, l)| l.contains("secret.html"))
        .collect();
    assert!(!about_secret.is_empty(), "{out}");
    for (code, line) in &about_secret {
        assert_eq!(code, "I004", "{line}");
        assert!(line.contains("encrypted"), "{line}");
    }
    let (code, line) = line_of("damaged.html");
    assert_eq!(code, "I004", "{line}");
    assert!(line.to_lowercase().contains("crc"), "{line}");
    let (code, line) = line_of("big.html");
    assert_eq!(code, "I002", "{line}");
    assert!(
        line.contains("5000 bytes is over the limit of 4096 (see --max-input-bytes)"),
        "{line}"
    );
    let (code, line) = line_of("up.html");
    assert_eq!(code, "I001", "{line}");
    assert!(line.contains("unsafe name: "), "{line}");
    assert_eq!(
        found.len() - about_secret.len(),
        3,
        "one finding per other refused member: {out}"
    );
    // The two sound members are read: both cables are listed.
    assert!(out.contains("10EXAMPLE202"), "{out}");
    assert!(out.contains("09EXAMPLE101"), "{out}");
}

#[test]
fn the_member_past_the_zip_byte_limit_ends_the_listing_with_one_finding() {
    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read(examples().join("10EXAMPLE202.html")).unwrap();
    let zip = dir.path().join("many.zip");
    stored_zip(
        &zip,
        &[
            ("a.html", &page),
            ("b.html", &page),
            ("c.html", &page),
            ("d.html", &page),
        ],
    );
    let limit = page.len() as u64 * 2;
    let store = temp_store();
    let out = run_ok(
        cablekeep(store.path())
            .arg("parse")
            .arg(&zip)
            .args(["--max-zip-bytes", &limit.to_string()]),
        1,
    );
    let found = codes_and_lines(&out);
    assert_eq!(found.len(), 1, "{out}");
    let (code, line) = &found[0];
    assert_eq!(code, "I006", "{line}");
    assert!(line.contains("c.html"), "{line}");
    let rest = page.len() as u64 * 2;
    assert!(
        line.contains(&format!(
            "this member and the 1 after it ({rest} bytes) were not read: the members before it \
             hold {limit} bytes, the limit is {limit} (see --max-zip-bytes)"
        )),
        "{line}"
    );
}
