//! Input zips: each member of a zip of pages is an input of its own, read when it is needed.
//!
//! The zip's directory is read with cablekeep's own zip reader ([`crate::bag::zip_read`]), which
//! lists every central-directory record: members that share a name are all read (a reader that
//! keys members by name keeps only one of them). Each member is read through once when the zip
//! is listed, to learn that its data is intact and how large it is, and again when its page is
//! processed; nothing but the current member is ever held, so memory does not grow with the
//! zip. Limits on the members' count and total size bound the time a zip bomb can take.

use super::{InputItem, InputSource, Inputs, Options};
use crate::bag::zip_read::{self as zipread, Entry};
use crate::error::{Error, IoContext, Result};
use crate::finding::{Code, Finding};
use std::cell::Cell;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Input zips with more members than this are read up to it (finding `I006`).
pub const DEFAULT_MAX_ZIP_MEMBERS: u64 = 500_000;
/// Input zips whose members hold more bytes than this in all are read up to it (finding `I006`).
pub const DEFAULT_MAX_ZIP_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// General purpose flag bit 0: the member is encrypted.
const FLAG_ENCRYPTED: u16 = 1;

/// Where a member's bytes lie in its zip and what they must be, to read it again without the
/// zip's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAt {
    /// Where its local header starts: what tells two members of the same name apart.
    pub local_header_offset: u64,
    data_offset: u64,
    compressed_size: u64,
    size: u64,
    crc32: u32,
    method: u16,
    flags: u16,
}

impl MemberAt {
    fn of(entry: &Entry, data_offset: u64) -> MemberAt {
        MemberAt {
            local_header_offset: entry.local_header_offset,
            data_offset,
            compressed_size: entry.compressed_size,
            size: entry.uncompressed_size,
            crc32: entry.crc32,
            method: entry.method,
            flags: entry.flags,
        }
    }

    fn entry(&self, name: &str) -> Entry {
        Entry {
            name: name.to_string(),
            method: self.method,
            flags: self.flags,
            crc32: self.crc32,
            compressed_size: self.compressed_size,
            uncompressed_size: self.size,
            local_header_offset: self.local_header_offset,
            data_offset: Some(self.data_offset),
        }
    }
}

/// Reads a member listed by [`add_zip`]: its bytes, checked against its size and CRC-32 as
/// they are read (never more than its size). A member that no longer reads as it did when it
/// was listed (the zip was changed) is an error.
pub(super) fn read_member(zip: &Path, item_name: &str, at: &MemberAt) -> Result<Vec<u8>> {
    crate::fsutil::require_regular_file(zip)?;
    let file = File::open(zip).at(zip)?;
    let label = zip.display().to_string();
    let entry = at.entry(item_name);
    let mut bytes = Vec::with_capacity(usize::try_from(at.size).unwrap_or(0));
    let findings = zipread::stream_entry(&file, &entry, &label, |piece| {
        bytes.extend_from_slice(piece)
    })
    .at(zip)?;
    if let Some(problem) = findings.first() {
        return Err(Error::Invalid(format!(
            "{label}: member {item_name}: {} (the zip changed after it was listed)",
            problem.message
        )));
    }
    Ok(bytes)
}

/// Why a member of an input zip is not read: each is one finding at the member, and the zip's
/// other members are read (all but [`MemberProblem::OverZipBytes`], which ends the listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemberProblem {
    /// A name that could write outside a folder or mislead a reader (what the zip reader says).
    UnsafeName(String),
    /// The member is encrypted: its bytes cannot be read.
    Encrypted,
    /// The member is larger than the limit on one input (`--max-input-bytes`).
    TooLarge { size: u64, limit: u64 },
    /// The members before this one hold `before` bytes, and this one would take them past the
    /// limit on a zip (`--max-zip-bytes`): it and the `after` members after it (`bytes` in all)
    /// are not read.
    OverZipBytes {
        after: usize,
        bytes: u64,
        before: u64,
        limit: u64,
    },
    /// The member's data does not read as its zip's directory says (the reader's reasons).
    Damaged(String),
}

impl MemberProblem {
    /// The finding code of each problem: the one place that decides it.
    pub(crate) fn code(&self) -> Code {
        match self {
            MemberProblem::UnsafeName(_) => Code::UnsafeInputName,
            MemberProblem::Encrypted | MemberProblem::Damaged(_) => Code::UnreadableInput,
            MemberProblem::TooLarge { .. } => Code::InputTooLarge,
            MemberProblem::OverZipBytes { .. } => Code::InputZipOverLimit,
        }
    }

    /// True when no member after this one is read.
    fn ends_the_listing(&self) -> bool {
        matches!(self, MemberProblem::OverZipBytes { .. })
    }

    /// The finding for member `member` of the input zip called `zip` in findings.
    fn finding(&self, zip: &str, member: &str) -> Finding {
        Finding::new(self.code(), zip, self.to_string()).at_entry(member)
    }
}

impl std::fmt::Display for MemberProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemberProblem::UnsafeName(problem) => write!(f, "unsafe name: {problem}"),
            MemberProblem::Encrypted => f.write_str("the member is encrypted"),
            MemberProblem::TooLarge { size, limit } => write!(
                f,
                "{size} bytes is over the limit of {limit} (see --max-input-bytes)"
            ),
            MemberProblem::OverZipBytes {
                after,
                bytes,
                before,
                limit,
            } => write!(
                f,
                "this member and the {after} after it ({bytes} bytes) were not read: the members \
                 before it hold {before} bytes, the limit is {limit} (see --max-zip-bytes)"
            ),
            MemberProblem::Damaged(why) => f.write_str(why),
        }
    }
}

/// What a member's directory record says before its data is read.
enum Screened {
    /// Not a page and no finding of its own: a folder, or a member whose local header cannot be
    /// read (the zip reader has reported it already).
    Pass,
    /// Not read, for this reason.
    Refused(MemberProblem),
    /// To be read; its data starts at this offset.
    Take(u64),
}

/// Lists the members of the zip at `path` (called `name` in findings) as inputs: every member
/// whose name is safe, whose data is intact and within the limits. Everything skipped is a
/// finding; a file that is not a zip at all is one finding.
pub(super) fn add_zip(
    path: &Path,
    name: &str,
    options: &Options,
    inputs: &mut Inputs,
) -> Result<()> {
    let Some(index) = list_zip(path, name, options, inputs)? else {
        return Ok(());
    };
    let file = File::open(path).at(path)?;
    let zip: Arc<Path> = Arc::from(path);
    let mut total = 0u64;
    for (i, entry) in index.entries.iter().enumerate() {
        let data_offset = match screen(&index.entries[i..], total, options) {
            Screened::Pass => continue,
            Screened::Refused(problem) => {
                inputs.findings.push(problem.finding(name, &entry.name));
                if problem.ends_the_listing() {
                    break;
                }
                continue;
            }
            Screened::Take(data_offset) => data_offset,
        };
        if let Some(problem) = damage(&file, entry, path)? {
            inputs.findings.push(problem.finding(name, &entry.name));
            continue;
        }
        total = total.saturating_add(entry.uncompressed_size);
        inputs.items.push(
            InputItem {
                name: format!("{name}/{}", entry.name),
                source: InputSource::ZipMember {
                    zip: zip.clone(),
                    at: MemberAt::of(entry, data_offset),
                },
                format: None,
            }
            .into(),
        );
    }
    Ok(())
}

/// Reads the zip's directory, at most `max_zip_members` records of it, and reports what it
/// found: a zip that cannot be read at all (none is returned), damage and ambiguities in its
/// structure, and the records past the limit.
fn list_zip(
    path: &Path,
    name: &str,
    options: &Options,
    inputs: &mut Inputs,
) -> Result<Option<zipread::ZipIndex>> {
    let records = Cell::new(0u64);
    let keep = |_: &str| {
        records.set(records.get() + 1);
        records.get() <= options.max_zip_members
    };
    let index = zipread::open_selected_checking_layout(path, &keep)?;
    if !index.readable {
        let why: Vec<&str> = index.findings.iter().map(|f| f.message.as_str()).collect();
        inputs.findings.push(Finding::new(
            Code::UnreadableInput,
            name,
            format!("not a readable zip: {}", why.join("; ")),
        ));
        return Ok(None);
    }
    inputs.findings.extend(
        index
            .findings
            .iter()
            .filter_map(|f| structure_finding(f, name)),
    );
    if records.get() > options.max_zip_members {
        inputs.findings.push(Finding::new(
            Code::InputZipOverLimit,
            name,
            format!(
                "{} members past the first {} were not read (see --max-zip-members)",
                records.get() - options.max_zip_members,
                options.max_zip_members
            ),
        ));
    }
    Ok(Some(index))
}

/// Screens the first of `members` (it and the members after it, in directory order) by its
/// directory record: its name, whether it is encrypted, its size, and whether it fits within
/// the limit on the zip beside the `total` bytes of the members taken before it.
fn screen(members: &[Entry], total: u64, options: &Options) -> Screened {
    let Some(entry) = members.first() else {
        return Screened::Pass;
    };
    if entry.name.ends_with('/') {
        return Screened::Pass;
    }
    if let Some(problem) = zipread::unsafe_name_problem(&entry.name) {
        return Screened::Refused(MemberProblem::UnsafeName(problem));
    }
    let Some(data_offset) = entry.data_offset else {
        return Screened::Pass;
    };
    if entry.flags & FLAG_ENCRYPTED != 0 {
        return Screened::Refused(MemberProblem::Encrypted);
    }
    let size = entry.uncompressed_size;
    if size > options.max_bytes {
        return Screened::Refused(MemberProblem::TooLarge {
            size,
            limit: options.max_bytes,
        });
    }
    if total.saturating_add(size) > options.max_zip_bytes {
        return Screened::Refused(MemberProblem::OverZipBytes {
            after: members.len() - 1,
            // Sizes a zip claims (zip64: up to 2^64 each) are added without overflowing.
            bytes: members
                .iter()
                .fold(0u64, |sum, e| sum.saturating_add(e.uncompressed_size)),
            before: total,
            limit: options.max_zip_bytes,
        });
    }
    Screened::Take(data_offset)
}

/// Reads a member through once, so that a damaged member is a finding now rather than an error
/// when its page is processed; the size read is never more than the directory's. An I/O error
/// reading the zip is an error.
fn damage(file: &File, entry: &Entry, path: &Path) -> Result<Option<MemberProblem>> {
    let label = path.display().to_string();
    let found = zipread::stream_entry(file, entry, &label, |_| {}).at(path)?;
    if found.is_empty() {
        return Ok(None);
    }
    let why: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
    Ok(Some(MemberProblem::Damaged(why.join("; "))))
}

/// What the zip reader found about the zip's structure, as an input finding: damage that
/// made members unreadable is `I004`, an ambiguity it read through (a local header that
/// disagrees with the directory, bytes outside any member) `I007`. Duplicate and unsafe names
/// are not reported here: every member of a duplicate name is read, unsafe names are `I001`.
fn structure_finding(found: &Finding, name: &str) -> Option<Finding> {
    let code = match found.code {
        Code::DuplicateEntryName | Code::UnsafeEntryName => return None,
        Code::HeaderMismatch | Code::StrayBytes => Code::InputZipAmbiguous,
        _ => Code::UnreadableInput,
    };
    let finding = Finding::new(code, name, found.message.clone());
    Some(match &found.entry {
        Some(entry) => finding.at_entry(entry),
        None => finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_member_problem_has_its_code_and_message() {
        let over = MemberProblem::OverZipBytes {
            after: 2,
            bytes: 30,
            before: 5,
            limit: 20,
        };
        let cases = [
            (
                MemberProblem::UnsafeName("absolute path".to_string()),
                "I001",
                "unsafe name: absolute path",
            ),
            (MemberProblem::Encrypted, "I004", "the member is encrypted"),
            (
                MemberProblem::TooLarge { size: 9, limit: 8 },
                "I002",
                "9 bytes is over the limit of 8 (see --max-input-bytes)",
            ),
            (
                over.clone(),
                "I006",
                "this member and the 2 after it (30 bytes) were not read: the members before it \
                 hold 5 bytes, the limit is 20 (see --max-zip-bytes)",
            ),
            (
                MemberProblem::Damaged("CRC-32 mismatch".to_string()),
                "I004",
                "CRC-32 mismatch",
            ),
        ];
        for (problem, code, message) in cases {
            let finding = problem.finding("in.zip", "a.html");
            assert_eq!(finding.code.as_str(), code, "{problem:?}");
            assert_eq!(finding.message, message);
            assert_eq!(finding.entry.as_deref(), Some("a.html"));
            assert_eq!(problem.ends_the_listing(), problem == over);
        }
    }
}
