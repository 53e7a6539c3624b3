//! The format's rules that both ways of checking a bag apply (section 2 of `docs/FORMAT.md`):
//! which tag files a bag has, what a payload manifest line, an index line and an unparsed
//! inputs' line must be, Payload-Oxum, and the findings each rule gives.

use crate::bag::capture::{UnparsedLine, borrowed};
use crate::bag::{self, manifest};
use crate::finding::{CappedFindings, Code, Finding};
use crate::hash::{self, Sha256Bytes};

/// The bag-info.txt label `cablekeep export` gives its bags: the identifier of the version a
/// selection was exported from.
const EXPORT_OF: &str = "Cablekeep-Export-Of";

/// What a bag is, which decides the tag files it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum BagKind {
    /// A version in a store.
    #[default]
    Version,
    /// The bag of a `cablekeep export` of a selection: it holds the cable index of what it
    /// exports but no list of unparsed inputs.
    Export,
}

/// What kind of bag its bag-info says it is.
pub(super) fn bag_kind(bag_info: &[(String, String)]) -> BagKind {
    match manifest::bag_info_value(bag_info, EXPORT_OF) {
        Some(_) => BagKind::Export,
        None => BagKind::Version,
    }
}

/// The payload manifests, read as streams of lines.
pub(super) const PAYLOAD_MANIFESTS: [&str; 2] = ["manifest-sha256.txt", "manifest-sha512.txt"];

/// `bagit.txt`, `bag-info.txt` and the tag manifests are read whole: a few KB in any real bag.
pub(super) const MAX_SMALL_TAG_FILE: u64 = 16 << 20;

/// The tag files read on threads of their own, in the order their findings are reported.
pub(super) const READ_APART: [&str; 4] = [
    bag::INDEX_FILE,
    "manifest-sha256.txt",
    "manifest-sha512.txt",
    bag::UNPARSED_FILE,
];

/// What is wrong with Payload-Oxum (`<bytes>.<files>`) for a payload of `bytes` in `files`.
pub(super) fn oxum_problem(oxum: Option<&str>, bytes: u64, files: u64) -> Option<Problem> {
    let actual = format!("{bytes}.{files}");
    match oxum {
        None => Some(Problem(format!(
            "no Payload-Oxum (the payload is {actual})"
        ))),
        Some(o) if o != actual => Some(Problem(format!(
            "Payload-Oxum says {o}, the payload is {actual}"
        ))),
        Some(_) => None,
    }
}

/// The payload size Payload-Oxum gives, for the progress display (0 when it cannot be read).
pub(super) fn oxum_bytes(oxum: Option<&str>) -> u64 {
    oxum.and_then(|o| o.split_once('.'))
        .and_then(|(bytes, _)| bytes.parse().ok())
        .unwrap_or(0)
}

/// What is wrong with a line of a tag file: the message of its finding.
#[derive(Debug)]
pub(super) struct Problem(pub(super) String);

/// Hands a payload manifest line's path and digest (in bytes) to `each`; nothing for an empty
/// line; the problem for a malformed one.
pub(super) fn with_manifest_line<const N: usize>(
    raw: &[u8],
    number: usize,
    each: impl FnOnce(&str, [u8; N]),
) -> Result<(), Problem> {
    let text = bag::lossy_text(raw);
    let (digest, path) = match manifest::split_manifest_line(&text) {
        Ok(None) => return Ok(()),
        Ok(Some(line)) => line,
        Err(why) => return Err(Problem(format!("line {number}: {why}"))),
    };
    let Some(bytes) = hash::hex_to_bytes::<N>(digest) else {
        let why = manifest::not_a_digest(digest, 2 * N);
        return Err(Problem(format!("line {number}: {why}")));
    };
    if !path.starts_with("data/") {
        return Err(Problem(format!("lists {path:?}, which is outside data/")));
    }
    each(&path, bytes);
    Ok(())
}

/// Reads one line of `cablekeep/unparsed.jsonl` (numbered from 1): None for a blank line, and for
/// one that does not parse, which is reported in `findings` against `label`.
pub(super) fn take_unparsed_line(
    raw: &[u8],
    number: usize,
    label: &str,
    findings: &mut CappedFindings,
) -> Option<UnparsedLine> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match crate::jsonl::parse_json(raw) {
        Ok(line) => Some(line),
        Err(e) => {
            findings.push(unparsed_mismatch(
                label,
                Problem(format!("line {number}: {e}")),
            ));
            None
        }
    }
}

/// The raw capture's SHA-256 as the index gives it, in bytes.
pub(super) fn capture_sha256(id: &str, c: &borrowed::CaptureRef) -> Result<Sha256Bytes, Problem> {
    hash::hex_to_bytes(&c.sha256).ok_or_else(|| {
        Problem(format!(
            "cable {id}: {:?} is not a SHA-256 in hex (for {})",
            &*c.sha256, &*c.raw
        ))
    })
}

/// What every reader of the index checks of each line by itself: that it is JSON, and in id
/// order; and what it counts.
#[derive(Default)]
pub(super) struct IndexLines {
    previous_id: Option<String>,
    pub(super) cables: u64,
    pub(super) captures: u64,
}

impl IndexLines {
    /// The line read; what is wrong with it by itself goes to `problems`.
    pub(super) fn read<'a>(
        &mut self,
        raw: &'a [u8],
        number: usize,
        problems: &mut Vec<String>,
    ) -> Option<borrowed::IndexLine<'a>> {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let line: borrowed::IndexLine = match crate::jsonl::parse_json(raw) {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("line {number}: {e}"));
                return None;
            }
        };
        let id: &str = &line.id;
        // The format keeps the index sorted by id (readers such as `diff` merge two indexes).
        if let Some(previous) = &self.previous_id
            && id <= previous.as_str()
        {
            let why = if id == previous {
                "repeats"
            } else {
                "comes after"
            };
            problems.push(format!(
                "line {number}: cable {id} {why} cable {previous}: the index must be sorted by id"
            ));
        }
        let previous = self.previous_id.get_or_insert_default();
        previous.clear();
        previous.push_str(id);
        self.cables += 1;
        self.captures += line.captures.len() as u64;
        Some(line)
    }
}

pub(super) fn unlisted(label: &str, alg: &str, path: &str) -> Finding {
    Finding::new(
        Code::PayloadUnlisted,
        label,
        format!("not listed in manifest-{alg}.txt"),
    )
    .at_entry(path.to_string())
}

pub(super) fn payload_missing(label: &str, alg: &str, path: &str) -> Finding {
    Finding::new(
        Code::PayloadMissing,
        label,
        format!("listed in manifest-{alg}.txt but not in the archive"),
    )
    .at_entry(path.to_string())
}

pub(super) fn index_digest_mismatch(label: &str, path: &str) -> Finding {
    let cable = path
        .strip_prefix("data/cables/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("?");
    index_mismatch(
        label,
        format!("cable {cable}: the index and the manifest give {path} different digests"),
    )
}

pub(super) fn stray(label: &str, path: &str) -> Finding {
    index_mismatch(
        label,
        format!("payload file {path} belongs to no cable in the index"),
    )
}

/// An `I` finding about the cable index.
pub(super) fn index_mismatch(label: &str, message: String) -> Finding {
    Finding::new(Code::IndexMismatch, label, message).at_entry(bag::INDEX_FILE)
}

pub(super) fn not_in_archive(id: &str, path: &str) -> String {
    format!("cable {id} names {path}, which is not in the archive")
}

/// An `I` finding about the unparsed inputs' list.
pub(super) fn unparsed_mismatch(label: &str, Problem(message): Problem) -> Finding {
    Finding::new(Code::IndexMismatch, label, message).at_entry(bag::UNPARSED_FILE)
}

pub(super) fn unparsed_not_in_archive(raw: &str) -> Problem {
    Problem(format!("names {raw}, which is not in the archive"))
}

/// A payload manifest that is not there.
pub(super) fn manifest_missing(label: &str, name: &str) -> Finding {
    manifest_malformed(label, name, Problem("missing or unreadable".to_string()))
}

/// A malformed line (or path) of a payload or tag manifest.
pub(super) fn manifest_malformed(label: &str, name: &str, Problem(message): Problem) -> Finding {
    Finding::new(Code::ManifestMalformed, label, message).at_entry(name.to_string())
}

/// A manifest line naming a path that is not safe (and that the archive does not hold: the
/// names it holds were checked with its entries).
pub(super) fn unsafe_manifest_path(path: &str) -> Option<Problem> {
    let problem = bag::zip_read::unsafe_name_problem(path)?;
    Some(Problem(format!("unsafe path {path:?}: {problem}")))
}

/// A manifest listing a path twice.
pub(super) fn listed_twice(label: &str, name: &str, path: &str) -> Finding {
    Finding::new(
        Code::DuplicateManifestEntry,
        label,
        format!("lists {path:?} more than once"),
    )
    .at_entry(name.to_string())
}

/// The index and (but in an export) the unparsed inputs' list must be there.
pub(super) fn missing_index_files(
    label: &str,
    present: impl Fn(&str) -> bool,
    kind: BagKind,
) -> Vec<Finding> {
    [bag::INDEX_FILE, bag::UNPARSED_FILE]
        .into_iter()
        .filter(|name| !(present(name) || *name == bag::UNPARSED_FILE && kind == BagKind::Export))
        .map(|name| {
            Finding::new(Code::IndexMismatch, label, "missing or unreadable").at_entry(name)
        })
        .collect()
}

/// Whether an entry's findings say its data could not be read whole (so its digests mean
/// nothing).
pub(super) fn unreadable(findings: &[Finding]) -> bool {
    findings.iter().any(|f| {
        matches!(
            f.code,
            Code::DecompressFailed | Code::LocalHeaderCorrupt | Code::UnsupportedEntry
        )
    })
}
