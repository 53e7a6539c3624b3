//! Finding the central directory: the end-of-central-directory record and, when the archive
//! needed it, the zip64 end record and its locator.

use super::bytes::{le16, le32, le64, read_at, read_exact_at};
use super::source::ReadAt;
use super::{EOCD_LEN, MAX_COMMENT, SIG_EOCD, SIG_ZIP64_EOCD, SIG_ZIP64_LOCATOR};
use crate::finding::{Code, Finding};

/// Where the central directory is, per the end records.
#[derive(Debug)]
pub(super) struct End {
    pub(super) cd_offset: u64,
    pub(super) cd_size: u64,
    pub(super) entry_count: u64,
    /// Where the records after the central directory start (zip64 record or EOCD).
    pub(super) trailer_start: u64,
}

/// Finds the end records and where they say the central directory is. `None` (with a finding)
/// when there is no end record at all; every oddity of the records is a finding.
pub(super) fn find_end(
    file: &dyn ReadAt,
    len: u64,
    label: &str,
    findings: &mut Vec<Finding>,
) -> std::io::Result<Option<End>> {
    if len < EOCD_LEN {
        findings.push(Finding::new(
            Code::ZipUnreadable,
            label,
            format!("file is {len} bytes, too short to be a zip"),
        ));
        return Ok(None);
    }
    let tail_len = len.min(EOCD_LEN + MAX_COMMENT);
    let tail = read_at(file, len - tail_len, tail_len as usize)?;
    let Some((i, exact)) = locate_eocd(&tail) else {
        findings.push(Finding::new(
            Code::ZipUnreadable,
            label,
            "no end-of-central-directory record: the file is truncated or not a zip",
        ));
        return Ok(None);
    };
    let eocd_pos = len - tail_len + i as u64;
    if !exact {
        findings.push(Finding::new(Code::StrayBytes, label, "the end-of-central-directory comment length does not reach the end of the file (bytes appended or cut)"));
    }
    let mut end = read_eocd(&tail[i..], eocd_pos, label, findings);
    read_zip64_end(file, len, label, &mut end, findings)?;
    check_directory_fits(&mut end, label, findings);
    Ok(Some(end))
}

/// Where the EOCD record starts in `tail` (the file's last bytes), searching backwards, and
/// whether its comment length reaches exactly the end of the file (else the last record found
/// that does not).
fn locate_eocd(tail: &[u8]) -> Option<(usize, bool)> {
    let mut loose = None;
    for i in (0..=tail.len() - EOCD_LEN as usize).rev() {
        if le32(&tail[i..]) == SIG_EOCD {
            let comment_len = le16(&tail[i + 20..]) as usize;
            if i + EOCD_LEN as usize + comment_len == tail.len() {
                return Some((i, true));
            }
            loose.get_or_insert(i);
        }
    }
    loose.map(|i| (i, false))
}

/// What the EOCD record `rec` (at `eocd_pos`) says.
fn read_eocd(rec: &[u8], eocd_pos: u64, label: &str, findings: &mut Vec<Finding>) -> End {
    if le16(&rec[4..]) != 0 || le16(&rec[6..]) != 0 {
        findings.push(Finding::new(
            Code::UnsupportedEntry,
            label,
            "multi-disk zip",
        ));
    }
    End {
        entry_count: le16(&rec[10..]) as u64,
        cd_size: le32(&rec[12..]) as u64,
        cd_offset: le32(&rec[16..]) as u64,
        trailer_start: eocd_pos,
    }
}

/// A zip64 locator sits right before the EOCD when the archive needed zip64: its end record
/// then says where the directory is.
fn read_zip64_end(
    file: &dyn ReadAt,
    len: u64,
    label: &str,
    end: &mut End,
    findings: &mut Vec<Finding>,
) -> std::io::Result<()> {
    let eocd_pos = end.trailer_start;
    if eocd_pos < 20 {
        return Ok(());
    }
    let loc = read_at(file, eocd_pos - 20, 20)?;
    if le32(&loc) != SIG_ZIP64_LOCATOR {
        return Ok(());
    }
    let rec64_pos = le64(&loc[8..]);
    match read_exact_at(file, rec64_pos, 56, len)? {
        Some(r) if le32(&r) == SIG_ZIP64_EOCD => {
            end.entry_count = le64(&r[32..]);
            end.cd_size = le64(&r[40..]);
            end.cd_offset = le64(&r[48..]);
            end.trailer_start = rec64_pos;
        }
        _ => findings.push(Finding::new(
            Code::ZipUnreadable,
            label,
            format!("zip64 end record missing at offset {rec64_pos}"),
        )),
    }
    Ok(())
}

/// The directory must end before the end records; when it does not, it is looked for where it
/// must start if its size is right.
fn check_directory_fits(end: &mut End, label: &str, findings: &mut Vec<Finding>) {
    if end
        .cd_offset
        .checked_add(end.cd_size)
        .is_none_or(|e| e > end.trailer_start)
    {
        findings.push(Finding::new(
            Code::CentralDirectoryCorrupt,
            label,
            format!(
                "central directory (offset {}, {} bytes) does not fit before the end record at {}",
                end.cd_offset, end.cd_size, end.trailer_start
            ),
        ));
        end.cd_offset = end.trailer_start.saturating_sub(end.cd_size);
    }
}
