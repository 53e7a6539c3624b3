//! The spill: payload files compressed as they are read, in any order, then copied into the bag
//! in path order.

use super::zip_write::{self, Compressed, EntryDeflate, EntryFacts};
use crate::error::{Error, IoContext, Result};
use crate::hash::DigestBytes;
use std::fs::File;
use std::path::Path;

/// temporary file in the store's state folder; a [`BagWriter`](super::BagWriter) then copies them raw, in path
/// order, into the bag. So each input is read, parsed, hashed and compressed exactly once, and
/// the only file bytes in memory are those of the files in flight. Each spilled file is its
/// header (`SPILL_HEADER` bytes: method, CRC-32, sizes, both digests) then its compressed
/// bytes; the caller keeps only where it starts.
pub struct Spill {
    out: std::sync::Mutex<SpillOut>,
    tmp: tempfile::NamedTempFile,
    /// How its entries are compressed (the archive format's payload Deflate).
    deflate: EntryDeflate,
}

struct SpillOut {
    writer: std::io::BufWriter<File>,
    position: u64,
}

/// Where a file starts in the spill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRef(pub u64);

/// The spill's header of each file: method (2), CRC-32 (4), compressed and uncompressed sizes
/// (8 + 8), SHA-256 (32), SHA-512 (64).
const SPILL_HEADER: usize = 2 + 4 + 8 + 8 + 32 + 64;

impl Spill {
    /// Starts a spill in `dir` (the store's state folder: a spill left by a killed run is
    /// removed by the next writer's recovery).
    pub fn create(dir: &Path, deflate: EntryDeflate) -> Result<Spill> {
        let tmp = crate::fsutil::temp_file_in(dir)?;
        let file = tmp.as_file().try_clone().at(tmp.path())?;
        Ok(Spill {
            out: std::sync::Mutex::new(SpillOut {
                writer: std::io::BufWriter::with_capacity(1 << 20, file),
                position: 0,
            }),
            tmp,
            deflate,
        })
    }

    /// Hashes (unless `digests` already holds the bytes' digests) and compresses `data` on the
    /// calling thread, then appends it.
    pub fn add(&self, data: &[u8], digests: Option<DigestBytes>) -> Result<SpillRef> {
        self.add_together(&[(data, digests)])
    }

    /// Hashes and compresses each file on the calling thread, then appends them one after the
    /// other (no other thread's file between them) and returns where the first starts: the
    /// others are found from it with [`SpillReader::after`], so a caller keeps one reference
    /// for a raw page and its record.
    pub fn add_together(&self, files: &[(&[u8], Option<DigestBytes>)]) -> Result<SpillRef> {
        use std::io::Write;
        let prepared: Vec<([u8; SPILL_HEADER], Compressed)> = files
            .iter()
            .map(|&(data, digests)| {
                let digests = digests.unwrap_or_else(|| DigestBytes::of(data));
                let entry = zip_write::compress_with(data, self.deflate);
                (spill_header(&entry.facts, &digests), entry)
            })
            .collect();
        let mut out = self
            .out
            .lock()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?;
        let at = SpillRef(out.position);
        for (header, entry) in &prepared {
            let written = out
                .writer
                .write_all(header)
                .and_then(|_| out.writer.write_all(&entry.data));
            written.at(self.tmp.path())?;
            out.position += (SPILL_HEADER + entry.data.len()) as u64;
        }
        Ok(at)
    }

    /// Ends writing and opens the spill for copying.
    pub fn into_reader(self) -> Result<SpillReader> {
        let out = self
            .out
            .into_inner()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?;
        let file = out
            .writer
            .into_inner()
            .map_err(|e| e.into_error())
            .at(self.tmp.path())?;
        Ok(SpillReader {
            file,
            _tmp: self.tmp,
        })
    }
}

/// A spilled file's header: what its zip headers record, then its digests (the layout
/// [`SpillReader`] reads).
fn spill_header(facts: &EntryFacts, digests: &DigestBytes) -> [u8; SPILL_HEADER] {
    let mut header = [0u8; SPILL_HEADER];
    header[0..2].copy_from_slice(&facts.method.to_le_bytes());
    header[2..6].copy_from_slice(&facts.crc32.to_le_bytes());
    header[6..14].copy_from_slice(&facts.compressed.to_le_bytes());
    header[14..22].copy_from_slice(&facts.uncompressed.to_le_bytes());
    header[22..54].copy_from_slice(&digests.sha256);
    header[54..118].copy_from_slice(&digests.sha512);
    header
}

/// A finished spill, read back for copying.
pub struct SpillReader {
    pub(super) file: File,
    _tmp: tempfile::NamedTempFile,
}

/// A file in the spill: what its zip headers record, its digests, where its data starts.
pub(super) struct SpilledEntry {
    pub(super) facts: EntryFacts,
    pub(super) digests: DigestBytes,
    pub(super) data_offset: u64,
}

impl SpillReader {
    /// Where the file after the one at `at` starts (the second of files added together).
    pub fn after(&self, at: SpillRef) -> Result<SpillRef> {
        let entry = self.entry(at)?;
        Ok(SpillRef(entry.data_offset + entry.facts.compressed))
    }

    pub(super) fn entry(&self, at: SpillRef) -> Result<SpilledEntry> {
        use std::os::unix::fs::FileExt;
        let mut h = [0u8; SPILL_HEADER];
        self.file.read_exact_at(&mut h, at.0).at(self._tmp.path())?;
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8 bytes"));
        Ok(SpilledEntry {
            facts: EntryFacts {
                method: u16::from_le_bytes([h[0], h[1]]),
                crc32: u32::from_le_bytes(h[2..6].try_into().expect("4 bytes")),
                compressed: u64_at(6),
                uncompressed: u64_at(14),
            },
            digests: DigestBytes {
                sha256: h[22..54].try_into().expect("32 bytes"),
                sha512: h[54..118].try_into().expect("64 bytes"),
            },
            data_offset: at.0 + SPILL_HEADER as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_spilled_together_follow_each_other_whatever_other_threads_add() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path(), EntryDeflate::ZlibRs).unwrap();
        let raw = |i: usize| format!("raw {i}").into_bytes();
        let record = |i: usize| format!("record {i} {}", "x".repeat(i)).into_bytes();
        let together: Vec<(usize, SpillRef)> = std::thread::scope(|s| {
            let others = s.spawn(|| {
                for i in 0..300 {
                    spill.add(format!("other {i}").as_bytes(), None).unwrap();
                }
            });
            let mine = (0..300)
                .map(|i| {
                    let files = [(&raw(i)[..], None), (&record(i)[..], None)];
                    (i, spill.add_together(&files).unwrap())
                })
                .collect();
            others.join().unwrap();
            mine
        });
        let reader = spill.into_reader().unwrap();
        for (i, at) in together {
            let digests = |at| reader.entry(at).unwrap().digests;
            assert_eq!(digests(at), DigestBytes::of(&raw(i)));
            assert_eq!(
                digests(reader.after(at).unwrap()),
                DigestBytes::of(&record(i))
            );
        }
    }
}
