//! The link event log, `manifests/<collection>/links.jsonl`: append-only JSON Lines, each line
//! naming the SHA-256 of the line before it (`prev`), so that a changed, removed or inserted line
//! breaks the chain.

use super::LinkResult;
use crate::error::{Error, IoContext, Result};
use crate::finding::{Code, Finding};
use crate::hash::sha256_hex;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

/// The file name of the log in the collection's manifest folder.
pub const LOG_FILE: &str = "links.jsonl";

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the log: the SHA-256 of the line before, then the result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub prev: String,
    #[serde(flatten)]
    pub result: LinkResult,
}

/// Where a collection's log lives.
pub fn log_path(store: &Store, collection: &str) -> PathBuf {
    store.manifest_dir(collection).join(LOG_FILE)
}

/// The SHA-256 of the log's last line (without its newline), or [`GENESIS`] for an empty log.
fn last_line_hash(bytes: &[u8]) -> String {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if trimmed.is_empty() {
        return GENESIS.to_string();
    }
    let start = trimmed
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    sha256_hex(&trimmed[start..])
}

/// Appends results to the log, under the store lock (waiting for it), each as one whole line
/// written with one `write` on a file opened for appending, then fsynced.
pub fn append(store: &Store, collection: &str, results: &[LinkResult]) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let _lock = store.lock(true)?;
    let path = log_path(store, collection);
    let dir = store.manifest_dir(collection);
    std::fs::create_dir_all(&dir).at(&dir)?;
    let existed = path.exists();
    let existing = if existed {
        std::fs::read(&path).at(&path)?
    } else {
        Vec::new()
    };
    let mut prev = last_line_hash(&existing);
    let mut out = Vec::new();
    if !existing.is_empty() && !existing.ends_with(b"\n") {
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

/// Reads every event of a collection's log that parses (an absent log has none).
pub fn read(store: &Store, collection: &str) -> Result<Vec<Event>> {
    let path = log_path(store, collection);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

/// Checks the chain of a collection's log: every line parses and names the SHA-256 of the line
/// before it. Reports every broken link (finding `L001`) and every unreadable line (`L002`).
pub fn verify_chain(store: &Store, collection: &str) -> Vec<Finding> {
    let path = log_path(store, collection);
    let label = path.display().to_string();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            return vec![Finding::new(
                Code::LinkLogMalformed,
                label,
                format!("cannot be read: {e}"),
            )];
        }
    };
    let mut findings = Vec::new();
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        findings.push(Finding::new(
            Code::LinkLogMalformed,
            &label,
            "the last line is cut short (no newline)",
        ));
    }
    let mut expected = GENESIS.to_string();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry = format!("line {}", i + 1);
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(value) => match value.get("prev").and_then(|p| p.as_str()) {
                Some(prev) if prev == expected => {}
                Some(prev) => findings.push(
                    Finding::new(
                        Code::LinkLogChainBroken,
                        &label,
                        format!(
                            "prev is {prev}, but the line before hashes to {expected}: a line was changed, removed or inserted"
                        ),
                    )
                    .at_entry(&entry),
                ),
                None => findings.push(
                    Finding::new(Code::LinkLogMalformed, &label, "the line has no prev")
                        .at_entry(&entry),
                ),
            },
            Err(e) => findings.push(
                Finding::new(Code::LinkLogMalformed, &label, format!("not JSON: {e}"))
                    .at_entry(&entry),
            ),
        }
        expected = sha256_hex(line);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_hash_of_empty_is_genesis() {
        assert_eq!(last_line_hash(b""), GENESIS);
        assert_eq!(last_line_hash(b"a\nb\n"), sha256_hex(b"b"));
        assert_eq!(last_line_hash(b"a\n"), sha256_hex(b"a"));
    }
}
