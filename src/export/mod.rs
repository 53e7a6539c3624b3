//! Researcher exports: a selection of a collection version's cables as CSV, JSON Lines, a SQLite
//! database, a BagIt bag folder or a zipped bag, each carrying `README.md`, `CITATION.cff`,
//! `datapackage.json`, `citations.bib` and `citations.json`, plus `manifest-sha256.txt` (for
//! bags, the bag's own manifests).
//!
//! Exports are deterministic: the same version and filter give the same bytes (the only date
//! used is the sidecar manifest's `created`). They are written under a temporary name in the
//! destination's folder and renamed into place when complete.

mod citation;
mod datapackage;
mod table;

pub use table::{COLUMNS, excel_safe};

use crate::archive::{self, BagPlan, OpenArchive, Payload};
use crate::capture::{self, IndexLine};
use crate::catalog::{Catalog, DbWriter};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::hash;
use crate::manifest;
use crate::scratch::{self, ScratchDir, ScratchFile};
use crate::select::{self, Facts, Filter, Need, VersionRef};
use crate::store::{Progress, Store};
use citation::Citations;
use datapackage::Resource;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    Sqlite,
    Bag,
    Zip,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Csv,
        Format::Jsonl,
        Format::Sqlite,
        Format::Bag,
        Format::Zip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Sqlite => "sqlite",
            Format::Bag => "bag",
            Format::Zip => "zip",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// What to export.
pub struct Request<'a> {
    pub collection: &'a str,
    /// The version (default: the latest).
    pub version: Option<u32>,
    /// Which cables (validate it with [`Filter::validated`] first).
    pub filter: &'a Filter,
    pub format: Format,
    /// The folder to create (for `zip`, the file). It must not exist, or be an empty folder.
    pub out: &'a Path,
    /// CSV only: defuse cells that a spreadsheet would read as formulas.
    pub excel_safe: bool,
    /// Bag and zip only: one proof per cable (the version must be sealed).
    pub proofs: bool,
    pub progress: &'a dyn Progress,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub version: VersionRef,
    pub cables: usize,
    pub captures: usize,
    /// Files written (for bags, every file of the bag).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    pub out: PathBuf,
}

/// The name of the data file of each folder format.
fn data_file(format: Format) -> &'static str {
    match format {
        Format::Csv => "cables.csv",
        Format::Jsonl => "cables.jsonl",
        Format::Sqlite => "cables.sqlite",
        Format::Bag | Format::Zip => "",
    }
}

/// The ids of the cables of a version whose text matches the filter's full-text query (through
/// the store's catalog when the version is the latest, else through a temporary catalog of the
/// cables the other criteria select); `None` without a query.
pub fn query_ids(
    store: &Store,
    version: &VersionRef,
    archive: &OpenArchive,
    filter: &Filter,
    progress: &dyn Progress,
) -> Result<Option<BTreeSet<String>>> {
    let Some(query) = &filter.query else {
        return Ok(None);
    };
    let ids = if store.latest(&version.collection)? == Some(version.version) {
        let (catalog, _) = Catalog::open(store, progress)?;
        catalog.matching_ids(&version.collection, query)?
    } else {
        let keep = |l: &IndexLine| filter.matches(&Facts::of(l));
        Catalog::temporary(version, archive, &keep, progress)?
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
    let zip = store.zip_path(req.collection, v);
    // Bags copy every file of the selected cables; the other formats read the index, and
    // records found as the directory is read forward alongside it.
    let archive = match req.format {
        Format::Bag | Format::Zip => OpenArchive::open(&zip)?,
        _ => OpenArchive::open_index(&zip)?,
    };
    let ids = query_ids(store, &version, &archive, req.filter, req.progress)?;
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
            write_bag_export(&req, &version, &archive, &keep, sealed.as_ref())?
        }
        _ => write_folder_export(&req, &version, &archive, &keep)?,
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
fn check_out(store: &Store, out: &Path) -> Result<()> {
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

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Compacts pretty-printed JSON onto one line, keeping every field and its order.
#[cfg(test)]
fn compact_json(pretty: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pretty.len());
    compact_json_into(pretty, &mut out);
    out
}

/// Appends pretty-printed JSON compacted onto one line to `out`. Strings are copied whole, a
/// slice at a time: most of a record is its text.
fn compact_json_into(pretty: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < pretty.len() {
        let b = pretty[i];
        if b == b'"' {
            let start = i;
            i += 1;
            while i < pretty.len() {
                match pretty[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            out.extend_from_slice(&pretty[start..i.min(pretty.len())]);
        } else {
            if !b.is_ascii_whitespace() {
                out.push(b);
            }
            i += 1;
        }
    }
}

/// What the README and CITATION.cff say of the cables: how many, and their publishers.
struct Summary {
    cables: usize,
    captures: usize,
    publishers: BTreeSet<String>,
}

/// README.md and CITATION.cff, which every export carries besides its data and citations.
fn readme_and_cff(
    req: &Request<'_>,
    version: &VersionRef,
    summary: &Summary,
) -> Vec<(String, Vec<u8>)> {
    let described = req.filter.describe();
    vec![
        (
            "README.md".to_string(),
            readme(req, version, summary, &described).into_bytes(),
        ),
        (
            "CITATION.cff".to_string(),
            citation::cff(
                version,
                summary.cables,
                &summary.publishers,
                &described,
                req.format.as_str(),
            )
            .into_bytes(),
        ),
    ]
}

/// A file being written that keeps its SHA-256 and size as it goes, so that a data file is
/// never read back (or held) to describe it.
struct HashingFile {
    out: BufWriter<File>,
    sha256: Sha256,
    bytes: u64,
    path: PathBuf,
    syncer: fsutil::Syncer,
}

impl HashingFile {
    fn create(path: PathBuf) -> Result<HashingFile> {
        let file = File::create(&path).at(&path)?;
        Ok(HashingFile {
            syncer: fsutil::Syncer::start(&file).at(&path)?,
            out: BufWriter::with_capacity(1 << 16, file),
            sha256: Sha256::new(),
            bytes: 0,
            path,
        })
    }

    /// Flushes the file (it is synced with the others before the folder is published) and
    /// returns its SHA-256 and size.
    fn finish(self) -> Result<(String, u64)> {
        self.out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        self.syncer.stop().at(&self.path)?;
        Ok((hex::encode(self.sha256.finalize()), self.bytes))
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.bytes += n as u64;
        self.syncer.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// SHA-256 and size of a file, streamed.
fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).at(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0;
    loop {
        let n = file.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hex::encode(h.finalize()), bytes))
}

fn resource_for(path: &str, data: &[u8]) -> Resource {
    resource_of(path, data.len() as u64, hash::sha256_hex(data))
}

/// [`resource_for`] a file whose size and SHA-256 are known.
fn resource_of(path: &str, bytes: u64, sha256: String) -> Resource {
    let (table, format, mediatype, description) = match path.rsplit('.').next() {
        Some("csv") => (
            true,
            "csv",
            "text/csv",
            "One row per cable (its current capture)",
        ),
        Some("jsonl") => (
            false,
            "jsonl",
            "application/jsonl",
            "Stored records (cablekeep-record/1), one line per cable (its current capture)",
        ),
        Some("bib") => (
            false,
            "bib",
            "application/x-bibtex",
            "BibTeX citations of every cable",
        ),
        Some("json") => (
            false,
            "json",
            "application/vnd.citationstyles.csl+json",
            "CSL-JSON citations of every cable",
        ),
        Some("md") => (
            false,
            "md",
            "text/markdown",
            "What this export holds and how to check and cite it",
        ),
        Some("cff") => (
            false,
            "cff",
            "application/x-yaml",
            "Citation File Format 1.2.0",
        ),
        Some("html") => (
            false,
            "html",
            "text/html",
            "Raw capture, exactly as ingested",
        ),
        Some("txt") => (false, "txt", "text/plain", "Raw bytes, exactly as ingested"),
        _ => (false, "bin", "application/octet-stream", "Data"),
    };
    Resource {
        path: path.to_string(),
        bytes,
        sha256,
        table,
        format,
        mediatype,
        description: description.to_string(),
    }
}

/// csv, jsonl, sqlite: a folder with the data file, the common files, `datapackage.json` and
/// `manifest-sha256.txt`, built under a temporary name and renamed into place. The data file and
/// the citations are written batch by batch as the cables are read.
fn write_folder_export(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
) -> Result<Written> {
    let parent = prepare_parent(req.out)?;
    let tmp = ScratchDir::create_in(&parent)?;
    let dir = tmp.path();
    let data_name = data_file(req.format);
    let data_path = dir.join(data_name);
    let mut cites = Citations::new(
        version,
        HashingFile::create(dir.join("citations.bib"))?,
        HashingFile::create(dir.join("citations.json"))?,
    )
    .at(dir)?;
    let mut captures = 0;
    req.progress.start("exporting", version.cables);
    let data = match req.format {
        Format::Csv | Format::Jsonl => {
            let mut out = HashingFile::create(data_path.clone())?;
            if req.format == Format::Csv {
                out.write_all(&table::header()?).at(&data_path)?;
            }
            let need = Need {
                bytes: req.format == Format::Jsonl,
                sources: false,
            };
            let made = |chunk: Vec<select::Selected>| made_for_file(req, version, &chunk);
            select::stream_mapped(archive, keep, need, req.progress, &made, |batch| {
                for m in batch {
                    out.write_all(&m.data).at(&data_path)?;
                    cites.append(m.cited).at(&data_path)?;
                    captures += m.captures;
                }
                Ok(())
            })?;
            out.finish()?
        }
        Format::Sqlite => {
            let mut db = DbWriter::create(&data_path)?;
            db.add_version(version)?;
            let need = Need {
                bytes: false,
                sources: true,
            };
            let cited = |chunk: Vec<select::Selected>| {
                let cited = citation::cite(version, &chunk);
                Ok((chunk, cited))
            };
            let n = select::stream_mapped(archive, keep, need, req.progress, &cited, |batch| {
                let mut cables = Vec::with_capacity(select::BATCH);
                for (chunk, cited) in batch {
                    cites.append(cited).at(&data_path)?;
                    captures += chunk.iter().map(|c| c.line.captures.len()).sum::<usize>();
                    cables.extend(chunk);
                }
                db.add_cables(&version.collection, &cables)
            })?;
            db.finish(&export_meta(req, version, n))?;
            sha256_file(&data_path)?
        }
        Format::Bag | Format::Zip => unreachable!("bags are written by write_bag_export"),
    };
    req.progress.finish();
    let (bib, csl, publishers, cables) = cites.finish().at(dir)?;
    let summary = Summary {
        cables,
        captures,
        publishers,
    };
    let described = vec![
        resource_with(data_name, data),
        resource_with("citations.bib", bib.finish()?),
        resource_with("citations.json", csl.finish()?),
    ];
    let mut small = readme_and_cff(req, version, &summary);
    small.push((
        "datapackage.json".to_string(),
        datapackage::write(version, &req.filter.describe(), cables, &described),
    ));
    let mut lines: Vec<(String, String)> = described
        .iter()
        .map(|r| (r.sha256.clone(), r.path.clone()))
        .collect();
    lines.extend(small.iter().map(|(n, d)| (hash::sha256_hex(d), n.clone())));
    let manifest_text =
        manifest::write_manifest(lines.iter().map(|(d, p)| (d.as_str(), p.as_str())));
    small.push((
        "manifest-sha256.txt".to_string(),
        manifest_text.into_bytes(),
    ));
    let mut bytes: u64 = described.iter().map(|r| r.bytes).sum();
    let mut paths: Vec<PathBuf> = described.iter().map(|r| dir.join(&r.path)).collect();
    for (name, data) in &small {
        let path = dir.join(name);
        std::fs::write(&path, data).at(&path)?;
        bytes += data.len() as u64;
        paths.push(path);
    }
    sync_all(&paths, &[])?;
    finish_folder(tmp, req.out)?;
    Ok(Written {
        cables,
        captures,
        files: paths.len(),
        bytes,
    })
}

/// What the workers make of a chunk of selected cables for a CSV or JSON Lines export: the
/// chunk's part of the data file and of the citations.
struct Made {
    data: Vec<u8>,
    cited: citation::CitedCables,
    captures: usize,
}

/// A chunk's CSV rows or JSON lines (each record compacted onto one line), and its citations.
fn made_for_file(
    req: &Request<'_>,
    version: &VersionRef,
    chunk: &[select::Selected],
) -> Result<Made> {
    let data = if req.format == Format::Csv {
        table::format_rows(chunk, req.excel_safe)?
    } else {
        let mut lines = Vec::with_capacity(chunk.iter().map(|c| c.bytes.len()).sum());
        for c in chunk {
            compact_json_into(&c.bytes, &mut lines);
            lines.push(b'\n');
        }
        lines
    };
    Ok(Made {
        data,
        cited: citation::cite(version, chunk),
        captures: chunk.iter().map(|c| c.line.captures.len()).sum(),
    })
}

/// A data file's description from its digest and size.
fn resource_with(path: &str, (sha256, bytes): (String, u64)) -> Resource {
    let mut r = resource_for(path, &[]);
    r.sha256 = sha256;
    r.bytes = bytes;
    r
}

/// Makes written files and folders durable before the rename that publishes them. All files
/// are written first and synced here, several at a time: the file system then commits them in
/// a few journal transactions instead of one per file. Folders are synced after their files.
fn sync_all(files: &[PathBuf], dirs: &[PathBuf]) -> Result<()> {
    const SYNCERS: usize = 16;
    let sync = |paths: &[PathBuf]| -> Result<()> {
        let chunk = paths.len().div_ceil(SYNCERS).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = paths
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<()> {
                        for p in part {
                            File::open(p).and_then(|f| f.sync_all()).at(p)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(Error::Invalid("a sync thread failed".into())))
            })
        })
    };
    sync(files)?;
    sync(dirs)
}

/// Gives a completed temporary folder its final name.
fn finish_folder(tmp: ScratchDir, out: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .at(tmp.path())?;
    }
    fsutil::fsync_parent(&tmp.path().join("x"))?;
    // An empty folder of that name is replaced; anything else makes the rename fail.
    tmp.publish(out)?;
    fsutil::fsync_parent(out)
}

/// Creates the folder the export goes into and removes what killed exports left there (only
/// temporaries that are provably cablekeep's and no longer in use: see [`crate::scratch`]).
fn prepare_parent(out: &Path) -> Result<PathBuf> {
    let parent = parent_of(out);
    std::fs::create_dir_all(&parent).at(&parent)?;
    scratch::remove_abandoned(&parent)?;
    Ok(parent)
}

fn export_meta(req: &Request<'_>, version: &VersionRef, cables: usize) -> Vec<(String, String)> {
    vec![
        ("export_format".into(), req.format.as_str().into()),
        ("source_identifier".into(), version.identifier.clone()),
        ("source_manifest".into(), version.manifest_file()),
        (
            "source_manifest_sha256".into(),
            version.manifest_sha256.clone(),
        ),
        (
            "source_archive_sha256".into(),
            version.archive_sha256.clone(),
        ),
        ("source_created".into(), version.created.clone()),
        ("filter".into(), req.filter.describe()),
        ("cables".into(), cables.to_string()),
        ("tool".into(), format!("cablekeep {}", crate::TOOL_VERSION)),
    ]
}

/// The payload of an export bag: the selected captures' raw bytes and records, copied from the
/// archive and checked against its manifest.
struct BagPayload<'a> {
    archive: &'a OpenArchive,
    /// Path and SHA-256 (from the archive's manifest), sorted by path.
    files: Vec<(String, String)>,
    /// The archive's path, for errors.
    path: &'a Path,
}

impl Payload for BagPayload<'_> {
    fn count(&self) -> usize {
        self.files.len()
    }

    fn path(&self, i: usize) -> &str {
        &self.files[i].0
    }

    fn load(&self, i: usize) -> Result<Vec<u8>> {
        let (path, sha256) = &self.files[i];
        let data = self.archive.read_required(path)?;
        if &hash::sha256_hex(&data) != sha256 {
            return Err(Error::Corrupt {
                path: self.path.to_path_buf(),
                message: format!(
                    "{path} does not match the archive's manifest; run `cablekeep verify`"
                ),
            });
        }
        Ok(data)
    }
}

/// bag, zip: a BagIt bag with the selected captures as payload; the common files,
/// `datapackage.json` and the selection's cable index are tag files. The selection's index
/// lines and citations are spooled to temporary files as they are made, and the archive's
/// manifest is read as a stream: what is held is the selected files' paths and digests.
fn write_bag_export(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
    sealed: Option<&crate::seal::SealedVersion>,
) -> Result<Written> {
    let parent = prepare_parent(req.out)?;
    let mut index = archive::Spool::create(&parent)?;
    let mut proofs: Vec<(String, archive::TagData)> = Vec::new();
    let mut cites = Citations::new(
        version,
        archive::Spool::create(&parent)?,
        archive::Spool::create(&parent)?,
    )
    .at(req.out)?;
    let mut files: Vec<(String, String)> = Vec::new();
    let mut captures = 0;
    let mut line_bytes = Vec::new();
    req.progress.start("selecting", version.cables);
    // The records are dropped on the worker threads: only the lines and citations come back.
    let cited = |chunk: Vec<select::Selected>| {
        let cited = citation::cite(version, &chunk);
        Ok((chunk.into_iter().map(|c| c.line).collect::<Vec<_>>(), cited))
    };
    select::stream_mapped(
        archive,
        keep,
        Need::default(),
        req.progress,
        &cited,
        |batch| {
            for (chunk, cited) in batch {
                cites.append(cited).at(req.out)?;
                for line in chunk {
                    if let Some(sealed) = sealed.filter(|_| req.proofs) {
                        let proof = sealed.proof(&line.id, &crate::seal::cable_files(&line))?;
                        let name = format!("seal/proofs/{}.json", line.id);
                        proofs.push((name, archive::TagData::Bytes(proof.to_bytes())));
                    }
                    captures += line.captures.len();
                    for cap in &line.captures {
                        files.push((cap.raw.clone(), String::new()));
                        files.push((cap.record.clone(), String::new()));
                    }
                    line_bytes.clear();
                    line_bytes.extend(capture::write_jsonl([&line]));
                    index.write(&line_bytes)?;
                }
            }
            Ok(())
        },
    )?;
    req.progress.finish();
    let (bib, csl, publishers, cables) = cites.finish().at(req.out)?;
    files.sort();
    listed_digests(archive, &mut files)?;
    let sizes = files
        .iter()
        .map(|(path, _)| stored_size(archive, path))
        .collect::<Result<Vec<u64>>>()?;
    let total = sizes.iter().sum();
    let summary = Summary {
        cables,
        captures,
        publishers,
    };
    let spooled = |name: &str, spool: archive::Spool| -> Result<(String, archive::TagData)> {
        Ok((name.to_string(), archive::TagData::Spooled(spool.finish()?)))
    };
    let mut tag_files = vec![spooled(archive::INDEX_FILE, index)?];
    tag_files.extend(
        readme_and_cff(req, version, &summary)
            .into_iter()
            .map(|(name, bytes)| (name, archive::TagData::Bytes(bytes))),
    );
    tag_files.push(spooled("citations.bib", bib)?);
    tag_files.push(spooled("citations.json", csl)?);
    if let Some(sealed) = sealed {
        tag_files.extend(
            sealed
                .export_files()
                .into_iter()
                .map(|(name, bytes)| (name, archive::TagData::Bytes(bytes))),
        );
        tag_files.extend(proofs);
    }
    // datapackage.json describes every payload file, then the index and the citations; it is
    // written a resource at a time (half a million of them for a whole collection).
    let described_tags: Vec<Resource> = tag_files
        .iter()
        .filter(|(n, _)| n.ends_with(".bib") || n.ends_with(".json") || n.ends_with(".jsonl"))
        .map(|(n, d)| tag_resource(n, d))
        .collect();
    let payload_resources = files
        .iter()
        .zip(sizes)
        .map(|((path, sha), bytes)| payload_resource(path, bytes, sha));
    let mut package = archive::Spool::create(&parent)?;
    datapackage::write_to(
        &mut package,
        version,
        &req.filter.describe(),
        cables,
        payload_resources.chain(described_tags),
    )
    .at(&parent)?;
    tag_files.push(spooled("datapackage.json", package)?);
    let folder = format!("{}-v{}-export", version.collection, version.version);
    let plan = BagPlan {
        folder: folder.clone(),
        bag_info: bag_info(req, version, &summary),
        tag_files,
    };
    let payload = BagPayload {
        archive,
        files,
        path: &archive.path,
    };
    let tmp = ScratchFile::create_in(&parent)?;
    let file = tmp.as_file().try_clone().at(tmp.path())?;
    req.progress.start("writing", total);
    let (_, written) = archive::write_bag(file, &parent, plan, &payload, &|n| req.progress.inc(n))?;
    req.progress.finish();
    let files = written.zip_entries as usize;
    let done = |bytes| Written {
        cables,
        captures: summary.captures,
        files,
        bytes,
    };
    if req.format == Format::Zip {
        let bytes = tmp.as_file().metadata().at(tmp.path())?.len();
        // The README allows an empty folder as --out: the zip takes its place. (Removing a
        // folder that is no longer empty fails, and the export then fails on the name.)
        if std::fs::symlink_metadata(req.out).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir(req.out).at(req.out)?;
        }
        fsutil::persist(tmp.into_temp(), req.out, true)?;
        return Ok(done(bytes));
    }
    let dir = ScratchDir::create_in(&parent)?;
    let bytes = unpack_bag(tmp.path(), dir.path())?;
    drop(tmp);
    finish_folder(dir, req.out)?;
    Ok(done(bytes))
}

/// The size of a file of the archive, which must hold it.
fn stored_size(archive: &OpenArchive, path: &str) -> Result<u64> {
    archive
        .entry(path)
        .map(|e| e.uncompressed_size)
        .ok_or_else(|| Error::Corrupt {
            path: archive.path.clone(),
            message: format!("{path} is missing from the archive; run `cablekeep verify`"),
        })
}

/// How `datapackage.json` describes a payload file of a bag export.
fn payload_resource(path: &str, bytes: u64, sha256: &str) -> Resource {
    let mut r = resource_of(path, bytes, sha256.to_string());
    if path.ends_with(".json") {
        r.format = "json";
        r.mediatype = "application/json";
        r.description = "Stored record (cablekeep-record/1) of a capture".into();
    }
    r
}

/// How `datapackage.json` describes a tag file of a bag export.
fn tag_resource(name: &str, data: &archive::TagData) -> Resource {
    let mut r = match data {
        archive::TagData::Bytes(bytes) => resource_for(name, bytes),
        archive::TagData::Spooled(s) => resource_of(name, s.len(), s.digests().sha256.clone()),
    };
    if name.ends_with(".jsonl") {
        r.description =
            "The selected cables' index lines (cablekeep archive format 1, section 4)".into();
    }
    r
}

/// Gives each selected file (`files`, sorted by path) the SHA-256 the archive's manifest lists
/// for it, reading the manifest as it is inflated: a whole collection's is too large to hold
/// (60 MB for the full corpus, and a table of it more).
fn listed_digests(archive: &OpenArchive, files: &mut [(String, String)]) -> Result<()> {
    const NAME: &str = "manifest-sha256.txt";
    let corrupt = |message: String| Error::Corrupt {
        path: archive.path.clone(),
        message,
    };
    let entry = archive.entry(NAME).ok_or_else(|| {
        corrupt(format!(
            "{NAME} is missing from the archive; run `cablekeep verify`"
        ))
    })?;
    let mut malformed = false;
    let mut take = |line: &[u8], _: usize| {
        let text = archive::lossy_text(line);
        match manifest::parse_manifest_line(&text, 64) {
            Ok(None) => {}
            Ok(Some((digest, path))) => {
                let first = files.partition_point(|(p, _)| p.as_str() < path.as_ref());
                for (_, sha) in files[first..].iter_mut().take_while(|(p, _)| *p == path) {
                    *sha = digest.to_ascii_lowercase();
                }
            }
            Err(_) => malformed = true,
        }
        true
    };
    let mut lines = capture::LineSplitter::default();
    let findings = archive.stream(entry, |chunk| {
        lines.feed(chunk, &mut take);
    })?;
    lines.finish(&mut take);
    if malformed || !findings.is_empty() {
        return Err(corrupt(format!(
            "{NAME} is damaged; run `cablekeep verify`"
        )));
    }
    match files.iter().find(|(_, sha)| sha.is_empty()) {
        Some((path, _)) => Err(corrupt(format!(
            "{path} is not in the archive's manifest; run `cablekeep verify`"
        ))),
        None => Ok(()),
    }
}

/// Unpacks a bag zip (with cablekeep's own reader) into `dir`: each file is written as it is
/// inflated (`datapackage.json` alone is ~4 KB per cable), and synced with the others of its
/// batch of [`FILES_PER_SYNC`], then all folders at once. Returns the bytes written.
fn unpack_bag(zip_path: &Path, dir: &Path) -> Result<u64> {
    let zip = OpenArchive::open(zip_path)?;
    let mut bytes = 0;
    let mut written = Vec::with_capacity(FILES_PER_SYNC);
    let mut dirs = BTreeSet::new();
    for entry in &zip.index.entries {
        let rel = zip.bag_path(entry).ok_or_else(|| Error::Corrupt {
            path: zip_path.to_path_buf(),
            message: format!("{} is outside the bag folder", entry.name),
        })?;
        let path = dir.join(rel);
        if let Some(p) = path.parent()
            && !dirs.contains(p)
        {
            std::fs::create_dir_all(p).at(p)?;
            for d in p.ancestors().take_while(|d| d.starts_with(dir)) {
                dirs.insert(d.to_path_buf());
            }
        }
        bytes += unpack_entry(&zip, entry, &path)?;
        written.push(path);
        if written.len() == FILES_PER_SYNC {
            sync_all(&written, &[])?;
            written.clear();
        }
    }
    dirs.remove(dir);
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    sync_all(&written, &dirs)?;
    Ok(bytes)
}

/// Files written before they are synced together: memory for their paths that does not grow
/// with the export, syncs still side by side.
const FILES_PER_SYNC: usize = 4096;

/// Writes one entry of the bag zip to `path` as it is inflated. Returns its size.
fn unpack_entry(zip: &OpenArchive, entry: &archive::Entry, path: &Path) -> Result<u64> {
    let mut out = BufWriter::new(File::create(path).at(path)?);
    let mut size = 0u64;
    let mut failed: Option<std::io::Error> = None;
    let findings = zip.stream(entry, |chunk| {
        if failed.is_none() {
            match out.write_all(chunk) {
                Ok(()) => size += chunk.len() as u64,
                Err(e) => failed = Some(e),
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e).at(path);
    }
    if let Some(finding) = findings.first() {
        return Err(Error::Corrupt {
            path: zip.path.clone(),
            message: format!("{}: {finding}", entry.name),
        });
    }
    out.flush().at(path)?;
    Ok(size)
}

fn bag_info(req: &Request<'_>, version: &VersionRef, summary: &Summary) -> Vec<(String, String)> {
    let (cables, captures) = (summary.cables, summary.captures);
    vec![
        (
            "Bag-Software-Agent".into(),
            format!(
                "cablekeep {} (https://crates.io/crates/cablekeep)",
                crate::TOOL_VERSION
            ),
        ),
        (
            "Bagging-Date".into(),
            version
                .created
                .get(..10)
                .unwrap_or(&version.created)
                .to_string(),
        ),
        (
            "External-Identifier".into(),
            format!("{}-export", version.identifier),
        ),
        ("Bag-Group-Identifier".into(), version.collection.clone()),
        (
            "External-Description".into(),
            format!(
                "{} cables exported from the cablekeep archive {} ({})",
                cables,
                version.identifier,
                req.filter.describe()
            ),
        ),
        ("Cablekeep-Export-Of".into(), version.identifier.clone()),
        (
            "Cablekeep-Source-Manifest-SHA256".into(),
            version.manifest_sha256.clone(),
        ),
        (
            "Cablekeep-Source-Archive-SHA256".into(),
            version.archive_sha256.clone(),
        ),
        ("Cablekeep-Cables".into(), cables.to_string()),
        ("Cablekeep-Captures".into(), captures.to_string()),
    ]
}

fn readme(req: &Request<'_>, version: &VersionRef, summary: &Summary, filter: &str) -> String {
    let (cables, captures) = (summary.cables, summary.captures);
    let bag = matches!(req.format, Format::Bag | Format::Zip);
    let mut s = String::new();
    s.push_str(&format!(
        "# Diplomatic cables from the cablekeep archive {}\n\n",
        version.identifier
    ));
    s.push_str(&format!(
        "This {} export holds {} cables ({} captures) selected from version {} of the collection \
         `{}`, an archive written by cablekeep on {}.\n\n",
        req.format.as_str(),
        cables,
        captures,
        version.version,
        version.collection,
        version.created
    ));
    s.push_str("## Source\n\n");
    s.push_str(&format!("* archive version: `{}`\n", version.identifier));
    s.push_str(&format!(
        "* sidecar manifest `{}`: sha256 `{}`\n",
        version.manifest_file(),
        version.manifest_sha256
    ));
    s.push_str(&format!(
        "* archive `{}-v{}.zip`: sha256 `{}`\n",
        version.collection, version.version, version.archive_sha256
    ));
    s.push_str(&format!("* selection: {filter}\n\n"));
    s.push_str("## Files\n\n");
    match req.format {
        Format::Csv => s.push_str(
            "* `cables.csv`: one row per cable (its current capture), UTF-8, RFC 4180; lists are \
             joined with `; `; columns are described in `datapackage.json`.\n",
        ),
        Format::Jsonl => s.push_str(
            "* `cables.jsonl`: the stored record (`cablekeep-record/1`, see the cablekeep \
             archive format, section 3) of each cable's current capture, one per line.\n",
        ),
        Format::Sqlite => s.push_str(
            "* `cables.sqlite`: SQLite database with tables `cables`, `captures`, `sources`, \
             `tags`, `references`, `link_check_events` and the FTS5 table `cables_fts` over \
             subject and text (`SELECT id FROM cables WHERE pk IN (SELECT rowid FROM cables_fts \
             WHERE cables_fts MATCH 'embassy')`). Opens in `sqlite3` and Datasette.\n",
        ),
        Format::Bag | Format::Zip => s.push_str(
            "* `data/cables/<ID>/<capture>.html|.txt`: each capture's raw bytes, exactly as \
             archived; `data/cables/<ID>/<capture>.json`: its stored record.\n\
             * `cablekeep/index.jsonl`: the selected cables' index lines.\n\
             * `bagit.txt`, `bag-info.txt`, `manifest-*.txt`, `tagmanifest-*.txt`: the BagIt 1.0 \
             bag (RFC 8493).\n",
        ),
    }
    s.push_str(
        "* `datapackage.json`: Frictionless Data Package describing the data files with their \
         sizes and SHA-256.\n\
         * `CITATION.cff`: how to cite this export; `citations.bib` (BibTeX) and \
         `citations.json` (CSL-JSON): a citation of every cable.\n",
    );
    if !bag {
        s.push_str("* `manifest-sha256.txt`: SHA-256 of every other file.\n");
    }
    s.push_str("\n## Verify\n\n```sh\n");
    if bag {
        s.push_str("bagit.py --validate .              # Library of Congress bagit-python\n");
        s.push_str("sha256sum -c manifest-sha256.txt   # the payload, with coreutils alone\n");
        s.push_str("sha256sum -c tagmanifest-sha256.txt\n");
    } else {
        s.push_str("sha256sum -c manifest-sha256.txt\n");
    }
    s.push_str("frictionless validate datapackage.json\n```\n\n");
    s.push_str(&format!(
        "The source archive itself is checked with `cablekeep verify -c {} --version v{}`; its \
         sidecar manifest must have the SHA-256 above.\n\n",
        version.collection, version.version
    ));
    s.push_str("## Cite\n\n");
    s.push_str(&format!(
        "Cite this export as `CITATION.cff` says (archive version `{}`, sidecar manifest sha256 \
         `{}`), and each cable you quote with its entry in `citations.bib` or `citations.json`: \
         they give its original source URL, its release date and the archive version.\n",
        version.identifier, version.manifest_sha256
    ));
    s
}

/// A selected cable for tests: a plain record whose fields `record` replaces or adds (a JSON
/// object), with the index line of one capture.
#[cfg(test)]
pub(crate) fn sample_cable(id: &str, record: serde_json::Value) -> select::Selected {
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
    select::Selected {
        line: serde_json::from_value(line).expect("an index line"),
        record: serde_json::from_value(r).expect("a record"),
        bytes: Vec::new(),
        sources: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_strings_and_order() {
        let pretty = b"{\n  \"b\": \"x  y\\\" z\",\n  \"a\": [\n    1,\n    2\n  ]\n}\n";
        assert_eq!(compact_json(pretty), b"{\"b\":\"x  y\\\" z\",\"a\":[1,2]}");
    }

    #[test]
    fn formats_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
    }
}
