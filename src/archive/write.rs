//! The deterministic zip writer: the only place that uses the `zip` crate's writer.
//!
//! Every entry gets the same fixed timestamp (1980-01-01 00:00, the zip epoch), permissions
//! 0644, and Deflate at a fixed level, so the same entries in the same order always give the
//! same bytes. Entries are compressed on worker threads and appended in order.

use std::fs::File;
use std::io::{BufWriter, Write};
use zip::write::{SimpleFileOptions, ZipFileBuilder};
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The Deflate level used for every entry. Part of the format: changing it changes the bytes.
pub const DEFLATE_LEVEL: i64 = 1;

/// An entry compressed off-thread, ready to append.
pub struct Prepared(zip::write::PreparedZipFile);

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
}

/// Compresses one entry. Safe to call from many threads at once.
pub fn prepare(name: &str, data: &[u8]) -> std::io::Result<Prepared> {
    let mut builder = ZipFileBuilder::new(name, options()).map_err(to_io)?;
    builder.write_all(data)?;
    builder.finish().map(Prepared).map_err(to_io)
}

/// A zip being written to a file, entry by entry.
pub struct ZipOut {
    writer: ZipWriter<BufWriter<File>>,
    entries: u64,
}

impl ZipOut {
    /// Starts a zip in `file` (normally a temporary file that is renamed into place later).
    pub fn new(file: File) -> Self {
        ZipOut {
            writer: ZipWriter::new(BufWriter::with_capacity(1 << 20, file)),
            entries: 0,
        }
    }

    /// Appends a prepared entry.
    pub fn add(&mut self, entry: Prepared) -> std::io::Result<()> {
        self.entries += 1;
        self.writer.add_prepared_file(entry.0).map_err(to_io)
    }

    /// Appends an entry, compressing it on this thread.
    pub fn add_bytes(&mut self, name: &str, data: &[u8]) -> std::io::Result<()> {
        self.add(prepare(name, data)?)
    }

    /// How many entries were added.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the central directory and flushes; returns the file (not yet synced).
    pub fn finish(self) -> std::io::Result<File> {
        let buf = self.writer.finish().map_err(to_io)?;
        buf.into_inner().map_err(|e| e.into_error())
    }
}

impl ZipOut {
    /// Appends entry `name` of `source` under `new_name`, copying its compressed bytes as they
    /// are: no inflating, no deflating. The entry keeps its own header fields, which cablekeep
    /// always writes the same way (see the module notes), so the copy is what writing it anew
    /// would give, except for the Deflate level of the version that first compressed it.
    pub fn copy_raw(
        &mut self,
        source: &mut CopySource,
        name: &str,
        new_name: &str,
    ) -> std::io::Result<()> {
        let entry = source.archive.by_name_raw(name.as_bytes()).map_err(to_io)?;
        self.writer
            .raw_copy_file_rename(entry, new_name)
            .map_err(to_io)?;
        self.entries += 1;
        Ok(())
    }
}

/// A zip written by cablekeep, opened with the `zip` crate's reader so that its entries can be
/// copied raw into another zip.
pub struct CopySource {
    archive: zip::ZipArchive<std::io::BufReader<File>>,
}

impl CopySource {
    pub fn open(path: &std::path::Path) -> std::io::Result<CopySource> {
        let file = File::open(path)?;
        let archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(to_io)?;
        Ok(CopySource { archive })
    }
}

fn to_io(e: zip::result::ZipError) -> std::io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => std::io::Error::other(other),
    }
}

/// Reads the members of an input zip (a zip of cable pages given to `bundle` or `add`), with the
/// `zip` crate's own reader. Each member comes with its bytes, or with why it was skipped.
pub fn read_input_zip(
    path: &std::path::Path,
    max_member: u64,
    mut each: impl FnMut(String, std::result::Result<Vec<u8>, String>),
) -> std::io::Result<()> {
    use std::io::Read;
    let file = File::open(path)?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(to_io)?;
    for i in 0..archive.len() {
        let mut member = match archive.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                each(format!("#{i}"), Err(e.to_string()));
                continue;
            }
        };
        let raw_name = String::from_utf8_lossy(member.name_raw()).into_owned();
        if member.is_dir() {
            continue;
        }
        if let Some(problem) = super::read::unsafe_name_problem(&raw_name) {
            each(raw_name, Err(format!("unsafe name: {problem}")));
            continue;
        }
        if member.size() > max_member {
            each(
                raw_name,
                Err(format!(
                    "{} bytes is over the limit of {max_member}",
                    member.size()
                )),
            );
            continue;
        }
        let mut data = Vec::with_capacity(member.size() as usize);
        // Read one byte past the limit, so a member that lies about its size is caught too.
        match (&mut member).take(max_member + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > max_member => each(
                raw_name,
                Err(format!("more than the limit of {max_member} bytes")),
            ),
            Ok(_) => each(raw_name, Ok(data)),
            Err(e) => each(raw_name, Err(e.to_string())),
        }
    }
    Ok(())
}
