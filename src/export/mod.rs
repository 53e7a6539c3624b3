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
use crate::catalog::{self, Catalog, Part};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::hash;
use crate::manifest;
use crate::select::{self, Facts, Filter, LoadedCable, VersionRef};
use crate::store::{Progress, Store};
use datapackage::Resource;
use std::collections::HashMap;
use std::io::Write;
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

/// Picks the cables of a version that pass `filter` (the full-text query through the store's
/// catalog when the version is the latest, else through a catalog in memory) and loads them.
pub fn select(
    store: &Store,
    version: &VersionRef,
    archive: &OpenArchive,
    filter: &Filter,
    progress: &dyn Progress,
) -> Result<Vec<LoadedCable>> {
    let (lines, _) = crate::store::read_index(archive)?;
    let lines: Vec<IndexLine> = lines
        .into_iter()
        .filter(|l| filter.matches(&Facts::of(l)))
        .collect();
    let Some(query) = &filter.query else {
        return select::load(archive, lines, progress);
    };
    let latest = store.latest(&version.collection)? == Some(version.version);
    if latest {
        let (catalog, _) = Catalog::open(store, progress)?;
        let ids = catalog.matching_ids(&version.collection, query)?;
        let lines = lines.into_iter().filter(|l| ids.contains(&l.id)).collect();
        select::load(archive, lines, progress)
    } else {
        let cables = select::load(archive, lines, progress)?;
        let ids = Catalog::in_memory(version, &cables)?.matching_ids(&version.collection, query)?;
        Ok(cables
            .into_iter()
            .filter(|c| ids.contains(&c.line.id))
            .collect())
    }
}

/// Exports a selection of a collection version.
pub fn export(store: &Store, req: Request<'_>) -> Result<Outcome> {
    let v = store.resolve_version(req.collection, req.version)?;
    let version = VersionRef::read(store, req.collection, v)?;
    check_out(req.out)?;
    let archive = OpenArchive::open(&store.zip_path(req.collection, v))?;
    let cables = select(store, &version, &archive, req.filter, req.progress)?;
    let captures = cables.iter().map(|c| c.line.captures.len()).sum();
    let (files, bytes) = match req.format {
        Format::Bag | Format::Zip => write_bag_export(&req, &version, &archive, &cables)?,
        _ => write_folder_export(&req, &version, &cables)?,
    };
    Ok(Outcome {
        version,
        cables: cables.len(),
        captures,
        files,
        bytes,
        out: req.out.to_path_buf(),
    })
}

/// The destination must not exist, or be an empty folder (never for `zip`, a file).
fn check_out(out: &Path) -> Result<()> {
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
fn compact_json(pretty: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pretty.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in pretty {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !b.is_ascii_whitespace() {
            out.push(b);
        }
    }
    out
}

/// The files every export carries besides its data: README, CITATION.cff, citations.
fn common_files(
    req: &Request<'_>,
    version: &VersionRef,
    cables: &[LoadedCable],
    data_files: &[&str],
) -> Vec<(String, Vec<u8>)> {
    let described = req.filter.describe();
    vec![
        (
            "README.md".to_string(),
            readme(req, version, cables, &described, data_files).into_bytes(),
        ),
        (
            "CITATION.cff".to_string(),
            citation::cff(version, cables, &described, req.format.as_str()).into_bytes(),
        ),
        (
            "citations.bib".to_string(),
            citation::bibtex(version, cables).into_bytes(),
        ),
        (
            "citations.json".to_string(),
            citation::csl_json(version, cables),
        ),
    ]
}

fn resource_for(path: &str, data: &[u8]) -> Resource {
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
        bytes: data.len() as u64,
        sha256: hash::sha256_hex(data),
        table,
        format,
        mediatype,
        description: description.to_string(),
    }
}

/// csv, jsonl, sqlite: a folder with the data file, the common files, `datapackage.json` and
/// `manifest-sha256.txt`, built under a temporary name and renamed into place.
fn write_folder_export(
    req: &Request<'_>,
    version: &VersionRef,
    cables: &[LoadedCable],
) -> Result<(usize, u64)> {
    let parent = parent_of(req.out);
    std::fs::create_dir_all(&parent).at(&parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(fsutil::TEMP_PREFIX)
        .tempdir_in(&parent)
        .at(&parent)?;
    let dir = tmp.path();
    let data_name = data_file(req.format);
    req.progress.start("writing", cables.len() as u64);
    let data: Vec<u8> = match req.format {
        Format::Csv => table::csv(cables, req.excel_safe)?,
        Format::Jsonl => {
            let mut out = Vec::new();
            for c in cables {
                out.extend(compact_json(&c.current().bytes));
                out.push(b'\n');
            }
            out
        }
        Format::Sqlite => {
            let path = dir.join(data_name);
            let meta = export_meta(req, version, cables.len());
            catalog::write_database(
                &path,
                &meta,
                &[Part { version, cables }],
                &crate::store::NoProgress,
            )?;
            std::fs::read(&path).at(&path)?
        }
        Format::Bag | Format::Zip => unreachable!("bags are written by write_bag_export"),
    };
    req.progress.inc(cables.len() as u64);
    req.progress.finish();
    let mut files: Vec<(String, Vec<u8>)> = vec![(data_name.to_string(), data)];
    files.extend(common_files(req, version, cables, &[data_name]));
    let described: Vec<Resource> = files
        .iter()
        .filter(|(n, _)| n != "README.md" && n != "CITATION.cff")
        .map(|(n, d)| resource_for(n, d))
        .collect();
    files.push((
        "datapackage.json".to_string(),
        datapackage::write(version, &req.filter.describe(), cables.len(), &described),
    ));
    let lines: Vec<(String, String)> = files
        .iter()
        .map(|(n, d)| (hash::sha256_hex(d), n.clone()))
        .collect();
    let manifest_text =
        manifest::write_manifest(lines.iter().map(|(d, p)| (d.as_str(), p.as_str())));
    files.push((
        "manifest-sha256.txt".to_string(),
        manifest_text.into_bytes(),
    ));
    let mut bytes = 0;
    for (name, data) in &files {
        let path = dir.join(name);
        write_synced(&path, data)?;
        bytes += data.len() as u64;
    }
    let count = files.len();
    finish_folder(tmp, req.out)?;
    Ok((count, bytes))
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).at(path)?;
    f.write_all(data).at(path)?;
    f.sync_all().at(path)
}

/// Gives a completed temporary folder its final name.
fn finish_folder(tmp: tempfile::TempDir, out: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .at(tmp.path())?;
    }
    fsutil::fsync_parent(&tmp.path().join("x"))?;
    let path = tmp.keep();
    // An empty folder of that name is replaced; anything else makes the rename fail.
    if let Err(e) = std::fs::rename(&path, out) {
        let _ = std::fs::remove_dir_all(&path);
        return Err(Error::io(out, e));
    }
    fsutil::fsync_parent(out)
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
                path: self.archive.path.clone(),
                message: format!(
                    "{path} does not match the archive's manifest; run `cablekeep verify`"
                ),
            });
        }
        Ok(data)
    }
}

/// bag, zip: a BagIt bag with the selected captures as payload; the common files,
/// `datapackage.json` and the selection's cable index are tag files.
fn write_bag_export(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    cables: &[LoadedCable],
) -> Result<(usize, u64)> {
    let text = archive.read_required("manifest-sha256.txt")?;
    let (entries, bad) = manifest::parse_manifest(&String::from_utf8_lossy(&text), 64);
    if !bad.is_empty() {
        return Err(Error::Corrupt {
            path: archive.path.clone(),
            message: "manifest-sha256.txt is damaged; run `cablekeep verify`".into(),
        });
    }
    let digests: HashMap<String, String> =
        entries.into_iter().map(|l| (l.path, l.digest)).collect();
    let mut files = Vec::new();
    for c in cables {
        for cap in &c.line.captures {
            for path in [&cap.raw, &cap.record] {
                let sha = digests.get(path).ok_or_else(|| Error::Corrupt {
                    path: archive.path.clone(),
                    message: format!(
                        "{path} is not in the archive's manifest; run `cablekeep verify`"
                    ),
                })?;
                files.push((path.clone(), sha.clone()));
            }
        }
    }
    files.sort();
    let mut described = Vec::new();
    let mut total = 0;
    for (path, sha) in &files {
        let bytes = archive
            .entry(path)
            .map(|e| e.uncompressed_size)
            .ok_or_else(|| Error::Corrupt {
                path: archive.path.clone(),
                message: format!("{path} is missing from the archive; run `cablekeep verify`"),
            })?;
        total += bytes;
        let mut r = resource_for(path, &[]);
        r.bytes = bytes;
        r.sha256 = sha.clone();
        if path.ends_with(".json") {
            r.format = "json";
            r.mediatype = "application/json";
            r.description = "Stored record (cablekeep-record/1) of a capture".into();
        }
        described.push(r);
    }
    let lines: Vec<IndexLine> = cables.iter().map(|c| c.line.clone()).collect();
    let mut tag_files = vec![(
        archive::INDEX_FILE.to_string(),
        capture::write_jsonl(&lines),
    )];
    tag_files.extend(common_files(req, version, cables, &["data/"]));
    for (n, d) in &tag_files {
        if n.ends_with(".bib") || n.ends_with(".json") || n.ends_with(".jsonl") {
            let mut r = resource_for(n, d);
            if n.ends_with(".jsonl") {
                r.description =
                    "The selected cables' index lines (cablekeep archive format 1, section 4)"
                        .into();
            }
            described.push(r);
        }
    }
    tag_files.push((
        "datapackage.json".to_string(),
        datapackage::write(version, &req.filter.describe(), cables.len(), &described),
    ));
    let folder = format!("{}-v{}-export", version.collection, version.version);
    let plan = BagPlan {
        folder: folder.clone(),
        bag_info: bag_info(req, version, cables),
        tag_files,
    };
    let payload = BagPayload { archive, files };
    let parent = parent_of(req.out);
    std::fs::create_dir_all(&parent).at(&parent)?;
    let tmp = fsutil::temp_file_in(&parent)?;
    let file = tmp.reopen().at(tmp.path())?;
    req.progress.start("writing", total);
    let (_, written) = archive::write_bag(file, &plan, &payload, &|n| req.progress.inc(n))?;
    req.progress.finish();
    let files = (written.zip_entries) as usize;
    if req.format == Format::Zip {
        let bytes = tmp.as_file().metadata().at(tmp.path())?.len();
        fsutil::persist(tmp, req.out, true)?;
        return Ok((files, bytes));
    }
    // A bag folder: the zip's bag, unpacked with cablekeep's own reader.
    let zip = OpenArchive::open(tmp.path())?;
    let dir = tempfile::Builder::new()
        .prefix(fsutil::TEMP_PREFIX)
        .tempdir_in(&parent)
        .at(&parent)?;
    let mut bytes = 0;
    for entry in &zip.index.entries {
        let rel = zip.bag_path(entry).ok_or_else(|| Error::Corrupt {
            path: tmp.path().to_path_buf(),
            message: format!("{} is outside the bag folder", entry.name),
        })?;
        let path = dir.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).at(p)?;
        }
        let mut data = Vec::with_capacity(entry.uncompressed_size as usize);
        let findings = zip.stream(entry, |chunk| data.extend_from_slice(chunk))?;
        if !findings.is_empty() {
            return Err(Error::Corrupt {
                path: tmp.path().to_path_buf(),
                message: format!("{}: {}", entry.name, findings[0]),
            });
        }
        bytes += data.len() as u64;
        write_synced(&path, &data)?;
    }
    drop(zip);
    finish_folder(dir, req.out)?;
    Ok((files, bytes))
}

fn bag_info(
    req: &Request<'_>,
    version: &VersionRef,
    cables: &[LoadedCable],
) -> Vec<(String, String)> {
    let captures: usize = cables.iter().map(|c| c.line.captures.len()).sum();
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
                cables.len(),
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
        ("Cablekeep-Cables".into(), cables.len().to_string()),
        ("Cablekeep-Captures".into(), captures.to_string()),
    ]
}

fn readme(
    req: &Request<'_>,
    version: &VersionRef,
    cables: &[LoadedCable],
    filter: &str,
    data_files: &[&str],
) -> String {
    let captures: usize = cables.iter().map(|c| c.line.captures.len()).sum();
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
        cables.len(),
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
    let _ = data_files;
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
