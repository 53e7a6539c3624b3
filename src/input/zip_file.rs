//! Input zips: each member of a zip of pages is an input of its own, read when it is needed.
//!
//! The zip's directory is read with cablekeep's own zip reader ([`crate::bag::read`]), which
//! lists every central-directory record: members that share a name are all read (a reader that
//! keys members by name keeps only one of them). Each member is read through once when the zip
//! is listed, to learn that its data is intact and how large it is, and again when its page is
//! processed; nothing but the current member is ever held, so memory does not grow with the
//! zip. Limits on the members' count and total size bound the time a zip bomb can take.

use super::{InputItem, InputSource, Inputs, Options};
use crate::bag::read::{self as zipread, Entry};
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

/// Lists the members of the zip at `path` (called `name` in findings) as inputs: every member
/// whose name is safe, whose data is intact and within the limits. Everything skipped is a
/// finding; a file that is not a zip at all is one finding.
pub(super) fn add_zip(
    path: &Path,
    name: &str,
    options: &Options,
    inputs: &mut Inputs,
) -> Result<()> {
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
        return Ok(());
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
    let file = File::open(path).at(path)?;
    let zip: Arc<Path> = Arc::from(path);
    let label = path.display().to_string();
    let mut total = 0u64;
    for (i, entry) in index.entries.iter().enumerate() {
        if entry.name.ends_with('/') {
            continue;
        }
        let skip = |code: Code, why: String| Finding::new(code, name, why).at_entry(&entry.name);
        if let Some(problem) = zipread::unsafe_name_problem(&entry.name) {
            inputs.findings.push(skip(
                Code::UnsafeInputName,
                format!("unsafe name: {problem}"),
            ));
            continue;
        }
        // A member whose local header cannot be read has its finding from the reader already.
        let Some(data_offset) = entry.data_offset else {
            continue;
        };
        if entry.flags & FLAG_ENCRYPTED != 0 {
            inputs.findings.push(skip(
                Code::UnreadableInput,
                "the member is encrypted".to_string(),
            ));
            continue;
        }
        let size = entry.uncompressed_size;
        if size > options.max_bytes {
            inputs.findings.push(skip(
                Code::InputTooLarge,
                format!(
                    "{size} bytes is over the limit of {} (see --max-input-bytes)",
                    options.max_bytes
                ),
            ));
            continue;
        }
        if total.saturating_add(size) > options.max_zip_bytes {
            let rest = &index.entries[i..];
            // Sizes a zip claims (zip64: up to 2^64 each) are added without overflowing.
            let bytes = rest
                .iter()
                .fold(0u64, |sum, e| sum.saturating_add(e.uncompressed_size));
            inputs.findings.push(skip(
                Code::InputZipOverLimit,
                format!(
                    "this member and the {} after it ({bytes} bytes) were not read: the members \
                     before it hold {total} bytes, the limit is {} (see --max-zip-bytes)",
                    rest.len() - 1,
                    options.max_zip_bytes
                ),
            ));
            break;
        }
        // Read through once, so that a damaged member is a finding now rather than an error
        // when its page is processed. The size read is never more than the directory's.
        let damage = zipread::stream_entry(&file, entry, &label, |_| {}).at(path)?;
        if !damage.is_empty() {
            let why: Vec<&str> = damage.iter().map(|f| f.message.as_str()).collect();
            inputs
                .findings
                .push(skip(Code::UnreadableInput, why.join("; ")));
            continue;
        }
        total = total.saturating_add(size);
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
