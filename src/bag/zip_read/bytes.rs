//! Positioned reads of the archive file and little-endian fields.

use super::source::ReadAt;
use std::io::Read;

/// A `Read` over a byte range of a file, by positioned reads, so threads can share one handle.
pub(super) struct RangeReader<'a> {
    pub(super) file: &'a dyn ReadAt,
    pub(super) pos: u64,
    pub(super) end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = pread(self.file, &mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "entry data runs past the end of the file",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

pub(super) fn pread(file: &dyn ReadAt, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    file.read_at(buf, offset)
}

/// Reads up to `len` bytes at `offset` (fewer at the end of the file).
pub(super) fn read_at(file: &dyn ReadAt, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = pread(file, &mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// Reads exactly `len` bytes at `offset`, or None when the file ends first.
pub(super) fn read_exact_at(
    file: &dyn ReadAt,
    offset: u64,
    len: usize,
    file_len: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    if offset.checked_add(len as u64).is_none_or(|e| e > file_len) {
        return Ok(None);
    }
    let buf = read_at(file, offset, len)?;
    Ok((buf.len() == len).then_some(buf))
}

pub(super) fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
pub(super) fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
pub(super) fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}
