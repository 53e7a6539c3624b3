//! The deterministic zip writer.
//!
//! Every entry gets the same fixed timestamp (1980-01-01 00:00, the zip epoch), permissions
//! 0644, no extra fields, and Deflate at a fixed level, so the same entries in the same order
//! always give the same bytes: the bytes the `zip` crate's writer gives for the same entries
//! and options (a test compares them, 70,000 entries with ZIP64 records included).
//!
//! cablekeep writes the zip itself rather than through the `zip` crate's `ZipWriter` because
//! that writer keeps a record of ~300 bytes for every entry until it writes the central
//! directory: 150 MB for the 502,582 entries of the whole Cablegate corpus, more than half the
//! memory a whole bundle may use. Here each entry's central directory record is written to a
//! temporary file as the entry is added, so memory does not grow with the entries. The `zip`
//! crate is the independent check of this writer in the tests.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use super::zip_read::{ReadAt, read_exact_at};
use crate::hash;

/// The Deflate level used for every entry. Part of the format: changing it changes the bytes.
pub const DEFLATE_LEVEL: u32 = 1;
/// The compression method cablekeep writes.
pub(super) const METHOD_DEFLATE: u16 = 8;

/// Sizes and offsets from this value on need ZIP64 fields.
const ZIP64_LIMIT: u64 = u32::MAX as u64;
/// More entries than this need a ZIP64 end record.
const ZIP64_ENTRY_LIMIT: u64 = u16::MAX as u64;
/// "Made by" Unix (3), zip specification 2.0; version needed to extract 2.0 (Deflate).
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
const VERSION_NEEDED: u16 = 20;
/// The general purpose flag that says the name is UTF-8 (set for names that are not ASCII).
const FLAG_UTF8: u16 = 1 << 11;
/// 1980-01-01 00:00 in MS-DOS form.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// A regular file with mode 0644, in the high half of the external attributes.
const EXTERNAL_ATTRIBUTES: u32 = 0o100644 << 16;

/// What an entry's headers record about its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryFacts {
    /// The compression method: 8, Deflate, for every entry cablekeep writes (FORMAT.md section
    /// 2.1).
    pub method: u16,
    /// The CRC-32 of the uncompressed bytes.
    pub crc32: u32,
    /// Size of the compressed data, in bytes.
    pub compressed: u64,
    /// Size of the uncompressed bytes, in bytes.
    pub uncompressed: u64,
}

/// An entry's compressed bytes and what its headers record.
pub struct Compressed {
    /// What the entry's local and central headers record about the data.
    pub facts: EntryFacts,
    /// The Deflate stream, ready to be copied into the zip after the local header.
    pub data: Vec<u8>,
}

/// A Deflate compressor and the output chunk it writes into, kept per thread and reset between
/// entries: a fresh compressor per entry would spend a share of `bundle`'s CPU clearing its
/// tables, and a fresh chunk zeroing 32 KiB for every entry of a few KB. (Resetting still
/// clears the compressor's hash table: zlib-rs offers no way around it.)
struct Deflater {
    compress: flate2::Compress,
    chunk: Box<[u8; FLATE2_WRITER_CHUNK]>,
}

impl Deflater {
    fn new() -> Self {
        Deflater {
            compress: flate2::Compress::new(flate2::Compression::new(DEFLATE_LEVEL), false),
            chunk: Box::new([0; FLATE2_WRITER_CHUNK]),
        }
    }
}

thread_local! {
    static DEFLATER: RefCell<Deflater> = RefCell::new(Deflater::new());
}

/// Which Deflate implementation compresses a payload entry: part of the archive format
/// (FORMAT.md section 2.1), since each gives its own bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryDeflate {
    /// zlib-rs at [`DEFLATE_LEVEL`], as the `zip` crate's writer does (format 1, and every tag file).
    ZlibRs,
    /// libdeflate at [`LIBDEFLATE_LEVEL`], the whole entry in one call (format 2's payload, up to
    /// [`LIBDEFLATE_MAX_ENTRY`] bytes): on the corpus's texts faster than zlib-rs at level 1
    /// and about as small as zlib at level 6.
    Libdeflate,
}

/// Format 2's payload entries larger than this (4 MiB; real pages are under 1 MiB) are
/// compressed by zlib-rs, as in format 1. Part of the format.
pub const LIBDEFLATE_MAX_ENTRY: usize = 4 << 20;

/// The libdeflate level of format 2's payload entries. Part of the format: changing it changes
/// the bytes.
pub const LIBDEFLATE_LEVEL: i32 = 1;

/// A libdeflate compressor and its output buffer, kept per thread: the buffer grows to the
/// largest entry's bound once (at most ~4 MiB) instead of being allocated and zeroed for every
/// entry.
struct Libdeflater {
    compressor: libdeflater::Compressor,
    out: Vec<u8>,
}

thread_local! {
    static LIBDEFLATER: RefCell<Libdeflater> = RefCell::new(Libdeflater {
        compressor: libdeflater::Compressor::new(
            libdeflater::CompressionLvl::new(LIBDEFLATE_LEVEL).expect("a valid level"),
        ),
        out: Vec::new(),
    });
}

/// Compresses one entry's bytes with `how`. Safe to call from many threads at once.
pub fn compress_with(data: &[u8], how: EntryDeflate) -> Compressed {
    match how {
        EntryDeflate::ZlibRs => compress(data),
        // libdeflate compresses a whole buffer into another as large: for a large entry, memory
        // would follow the entry's size on every thread at once.
        EntryDeflate::Libdeflate if data.len() > LIBDEFLATE_MAX_ENTRY => compress(data),
        EntryDeflate::Libdeflate => {
            let crc32 = crc32fast::hash(data);
            let out = LIBDEFLATER.with(|cell| {
                let mut l = cell.borrow_mut();
                let Libdeflater { compressor, out } = &mut *l;
                let bound = compressor.deflate_compress_bound(data.len());
                if out.len() < bound {
                    out.resize(bound, 0);
                }
                let n = compressor
                    .deflate_compress(data, out)
                    .expect("the buffer holds the compression bound");
                out[..n].to_vec()
            });
            Compressed::deflated(crc32, data.len(), out)
        }
    }
}

impl Compressed {
    /// A Deflate entry of `uncompressed` bytes with CRC-32 `crc32`, compressed into `data`.
    fn deflated(crc32: u32, uncompressed: usize, data: Vec<u8>) -> Compressed {
        Compressed {
            facts: EntryFacts {
                method: METHOD_DEFLATE,
                crc32,
                compressed: data.len() as u64,
                uncompressed: uncompressed as u64,
            },
            data,
        }
    }
}

/// Compresses one entry's bytes with zlib-rs at [`DEFLATE_LEVEL`]. Safe to call from many
/// threads at once.
pub fn compress(data: &[u8]) -> Compressed {
    // crc32fast folds with carry-less multiplication; flate2's CRC (zlib-rs's table code)
    // was 2 % of `bundle`'s CPU.
    let crc32 = crc32fast::hash(data);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    DEFLATER
        .with(|cell| {
            let mut deflater = cell.borrow_mut();
            let mut deflate = WriterLikeDeflate::new(&mut deflater);
            deflate.feed(data, &mut out)?;
            deflate.finish(&mut out)
        })
        .expect("Deflate into memory cannot fail");
    Compressed::deflated(crc32, data.len(), out)
}

/// Compresses the whole of `source` (from its start) into a temporary file in `scratch`, as it
/// streams, in pieces of [`PIECE`]: the bytes and facts of a zip entry for a tag file too large
/// to hold. `name` names the entry in errors. Safe to call on several threads at once (each
/// has its own compressor), which is how a bag's large tag files are compressed side by side.
pub(super) fn compress_file(
    name: &str,
    source: &mut File,
    scratch: &Path,
) -> std::io::Result<(File, EntryFacts)> {
    source.seek(SeekFrom::Start(0))?;
    let compressed = tempfile::tempfile_in(scratch)?;
    let mut crc = crc32fast::Hasher::new();
    let mut sink = BufWriter::with_capacity(1 << 20, compressed);
    let mut piece = vec![0; PIECE];
    let mut length = 0u64;
    DEFLATER.with(|cell| {
        let mut deflater = cell.borrow_mut();
        let mut deflate = WriterLikeDeflate::new(&mut deflater);
        loop {
            let n = crate::hash::read_full(source, &mut piece)?;
            if n == 0 {
                return deflate.finish(&mut sink);
            }
            crc.update(&piece[..n]);
            length += n as u64;
            deflate.feed(&piece[..n], &mut sink)?;
        }
    })?;
    let compressed = sink.into_inner().map_err(|e| e.into_error())?;
    let facts = EntryFacts {
        method: METHOD_DEFLATE,
        crc32: crc.finalize(),
        compressed: compressed.metadata()?.len(),
        uncompressed: length,
    };
    if facts.uncompressed != source.metadata()?.len() {
        return Err(std::io::Error::other(format!(
            "{name}: the file changed while it was compressed"
        )));
    }
    Ok((compressed, facts))
}

/// The output space `flate2::write::DeflateEncoder` gives each call into the compressor.
const FLATE2_WRITER_CHUNK: usize = 32 * 1024;
/// The size of the pieces a file is compressed in (the last may be shorter). Changing it may
/// change the compressed bytes of tag files larger than this.
const PIECE: usize = 4 << 20;

/// Deflate driven exactly as `flate2::write::DeflateEncoder` (and so the `zip` crate's writer,
/// whose bytes `docs/FORMAT.md` names) drives it when it is given an entry in one
/// `write_all`: input without flushing, output in 32 KiB chunks, a fresh chunk for the end. The
/// compressor's bytes depend on how it is called, so anything else gives a different (equally
/// valid) stream: the same cables would give other archives than the zip crate's, and anyone
/// wanting to reproduce an archive with standard tools would have to know the calls.
///
/// Input may come in pieces (a tag file read from disk): a call that stops because its input
/// ran out leaves the output chunk as it is, and the next call goes on filling it. The bytes
/// can still depend on where the pieces end (a piece end close to the end of the compressor's
/// 64 KiB window moves the moment it slides the window, which changes a few of the matches it
/// finds), so files are read in pieces of a fixed size, [`PIECE`], and the same bytes always
/// give the same stream. Usually it is also the stream of all input at once (28 MB of real
/// pages give the same bytes, a test checks), but not always: the 37.5 MB `manifest-sha512.txt`
/// of a 100,000-cable bag differs in its last 16 KB from the zip crate's bytes.
struct WriterLikeDeflate<'a> {
    deflater: &'a mut flate2::Compress,
    /// Only `chunk[..filled]` holds this entry's output: what lies beyond is left from earlier
    /// entries and is overwritten before it is written out.
    chunk: &'a mut [u8; FLATE2_WRITER_CHUNK],
    filled: usize,
}

impl<'a> WriterLikeDeflate<'a> {
    fn new(deflater: &'a mut Deflater) -> Self {
        let Deflater { compress, chunk } = deflater;
        compress.reset();
        WriterLikeDeflate {
            deflater: compress,
            chunk,
            filled: 0,
        }
    }

    /// Compresses the next piece of the entry, writing full chunks to `sink`.
    fn feed(&mut self, input: &[u8], sink: &mut impl Write) -> std::io::Result<()> {
        let start = self.deflater.total_in();
        while ((self.deflater.total_in() - start) as usize) < input.len() {
            if self.filled == FLATE2_WRITER_CHUNK {
                self.write_chunk(sink)?;
            }
            let consumed = (self.deflater.total_in() - start) as usize;
            self.run(&input[consumed..], flate2::FlushCompress::None)?;
        }
        Ok(())
    }

    /// Ends the stream.
    fn finish(mut self, sink: &mut impl Write) -> std::io::Result<()> {
        loop {
            self.write_chunk(sink)?;
            let before = self.deflater.total_out();
            let status = self.run(&[], flate2::FlushCompress::Finish)?;
            if status == flate2::Status::StreamEnd || before == self.deflater.total_out() {
                return self.write_chunk(sink);
            }
        }
    }

    fn run(
        &mut self,
        input: &[u8],
        flush: flate2::FlushCompress,
    ) -> std::io::Result<flate2::Status> {
        let before = self.deflater.total_out();
        let status = self
            .deflater
            .compress(input, &mut self.chunk[self.filled..], flush)
            .map_err(std::io::Error::other)?;
        self.filled += (self.deflater.total_out() - before) as usize;
        Ok(status)
    }

    fn write_chunk(&mut self, sink: &mut impl Write) -> std::io::Result<()> {
        sink.write_all(&self.chunk[..self.filled])?;
        self.filled = 0;
        Ok(())
    }
}

/// How many bytes [`DigestingFile`] gathers before it writes them and hands them to the
/// hashing threads.
const OUT_CHUNK: usize = 1 << 20;

/// A file written front to back through a buffer, each full buffer written and then handed to
/// [`hash::StreamDigests`]: the zip's own digests are known when it is finished, without
/// reading it back. It is synced as it grows ([`crate::fsutil::Syncer`]), so that the sync
/// before the version is published finds little left to write.
struct DigestingFile {
    file: File,
    buffer: Vec<u8>,
    digests: hash::StreamDigests,
    syncer: crate::fsutil::Syncer,
}

impl DigestingFile {
    fn new(file: File) -> std::io::Result<Self> {
        Ok(DigestingFile {
            syncer: crate::fsutil::Syncer::start(&file)?,
            file,
            buffer: Vec::with_capacity(OUT_CHUNK),
            digests: hash::StreamDigests::start(),
        })
    }

    /// Writes what is buffered and hands it over for hashing.
    fn write_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buffer)?;
        self.syncer.wrote(self.buffer.len());
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(OUT_CHUNK));
        self.digests.update(full);
        Ok(())
    }

    /// Writes the rest; returns the file (not yet synced), its digests and its length.
    fn finish(mut self) -> std::io::Result<(File, hash::Digests, u64)> {
        self.write_buffer()?;
        self.syncer.stop()?;
        let (digests, bytes) = self.digests.finish();
        Ok((self.file, digests, bytes))
    }
}

impl Write for DigestingFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(OUT_CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&data[..n]);
        if self.buffer.len() == OUT_CHUNK {
            self.write_buffer()?;
        }
        Ok(n)
    }

    /// Does nothing: bytes are written a whole buffer at a time, and [`DigestingFile::finish`]
    /// writes the last one.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A finished zip file: the file (not yet synced), the SHA-256 and SHA-512 of all its bytes,
/// and its length.
pub(super) struct ZipFile {
    pub file: File,
    pub digests: hash::Digests,
    pub bytes: u64,
}

/// A zip being written to a file, entry by entry, strictly front to back.
pub(super) struct ZipOut {
    out: DigestingFile,
    /// Bytes written to `out` so far: where the next local header starts.
    position: u64,
    /// The central directory, written as entries are added, appended at the end.
    central: BufWriter<File>,
    central_len: u64,
    entries: u64,
}

impl ZipOut {
    /// Starts a zip in `file` (normally a temporary file that is renamed into place later);
    /// the central directory is gathered in a temporary file in `scratch`, removed when done.
    pub(super) fn new(file: File, scratch: &Path) -> std::io::Result<Self> {
        Ok(ZipOut {
            out: DigestingFile::new(file)?,
            position: 0,
            central: BufWriter::with_capacity(1 << 20, tempfile::tempfile_in(scratch)?),
            central_len: 0,
            entries: 0,
        })
    }

    /// Appends an entry whose compressed bytes are given.
    pub(super) fn add_compressed(&mut self, name: &str, entry: &Compressed) -> std::io::Result<()> {
        self.start_entry(name, entry.facts)?;
        self.out.write_all(&entry.data)?;
        self.position += entry.facts.compressed;
        Ok(())
    }

    /// Appends an entry, compressing it on this thread.
    pub(super) fn add_bytes(&mut self, name: &str, data: &[u8]) -> std::io::Result<()> {
        self.add_compressed(name, &compress(data))
    }

    /// Appends an entry whose compressed bytes are copied as they are (no inflating, no
    /// deflating) from `source`, where they start at `offset`.
    pub(super) fn add_copied(
        &mut self,
        name: &str,
        facts: EntryFacts,
        source: &dyn ReadAt,
        offset: u64,
    ) -> std::io::Result<()> {
        self.start_entry(name, facts)?;
        copy_range(source, offset, facts.compressed, &mut self.out)?;
        self.position += facts.compressed;
        Ok(())
    }

    /// Appends an entry compressed beforehand by [`compress_file`].
    pub(super) fn add_compressed_file(
        &mut self,
        name: &str,
        compressed: &File,
        facts: EntryFacts,
    ) -> std::io::Result<()> {
        self.add_copied(name, facts, compressed, 0)
    }

    /// How many entries were added.
    pub(super) fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the central directory and the end records; returns the file (not yet synced)
    /// with its digests and length.
    pub(super) fn finish(mut self) -> std::io::Result<ZipFile> {
        let central_start = self.position;
        let mut central = self.central.into_inner().map_err(|e| e.into_error())?;
        central.seek(SeekFrom::Start(0))?;
        let copied = std::io::copy(&mut central, &mut self.out)?;
        debug_assert_eq!(copied, self.central_len);
        let end = EndRecords {
            entries: self.entries,
            central_start,
            central_len: self.central_len,
        };
        self.out.write_all(&end.bytes())?;
        let (file, digests, bytes) = self.out.finish()?;
        Ok(ZipFile {
            file,
            digests,
            bytes,
        })
    }

    /// Writes an entry's local header and its central directory record.
    fn start_entry(&mut self, name: &str, facts: EntryFacts) -> std::io::Result<()> {
        if facts.compressed >= ZIP64_LIMIT || facts.uncompressed >= ZIP64_LIMIT {
            return Err(std::io::Error::other(format!(
                "{name}: entries of 4 GiB or more are not written (no cable comes near)"
            )));
        }
        if name.len() > u16::MAX as usize - 64 {
            return Err(std::io::Error::other(format!("{name}: name too long")));
        }
        let header = HeaderFields::new(name, facts);
        self.out.write_all(&header.local(name))?;
        let record = header.central(name, self.position);
        self.central.write_all(&record)?;
        self.central_len += record.len() as u64;
        self.position += 30 + name.len() as u64;
        self.entries += 1;
        Ok(())
    }
}

/// The fields shared by an entry's local header and its central directory record.
struct HeaderFields {
    flags: u16,
    facts: EntryFacts,
}

impl HeaderFields {
    fn new(name: &str, facts: EntryFacts) -> Self {
        let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
        HeaderFields { flags, facts }
    }

    /// The fields from "version needed" to the name's length, as both headers have them.
    fn common(&self, out: &mut Vec<u8>, name: &str) {
        let f = &self.facts;
        put16(out, VERSION_NEEDED);
        put16(out, self.flags);
        put16(out, f.method);
        put16(out, DOS_TIME);
        put16(out, DOS_DATE);
        put32(out, f.crc32);
        put32(out, f.compressed as u32);
        put32(out, f.uncompressed as u32);
        put16(out, name.len() as u16);
    }

    fn local(&self, name: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(30 + name.len());
        put32(&mut out, 0x0403_4b50);
        self.common(&mut out, name);
        put16(&mut out, 0); // extra field length
        out.extend_from_slice(name.as_bytes());
        out
    }

    /// The central directory record; an offset past 4 GiB goes into a ZIP64 extra field.
    fn central(&self, name: &str, local_header_offset: u64) -> Vec<u8> {
        let zip64_offset = local_header_offset >= ZIP64_LIMIT;
        let mut out = Vec::with_capacity(46 + name.len() + 12);
        put32(&mut out, 0x0201_4b50);
        put16(&mut out, VERSION_MADE_BY);
        self.common(&mut out, name);
        put16(&mut out, if zip64_offset { 12 } else { 0 }); // extra field length
        put16(&mut out, 0); // comment length
        put16(&mut out, 0); // disk number
        put16(&mut out, 0); // internal attributes
        put32(&mut out, EXTERNAL_ATTRIBUTES);
        put32(&mut out, local_header_offset.min(ZIP64_LIMIT) as u32);
        out.extend_from_slice(name.as_bytes());
        if zip64_offset {
            put16(&mut out, 0x0001);
            put16(&mut out, 8);
            put64(&mut out, local_header_offset);
        }
        out
    }
}

/// The records after the central directory.
struct EndRecords {
    entries: u64,
    central_start: u64,
    central_len: u64,
}

impl EndRecords {
    fn needs_zip64(&self) -> bool {
        self.entries > ZIP64_ENTRY_LIMIT || self.central_start.max(self.central_len) > ZIP64_LIMIT
    }

    /// The ZIP64 end record and its locator when needed, then the classic end record.
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(56 + 20 + 22);
        let zip64 = self.needs_zip64();
        if zip64 {
            put32(&mut out, 0x0606_4b50);
            put64(&mut out, 44); // size of the rest of this record
            put16(&mut out, VERSION_NEEDED); // made by
            put16(&mut out, VERSION_NEEDED);
            put32(&mut out, 0); // this disk
            put32(&mut out, 0); // disk with the central directory
            put64(&mut out, self.entries);
            put64(&mut out, self.entries);
            put64(&mut out, self.central_len);
            put64(&mut out, self.central_start);
            put32(&mut out, 0x0706_4b50);
            put32(&mut out, 0); // disk with the ZIP64 end record
            put64(&mut out, self.central_start + self.central_len);
            put32(&mut out, 1); // disks
        }
        let entries = self.entries.min(ZIP64_ENTRY_LIMIT) as u16;
        put32(&mut out, 0x0605_4b50);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, entries);
        put16(&mut out, entries);
        put32(
            &mut out,
            if zip64 {
                u32::MAX
            } else {
                self.central_len as u32
            },
        );
        put32(&mut out, self.central_start.min(ZIP64_LIMIT) as u32);
        put16(&mut out, 0); // comment length
        out
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Copies `len` bytes of `source` from `offset` to `out`, with positioned reads (so many
/// threads may share the source).
pub(super) fn copy_range(
    source: &dyn ReadAt,
    offset: u64,
    len: u64,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; len.min(1 << 20) as usize];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        read_exact_at(source, &mut buf[..n], offset + done)?;
        out.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use zip::write::SimpleFileOptions;

    /// The same entries written by the `zip` crate with the options that give cablekeep's bytes.
    fn by_the_zip_crate(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL as i64))
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            z.start_file(name.as_str(), options).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    fn by_cablekeep(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let mut out = ZipOut::new(tempfile::tempfile().unwrap(), dir.path()).unwrap();
        for (i, (name, data)) in entries.iter().enumerate() {
            // Every way of adding an entry gives the same bytes.
            match i % 3 {
                0 => out.add_bytes(name, data).unwrap(),
                1 => {
                    let c = compress(data);
                    let mut source = tempfile::tempfile().unwrap();
                    source.write_all(b"some bytes before").unwrap();
                    source.write_all(&c.data).unwrap();
                    out.add_copied(name, c.facts, &source, 17).unwrap();
                }
                _ => {
                    let mut source = tempfile::tempfile().unwrap();
                    source.write_all(data).unwrap();
                    let (compressed, facts) = compress_file(name, &mut source, dir.path()).unwrap();
                    out.add_compressed_file(name, &compressed, facts).unwrap();
                }
            }
        }
        let ZipFile {
            mut file,
            digests,
            bytes: len,
        } = out.finish().unwrap();
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut bytes).unwrap();
        // The digests hashed as the zip was written are those of the bytes on disk.
        assert_eq!((digests, len), (hash::digests(&bytes), bytes.len() as u64));
        bytes
    }

    fn text(i: usize) -> Vec<u8> {
        let words = ["cable", "embassy", "SECRET", "ref", "¶", "\n"];
        (0..(i * 37) % 3000)
            .map(|j| words[(i + j * 7) % words.len()])
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes()
    }

    /// Words picked by a small LCG: text that compresses about as badly as a real cable.
    fn random_words(len: usize) -> Vec<u8> {
        let words = [
            "cable", "embassy", "SECRET", "ref", "¶", "\n", "minister", "1.4(b)", "GOI",
        ];
        let mut state = 12345u64;
        let mut out = Vec::new();
        while out.len() < len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.extend_from_slice(words[(state >> 33) as usize % words.len()].as_bytes());
            out.extend_from_slice(format!(" {} ", state >> 50).as_bytes());
        }
        out
    }

    #[test]
    fn entries_are_the_bytes_the_zip_crate_writes() {
        let mut entries: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| (format!("bag-v1/data/cables/{i:03}/capture.txt"), text(i)))
            .collect();
        entries.push(("bag-v1/data/unparsed/empty.txt".into(), Vec::new()));
        entries.push((
            "bag-v1/data/unparsed/café.txt".into(),
            b"not ascii".to_vec(),
        ));
        entries.push(("bag-v1/big.txt".into(), text(7).repeat(400)));
        // Output larger than one 32 KiB chunk of the compressor: where the way of calling it shows.
        entries.push(("bag-v1/random.txt".into(), random_words(300_000)));
        let (a, b) = (by_cablekeep(&entries), by_the_zip_crate(&entries));
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert_eq!(
            a,
            b,
            "first difference at {first:?} of {} / {}",
            a.len(),
            b.len()
        );
    }

    #[test]
    fn seventy_thousand_entries_get_the_zip_crates_zip64_records() {
        let entries: Vec<(String, Vec<u8>)> = (0..70_000)
            .map(|i| (format!("b/data/{i:06}.txt"), format!("{i}\n").into_bytes()))
            .collect();
        let ours = by_cablekeep(&entries);
        assert_eq!(ours, by_the_zip_crate(&entries));
        assert!(ours.windows(4).any(|w| w == [0x50, 0x4b, 0x06, 0x06]));
    }

    #[test]
    fn an_offset_past_4_gib_goes_into_a_zip64_extra_field() {
        let facts = compress(b"x").facts;
        let header = HeaderFields::new("a", facts);
        let low = header.central("a", 1 << 20);
        assert_eq!(low.len(), 46 + 1);
        let high = header.central("a", 5 << 30);
        assert_eq!(high.len(), 46 + 1 + 12);
        assert_eq!(&high[42..46], &u32::MAX.to_le_bytes());
        assert_eq!(&high[47..51], &[1, 0, 8, 0]);
        assert_eq!(&high[51..59], &(5u64 << 30).to_le_bytes());
    }

    #[test]
    fn a_compressor_reused_between_entries_gives_fresh_bytes() {
        let a = compress(&text(30)).data;
        let _ = compress(&text(31));
        assert_eq!(compress(&text(30)).data, a);
    }

    /// All real pages under `../shared/cables/dev` in one buffer, or `None` (said loudly).
    fn real_pages_together() -> Option<Vec<u8>> {
        let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cables/dev/cable");
        if !dev.is_dir() {
            eprintln!(
                "\n!!! SKIPPED: {} is missing; this test checked nothing !!!\n",
                dev.display()
            );
            // For the test command's count of skipped tests (scripts/test.sh).
            if let Some(log) = std::env::var_os("CABLEKEEP_SKIP_LOG") {
                use std::io::Write;
                let _ = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .and_then(|mut f| writeln!(f, "bag::zip_write: {} is missing", dev.display()));
            }
            return None;
        }
        let mut found = vec![dev];
        let mut all = Vec::new();
        while let Some(path) = found.pop() {
            if path.is_dir() {
                let mut inside: Vec<_> = std::fs::read_dir(&path)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                inside.sort();
                found.extend(inside);
            } else {
                all.extend(std::fs::read(&path).unwrap());
            }
        }
        Some(all)
    }

    #[test]
    fn input_in_pieces_gives_the_bytes_of_input_at_once() {
        let Some(data) = real_pages_together() else {
            return;
        };
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(DEFLATE_LEVEL));
        encoder.write_all(&data).unwrap();
        let at_once = encoder.finish().unwrap();
        assert_eq!(compress(&data).data, at_once);
        for piece in [PIECE, 1 << 20] {
            let mut deflater = Deflater::new();
            let mut deflate = WriterLikeDeflate::new(&mut deflater);
            let mut out = Vec::new();
            for part in data.chunks(piece) {
                deflate.feed(part, &mut out).unwrap();
            }
            deflate.finish(&mut out).unwrap();
            assert!(
                out == at_once,
                "{} bytes in pieces of {piece} compress to other bytes",
                data.len()
            );
        }
    }
}
