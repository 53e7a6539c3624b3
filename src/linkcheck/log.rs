//! The link event log, `manifests/<collection>/links.jsonl`: append-only JSON Lines, each line
//! naming the SHA-256 of the line before it (`prev`), so that a changed, removed or inserted line
//! breaks the chain.

use super::LinkResult;
use crate::bag::SourceReader;
use crate::error::{Error, IoContext, Result};
use crate::finding::{Code, Finding};
use crate::hash::sha256_hex;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

/// The file name of the log in the collection's manifest folder.
pub(crate) const LOG_FILE: &str = "links.jsonl";

/// `prev` of the first line.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the log: the SHA-256 of the line before, then the result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// SHA-256 of the previous line's bytes without its newline, lower-case hex; 64 zeros on the
    /// first line (FORMAT.md section 6.1).
    pub prev: String,
    /// The check's result; its fields are written at the top level of the line, after `prev`.
    #[serde(flatten)]
    pub result: LinkResult,
}

/// Where a collection's log lives.
pub(crate) fn log_path(store: &Store, collection: &str) -> PathBuf {
    store.manifest_dir(collection).join(LOG_FILE)
}

/// The longest last line [`last_line`] reads; a longer one is an error (verify reports what is
/// wrong with the log).
const MAX_LAST_LINE: u64 = 16 * 1024 * 1024;

/// The last line of a file that is not empty, without its newline (empty when there is none),
/// and whether the file ends with a newline (or is empty); read from the end a block at a time.
fn last_line(file: &mut (impl std::io::Read + std::io::Seek)) -> std::io::Result<(Vec<u8>, bool)> {
    use std::io::SeekFrom;
    const BLOCK: u64 = 64 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = len;
    while start > 0 {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0u8; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        start = from;
        let ended = tail.last().is_none_or(|&b| b == b'\n');
        let body_len = tail.iter().rposition(|&b| b != b'\n').map_or(0, |i| i + 1);
        if let Some(i) = tail[..body_len].iter().rposition(|&b| b == b'\n') {
            return Ok((tail[i + 1..body_len].to_vec(), ended));
        }
        if tail.len() as u64 > MAX_LAST_LINE {
            return Err(std::io::Error::other(format!(
                "the last line is longer than {MAX_LAST_LINE} bytes"
            )));
        }
        if start == 0 {
            tail.truncate(body_len);
            return Ok((tail, ended));
        }
    }
    Ok((tail, true))
}

/// Appends results to the log, under the store lock (waiting for it), each as one whole line
/// written with one `write` on a file opened for appending, then fsynced.
pub(crate) fn append(store: &Store, collection: &str, results: &[LinkResult]) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let _lock = store.lock(crate::store::LockWait::Wait)?;
    let path = log_path(store, collection);
    let dir = store.manifest_dir(collection);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let existed = path.exists();
    // Only the last line is read: the whole log, read for every result appended, made a run's
    // time grow with the square of the log's length.
    let (last, ended) = if existed {
        // A FIFO in its place would block this writer, which holds the store lock, for ever.
        crate::fsutil::require_regular_file(&path)?;
        let mut file = std::fs::File::open(&path).at(&path)?;
        last_line(&mut file).at(&path)?
    } else {
        (Vec::new(), true)
    };
    let mut prev = match last.is_empty() {
        true => GENESIS.to_string(),
        false => sha256_hex(&last),
    };
    let mut out = Vec::new();
    if !ended {
        // A line cut short by a crash: end it so the new lines stay lines (verify reports it).
        out.push(b'\n');
    }
    for result in results {
        let event = Event {
            prev: prev.clone(),
            result: result.clone(),
        };
        let line = serde_json::to_vec(&event).map_err(|e| Error::Invalid(e.to_string()))?;
        prev = sha256_hex(&line);
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .at(&path)?;
    file.write_all(&out).at(&path)?;
    file.sync_all().at(&path)?;
    if !existed {
        crate::fsutil::fsync_parent(&path)?;
    }
    Ok(())
}

/// The events of a collection's log that parse, and how many lines did not.
#[derive(Debug, Default)]
pub struct Read {
    /// The lines that parse as events, in file order.
    pub events: Vec<Event>,
    /// Lines that are not events (`verify` reports each of them).
    pub unreadable: usize,
}

/// Reads every event of a collection's log that parses (an absent log has none), a line at a
/// time, and counts the lines that do not.
pub fn read(store: &Store, collection: &str) -> Result<Read> {
    let path = log_path(store, collection);
    let file: Box<dyn std::io::Read> = if store.is_remote() {
        if store.file_size(&path)?.is_none() {
            return Ok(Read::default());
        }
        Box::new(SourceReader::new(store.open_file(&path)?))
    } else {
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(Read::default());
        }
        crate::fsutil::require_regular_file(&path)?;
        Box::new(std::fs::File::open(&path).at(&path)?)
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut read = Read::default();
    let mut line = Vec::new();
    loop {
        match read_bounded_line(&mut reader, MAX_LINE_BYTES, &mut line).at(&path)? {
            LineRead::End => break,
            LineRead::TooLong(_) => read.unreadable += 1,
            LineRead::Whole | LineRead::Cut if line.is_empty() => {}
            LineRead::Whole | LineRead::Cut => match serde_json::from_slice(&line) {
                Ok(event) => read.events.push(event),
                Err(_) => read.unreadable += 1,
            },
        }
    }
    Ok(read)
}

/// Checks the chain of a collection's log: every line parses and names the SHA-256 of the line
/// before it. Reports every broken link (finding `L001`) and every unreadable line (`L002`).
pub(crate) fn verify_chain(store: &Store, collection: &str) -> Vec<Finding> {
    let path = log_path(store, collection);
    let label = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        vec![Finding::new(
            Code::LinkLogMalformed,
            &label,
            format!("cannot be read: {e}"),
        )]
    };
    let file: Box<dyn std::io::Read> = if store.is_remote() {
        match store.file_size(&path).and_then(|size| match size {
            None => Ok(None),
            Some(_) => store.open_file(&path).map(Some),
        }) {
            Ok(Some(source)) => Box::new(SourceReader::new(source)),
            Ok(None) => return Vec::new(),
            Err(e) => return unreadable(std::io::Error::other(e.to_string())),
        }
    } else {
        match std::fs::File::open(&path) {
            Ok(f) => Box::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => return unreadable(e),
        }
    };
    // Read a line at a time: the log only grows (a line per link per check, for years).
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut findings = Vec::new();
    // None after a line too long to read: the next line cannot be checked against it.
    let mut expected = Some(GENESIS.to_string());
    let mut line = Vec::new();
    for number in 1.. {
        let read = match read_bounded_line(&mut reader, MAX_LINE_BYTES, &mut line) {
            Ok(read) => read,
            Err(e) => {
                findings.extend(unreadable(e));
                break;
            }
        };
        let entry = format!("line {number}");
        match read {
            LineRead::End => break,
            LineRead::TooLong(len) => {
                findings.push(
                    Finding::new(
                        Code::LinkLogMalformed,
                        &label,
                        format!("{len} bytes long, more than a link check event ever is: not read"),
                    )
                    .at_entry(&entry),
                );
                expected = None;
                continue;
            }
            LineRead::Cut if !line.is_empty() => findings.push(Finding::new(
                Code::LinkLogMalformed,
                &label,
                "the last line is cut short (no newline)",
            )),
            LineRead::Cut | LineRead::Whole => {}
        }
        if line.is_empty() {
            continue;
        }
        if let Some(finding) = chain_finding(&line, expected.as_deref(), &label) {
            findings.push(finding.at_entry(&entry));
        }
        expected = Some(sha256_hex(&line));
    }
    findings
}

/// The longest line the chain check reads: an event is a few kilobytes (its hops, a short
/// sample of changed lines); a longer line was not written by cablekeep.
const MAX_LINE_BYTES: usize = 16 << 20;

/// What [`read_bounded_line`] found.
enum LineRead {
    /// A line ending in a newline (not included).
    Whole,
    /// The last line, without a newline (possibly empty: the end of the file).
    Cut,
    /// A line longer than the bound, skipped to its end; its length.
    TooLong(u64),
    /// Nothing more.
    End,
}

/// Reads the next line into `line` (without its newline), holding at most `max` bytes of it.
fn read_bounded_line(
    reader: &mut impl std::io::BufRead,
    max: usize,
    line: &mut Vec<u8>,
) -> std::io::Result<LineRead> {
    use std::io::{BufRead, Read};
    line.clear();
    let n = reader
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Ok(LineRead::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(LineRead::Whole);
    }
    if line.len() <= max {
        return Ok(LineRead::Cut);
    }
    // Too long: skip the rest of it without holding it.
    let mut len = line.len() as u64;
    line.clear();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(LineRead::TooLong(len));
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(LineRead::TooLong(len + i as u64));
            }
            None => {
                let all = buf.len();
                reader.consume(all);
                len += all as u64;
            }
        }
    }
}

/// The finding for a line that does not continue the chain from `expected`, if any.
fn chain_finding(line: &[u8], expected: Option<&str>, label: &str) -> Option<Finding> {
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(value) => match (value.get("prev").and_then(|p| p.as_str()), expected) {
            (Some(prev), Some(expected)) if prev == expected => None,
            (Some(_), None) => None,
            (Some(prev), Some(expected)) => Some(Finding::new(
                Code::LinkLogChainBroken,
                label,
                format!(
                    "prev is {prev}, but the line before hashes to {expected}: a line was changed, removed or inserted"
                ),
            )),
            (None, _) => Some(Finding::new(
                Code::LinkLogMalformed,
                label,
                "the line has no prev",
            )),
        },
        Err(e) => Some(Finding::new(
            Code::LinkLogMalformed,
            label,
            format!("not JSON: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(n: u32) -> LinkResult {
        LinkResult {
            cable: format!("09X{n}"),
            url: format!("https://example.org/{n}"),
            field: "url".into(),
            capture: "c1".into(),
            time: "2026-01-01T00:00:00Z".into(),
            state: super::super::State::Gone,
            target_state: None,
            http_status: Some(404),
            final_url: None,
            body_sha256: None,
            memento: None,
            hops: Vec::new(),
            drift: None,
            error: None,
        }
    }

    #[test]
    fn appended_lines_chain_on_the_last_line_even_one_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        for n in 0..3 {
            append(&store, "c", &[result(n)]).unwrap();
        }
        assert!(verify_chain(&store, "c").is_empty());
        assert_eq!(read(&store, "c").unwrap().events.len(), 3);
        let path = log_path(&store, "c");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"prev\":\"cut");
        std::fs::write(&path, &bytes).unwrap();
        append(&store, "c", &[result(3), result(4)]).unwrap();
        let findings = verify_chain(&store, "c");
        let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["L002"], "{findings:?}");
        let log = read(&store, "c").unwrap();
        assert_eq!((log.events.len(), log.unreadable), (5, 1));
    }

    #[test]
    fn a_line_too_long_is_reported_and_skipped_without_being_held() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        for n in 0..2 {
            append(&store, "c", &[result(n)]).unwrap();
        }
        let path = log_path(&store, "c");
        let mut bytes = std::fs::read(&path).unwrap();
        let first_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let huge = vec![b'x'; MAX_LINE_BYTES + 10];
        bytes.splice(first_end..first_end, [huge, b"\n".to_vec()].concat());
        std::fs::write(&path, &bytes).unwrap();
        let findings = verify_chain(&store, "c");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, Code::LinkLogMalformed);
        assert_eq!(findings[0].entry.as_deref(), Some("line 2"));
        assert!(findings[0].message.contains("more than a link check event"));

        let mut reader = std::io::Cursor::new(b"ab\ncdefgh\nij".to_vec());
        let mut line = Vec::new();
        let mut next = || match read_bounded_line(&mut reader, 4, &mut line).unwrap() {
            LineRead::Whole => format!("whole {}", String::from_utf8_lossy(&line)),
            LineRead::Cut => format!("cut {}", String::from_utf8_lossy(&line)),
            LineRead::TooLong(n) => format!("too long {n}"),
            LineRead::End => "end".to_string(),
        };
        let seen: Vec<String> = (0..4).map(|_| next()).collect();
        assert_eq!(seen, ["whole ab", "too long 6", "cut ij", "end"]);
    }

    #[test]
    fn the_last_line_is_read_from_the_end() {
        let read = |bytes: &[u8]| last_line(&mut std::io::Cursor::new(bytes.to_vec())).unwrap();
        assert_eq!(read(b""), (b"".to_vec(), true));
        assert_eq!(read(b"a\n"), (b"a".to_vec(), true));
        assert_eq!(read(b"a\nb\n"), (b"b".to_vec(), true));
        assert_eq!(read(b"a\nb"), (b"b".to_vec(), false));
        assert_eq!(read(b"a\nb\n\n\n"), (b"b".to_vec(), true));
        assert_eq!(read(b"\n\n"), (b"".to_vec(), true));
        let long = [vec![b'x'; 200_000], b"\n".to_vec(), vec![b'y'; 150_000]].concat();
        assert_eq!(read(&long), (vec![b'y'; 150_000], false));
        let lines = [
            vec![b'x'; 70_000],
            b"\n".to_vec(),
            vec![b'y'; 70_000],
            b"\n".to_vec(),
        ];
        assert_eq!(read(&lines.concat()), (vec![b'y'; 70_000], true));
        let huge = vec![b'z'; MAX_LAST_LINE as usize + 70_000];
        assert!(last_line(&mut std::io::Cursor::new(huge)).is_err());
    }
}
