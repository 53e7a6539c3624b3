//! bag and zip exports: a BagIt bag with the selected captures as payload, copied from the
//! archive and checked against its manifest, zipped or unpacked into a folder.

use super::citation::{self, Citations};
use super::datapackage::{self, Resource, resource_for, resource_of};
use super::files::{finish_folder, prepare_parent, sync_all};
use super::readme::{Summary, readme_and_cff};
use super::{Format, Request, Written};
use crate::bag::manifest;
use crate::bag::{self, BagPlan, OpenArchive, Payload};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::hash;
use crate::query::select::{self, Need, VersionRef};
use crate::scratch::{ScratchDir, ScratchFile};
use crate::seal::SealedVersion;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The payload of an export bag: the selected captures' raw bytes and records, copied from the
/// archive and checked against its manifest.
pub(super) struct BagPayload<'a> {
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
pub(super) fn write_bag_export(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
    sealed: Option<&SealedVersion>,
) -> Result<Written> {
    let parent = prepare_parent(req.out)?;
    let proving = sealed.filter(|_| req.proofs);
    let chosen = choose_payload(req, version, archive, keep, proving, &parent)?;
    let mut files = chosen.files;
    files.sort();
    listed_digests(archive, &mut files)?;
    let sizes = files
        .iter()
        .map(|(path, _)| stored_size(archive, path))
        .collect::<Result<Vec<u64>>>()?;
    let total = sizes.iter().sum();
    let summary = chosen.summary;
    let tag_files = tag_files(
        req,
        version,
        &summary,
        TagParts {
            spools: chosen.spools,
            seal: SealFiles {
                sealed,
                proofs: chosen.proofs,
            },
        },
        &files,
        sizes,
        &parent,
    )?;
    let plan = BagPlan {
        folder: format!("{}-v{}-export", version.collection, version.version),
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
    let (_, written) = bag::write_bag(file, &parent, plan, &payload, &|n| req.progress.inc(n))?;
    req.progress.finish();
    let bytes = publish(req, tmp, &parent)?;
    Ok(Written {
        cables: summary.cables,
        captures: summary.captures,
        files: written.zip_entries as usize,
        bytes,
    })
}

/// What the selection of a bag export gives: the payload files (path, and an empty digest for
/// now), the spooled index lines and citations, and what the README says of the cables.
struct Chosen {
    files: Vec<(String, String)>,
    spools: Spools,
    summary: Summary,
    /// With `--proofs`: one proof per selected cable, as tag files.
    proofs: Vec<(String, bag::TagData)>,
}

/// The tag files made while the cables were selected, and the seal's.
struct TagParts<'a> {
    spools: Spools,
    seal: SealFiles<'a>,
}

/// What a sealed version adds to its export: its checkpoint, signatures and timestamp
/// (`seal/`), and the proofs asked for (`seal/proofs/`).
struct SealFiles<'a> {
    sealed: Option<&'a SealedVersion>,
    proofs: Vec<(String, bag::TagData)>,
}

/// The tag files spooled as the cables are selected.
struct Spools {
    index: bag::Spool,
    bib: bag::Spool,
    csl: bag::Spool,
}

/// Streams the selected cables' index lines: their captures' files become the payload, their
/// lines and citations are spooled.
fn choose_payload(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
    proving: Option<&SealedVersion>,
    parent: &Path,
) -> Result<Chosen> {
    let mut index = bag::Spool::create(parent)?;
    let mut cites = Citations::new(
        version,
        bag::Spool::create(parent)?,
        bag::Spool::create(parent)?,
    )
    .at(req.out)?;
    let mut files: Vec<(String, String)> = Vec::new();
    let mut captures = 0;
    let mut proofs = Vec::new();
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
                    if let Some(sealed) = proving {
                        let proof = sealed.proof(&line.id, &crate::seal::cable_files(&line))?;
                        let name = format!("seal/proofs/{}.json", line.id);
                        proofs.push((name, bag::TagData::Bytes(proof.to_bytes())));
                    }
                    captures += line.captures.len();
                    for cap in &line.captures {
                        files.push((cap.raw.clone(), String::new()));
                        files.push((cap.record.clone(), String::new()));
                    }
                    line_bytes.clear();
                    line_bytes.extend(crate::jsonl::write_jsonl([&line]));
                    index.write(&line_bytes)?;
                }
            }
            Ok(())
        },
    )?;
    req.progress.finish();
    let (bib, csl, publishers, cables) = cites.finish().at(req.out)?;
    Ok(Chosen {
        files,
        spools: Spools { index, bib, csl },
        summary: Summary {
            cables,
            captures,
            publishers,
        },
        proofs,
    })
}

/// The tag files of a bag export: the index, README.md, CITATION.cff, the citations and, last,
/// `datapackage.json`, which describes every payload file (`files`, of these `sizes`), then the
/// index and the citations; it is written a resource at a time (half a million of them for a
/// whole collection).
fn tag_files(
    req: &Request<'_>,
    version: &VersionRef,
    summary: &Summary,
    parts: TagParts<'_>,
    files: &[(String, String)],
    sizes: Vec<u64>,
    parent: &Path,
) -> Result<Vec<(String, bag::TagData)>> {
    let spooled = |name: &str, spool: bag::Spool| -> Result<(String, bag::TagData)> {
        Ok((name.to_string(), bag::TagData::Spooled(spool.finish()?)))
    };
    let mut tag_files = vec![spooled(bag::INDEX_FILE, parts.spools.index)?];
    tag_files.extend(
        readme_and_cff(req, version, summary)
            .into_iter()
            .map(|(name, bytes)| (name, bag::TagData::Bytes(bytes))),
    );
    tag_files.push(spooled("citations.bib", parts.spools.bib)?);
    tag_files.push(spooled("citations.json", parts.spools.csl)?);
    if let Some(sealed) = parts.seal.sealed {
        tag_files.extend(
            sealed
                .export_files()
                .into_iter()
                .map(|(name, bytes)| (name, bag::TagData::Bytes(bytes))),
        );
        tag_files.extend(parts.seal.proofs);
    }
    let described_tags: Vec<Resource> = tag_files
        .iter()
        .filter(|(n, _)| n.ends_with(".bib") || n.ends_with(".json") || n.ends_with(".jsonl"))
        .map(|(n, d)| tag_resource(n, d))
        .collect();
    let payload_resources = files
        .iter()
        .zip(sizes)
        .map(|((path, sha), bytes)| payload_resource(path, bytes, sha));
    let mut package = bag::Spool::create(parent)?;
    datapackage::write_to(
        &mut package,
        version,
        &req.filter.describe(),
        summary.cables,
        payload_resources.chain(described_tags),
    )
    .at(parent)?;
    tag_files.push(spooled("datapackage.json", package)?);
    Ok(tag_files)
}

/// Gives the written bag zip its place: as it is (zip), or unpacked into a folder (bag).
/// Returns the bytes of the export.
fn publish(req: &Request<'_>, tmp: ScratchFile, parent: &Path) -> Result<u64> {
    if req.format == Format::Zip {
        let bytes = tmp.as_file().metadata().at(tmp.path())?.len();
        // The README allows an empty folder as --out: the zip takes its place. (Removing a
        // folder that is no longer empty fails, and the export then fails on the name.)
        if std::fs::symlink_metadata(req.out).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir(req.out).at(req.out)?;
        }
        fsutil::persist(tmp.into_temp(), req.out, fsutil::Existing::Keep)?;
        return Ok(bytes);
    }
    let dir = ScratchDir::create_in(parent)?;
    let bytes = unpack_bag(tmp.path(), dir.path())?;
    drop(tmp);
    finish_folder(dir, req.out)?;
    Ok(bytes)
}

/// The size of a file of the archive, which must hold it.
pub(super) fn stored_size(archive: &OpenArchive, path: &str) -> Result<u64> {
    archive
        .entry(path)
        .map(|e| e.uncompressed_size)
        .ok_or_else(|| Error::Corrupt {
            path: archive.path.clone(),
            message: format!("{path} is missing from the archive; run `cablekeep verify`"),
        })
}

/// How `datapackage.json` describes a payload file of a bag export.
pub(super) fn payload_resource(path: &str, bytes: u64, sha256: &str) -> Resource {
    let mut r = resource_of(path, bytes, sha256.to_string());
    if path.ends_with(".json") {
        r.format = "json";
        r.mediatype = "application/json";
        r.description = "Stored record of a capture, as archived: cablekeep-record/1, or \
             cablekeep-record/2, which may take its text from the raw capture \
             (docs/FORMAT.md section 3.2)"
            .into();
    }
    r
}

/// How `datapackage.json` describes a tag file of a bag export.
pub(super) fn tag_resource(name: &str, data: &bag::TagData) -> Resource {
    let mut r = match data {
        bag::TagData::Bytes(bytes) => resource_for(name, bytes),
        bag::TagData::Spooled(s) => resource_of(name, s.len(), s.digests().sha256.clone()),
    };
    if name.ends_with(".jsonl") {
        r.description =
            "The selected cables' index lines (cablekeep archive format, section 4)".into();
    }
    r
}

/// Gives each selected file (`files`, sorted by path) the SHA-256 the archive's manifest lists
/// for it, reading the manifest as it is inflated: a whole collection's is too large to hold
/// (60 MB for the full corpus, and a table of it more).
pub(super) fn listed_digests(archive: &OpenArchive, files: &mut [(String, String)]) -> Result<()> {
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
        let text = bag::lossy_text(line);
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
    let mut lines = crate::jsonl::LineSplitter::default();
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
pub(super) fn unpack_bag(zip_path: &Path, dir: &Path) -> Result<u64> {
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
pub(super) const FILES_PER_SYNC: usize = 4096;

/// Writes one entry of the bag zip to `path` as it is inflated. Returns its size.
pub(super) fn unpack_entry(zip: &OpenArchive, entry: &bag::Entry, path: &Path) -> Result<u64> {
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

pub(super) fn bag_info(
    req: &Request<'_>,
    version: &VersionRef,
    summary: &Summary,
) -> Vec<(String, String)> {
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
