//! The layout of the file: every byte belongs to exactly one entry or to the directory records;
//! and the entries cablekeep cannot read (encrypted, other methods).

use super::end::End;
use super::{Entry, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, METHOD_DEFLATE, METHOD_STORED, ZipIndex};
use crate::finding::{CappedFindings, Code, Finding};

/// Every byte of the file must belong to exactly one entry or to the directory records.
pub(super) fn check_layout(end: &End, label: &str, index: &mut ZipIndex) {
    let mut spans: Vec<(u64, u64, &str)> = index
        .entries
        .iter()
        .filter_map(|e| Some((e.local_header_offset, span_end(e)?, e.name.as_str())))
        .collect();
    spans.sort();
    let mut walk = LayoutWalk::default();
    for (start, stop, name) in &spans {
        walk.span(*start, *stop, name, label);
    }
    walk.finish(end.cd_offset, label);
    let unsupported = index.entries.iter().filter_map(|e| unsupported(e, label));
    let findings: Vec<Finding> = walk
        .findings
        .into_vec()
        .into_iter()
        .chain(unsupported)
        .collect();
    index.findings.extend(findings);
}

/// Where an entry's bytes end (its data and any data descriptor), when its data was located.
pub(super) fn span_end(e: &Entry) -> Option<u64> {
    let data_end = e.data_offset?.checked_add(e.compressed_size)?;
    // Allowed by the zip format, but the descriptor is then the only place the sizes are.
    let descriptor = if e.flags & FLAG_DATA_DESCRIPTOR != 0 {
        16
    } else {
        0
    };
    Some(data_end + descriptor)
}

/// The entries' spans of the file taken in order of their start: gaps and overlaps are findings.
#[derive(Default)]
pub(super) struct LayoutWalk {
    /// Where the spans seen so far end.
    cursor: u64,
    any: bool,
    pub(super) findings: CappedFindings,
}

impl LayoutWalk {
    pub(super) fn span(&mut self, start: u64, stop: u64, name: &str, label: &str) {
        let cursor = self.cursor;
        if start > cursor {
            self.findings.push(
                Finding::new(
                    Code::StrayBytes,
                    label,
                    format!("{} unexplained bytes at offset {cursor}", start - cursor),
                )
                .at_entry(name),
            );
        } else if start < cursor {
            self.findings.push(Finding::new(Code::StrayBytes, label, format!("entry at offset {start} overlaps the previous entry (which ends at {cursor})")).at_entry(name));
        }
        self.cursor = cursor.max(stop);
        self.any = true;
    }

    /// The last span must end where the central directory starts.
    pub(super) fn finish(&mut self, cd_offset: u64, label: &str) {
        if self.cursor < cd_offset && self.any {
            self.findings.push(Finding::new(
                Code::StrayBytes,
                label,
                format!(
                    "{} unexplained bytes before the central directory at {cd_offset}",
                    cd_offset - self.cursor,
                ),
            ));
        } else if self.cursor > cd_offset {
            self.findings.push(Finding::new(
                Code::StrayBytes,
                label,
                format!("entry data runs into the central directory at {cd_offset}"),
            ));
        }
    }
}

/// An entry cablekeep cannot read: encrypted, or compressed with another method than Stored
/// and Deflate.
pub(super) fn unsupported(e: &Entry, label: &str) -> Option<Finding> {
    let why = if e.flags & FLAG_ENCRYPTED != 0 {
        "entry is encrypted".to_string()
    } else if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
        format!("compression method {}", e.method)
    } else {
        return None;
    };
    Some(Finding::new(Code::UnsupportedEntry, label, why).at_entry(&e.name))
}
