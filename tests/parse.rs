//! The cable page readers against real pages in `../shared/cables` and `../shared/seed`.
//!
//! The shared data is never copied into the repository; when it is missing these tests say so
//! loudly on stderr and pass without checking anything.

use cablekeep::Severity;
use cablekeep::cable::provenance::SourceHints;
use cablekeep::cable::{self, CableRecord, ParseOutcome};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(SHARED).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "\n!!!!! SKIPPED: shared test data {} is missing; this test checked nothing !!!!!\n",
            p.display()
        );
        None
    }
}

fn parse_file(path: &Path) -> ParseOutcome {
    let bytes = std::fs::read(path).expect("read page");
    cable::parse(&bytes, &path.display().to_string(), &SourceHints::default())
}

fn html_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "html") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn record_ok(path: &Path) -> CableRecord {
    let out = parse_file(path);
    let errors: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    out.record
        .unwrap_or_else(|| panic!("{}: no record ({:?})", path.display(), out.findings))
}

#[test]
fn every_real_page_gives_a_record() {
    let Some(dev) = shared("cables/dev/cable") else {
        return;
    };
    let Some(versions) = shared("cables/versions") else {
        return;
    };
    let Some(seed) = shared("seed/000_29c34ead04328ea5.txt") else {
        return;
    };
    let dev_files = html_files(&dev);
    let version_files = html_files(&versions);
    assert_eq!(dev_files.len(), 400);
    assert_eq!(version_files.len(), 36);
    let mut with_findings = 0;
    for p in dev_files.iter().chain(&version_files) {
        let r = record_ok(p);
        assert_eq!(r.schema, cable::RECORD_SCHEMA);
        assert_eq!(r.source.format.map(|f| f.as_str()), Some("wikileaks-page"));
        assert_eq!(r.source.publisher.as_deref(), Some("WikiLeaks"));
        assert_eq!(r.source.encoding.as_deref(), Some("utf-8"));
        let url = r.source.url.as_deref().expect("url");
        assert!(url.starts_with("https://wikileaks.org/cable/"), "{url}");
        // The page's file name is the id as the page gives it.
        let stem = p.file_stem().unwrap().to_str().unwrap();
        if !p.starts_with(&versions) {
            assert_eq!(r.id_original.as_deref().unwrap_or(&r.id), stem);
            assert!(url.ends_with(&format!("/{stem}.html")), "{url}");
        }
        assert!(
            r.source
                .site_build
                .as_deref()
                .is_some_and(|b| b.parse::<u32>().is_ok())
        );
        assert!(!r.text.is_empty(), "{}: empty text", p.display());
        assert!(
            !r.text.contains("&#x000A;") && !r.text.contains("<a "),
            "{}",
            p.display()
        );
        assert!(!r.text.contains('¶'), "{}: ¶ left in text", p.display());
        let c = r.created.as_deref().expect("created");
        assert!(
            c.len() == 10 || (c.len() == 20 && c.ends_with(":00Z")),
            "{c}"
        );
        assert_eq!(r.redaction.runs, r.redaction.positions.len());
        let chars: Vec<char> = r.text.chars().collect();
        for run in &r.redaction.positions {
            assert!(run.len >= 5);
            assert!(
                chars[run.offset..run.offset + run.len]
                    .iter()
                    .all(|c| *c == 'X')
            );
        }
        if !parse_file(p).findings.is_empty() {
            with_findings += 1;
        }
    }
    eprintln!("{with_findings} of 436 pages have warnings");
    record_ok(&seed);
}

/// Reads a CSV file with a header row (RFC 4180 quoting) into maps.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    let header = rows.remove(0);
    rows.into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

/// The index subject up to the first field that runs on into it, without the continuation
/// mark of a line it was cut at.
fn index_subject_cut(s: &str) -> &str {
    static RUN_ON: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\s(?:REFS?\s*:|REF\(S\)\s*:|CLASSIFIED\s+BY\b|SENSITIVE\s+BUT\s+UNCLASSIFIED|-{5,}|[A-Z]{3,}\s+\d{8}\s+\d{3}\.\d\s+OF\s+\d{3})|Classified\s+By\b",
        )
        .expect("valid regex")
    });
    let s = match RUN_ON.find(s) {
        Some(m) => s[..m.start()].trim_end(),
        None => s,
    };
    // A subject cut at a line break keeps the line's continuation mark: "ASSESSING OUR \".
    s.trim_end_matches(['\\', ' '])
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first line of the body's TAGS field, if any.
fn tags_line(text: &str) -> Option<&str> {
    text.lines().find(|l| {
        let t = l.trim_start();
        t.starts_with("TAGS") || t.starts_with("TAG:") || t.starts_with("TAG ")
    })
}

#[test]
fn dev_pages_agree_with_wikileaks_index() {
    let Some(meta) = shared("cables/dev/metadata.csv") else {
        return;
    };
    let dev = meta.parent().unwrap().to_path_buf();
    let rows = read_csv(&meta);
    assert_eq!(rows.len(), 400);
    let mut agree: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut disagreements: Vec<String> = Vec::new();
    let mut check = |field: &'static str, id: &str, ok: bool, mine: String, theirs: &str| {
        let e = agree.entry(field).or_default();
        e.1 += 1;
        if ok {
            e.0 += 1;
        } else {
            disagreements.push(format!("{field:14} {id:28} ours={mine:?} index={theirs:?}"));
        }
    };
    let mut unlisted = Vec::new();
    let mut no_index_tags = 0;
    for row in &rows {
        let id = row["ref_id"].as_str();
        let r = record_ok(&dev.join(&row["path"]));
        // Cables WikiLeaks withdrew are in no index page: nothing to compare with.
        if row["index_created"].is_empty() {
            unlisted.push(id);
            continue;
        }
        let created = r.created.clone().unwrap_or_default();
        check(
            "created",
            id,
            created.get(..10) == Some(row["index_created"].as_str()),
            created.clone(),
            &row["index_created"],
        );
        let released = r.released.clone().unwrap_or_default();
        check(
            "released",
            id,
            released == row["index_released"],
            released,
            &row["index_released"],
        );
        let class = r.classification.clone().unwrap_or_default();
        check(
            "classification",
            id,
            class == row["index_classification"],
            class,
            &row["index_classification"],
        );
        let origin = r.origin.clone().unwrap_or_default();
        check(
            "origin",
            id,
            origin == row["index_origin"],
            origin,
            &row["index_origin"],
        );
        // The index subject is cut at the first line break, drops a leading "(" or "[" (as in
        // "S) SPAIN: ..." for "(S) SPAIN: ...") and sometimes keeps a "<br>": ours must start
        // with it once those index quirks are undone.
        let subject = r.subject.clone().unwrap_or_default();
        let ours = norm(subject.trim_start_matches(['(', '[']));
        let theirs = norm(&row["index_subject"].replace("<br>", " "));
        let theirs = theirs.trim_start_matches(['(', '[']);
        // When the page's header is flattened onto one line, the index subject runs on into
        // the next fields ("… REF: A. MOSCOW 816 Classified By: …") and page-break markers
        // ("TRIPOLI 00000583 001.2 OF 003"); ours stops there, as cablemap's does.
        let theirs = index_subject_cut(theirs);
        let ok = if theirs.is_empty() {
            ours.is_empty()
        } else {
            ours.starts_with(theirs)
        };
        check("subject", id, ok, subject, &row["index_subject"]);
        if let Some(first_line) = tags_line(&r.text) {
            // WikiLeaks' tag index lists only the tags linked on the TAGS line's first line.
            if row["index_tags"].is_empty() {
                no_index_tags += 1;
                continue;
            }
            let ours: BTreeSet<String> = r
                .tags
                .iter()
                .flat_map(|t| t.split_whitespace())
                .map(str::to_string)
                .collect();
            let theirs: BTreeSet<String> = row["index_tags"]
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let on_first_line: BTreeSet<String> = ours
                .iter()
                .filter(|t| {
                    first_line
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .any(|w| w == t.as_str())
                })
                .cloned()
                .collect();
            let ok = ours == theirs || (theirs.is_subset(&ours) && on_first_line == theirs);
            check("tags", id, ok, r.tags.join(" "), &row["index_tags"]);
        }
    }
    eprintln!("not compared (in no index page): {unlisted:?}");
    eprintln!("tags not compared (the index lists no tags for the cable): {no_index_tags}");
    for d in &disagreements {
        eprintln!("disagree: {d}");
    }
    let mut failed = Vec::new();
    for (field, min) in [
        ("created", 99.5),
        ("released", 99.5),
        ("classification", 99.5),
        ("origin", 99.5),
        ("subject", 98.0),
        ("tags", 98.0),
    ] {
        let (ok, n) = agree[field];
        let pct = 100.0 * ok as f64 / n as f64;
        eprintln!("agreement {field:14} {ok:3}/{n:3} = {pct:6.2} % (threshold {min} %)");
        if pct < min {
            failed.push(field);
        }
    }
    assert!(failed.is_empty(), "agreement below threshold: {failed:?}");
}

#[test]
fn seed_mirror_page() {
    let Some(seed) = shared("seed/000_29c34ead04328ea5.txt") else {
        return;
    };
    let out = parse_file(&seed);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let r = out.record.expect("record");
    assert_eq!(r.schema, cable::RECORD_SCHEMA);
    assert_eq!(r.id, "05ALMATY4285");
    assert_eq!(r.id_original, None);
    // The partial extract has no routing header, so no DTG: the page's own time is used.
    assert_eq!(r.created.as_deref(), Some("2005-12-02T10:59:00Z"));
    assert_eq!(r.created_original.as_deref(), Some("2005-12-02 10:59:00"));
    assert_eq!(r.released.as_deref(), Some("2011-10-04"));
    assert_eq!(r.origin.as_deref(), Some("US Office Almaty"));
    assert_eq!(
        r.classification.as_deref(),
        Some("UNCLASSIFIED//FOR OFFICIAL USE ONLY")
    );
    assert_eq!(r.caveats, vec!["FOR OFFICIAL USE ONLY", "SIPDIS"]);
    assert_eq!(r.tags, vec!["PGOV", "KZ", "2005 Election"]);
    assert_eq!(
        r.subject.as_deref(),
        Some("KAZAKHSTAN: PRESIDENTIAL ELECTION ROUNDUP, DECEMBER 2")
    );
    assert_eq!(r.references, vec!["05ALMATY4171"]);
    assert_eq!(r.signers, vec!["ORDWAY"]);
    assert!(r.redaction.partial_extract);
    assert_eq!(
        r.redaction.statement.as_deref(),
        Some("This cable was not redacted by Wikileaks.")
    );
    assert_eq!(r.redaction.status.as_str(), "not-redacted");
    assert_eq!(r.redaction.runs, 0);
    assert_eq!(r.source.publisher.as_deref(), Some("cablebrowser-2"));
    assert_eq!(r.source.released.as_deref(), Some("2011-10-04"));
    assert_eq!(r.source.released_original.as_deref(), Some("2011-10-04"));
    assert_eq!(
        r.source.upstream_url.as_deref(),
        Some("https://wikileaks.org/cable/2005/12/05ALMATY4285.html")
    );
    assert_eq!(r.source.format.map(|f| f.as_str()), Some("mirror-text"));
    assert_eq!(r.source.encoding.as_deref(), Some("utf-8"));
    assert!(
        r.text.starts_with("UNCLAS  ALMATY 004285"),
        "{:?}",
        &r.text[..40]
    );
    assert!(r.text.trim_end().ends_with("ORDWAY"));
    assert!(!r.text.contains("Latest source of this page"));
    assert!(!r.text.contains("Identifier:"));
}

#[test]
fn wikileaks_page_fields() {
    let Some(p) = shared("cables/dev/cable/2010/01/10ALGIERS20.html") else {
        return;
    };
    let out = parse_file(&p);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let r = out.record.unwrap();
    assert_eq!(r.id, "10ALGIERS20");
    // DTG "O 061738Z JAN 10"; the page says 17:05 (minutes = 12-hour hour).
    assert_eq!(r.created.as_deref(), Some("2010-01-06T17:38:00Z"));
    assert_eq!(r.created_original.as_deref(), Some("2010-01-06 17:05"));
    assert_eq!(r.released.as_deref(), Some("2010-12-06"));
    assert_eq!(
        r.source.released_original.as_deref(),
        Some("2010-12-06 21:09")
    );
    // The link's title says secret//noforn too here, but the text is what counts.
    assert_eq!(r.classification.as_deref(), Some("SECRET//NOFORN"));
    assert_eq!(r.caveats, vec!["NOFORN", "SIPDIS"]);
    assert_eq!(r.origin.as_deref(), Some("Embassy Algiers"));
    assert_eq!(r.tags, vec!["PGOV", "PREL", "MOPS", "PINR", "AG", "US"]);
    assert_eq!(
        r.subject.as_deref(),
        Some("ALGERIA STRONGLY PROTESTS TSA LISTING")
    );
    assert_eq!(r.references, vec!["10ALGIERS15"]);
    assert_eq!(
        r.source.url.as_deref(),
        Some("https://wikileaks.org/cable/2010/01/10ALGIERS20.html")
    );
    assert_eq!(r.source.site_build.as_deref(), Some("6693"));
    assert!(r.text.starts_with("VZCZCXYZ0008\nOO RUEHWEB\n"));
    assert!(r.text.contains("\n1. (S/NF) MFA Americas"));
    assert_eq!(r.redaction.status.as_str(), "not-redacted");
}

#[test]
fn malformed_page_id_is_canonicalised() {
    let Some(dev) = shared("cables/dev/cable") else {
        return;
    };
    let malformed: Vec<PathBuf> = html_files(&dev)
        .into_iter()
        .filter(|p| {
            p.file_stem().unwrap().to_str().unwrap().contains("SECTION")
                || p.file_stem().unwrap().to_str().unwrap().contains("EFTO")
                || p.file_stem().unwrap().to_str().unwrap().contains("ECTION")
        })
        .collect();
    assert!(!malformed.is_empty());
    for p in malformed {
        let out = parse_file(&p);
        let r = out.record.unwrap();
        let stem = p.file_stem().unwrap().to_str().unwrap();
        assert_eq!(r.id_original.as_deref(), Some(stem));
        assert_ne!(r.id, stem);
        assert!(
            !r.id.contains("SECTION") && !r.id.contains("EFTO"),
            "{}",
            r.id
        );
        assert!(
            out.findings
                .iter()
                .any(|f| f.code == cablekeep::Code::MalformedId)
        );
    }
}

#[test]
fn partial_extract_pages() {
    let Some(p) = shared("cables/dev/cable/2000/11/00HARARE6677.html") else {
        return;
    };
    let r = record_ok(&p);
    assert!(r.redaction.partial_extract);
    // "291359Z Nov 00" in the header.
    assert_eq!(r.created.as_deref(), Some("2000-11-29T13:59:00Z"));
}

#[test]
fn versions_lose_redactions() {
    let Some(dir) = shared("cables/versions/06MADRID76") else {
        return;
    };
    let files = html_files(&dir);
    assert_eq!(files.len(), 2);
    let v1 = record_ok(&files[0]);
    let v2 = record_ok(&files[1]);
    assert!(
        files[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("v1_")
    );
    assert_eq!(v1.id, "06MADRID76");
    assert_eq!(v1.redaction.runs, 1);
    assert_eq!(v1.redaction.status.as_str(), "redacted");
    assert_eq!(v2.redaction.runs, 0);
    assert_eq!(v2.redaction.status.as_str(), "not-redacted");
    assert!(v2.redaction.runs < v1.redaction.runs);
    assert_ne!(v1.text, v2.text);

    // versions.csv's change types say which builds lost or gained redactions (its run counts
    // are a quick script's and count differently: only 12-X runs, a 24-X run as two).
    let Some(csv) = shared("cables/versions/versions.csv") else {
        return;
    };
    let versions = dir.parent().unwrap();
    let rows = read_csv(&csv);
    let mut checked = 0;
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a["ref_id"] != b["ref_id"] {
            continue;
        }
        let ra = record_ok(&versions.join(&a["file"]));
        let rb = record_ok(&versions.join(&b["file"]));
        assert_eq!(ra.id, rb.id);
        match b["derived_change_vs_previous"].as_str() {
            "less_redaction" => {
                assert!(rb.redaction.runs < ra.redaction.runs, "{}", b["file"]);
                checked += 1;
            }
            "more_redaction" => {
                assert!(rb.redaction.runs > ra.redaction.runs, "{}", b["file"]);
                checked += 1;
            }
            _ => {}
        }
    }
    eprintln!("{checked} redaction changes between versions checked");
    assert!(checked >= 10);
}

#[test]
fn detect_is_robust() {
    use cable::{Format, detect};
    let page = b"<html><head><title>Cable Viewer</title></head></html>";
    assert_eq!(detect(page), Some(Format::WikileaksPage));
    let mut bom = b"\xEF\xBB\xBF \n".to_vec();
    bom.extend_from_slice(b"<HTML><TITLE>CABLE VIEWER</TITLE>");
    assert_eq!(detect(&bom), Some(Format::WikileaksPage));
    assert_eq!(
        detect(b"\xEF\xBB\xBF\r\nus EMBASSY cable - 05X1\n"),
        Some(Format::MirrorText)
    );
    assert_eq!(detect(b"hello"), None);
    assert_eq!(detect(b""), None);
}

#[test]
fn broken_pages_give_findings_not_panics() {
    let out = cable::parse(
        b"<title>Cable Viewer</title> nothing",
        "x",
        &SourceHints::default(),
    );
    assert!(out.record.is_none());
    assert!(out.findings.iter().any(|f| f.severity == Severity::Error));

    let Some(p) = shared("cables/dev/cable/2010/01/10ALGIERS20.html") else {
        return;
    };
    let bytes = std::fs::read(&p).unwrap();
    let s = String::from_utf8(bytes.clone()).unwrap();
    // No closing </pre>.
    let cut = s.rfind("</pre>").unwrap();
    let broken = format!("{}{}", &s[..cut], &s[cut + 6..]);
    let out = cable::parse(broken.as_bytes(), "x", &SourceHints::default());
    assert!(out.record.is_some());
    assert!(
        out.findings
            .iter()
            .any(|f| f.code == cablekeep::Code::BrokenMarkup)
    );
    // Invalid UTF-8.
    let mut bad = bytes.clone();
    let at = s.find("ALGERIA STRONGLY").unwrap();
    bad[at] = 0xFF;
    let out = cable::parse(&bad, "x", &SourceHints::default());
    assert!(out.record.is_some());
    assert!(
        out.findings
            .iter()
            .any(|f| f.code == cablekeep::Code::BadEncoding)
    );
    // Truncated before the table.
    let t = s.find("<table class='cable'>").unwrap();
    let out = cable::parse(&bytes[..t], "x", &SourceHints::default());
    assert!(
        out.findings
            .iter()
            .any(|f| f.code == cablekeep::Code::MissingField)
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn sample_pages() -> Vec<Vec<u8>> {
        let mut pages = Vec::new();
        for rel in [
            "cables/dev/cable/2010/01/10ALGIERS20.html",
            "cables/dev/cable/2000/11/00HARARE6677.html",
            "cables/dev/cable/1966/12/66BUENOSAIRES2481.html",
            "seed/000_29c34ead04328ea5.txt",
        ] {
            let p = Path::new(SHARED).join(rel);
            if let Ok(b) = std::fs::read(&p) {
                pages.push(b);
            }
        }
        if pages.is_empty() {
            eprintln!("\n!!!!! shared pages missing: fuzzing synthetic pages only !!!!!\n");
            pages.push(b"<title>Cable Viewer</title><table class='cable'><tr><td><a href='/cable/2010/01/10X1.html'>10X1</a></td></tr></table><pre>R 131429Z JAN 10</pre><pre>TAGS: A\nSUBJECT: B\n</pre>".to_vec());
            pages.push(b"US embassy cable - 05X1\n\nIdentifier: 05X1\nCreated: 2005-12-02 10:59:00\n\nbody\n\nLatest source of this page is m, released 2011-10-04".to_vec());
        }
        pages
    }

    static PAGES: std::sync::LazyLock<Vec<Vec<u8>>> = std::sync::LazyLock::new(sample_pages);

    const INSERTS: &[&[u8]] = &[
        b"<pre>",
        b"</pre>",
        b"<td>",
        b"</td>",
        b"<a href='",
        b"&#x",
        b"&",
        b"<",
        b"\xFF",
        b"\xE2\x82",
        b"SUBJECT:",
        b"TAGS:",
        b"REF: A. 08 MADRID 000025 B. ",
        b"XXXXXXXXXXXX",
        b"Viewing cable ",
        b"Identifier: ",
        b"Latest source of this page is ",
        b"\n",
        b"311299Z FEB 99",
        b"<table class='cable'>",
        b"</table>",
        b"\"",
        b"\\\"",
        b"\",\"",
        b"\"5\",\"",
        b"VZCZC",
        b"FM AMEMBASSY X\nTO RUEHC/SECSTATE WASHDC\nINFO XMT ",
        b"Classified By: ",
        b"END SUMMARY",
        b"1. (S/NF) ",
        b"E.O. 12958: DECL: 02/30/2020",
    ];

    #[derive(Debug, Clone)]
    enum Mutation {
        Truncate(usize),
        Flip(usize, u8),
        Insert(usize, usize),
        Delete(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
            (any::<usize>(), 0..INSERTS.len()).prop_map(|(a, b)| Mutation::Insert(a, b)),
            (any::<usize>(), 0usize..5000).prop_map(|(a, b)| Mutation::Delete(a, b)),
        ]
    }

    fn apply(page: &mut Vec<u8>, m: &Mutation) {
        if page.is_empty() {
            return;
        }
        match *m {
            Mutation::Truncate(at) => page.truncate(at % page.len()),
            Mutation::Flip(at, b) => {
                let i = at % page.len();
                page[i] ^= b;
            }
            Mutation::Insert(at, which) => {
                let i = at % (page.len() + 1);
                page.splice(i..i, INSERTS[which].iter().copied());
            }
            Mutation::Delete(at, n) => {
                let i = at % page.len();
                let end = (i + n).min(page.len());
                page.drain(i..end);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let out = cable::parse(&bytes, "fuzz", &SourceHints::default());
            prop_assert!(out.record.is_some() || !out.findings.is_empty());
        }

        #[test]
        fn prefixed_arbitrary_bytes_never_panic(
            which in 0usize..2,
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        ) {
            let mut page = if which == 0 {
                b"<title>Cable Viewer</title>".to_vec()
            } else {
                b"US embassy cable - ".to_vec()
            };
            page.extend_from_slice(&bytes);
            let out = cable::parse(&page, "fuzz", &SourceHints::default());
            prop_assert!(out.record.is_some() || !out.findings.is_empty());
        }

        #[test]
        fn arbitrary_bytes_as_every_format(
            which in 0usize..4,
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        ) {
            use cable::Format;
            let f = [Format::WikileaksPage, Format::MirrorText, Format::BareText, Format::CablesCsv][which];
            let out = cable::parse_as(&bytes, "fuzz", &SourceHints::default(), Some(f));
            prop_assert!(out.record.is_some() || !out.findings.is_empty());
        }

        #[test]
        fn arbitrary_tables_split_exactly(
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b','), Just(b'\n'), Just(b'\\'), Just(b'\r'), Just(b'1'),
                    Just(b'A'), any::<u8>(),
                ],
                0..4096,
            ),
        ) {
            let mut raw = Vec::new();
            let mut n = 0u64;
            cable::bulk::read_rows(&bytes[..], "fuzz.csv", &SourceHints::default(), |row| {
                n += 1;
                assert_eq!(row.number, n);
                assert_eq!(row.offset, raw.len() as u64);
                assert_eq!(row.len, row.raw.len() as u64);
                if row.outcome.record.is_none() {
                    assert!(row.outcome.findings.iter().any(|f| f.is_error()));
                }
                raw.extend_from_slice(&row.raw);
            }).unwrap();
            prop_assert_eq!(raw, bytes);
        }

        #[test]
        fn mutated_tables_never_panic(muts in proptest::collection::vec(mutation(), 1..8)) {
            let mut table = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cables-sample.csv")).unwrap();
            for m in &muts {
                apply(&mut table, m);
            }
            let mut raw = Vec::new();
            cable::bulk::read_rows(&table[..], "fuzz.csv", &SourceHints::default(), |row| {
                if let Some(r) = &row.outcome.record {
                    let n = r.text.chars().count();
                    for run in &r.redaction.positions {
                        assert!(run.offset + run.len <= n);
                    }
                }
                raw.extend_from_slice(&row.raw);
            }).unwrap();
            prop_assert_eq!(raw, table);
        }

        #[test]
        fn mutated_bare_texts_never_panic(muts in proptest::collection::vec(mutation(), 1..8)) {
            let mut text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bare-cable.txt")).unwrap();
            for m in &muts {
                apply(&mut text, m);
            }
            let out = cable::parse_as(&text, "fuzz", &SourceHints::default(), Some(cable::Format::BareText));
            prop_assert!(out.record.is_some() || !out.findings.is_empty());
            let _ = cable::parse(&text, "fuzz", &SourceHints::default());
        }

        #[test]
        fn mutated_real_pages_never_panic(
            which in any::<usize>(),
            muts in proptest::collection::vec(mutation(), 1..6),
        ) {
            let mut page = PAGES[which % PAGES.len()].clone();
            for m in &muts {
                apply(&mut page, m);
            }
            let out = cable::parse(&page, "fuzz", &SourceHints::default());
            if let Some(r) = &out.record {
                let n = r.text.chars().count();
                for run in &r.redaction.positions {
                    prop_assert!(run.offset + run.len <= n);
                }
            }
        }
    }
}

/// The bulk table reader (`cables.csv`) and the bare cable text reader, on the project's own
/// invented fixtures in `tests/data/` (never real data).
mod bulk_and_bare {
    use super::*;
    use cablekeep::Code;
    use cablekeep::cable::Format;
    use cablekeep::cable::bulk::{self, BulkRow};
    use std::io::{BufReader, BufWriter, Write};

    const CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cables-sample.csv");
    const BARE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bare-cable.txt");

    fn read_all(bytes: &[u8], hints: &SourceHints) -> Vec<BulkRow> {
        let mut rows = Vec::new();
        bulk::read_rows(bytes, "cables.csv", hints, |r| rows.push(r)).expect("read");
        rows
    }

    #[test]
    fn sample_table() {
        let bytes = std::fs::read(CSV).unwrap();
        let rows = read_all(&bytes, &SourceHints::default());
        assert_eq!(rows.len(), 5, "{rows:#?}");
        // Every byte of the file is in exactly one row, in order.
        let joined: Vec<u8> = rows.iter().flat_map(|r| r.raw.iter().copied()).collect();
        assert_eq!(joined, bytes);
        assert_eq!(
            rows.iter().map(|r| r.number).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        // Byte ranges: contiguous, covering the file.
        let mut at = 0u64;
        for r in &rows {
            assert_eq!(r.offset, at);
            assert_eq!(r.len, r.raw.len() as u64);
            at += r.len;
        }
        assert_eq!(at, bytes.len() as u64);

        let r = rows[0].outcome.record.as_ref().expect("row 1");
        assert!(
            rows[0].outcome.findings.is_empty(),
            "{:?}",
            rows[0].outcome.findings
        );
        assert_eq!(r.id, "10ATLANTIS7");
        // The header's DTG wins over the table's time.
        assert_eq!(r.created.as_deref(), Some("2010-01-13T14:29:00Z"));
        assert_eq!(r.created_original.as_deref(), Some("1/13/2010 14:31"));
        assert_eq!(r.classification.as_deref(), Some("CONFIDENTIAL"));
        assert_eq!(r.origin.as_deref(), Some("Embassy Atlantis"));
        assert_eq!(
            r.subject.as_deref(),
            Some("AN INVENTED CABLE ABOUT \"QUOTES\"")
        );
        assert!(r.text.contains("said \"no comment\" twice"));
        assert_eq!(r.references, vec!["10ATLANTIS5", "09STATE12345"]);
        assert_eq!(r.tags, vec!["PREL", "PGOV", "AQ"]);
        assert_eq!(r.transmission_id.as_deref(), Some("VZCZCXYZ0001"));
        assert_eq!(r.recipients[0].name, "SECSTATE WASHDC");
        assert_eq!(r.info_recipients[0].name, "OCEANIA COLLECTIVE");
        assert_eq!(r.classified_by, vec!["Jane Q. Public"]);
        assert_eq!(r.reasons, vec!["1.4 (b)", "1.4 (d)"]);
        assert_eq!(r.declassify.as_deref(), Some("2020-01-13"));
        assert_eq!(
            r.summary.as_deref(),
            Some("Nothing of note happened in Atlantis.")
        );
        assert_eq!(r.paragraphs.len(), 2);
        assert_eq!(r.paragraphs[1].marking.as_deref(), Some("U"));
        assert_eq!(r.signers, vec!["PUBLIC"]);
        assert_eq!(r.source.publisher.as_deref(), Some("WikiLeaks"));
        assert_eq!(r.source.released.as_deref(), Some("2011-09-01"));
        assert_eq!(
            r.source.site_build.as_deref(),
            Some("cablegate-201108300212")
        );
        assert_eq!(r.source.format.map(|f| f.as_str()), Some("cables-csv"));

        let r2 = rows[1].outcome.record.as_ref().expect("row 2");
        assert!(r2.text.contains("BACKSLASH \\ IN IT"));
        assert!(r2.text.contains("Text line one.\nText line two."));

        // Row 3 has four fields: a finding naming the file and the row, no record.
        assert!(rows[2].outcome.record.is_none());
        let f = &rows[2].outcome.findings[0];
        assert_eq!(f.code, Code::MalformedRow);
        assert_eq!(f.file, "cables.csv");
        assert_eq!(f.entry.as_deref(), Some("row 3"));
        assert!(f.is_error());

        // Row 4 never closes its body quote: it ends where row 5 starts.
        assert!(rows[3].outcome.record.is_none());
        assert_eq!(rows[3].outcome.findings[0].entry.as_deref(), Some("row 4"));
        let r5 = rows[4]
            .outcome
            .record
            .as_ref()
            .expect("row 5 after the broken one");
        assert_eq!(r5.id, "10ATLANTIS10");
        // No header: the table's own time.
        assert_eq!(r5.created.as_deref(), Some("2010-02-01T10:05:00Z"));

        // Hints override the provenance.
        let hints = SourceHints {
            publisher: Some("a mirror".into()),
            ..SourceHints::default()
        };
        let rows = read_all(&bytes, &hints);
        assert_eq!(
            rows[0]
                .outcome
                .record
                .as_ref()
                .unwrap()
                .source
                .publisher
                .as_deref(),
            Some("a mirror")
        );

        // One row read on its own through parse_as.
        let one = cable::parse_as(
            &rows[0].raw,
            "row",
            &SourceHints::default(),
            Some(Format::CablesCsv),
        );
        assert_eq!(one.record.unwrap().id, "10ATLANTIS7");
    }

    /// 200,000 synthetic rows in a temporary file stream through the reader one at a time: the
    /// callback gets each row as it is read, and no row is longer than the rows written, so the
    /// reader never held more than one row.
    #[test]
    fn large_table_streams_row_by_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cables.csv");
        let n = 200_000u64;
        let mut longest_written = 0usize;
        {
            let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
            for i in 1..=n {
                let row = format!(
                    "\"{i}\",\"1/2/2009 3:04\",\"09SYNTH{i}\",\"Embassy Synth\",\"UNCLASSIFIED\",\"\",\"\",\"UNCLAS SYNTH {i:06}\nSUBJECT: ROW {i} WITH \\\"QUOTES\\\"\n\n1. Line.\nLine two.\n\nNAME\n\"\n"
                );
                longest_written = longest_written.max(row.len());
                w.write_all(row.as_bytes()).unwrap();
            }
        }
        let file_len = std::fs::metadata(&path).unwrap().len();
        let reader = BufReader::with_capacity(64 * 1024, std::fs::File::open(&path).unwrap());
        let mut count = 0u64;
        let mut longest = 0usize;
        let mut with_record = 0u64;
        let summary = bulk::read_rows(reader, "cables.csv", &SourceHints::default(), |row| {
            count += 1;
            assert_eq!(row.number, count);
            longest = longest.max(row.raw.len());
            if let Some(r) = &row.outcome.record {
                with_record += 1;
                if count.is_multiple_of(50_000) {
                    assert_eq!(r.id, format!("09SYNTH{count}"));
                }
            }
        })
        .unwrap();
        assert_eq!(count, n);
        assert_eq!(with_record, n);
        assert_eq!(summary.rows, n);
        assert_eq!(summary.bytes, file_len);
        assert!(longest <= longest_written, "{longest} > {longest_written}");
        assert_eq!(summary.longest_row, longest);
        eprintln!("streamed {n} rows, {file_len} bytes; longest row held: {longest} bytes");
    }

    #[test]
    fn bare_cable_text() {
        let bytes = std::fs::read(BARE).unwrap();
        assert_eq!(cable::detect(&bytes), Some(Format::BareText));
        let hints = SourceHints {
            publisher: Some("an archive".into()),
            released: Some("2011-09-01".into()),
            ..SourceHints::default()
        };
        let out = cable::parse(&bytes, "bare-cable.txt", &hints);
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        let r = out.record.expect("record");
        assert_eq!(r.id, "10ATLANTIS25");
        assert_eq!(r.created.as_deref(), Some("2010-01-13T14:29:00Z"));
        assert_eq!(r.classification.as_deref(), Some("SECRET"));
        assert_eq!(r.origin.as_deref(), Some("Embassy Atlantis"));
        assert_eq!(r.caveats, vec!["NOFORN", "SIPDIS"]);
        assert_eq!(r.tags, vec!["PREL", "MARR", "AQ"]);
        assert_eq!(r.subject.as_deref(), Some("AN INVENTED BARE CABLE"));
        assert_eq!(r.references, vec!["10ATLANTIS7"]);
        assert_eq!(r.classified_by, vec!["John Doe"]);
        assert_eq!(r.recipients[0].precedence.as_deref(), Some("IMMEDIATE"));
        assert_eq!(r.info_recipients[0].name, "OCEANIA COLLECTIVE");
        assert_eq!(r.redaction.status.as_str(), "redacted");
        assert_eq!(r.redaction.runs, 1);
        assert_eq!(r.source.format.map(|f| f.as_str()), Some("bare-text"));
        assert_eq!(r.source.publisher.as_deref(), Some("an archive"));
        assert_eq!(r.source.released.as_deref(), Some("2011-09-01"));
        assert_eq!(r.signers, vec!["DOE"]);
        let same = cable::parse_as(&bytes, "x", &hints, Some(Format::BareText));
        assert_eq!(same.record.unwrap(), r);

        // Without a date-time group or a DECL date there is no year, so no id: P002.
        let no_year = "UNCLAS ATLANTIS 000001\n\nSUBJECT: NO DATE\nTAGS: PREL\n\nText.\n";
        let out = cable::parse(no_year.as_bytes(), "x", &SourceHints::default());
        assert!(out.record.is_none());
        assert_eq!(out.findings[0].code, Code::MissingField);
        // A DECL date gives a guessed year, with a warning.
        let decl = "UNCLAS ATLANTIS 000001\n\nE.O. 12958: DECL: 01/13/2020\nSUBJECT: NO DTG\nTAGS: PREL\n\nText.\n";
        let out = cable::parse(decl.as_bytes(), "x", &SourceHints::default());
        assert_eq!(out.record.unwrap().id, "10ATLANTIS1");
        assert!(out.findings.iter().any(|f| f.code == Code::MalformedField));
    }

    #[test]
    fn format_names() {
        for f in [
            Format::WikileaksPage,
            Format::MirrorText,
            Format::BareText,
            Format::CablesCsv,
        ] {
            assert_eq!(Format::from_name(f.as_str()), Some(f));
        }
        assert_eq!(Format::from_name(" Bare-Text "), Some(Format::BareText));
        assert_eq!(Format::from_name("html"), None);
        // Forcing a format on other bytes gives findings, not a panic.
        let out = cable::parse_as(
            b"hello",
            "x",
            &SourceHints::default(),
            Some(Format::WikileaksPage),
        );
        assert!(out.record.is_none());
        let out = cable::parse_as(
            b"hello",
            "x",
            &SourceHints::default(),
            Some(Format::CablesCsv),
        );
        assert!(out.findings.iter().any(|f| f.is_error()));
    }
}

/// A record written before the new optional fields existed still reads, and a record without
/// them serializes exactly as before (the new fields are skipped when empty).
#[test]
fn records_without_new_fields_still_read() {
    let old = r#"{
  "schema": "cablekeep-record/1",
  "id": "05ALMATY4285",
  "created": "2005-12-02T10:59:00Z",
  "released": "2011-10-04",
  "classification": "UNCLASSIFIED",
  "caveats": [],
  "origin": "US Office Almaty",
  "tags": ["PGOV"],
  "subject": "X",
  "references": [],
  "signers": [],
  "redaction": {"status": "not-redacted", "runs": 0, "positions": [], "partial_extract": false},
  "source": {"publisher": "cablebrowser-2", "url": null, "released": "2011-10-04"},
  "text": "T"
}"#;
    let r: CableRecord = serde_json::from_str(old).expect("old record reads");
    assert!(r.recipients.is_empty() && r.classified_by.is_empty() && r.summary.is_none());
    let back = serde_json::to_value(&r).unwrap();
    for k in [
        "references_text",
        "transmission_id",
        "recipients",
        "info_recipients",
        "classified_by",
        "classified_by_text",
        "reasons",
        "declassify",
        "declassify_original",
        "paragraphs",
        "summary",
    ] {
        assert!(back.get(k).is_none(), "{k} written for an old record");
    }
}
