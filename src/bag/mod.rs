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
mod spill;
mod spool;
mod writer;
pub mod zip_read;
mod zip_write;
/// The zip reader under its earlier name, which other wings use.
pub use archive::OpenArchive;
pub use spill::{Spill, SpillReader, SpillRef};
pub use spool::{Spool, Spooled};
pub use writer::{BagPlan, BagWriter, Payload, TagData, WrittenBag, human_size, write_bag};

pub(crate) use zip_read::lossy_text;
pub use zip_read::{Chunk, DirectoryCursor, DirectoryStream, Entry, ZipIndex};
pub use zip_write::{Compressed, DEFLATE_LEVEL, EntryFacts, compress};

/// The format name written into `bag-info.txt` as `Cablekeep-Format`.
pub const FORMAT_NAME: &str = "cablekeep archive format 1";
/// `bagit.txt`, byte for byte.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// The payload manifests and tag manifests every bag has, by algorithm.
pub const ALGORITHMS: [&str; 2] = ["sha256", "sha512"];
/// The cable index tag file.
pub const INDEX_FILE: &str = "cablekeep/index.jsonl";
/// The tag file listing captures that no reader understood.
pub const UNPARSED_FILE: &str = "cablekeep/unparsed.jsonl";

/// (`data/cables/<ID>/<capture>.json`; raw captures end `.html`, `.txt` or `.csv`).
pub fn is_index_or_record(path: &str) -> bool {
    path == INDEX_FILE || (path.starts_with("data/cables/") && path.ends_with(".json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_the_index_are_told_from_raw_captures_and_tag_files() {
        for path in [
            INDEX_FILE,
            "data/cables/08MADRID1/2011-01-02_0123456789ab.json",
        ] {
            assert!(is_index_or_record(path), "{path}");
        }
        for path in [
            "data/cables/08MADRID1/2011-01-02_0123456789ab.html",
            "data/cables/08MADRID1/2011-01-02_0123456789ab.csv",
            UNPARSED_FILE,
            "manifest-sha256.txt",
            "bagit.txt",
        ] {
            assert!(!is_index_or_record(path), "{path}");
        }
    }
}
