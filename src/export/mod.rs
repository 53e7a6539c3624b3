//! Researcher exports: a selection of a collection version's cables as CSV, JSON Lines, a SQLite
//! database, a BagIt bag folder or a zipped bag, each carrying `README.md`, `CITATION.cff`,
//! `datapackage.json`, `citations.bib` and `citations.json`, plus `manifest-sha256.txt` (for
//! bags, the bag's own manifests).
//!
//! Exports are deterministic: the same version and filter give the same bytes (the only date
//! used is the sidecar manifest's `created`). They are written under a temporary name in the
//! destination's folder and renamed into place when complete.
//!
//! This file takes the request and resolves it (the version, the destination, the full-text
//! query's cables); `folder` writes the csv, jsonl and sqlite folders, `bag_export` the bag
//! and zip exports; `readme`, `citation`, `datapackage` and `table` make their files,
//! `files` writes and publishes them.

mod bag_export;
pub(crate) mod citation;
mod datapackage;
mod files;
mod folder;
mod readme;
mod table;

pub use table::{COLUMNS, excel_safe};

use crate::bag::Reading;
use crate::bag::capture::IndexLine;
use crate::error::{Error, IoContext, Result};
use crate::progress::Progress;
use crate::query::search::SearchIndex;
use crate::query::select::{Facts, Filter, VersionRef};
use crate::store::Store;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `cables.csv`: one row per cable, the columns of [`COLUMNS`], with the current capture's
    /// fields.
    Csv,
    /// `cables.jsonl`: each selected cable's current stored record, one JSON object a line.
    Jsonl,
    /// `cables.sqlite`: a SQLite database of the cables, their captures, sources, tags,
    /// references and link checks, with the full-text table `cables_fts` over subject and text.
    Sqlite,
    /// A BagIt bag folder whose payload is the selected captures, copied from the archive.
    Bag,
    /// The same bag as [`Format::Bag`], zipped; `cablekeep verify` checks it (FORMAT.md section 7).
    Zip,
}

impl Format {
    /// Every format, in the order of this enum.
    pub const ALL: [Format; 5] = [
        Format::Csv,
        Format::Jsonl,
        Format::Sqlite,
        Format::Bag,
        Format::Zip,
    ];

    /// The format's name on the command line (`csv`, `jsonl`, `sqlite`, `bag`, `zip`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Sqlite => "sqlite",
            Format::Bag => "bag",
            Format::Zip => "zip",
        }
    }

    /// The format named `s` (as [`Format::as_str`] writes it); None for any other name.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// What to export.
pub struct Request<'a> {
    /// The collection to export from.
    pub collection: &'a str,
    /// The version (default: the latest).
    pub version: Option<u32>,
    /// Which cables (validate it with [`Filter::validated`] first).
    pub filter: &'a Filter,
    /// CSV, JSON Lines, SQLite, a bag folder or a zipped bag.
    pub format: Format,
    /// The folder to create (for `zip`, the file). It must not exist, or be an empty folder.
    pub out: &'a Path,
    /// CSV only: defuse cells that a spreadsheet would read as formulas.
    pub excel_safe: bool,
    /// Bag and zip only: one proof per cable (the version must be sealed).
    pub proofs: bool,
    /// Report progress here (cables exported).
    pub progress: &'a dyn Progress,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The version exported, as the citations name it.
    pub version: VersionRef,
    /// How many cables the filter selected, each exported once.
    pub cables: usize,
    /// How many captures those cables have in the version (a bag's payload holds each of them).
    pub captures: usize,
    /// Files written (for bags, every file of the bag).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// The folder (or, for `zip`, the file) written.
    pub out: PathBuf,
}

/// The ids of the cables of a version whose text matches the filter's full-text query (through
/// the store's search index when the version is the latest, else through a temporary index of
/// the cables the other criteria select); `None` without a query.
pub fn query_ids(
    store: &Store,
    version: &VersionRef,
    filter: &Filter,
    progress: &dyn Progress,
) -> Result<Option<BTreeSet<String>>> {
    let Some(query) = &filter.query else {
        return Ok(None);
    };
    let ids = if store.latest(&version.collection)? == Some(version.version) {
        let ids = |index: &SearchIndex| index.matching_ids(&version.collection, query);
        SearchIndex::with_store_index(store, false, progress, ids)?.0
    } else {
        let keep = |l: &IndexLine| filter.matches(&Facts::of(l));
        SearchIndex::temporary(store, version, &keep, progress)?
            .matching_ids(&version.collection, query)?
    };
    Ok(Some(ids))
}

/// How many cables and captures an export wrote, and its files and bytes.
struct Written {
    cables: usize,
    captures: usize,
    files: usize,
    bytes: u64,
}

/// Exports a selection of a collection version. The selected cables are streamed from the
/// archive in batches and written as they come, so memory does not grow with the selection
/// (except for bags, whose index and manifests the archive writer holds whole).
pub fn export(store: &Store, req: Request<'_>) -> Result<Outcome> {
    let v = store.resolve_version(req.collection, req.version)?;
    let version = VersionRef::read(store, req.collection, v)?;
    check_out(store, req.out)?;
    // Bags copy every file of the selected cables; the other formats read the index, and
    // records found as the directory is read forward alongside it.
    let archive = match req.format {
        Format::Bag | Format::Zip => store.open_zip(req.collection, v, Reading::Whole)?,
        _ => store.open_zip(req.collection, v, Reading::Index)?,
    };
    let ids = query_ids(store, &version, req.filter, req.progress)?;
    let keep = |l: &IndexLine| {
        req.filter.matches(&Facts::of(l)) && ids.as_ref().is_none_or(|ids| ids.contains(&l.id))
    };
    let sealed = match req.format {
        Format::Bag | Format::Zip => crate::seal::for_export(store, req.collection, v, req.proofs)?,
        _ if req.proofs => {
            return Err(Error::Invalid(
                "--proofs goes with --format bag or zip".into(),
            ));
        }
        _ => None,
    };
    let w = match req.format {
        Format::Bag | Format::Zip => {
            bag_export::write_bag_export(&req, &version, &archive, &keep, sealed.as_ref())?
        }
        _ => folder::write_folder_export(&req, &version, &archive, &keep)?,
    };
    Ok(Outcome {
        version,
        cables: w.cables,
        captures: w.captures,
        files: w.files,
        bytes: w.bytes,
        out: req.out.to_path_buf(),
    })
}

/// The destination must not exist, or be an empty folder, and must not lie in a store's own
/// folders (an export there could take the name of a version, or be removed as one).
pub(crate) fn check_out(store: &Store, out: &Path) -> Result<()> {
    if let Some(root) = store.root_owning(out) {
        return Err(Error::Invalid(format!(
            "{}: exports are never written inside a store's archives/, manifests/ or .cablekeep/ \
             (this is in the store {}); choose an --out outside them",
            out.display(),
            root.display()
        )));
    }
    match std::fs::symlink_metadata(out) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() && std::fs::read_dir(out).at(out)?.next().is_none() => Ok(()),
        Ok(_) => Err(Error::Invalid(format!(
            "{} already exists; exports never overwrite anything (choose another --out)",
            out.display()
        ))),
    }
}

/// A selected cable for tests: a plain record whose fields `record` replaces or adds (a JSON
/// object), with the index line of one capture.
#[cfg(test)]
pub(crate) fn sample_cable(id: &str, record: serde_json::Value) -> crate::query::select::Selected {
    let mut r = serde_json::json!({
        "created": "2008-03-04T10:00:00Z",
        "released": "2011-08-30",
        "classification": "SECRET//NOFORN",
        "caveats": ["SIPDIS"],
        "origin": "Embassy Madrid",
        "tags": ["PREL", "SP"],
        "subject": "A SUBJECT",
        "references": ["08MADRID1"],
        "signers": ["AGUIRRE"],
        "redaction": {"status": "not-redacted", "runs": 0, "partial_extract": false},
        "source": {"publisher": "WikiLeaks", "url": "https://example.org/cable", "released": "2011-08-30"},
        "text": "UNCLAS MADRID 000001\n\n1. (U) Text.",
        "capture": {"name": "2011-08-30_0123456789ab", "raw": "data/cables/X/x.html", "sha256": "0123456789ab"}
    });
    for (k, v) in record.as_object().expect("an object") {
        r[k] = v.clone();
    }
    let capture = serde_json::json!({
        "name": "2011-08-30_0123456789ab", "raw": "data/cables/X/x.html",
        "record": "data/cables/X/x.json", "input": "x.html", "bytes": 1, "sha256": "01",
        "sha512": "01", "text_sha256": "01", "format": "wikileaks-page",
        "released": "2011-08-30", "site_build": null, "retrieved": null,
        "redaction": {"status": "not-redacted", "runs": 0, "partial_extract": false}
    });
    let line = serde_json::json!({
        "id": id, "created": null, "released": null, "classification": null, "origin": null,
        "subject": null, "tags": [],
        "redaction": {"status": "not-redacted", "runs": 0, "partial_extract": false},
        "captures": [capture.clone(), capture]
    });
    crate::query::select::Selected {
        line: serde_json::from_value(line).expect("an index line"),
        record: serde_json::from_value(r).expect("a record"),
        bytes: Vec::new(),
        sources: Vec::new(),
        published_ids: Vec::new(),
        older: Vec::new(),
        entries: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
    }
}
