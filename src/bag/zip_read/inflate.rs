//! Small Deflate entries inflated in one call by libdeflate, into buffers each thread keeps.

use super::bytes::pread;
use super::data::{length_and_crc_findings, read_entry};
use super::local::{HeaderIn, check_local_header, check_local_header_in, header_and_data_len};
use super::source::ReadAt;
use super::{Entry, METHOD_DEFLATE};
use crate::finding::{Code, Finding};

/// Deflate entries up to this size (compressed and inflated) are inflated in one call by
/// libdeflate, which is faster than inflating a stream (docs/PERFORMANCE.md); larger ones are
/// streamed, so memory stays bounded per thread.
const WHOLE_ENTRY_LIMIT: u64 = 16 << 20;

/// True for a Deflate entry to inflate in one call. Deflate never makes more than 1,032 bytes
/// of one, so a larger recorded size is a lie (a zip bomb, say) that must not size a buffer:
/// such an entry is streamed, and its real length reported.
pub(super) fn whole_inflatable(entry: &Entry) -> bool {
    let most = entry
        .compressed_size
        .saturating_mul(1032)
        .saturating_add(1024);
    entry.method == METHOD_DEFLATE
        && entry.compressed_size <= WHOLE_ENTRY_LIMIT
        && entry.uncompressed_size <= WHOLE_ENTRY_LIMIT.min(most)
}

/// A thread's decompressor and buffers, kept between entries (half a million of them in a
/// large archive: allocating each anew showed in profiles).
struct WholeInflater {
    decompressor: libdeflater::Decompressor,
    compressed: Vec<u8>,
    inflated: Vec<u8>,
}

thread_local! {
    static WHOLE_INFLATER: std::cell::RefCell<WholeInflater> = std::cell::RefCell::new(WholeInflater {
        decompressor: libdeflater::Decompressor::new(),
        compressed: Vec::new(),
        inflated: Vec::new(),
    });
}

/// [`stream_entry`](super::stream_entry) for a Deflate entry small enough to hold: read whole, inflated in one
/// call, checked, and handed to `sink` in one piece. The same findings as streaming it.
pub(super) fn inflate_whole(
    file: &dyn ReadAt,
    entry: &Entry,
    data_offset: u64,
    label: &str,
    mut sink: impl FnMut(&[u8]),
) -> std::io::Result<Vec<Finding>> {
    with_whole_inflater(|inflater| {
        let (inflated, findings) = inflater.inflate(file, entry, data_offset, label)?;
        if let Some(len) = inflated {
            sink(&inflater.inflated[..len]);
        }
        Ok(findings)
    })
}

/// Runs `work` with this thread's inflater, or with a fresh one when it is in use (only when
/// the code handed an entry's bytes reads another entry on the same thread).
fn with_whole_inflater<R>(work: impl FnOnce(&mut WholeInflater) -> R) -> R {
    WHOLE_INFLATER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut inflater) => work(&mut inflater),
        Err(_) => work(&mut WholeInflater {
            decompressor: libdeflater::Decompressor::new(),
            compressed: Vec::new(),
            inflated: Vec::new(),
        }),
    })
}

/// Reads a whole entry and hands its bytes to `use_bytes` only when they are intact (no
/// finding at all), without copying them for a Deflate entry up to 16 MB (it is inflated into
/// this thread's reused buffer). Returns what `use_bytes` returned, or else the findings.
pub(crate) fn with_intact_entry<R>(
    file: &dyn ReadAt,
    entry: &Entry,
    label: &str,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> std::io::Result<std::result::Result<R, Vec<Finding>>> {
    let whole = whole_inflatable(entry);
    match entry.data_offset {
        Some(data_offset) if whole => with_whole_inflater(|inflater| {
            let (inflated, findings) = inflater.inflate(file, entry, data_offset, label)?;
            Ok(match inflated {
                Some(len) if findings.is_empty() => Ok(use_bytes(&inflater.inflated[..len])),
                _ => Err(findings),
            })
        }),
        None if whole => with_whole_inflater(|inflater| {
            let (inflated, findings) = inflater.inflate_with_header(file, entry, label)?;
            Ok(match inflated {
                Some(len) if findings.is_empty() => Ok(use_bytes(&inflater.inflated[..len])),
                _ => Err(findings),
            })
        }),
        _ => {
            let (data, findings) = read_entry(file, entry, label)?;
            Ok(match data {
                Some(data) if findings.is_empty() => Ok(use_bytes(&data)),
                _ => Err(findings),
            })
        }
    }
}

impl WholeInflater {
    /// [`WholeInflater::inflate`] of an entry whose local header has not been read yet: the
    /// header and the data are read in one read, and the header checked against the directory
    /// as [`check_local_header`] does (an entry found by [`super::DirectoryCursor::find_unread`]).
    fn inflate_with_header(
        &mut self,
        file: &dyn ReadAt,
        entry: &Entry,
        label: &str,
    ) -> std::io::Result<(Option<usize>, Vec<Finding>)> {
        let want = header_and_data_len(entry) as usize;
        self.compressed.resize(want, 0);
        let mut read = 0;
        while read < want {
            let at = entry.local_header_offset + read as u64;
            let n = pread(file, &mut self.compressed[read..], at)?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let header_len = match check_local_header_in(&self.compressed[..read], label, entry) {
            HeaderIn::Agrees(len) => len,
            HeaderIn::Differs(finding) => return Ok((None, vec![*finding])),
            HeaderIn::Longer => {
                let mut entry = entry.clone();
                let file_len = file.len()?;
                if let Some(finding) = check_local_header(file, label, file_len, &mut entry)? {
                    return Ok((None, vec![finding]));
                }
                let data_offset = entry.data_offset.unwrap_or(entry.local_header_offset);
                return self.inflate(file, &entry, data_offset, label);
            }
        };
        let data = header_len..header_len + entry.compressed_size as usize;
        if data.end > read {
            let message = "after 0 bytes: entry data runs past the end of the file".to_string();
            return decompress_failed(entry, label, message);
        }
        self.decompress(data, entry, label)
    }

    /// Inflates an entry into `self.inflated`; returns the length inflated (None when the data
    /// cannot be read whole) and the findings.
    fn inflate(
        &mut self,
        file: &dyn ReadAt,
        entry: &Entry,
        data_offset: u64,
        label: &str,
    ) -> std::io::Result<(Option<usize>, Vec<Finding>)> {
        let failed = |message: String| decompress_failed(entry, label, message);
        self.compressed.resize(entry.compressed_size as usize, 0);
        let mut read = 0;
        while read < self.compressed.len() {
            let n = pread(
                file,
                &mut self.compressed[read..],
                data_offset + read as u64,
            )?;
            if n == 0 {
                return failed("after 0 bytes: entry data runs past the end of the file".into());
            }
            read += n;
        }
        let all = 0..self.compressed.len();
        self.decompress(all, entry, label)
    }

    /// Inflates `self.compressed[data]`, the entry's compressed bytes, into `self.inflated`.
    fn decompress(
        &mut self,
        data: std::ops::Range<usize>,
        entry: &Entry,
        label: &str,
    ) -> std::io::Result<(Option<usize>, Vec<Finding>)> {
        let failed = |message: String| decompress_failed(entry, label, message);
        let limit = entry.uncompressed_size;
        // One byte more than recorded, so that longer data shows as longer, not as an error.
        self.inflated.resize(limit as usize + 1, 0);
        let len = match self
            .decompressor
            .deflate_decompress(&self.compressed[data], &mut self.inflated)
        {
            Ok(n) if n as u64 > limit => {
                return failed(format!("data is longer than the recorded size {limit}"));
            }
            Ok(n) => n,
            Err(libdeflater::DecompressionError::InsufficientSpace) => {
                return failed(format!("data is longer than the recorded size {limit}"));
            }
            Err(libdeflater::DecompressionError::BadData) => {
                return failed("after 0 bytes: the data is not valid Deflate".into());
            }
        };
        let crc32 = crc32fast::hash(&self.inflated[..len]);
        let findings = length_and_crc_findings(entry, label, len as u64, crc32);
        Ok((Some(len), findings))
    }
}

/// What an inflater returns for an entry whose data could not be inflated: no length, and the
/// finding that says why.
fn decompress_failed(
    entry: &Entry,
    label: &str,
    message: String,
) -> std::io::Result<(Option<usize>, Vec<Finding>)> {
    let finding = Finding::new(Code::DecompressFailed, label, message).at_entry(&entry.name);
    Ok((None, vec![finding]))
}
