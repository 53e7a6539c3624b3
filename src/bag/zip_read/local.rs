//! Local headers: each entry's own header, compared with its central directory record, which
//! also says where the entry's data starts.

use super::bytes::{le16, le32, read_at, read_exact_at};
use super::directory::{HeaderKind, apply_zip64_extra};
use super::names::decode_name;
use super::source::ReadAt;
use super::{Entry, FLAG_DATA_DESCRIPTOR, SIG_LOCAL, ZipIndex};
use crate::finding::{Code, Finding};
use rayon::prelude::*;

/// Reads every entry's local header (on all cores: half a million small reads for the whole
/// corpus) and compares it with the central directory; sets where each entry's data starts.
pub(super) fn check_local_headers(
    file: &dyn ReadAt,
    label: &str,
    index: &mut ZipIndex,
) -> std::io::Result<()> {
    let file_len = index.file_len;
    let findings = index
        .entries
        .par_iter_mut()
        .map(|entry| check_local_header(file, label, file_len, entry))
        .filter_map(Result::transpose)
        .collect::<std::io::Result<Vec<Finding>>>()?;
    index.findings.extend(findings);
    Ok(())
}

/// Room read after a local header and the name the directory gives it, in the same read: a
/// zip64 extra field fits (cablekeep writes none for entries under 4 GB). Reading only this
/// much matters: the header of each of half a million entries is copied out of the page cache.
const LOCAL_EXTRA_SLACK: usize = 32;

/// Reads an entry's local header and compares it with the directory's record; sets where the
/// entry's data starts when the header can be read.
pub(super) fn check_local_header(
    file: &dyn ReadAt,
    label: &str,
    file_len: u64,
    entry: &mut Entry,
) -> std::io::Result<Option<Finding>> {
    let header = match read_local_header(file, file_len, entry)? {
        LocalRead::Header(header) => header,
        LocalRead::Corrupt(message) => return Ok(Some(corrupt(message, label, entry))),
    };
    entry.data_offset = Some(entry.local_header_offset + header.len as u64);
    Ok(mismatch(&header, label, entry))
}

/// The finding of a local header that cannot be read where the directory says.
fn corrupt(message: String, label: &str, entry: &Entry) -> Finding {
    Finding::new(Code::LocalHeaderCorrupt, label, message).at_entry(&entry.name)
}

/// The finding of a local header that differs from the directory's record, if it does.
fn mismatch(header: &LocalHeader, label: &str, entry: &Entry) -> Option<Finding> {
    let differences = header_differences(header, entry);
    if differences.is_empty() {
        return None;
    }
    let message = format!(
        "local header vs central directory: {}",
        differences.join("; ")
    );
    Some(Finding::new(Code::HeaderMismatch, label, message).at_entry(&entry.name))
}

/// A local header that could be read.
struct LocalHeader {
    /// What it records (its name left empty: see `raw_name`).
    fields: Entry,
    raw_name: Vec<u8>,
    /// Its length, name and extra field included.
    len: usize,
}

/// What reading a local header gave: the header, or why there is none where the directory says.
enum LocalRead {
    Header(LocalHeader),
    Corrupt(String),
}

fn read_local_header(
    file: &dyn ReadAt,
    file_len: u64,
    entry: &Entry,
) -> std::io::Result<LocalRead> {
    let at = entry.local_header_offset;
    let past_end = || {
        LocalRead::Corrupt(format!(
            "local header offset {at} is past the end of the file"
        ))
    };
    let available = file_len
        .saturating_sub(at)
        .min((30 + entry.name.len() + LOCAL_EXTRA_SLACK) as u64) as usize;
    if available < 30 {
        return Ok(past_end());
    }
    let h = read_at(file, at, available)?;
    Ok(match parse_local_header(&h, at) {
        Parsed::Header(header) => LocalRead::Header(header),
        Parsed::Corrupt(message) => LocalRead::Corrupt(message),
        Parsed::Longer(len) => match read_exact_at(file, at, len, file_len)? {
            Some(whole) => match parse_local_header(&whole, at) {
                Parsed::Header(header) => LocalRead::Header(header),
                Parsed::Corrupt(message) => LocalRead::Corrupt(message),
                Parsed::Longer(_) => past_end(),
            },
            None => LocalRead::Corrupt("local header runs past the end of the file".to_string()),
        },
    })
}

/// What the bytes at a local header's offset say.
enum Parsed {
    Header(LocalHeader),
    Corrupt(String),
    /// The header is this long, longer than the bytes given.
    Longer(usize),
}

/// Reads a local header from the bytes `h` read at its offset `at`.
fn parse_local_header(h: &[u8], at: u64) -> Parsed {
    if h.len() < 30 {
        return Parsed::Corrupt(format!(
            "local header offset {at} is past the end of the file"
        ));
    }
    if le32(h) != SIG_LOCAL {
        return Parsed::Corrupt(format!("no local header signature at offset {at}"));
    }
    let name_len = le16(&h[26..]) as usize;
    let extra_len = le16(&h[28..]) as usize;
    let len = 30 + name_len + extra_len;
    if h.len() < len {
        return Parsed::Longer(len);
    }
    let mut fields = Entry {
        // Decoded only when it differs: comparing bytes is enough for the usual case.
        name: String::new(),
        method: le16(&h[8..]),
        flags: le16(&h[6..]),
        crc32: le32(&h[14..]),
        compressed_size: le32(&h[18..]) as u64,
        uncompressed_size: le32(&h[22..]) as u64,
        local_header_offset: at,
        data_offset: None,
    };
    apply_zip64_extra(&h[30 + name_len..len], &mut fields, HeaderKind::Local);
    Parsed::Header(LocalHeader {
        fields,
        raw_name: h[30..30 + name_len].to_vec(),
        len,
    })
}

/// How many bytes to read at an entry's local header to have the header and all its data in
/// one read, as [`check_local_header_in`] wants them.
pub(super) fn header_and_data_len(entry: &Entry) -> u64 {
    (30 + entry.name.len() + LOCAL_EXTRA_SLACK) as u64 + entry.compressed_size
}

/// What the bytes read at an entry's local header say of it.
pub(super) enum HeaderIn {
    /// The header, this long, agrees with the directory: the data follows it.
    Agrees(usize),
    /// It does not, or cannot be read: the finding says why.
    Differs(Box<Finding>),
    /// Its extra field is longer than the bytes read allow for: read it on its own.
    Longer,
}

/// [`check_local_header`] on the bytes `h` read at the entry's local header offset (so that a
/// reader of one entry reads its header and its data in one read instead of two).
pub(super) fn check_local_header_in(h: &[u8], label: &str, entry: &Entry) -> HeaderIn {
    let header = match parse_local_header(h, entry.local_header_offset) {
        Parsed::Header(header) => header,
        Parsed::Longer(_) => return HeaderIn::Longer,
        Parsed::Corrupt(message) => {
            return HeaderIn::Differs(Box::new(corrupt(message, label, entry)));
        }
    };
    match mismatch(&header, label, entry) {
        None => HeaderIn::Agrees(header.len),
        Some(finding) => HeaderIn::Differs(Box::new(finding)),
    }
}

/// How a local header differs from the directory's record of the entry.
fn header_differences(header: &LocalHeader, entry: &Entry) -> Vec<String> {
    let local = &header.fields;
    let mut differences = Vec::new();
    if header.raw_name != entry.name.as_bytes() {
        let name = decode_name(&header.raw_name, local.flags);
        if name != entry.name {
            differences.push(format!("name {name:?} vs {:?}", entry.name));
        }
    }
    if local.method != entry.method {
        differences.push(format!("method {} vs {}", local.method, entry.method));
    }
    if local.flags != entry.flags {
        differences.push(format!(
            "flags {:#06x} vs {:#06x}",
            local.flags, entry.flags
        ));
    }
    // With a data descriptor the local header may carry zeros; cablekeep never writes one,
    // and the layout check accounts for it when others do.
    if entry.flags & FLAG_DATA_DESCRIPTOR == 0 {
        if local.crc32 != entry.crc32 {
            differences.push(format!("crc32 {:08x} vs {:08x}", local.crc32, entry.crc32));
        }
        if local.compressed_size != entry.compressed_size {
            differences.push(format!(
                "compressed size {} vs {}",
                local.compressed_size, entry.compressed_size
            ));
        }
        if local.uncompressed_size != entry.uncompressed_size {
            differences.push(format!(
                "size {} vs {}",
                local.uncompressed_size, entry.uncompressed_size
            ));
        }
    }
    differences
}
