//! Archives: one immutable zip per version, holding one BagIt 1.0 bag (see `docs/FORMAT.md`).
//!
//! Writing goes through `writer` (a bag: payload files, manifests, tag files) over `zip_write`
//! (cablekeep's own zip writer, flat in memory, whose bytes the tests compare with the `zip`
//! crate's writer), with large tag files in a [`Spool`] and payload files compressed ahead in a
//! [`Spill`]; reading and checking through [`zip_read`], a hardened reader that reports every
//! defect it meets, and [`OpenArchive`]. Neither trusts the other: the tests read what
//! cablekeep writes with the `zip` crate, Python's `zipfile` and bagit.py too. `manifest`
//! holds the BagIt text files, [`capture`] the captures and the cable index, `check` the
//! checks of a bag.

mod archive;
pub mod capture;
pub(crate) mod check;
pub(crate) mod manifest;
pub mod record;
mod spill;
mod spool;
mod writer;
pub mod zip_read;
mod zip_write;
/// The zip reader under its earlier name, which other wings use.
pub use archive::{OpenArchive, Reading};
pub use spill::{Spill, SpillReader, SpillRef};
pub use spool::{Spool, Spooled};
pub use writer::{BagPlan, BagWriter, Payload, TagData, WrittenBag, human_size, write_bag};

pub(crate) use zip_read::lossy_text;
pub use zip_read::{
    Chunk, DirectoryCursor, DirectoryStream, Entry, ReadAt, SourceReader, ZipIndex,
};
pub use zip_write::{
    Compressed, DEFLATE_LEVEL, EntryDeflate, EntryFacts, LIBDEFLATE_LEVEL, LIBDEFLATE_MAX_ENTRY,
    compress, compress_with,
};

pub use record::ArchiveFormat;
/// `bagit.txt`, byte for byte.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// The payload manifests and tag manifests every bag has, by algorithm.
pub const ALGORITHMS: [&str; 2] = ["sha256", "sha512"];
/// The cable index tag file.
pub const INDEX_FILE: &str = "cablekeep/index.jsonl";
/// The tag file listing captures that no reader understood.
pub const UNPARSED_FILE: &str = "cablekeep/unparsed.jsonl";
