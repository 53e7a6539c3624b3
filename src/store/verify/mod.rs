//! Verification: every byte of an archive against its manifests, the archive against its sidecar
//! manifest, and each version against the one before it. Every problem is a finding; nothing
//! stops at the first one.
//!
//! Full mode inflates and hashes every entry (SHA-256, SHA-512 and the zip CRC-32 in one pass, on
//! all cores, streaming). Fast mode checks structure, listings, sizes, Payload-Oxum and the tag
//! files (with SHA-256 only), without reading the payload. Neither holds a tag file whole, and
//! an archive in cablekeep's layout is checked a chunk of entries at a time, in memory that does
//! not grow with it (see the `bag` module).

mod blocks;
mod sidecar;
mod small_files;

use blocks::HashedBlocks;

use self::sidecar::{
    check_bag_identity, check_chain, check_previous_in_bag, check_sidecar_identity,
    compare_sidecar, read_sidecar,
};
use self::small_files::{
    ChecksumReference, MAX_CHECKSUM_FILE, check_checksum_file, not_regular_message, read_small_text,
};
use crate::bag::check::{BagChecked, BagSeen, Depth, check_bag};
use crate::bag::{OpenArchive, ReadAt, Reading};
use crate::error::IoContext;
use crate::error::Result;
use crate::finding::{CappedFindings, Code, Finding};
use crate::hash;
use crate::progress::Progress;
use crate::store::FileKind;
use crate::store::sidecar::VersionManifest;
use crate::store::{Store, VersionId};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How thoroughly to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Skip re-hashing the payload (structure, listings, sizes and Payload-Oxum only).
    pub fast: bool,
    /// Open every archive whole, with tables of all its entries, also when it is in cablekeep's
    /// layout and could be checked a chunk at a time in memory that does not grow with it. The
    /// whole-archive check is what every other archive gets; both find the same.
    pub whole: bool,
}

/// The result of checking one archive.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The archive checked.
    pub archive: PathBuf,
    /// `<collection>@v<N>` when known.
    pub identifier: Option<String>,
    /// Entries in the zip's central directory.
    pub entries: u64,
    /// Uncompressed bytes read and hashed (0 in fast mode).
    pub bytes_hashed: u64,
    /// Everything found wrong with the archive, warnings included (codes in `docs/FINDINGS.md`);
    /// empty when nothing was. Each code lists its first 100 findings, then one with the count
    /// of the rest (FORMAT.md section 7).
    pub findings: Vec<Finding>,
    /// True when the archive was checked a chunk at a time, in memory that does not grow with
    /// it (an archive in cablekeep's layout); false when it was opened whole.
    pub streamed: bool,
    /// True when the zip itself had no record to be compared with (a zip checked on its own,
    /// with neither a sidecar manifest nor a `.sha256` file): its entries were checked against
    /// the bag's manifests, but not the whole file against a digest recorded elsewhere.
    pub zip_digest_unchecked: bool,
}

/// What the bag check found, as a report (not yet named, nor compared with a sidecar).
impl From<BagChecked> for Report {
    fn from(checked: BagChecked) -> Report {
        Report {
            archive: checked.archive,
            entries: checked.entries,
            bytes_hashed: checked.bytes_hashed,
            findings: checked.findings,
            streamed: checked.streamed,
            ..Report::default()
        }
    }
}

impl Report {
    /// True when no finding is an error.
    pub fn is_clean(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
}

/// Checks an archive on its own, without a store: zip structure, the bag, and the sidecar
/// manifest when one is given or found beside it (`<name>.json` in the same folder, or the store
/// layout's `manifests/<collection>/`), and the `.sha256` file when present.
pub fn verify_file(
    zip: &Path,
    sidecar: Option<&Path>,
    options: Options,
    progress: &dyn Progress,
) -> Result<Report> {
    if let Some(report) = refuse_unless_regular(zip, None) {
        return Ok(report);
    }
    let (archive, mut report, seen, zip_digests) = check_archive_file(zip, options, progress)?;
    let sidecar_path = sidecar.map(Path::to_path_buf).or_else(|| find_sidecar(zip));
    let mut sidecar = None;
    // A loose zip and its neighbours are local files, read as a local store's are.
    let local = Store::new("");
    if let Some(path) = &sidecar_path {
        match read_sidecar(&local, path) {
            Ok((m, _)) => {
                report.identifier = Some(m.identifier.clone());
                check_bag_identity(&archive, &seen, &m.identifier, &mut report.findings);
                compare_sidecar(
                    &archive,
                    &m,
                    &seen,
                    zip_digests.as_ref(),
                    &mut report.findings,
                );
                sidecar = Some(m);
            }
            Err(f) => report.findings.push(f),
        }
    }
    let checksum = PathBuf::from(format!("{}.sha256", zip.display()));
    report.zip_digest_unchecked = sidecar_path.is_none() && !checksum.exists();
    if checksum.exists() {
        let computed = zip_digests.map(|d| d.sha256);
        let reference = ChecksumReference::choose(computed, sidecar.as_ref());
        check_checksum_file(&local, &archive, &checksum, reference, &mut report.findings)?;
    }
    Ok(report)
}

fn find_sidecar(zip: &Path) -> Option<PathBuf> {
    let stem = zip.file_stem()?.to_string_lossy().into_owned();
    let beside = zip.with_file_name(format!("{stem}.json"));
    if beside.exists() {
        return Some(beside);
    }
    // <store>/archives/<collection>/<zip> → <store>/manifests/<collection>/<stem>.json
    let collection_dir = zip.parent()?;
    let store = collection_dir.parent()?.parent()?;
    let candidate = store
        .join("manifests")
        .join(collection_dir.file_name()?)
        .join(format!("{stem}.json"));
    candidate.exists().then_some(candidate)
}

/// Which versions of a collection to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Only the newest version (the one with the highest number).
    Latest,
    /// Only version `N` (`--version N`).
    One(u32),
    /// Every version, from v1 on.
    All,
}

/// Checks versions of a stored collection: each selected archive, its sidecar, its `.sha256`, its
/// link to the previous version; and for the whole collection, every manifest's link in the hash
/// chain and the continuity (no gaps, no uncommitted archives).
pub fn verify_collection(
    store: &Store,
    collection: &str,
    selection: Selection,
    options: Options,
    progress: &dyn Progress,
) -> Result<Vec<Report>> {
    let versions = store.versions(collection)?;
    let mut reports = Vec::new();
    let mut collection_findings = continuity_findings(store, collection, &versions)?;
    collection_findings.extend(link_log_findings(store, collection));
    let chosen: Vec<u32> = match selection {
        Selection::All => versions.clone(),
        Selection::Latest => versions.last().copied().into_iter().collect(),
        Selection::One(v) if versions.contains(&v) => vec![v],
        // A collection without versions is reported as such below, whatever was asked.
        Selection::One(_) if versions.is_empty() => Vec::new(),
        Selection::One(v) => {
            return Err(crate::Error::NotFound(format!(
                "collection {collection:?} has no version v{v}"
            )));
        }
    };
    if chosen.is_empty() && collection_findings.is_empty() {
        return no_versions(store, collection);
    }
    // The chain is checked end to end whatever is selected: manifests are small.
    for &v in versions.iter().filter(|v| !chosen.contains(v)) {
        let path = store.manifest_path(collection, v);
        match read_sidecar(store, &path) {
            Ok((m, _)) => {
                check_sidecar_identity(&m, collection, v, &path, &mut collection_findings);
                check_chain(store, collection, v, &m, &path, &mut collection_findings);
                check_unselected_archive(store, collection, v, &m, &mut collection_findings);
            }
            Err(f) => collection_findings.push(f),
        }
    }
    for v in chosen {
        reports.push(verify_version(store, collection, v, options, progress)?);
    }
    if !collection_findings.is_empty() {
        let mut report = Report {
            archive: store.archive_dir(collection),
            identifier: Some(collection.to_string()),
            ..Report::default()
        };
        let capped: CappedFindings = collection_findings.into_iter().collect();
        report.findings = capped.into_vec();
        reports.push(report);
    }
    Ok(reports)
}

/// The link event log's chain; a log that is not a regular file is not read (a FIFO would
/// block for ever).
fn link_log_findings(store: &Store, collection: &str) -> Vec<Finding> {
    let path = crate::linkcheck::log::log_path(store, collection);
    match store.file_kind(&path) {
        Ok(Some(kind)) if !matches!(kind, FileKind::File(_)) => vec![Finding::new(
            Code::LinkLogMalformed,
            path.display().to_string(),
            format!("cannot be read: {}", not_regular_message(kind)),
        )],
        _ => crate::linkcheck::log::verify_chain(store, collection),
    }
}

/// A collection without versions and without zips: a folder left empty (by a first write that
/// failed, say) is a finding, and the other collections are still checked; a collection with no
/// folder at all is not there (a typing error, most likely).
fn no_versions(store: &Store, collection: &str) -> Result<Vec<Report>> {
    let folders = [
        store.archive_dir(collection),
        store.manifest_dir(collection),
    ];
    let mut found = None;
    for folder in &folders {
        if store.is_folder(folder)? {
            found = Some(folder);
            break;
        }
    }
    let Some(folder) = found else {
        return Err(crate::Error::NotFound(format!(
            "collection {collection:?} has no versions in {}",
            store.root().display()
        )));
    };
    let finding = Finding::new(
        Code::CollectionEmpty,
        folder.display().to_string(),
        format!("collection {collection} holds no version and no archive: nothing to check"),
    );
    Ok(vec![Report {
        archive: folder.clone(),
        identifier: Some(collection.to_string()),
        findings: vec![finding],
        ..Report::default()
    }])
}

/// What can be checked of a version without reading its zip: that it is there, has the size the
/// sidecar records, and a `.sha256` file that agrees with the sidecar.
fn check_unselected_archive(
    store: &Store,
    collection: &str,
    version: u32,
    m: &VersionManifest,
    findings: &mut Vec<Finding>,
) {
    let zip = store.zip_path(collection, version);
    let label = zip.display().to_string();
    match store.file_kind(&zip) {
        Err(e) => findings.push(Finding::new(
            Code::VersionMissing,
            &label,
            format!("the archive of this version cannot be read: {e}"),
        )),
        Ok(None) => findings.push(Finding::new(
            Code::VersionMissing,
            &label,
            "the archive of this version is missing",
        )),
        Ok(Some(FileKind::File(len))) if len != m.archive.bytes => findings.push(Finding::new(
            Code::ArchiveDigestMismatch,
            &label,
            format!(
                "the zip is {len} bytes, the manifest says {}",
                m.archive.bytes
            ),
        )),
        Ok(Some(FileKind::File(_))) => {}
        Ok(Some(kind)) => findings.push(Finding::new(
            Code::NotARegularFile,
            &label,
            not_regular_message(kind),
        )),
    }
    let checksum = store.checksum_path(collection, version);
    let expected = format!("{}  {}\n", m.archive.sha256, m.archive.file);
    if read_small_text(store, &checksum, MAX_CHECKSUM_FILE)
        .ok()
        .as_deref()
        != Some(expected.as_str())
    {
        findings.push(Finding::new(
            Code::ChecksumFile,
            checksum.display().to_string(),
            "missing, or disagrees with the sidecar manifest",
        ));
    }
}

/// Gaps in the version numbers, and zips that never got a manifest.
fn continuity_findings(store: &Store, collection: &str, versions: &[u32]) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let dir = store.manifest_dir(collection).display().to_string();
    if let Some(&last) = versions.last() {
        // One finding a gap, not a version: a manifest named v4000000000 is one file.
        let mut next = 1;
        for &v in versions {
            let missing = match v - next {
                0 => None,
                1 => Some(format!("v{next} has no manifest")),
                _ => Some(format!("v{next} to v{} have no manifest", v - 1)),
            };
            if let Some(missing) = missing {
                findings.push(Finding::new(
                    Code::VersionMissing,
                    &dir,
                    format!("{missing}, though v{last} exists"),
                ));
            }
            next = v.saturating_add(1);
        }
    }
    for v in store.archive_versions(collection)? {
        if versions.binary_search(&v).is_ok() {
            continue;
        }
        let zip = store.zip_path(collection, v).display().to_string();
        if store.is_interrupted_write(collection, v)? {
            findings.push(Finding::new(Code::UncommittedArchive, zip, "no sidecar manifest: a write was interrupted before its commit point; the next write removes it"));
        } else {
            findings.push(Finding::new(Code::VersionMissing, zip, format!("the zip of v{v} has no sidecar manifest, and no write was under way: the manifest was lost (the zip is kept; `cablekeep rebuild-manifest -c {collection} --version {v}` writes it again from an intact zip)")));
        }
    }
    Ok(findings)
}

/// Checks one stored version.
pub fn verify_version(
    store: &Store,
    collection: &str,
    version: u32,
    options: Options,
    progress: &dyn Progress,
) -> Result<Report> {
    let zip = store.zip_path(collection, version);
    let manifest_path = store.manifest_path(collection, version);
    let identifier = VersionId::new(collection, version).to_string();
    let mut findings = Vec::new();
    let sidecar = match read_sidecar(store, &manifest_path) {
        Ok(s) => Some(s),
        Err(f) => {
            findings.push(f);
            None
        }
    };
    if let Some((m, _)) = &sidecar {
        check_sidecar_identity(m, collection, version, &manifest_path, &mut findings);
        check_chain(store, collection, version, m, &manifest_path, &mut findings);
    }
    let kind = store.file_kind(&zip)?;
    if kind.is_none() {
        findings.push(Finding::new(
            Code::VersionMissing,
            zip.display().to_string(),
            "the archive of this version is missing",
        ));
        return Ok(Report {
            archive: zip,
            identifier: Some(identifier),
            findings,
            ..Report::default()
        });
    }
    if let Some(mut report) = refuse_unless_kind_regular(&zip, kind, Some(identifier.clone())) {
        report.findings.splice(0..0, findings);
        return Ok(report);
    }
    let source = store.open_file(&zip)?;
    let hashing = match store.is_remote() {
        true => ZipHashing::InOneReading,
        false => ZipHashing::Apart,
    };
    let (archive, mut report, seen, zip_digests) =
        check_archive(source, &zip, hashing, options, progress)?;
    report.identifier = Some(identifier.clone());
    report.findings.splice(0..0, findings);
    check_bag_identity(&archive, &seen, &identifier, &mut report.findings);
    if let Some((m, _)) = &sidecar {
        compare_sidecar(
            &archive,
            m,
            &seen,
            zip_digests.as_ref(),
            &mut report.findings,
        );
        check_previous_in_bag(m, &seen, &archive, &mut report.findings);
    }
    let computed = zip_digests.map(|d| d.sha256);
    let reference = ChecksumReference::choose(computed, sidecar.as_ref().map(|s| &s.0));
    check_checksum_file(
        store,
        &archive,
        &store.checksum_path(collection, version),
        reference,
        &mut report.findings,
    )?;
    Ok(report)
}

/// Opens and checks an archive: a chunk at a time when it is in cablekeep's layout, whole
/// otherwise. In full mode the whole zip is hashed at the same time: its digests (SHA-512 most
/// of all) would otherwise leave a core idle at the end of a long run.
fn check_archive_file(
    zip: &Path,
    options: Options,
    progress: &dyn Progress,
) -> Result<(OpenArchive, Report, BagSeen, Option<hash::Digests>)> {
    let file = std::fs::File::open(zip).at(zip)?;
    check_archive(Arc::new(file), zip, ZipHashing::Apart, options, progress)
}

/// [`check_archive_file`] of a zip whose bytes `source` gives (`zip` names it): one handle for
/// the bag's checks and the zip's digests.
fn check_archive(
    source: Arc<dyn ReadAt>,
    zip: &Path,
    hashing: ZipHashing,
    options: Options,
    progress: &dyn Progress,
) -> Result<(OpenArchive, Report, BagSeen, Option<hash::Digests>)> {
    let depth = if options.fast {
        Depth::Fast
    } else {
        Depth::Full
    };
    let check = |source: Arc<dyn ReadAt>| -> Result<(OpenArchive, Report, BagSeen)> {
        if !options.whole
            && let Some((archive, checked, seen)) =
                crate::bag::check::check_streamed(source.clone(), zip, depth, progress)?
        {
            return Ok((archive, checked.into(), seen));
        }
        let archive = OpenArchive::open_source(source, zip, Reading::Whole)?;
        let (checked, seen) = check_bag(&archive, depth, progress)?;
        Ok((archive, checked.into(), seen))
    };
    if options.fast {
        let (archive, report, seen) = check(source)?;
        return Ok((archive, report, seen, None));
    }
    if hashing == ZipHashing::InOneReading {
        let blocks = Arc::new(HashedBlocks::new(source).at(zip)?);
        let (archive, report, seen) = check(blocks.clone())?;
        let (digests, _) = blocks.finish().at(zip)?;
        return Ok((archive, report, seen, Some(digests)));
    }
    let (bag, zip_digests) = rayon::join(
        || check(source.clone()),
        || hash::digest_source(&*source, zip),
    );
    let (archive, report, seen) = bag?;
    Ok((archive, report, seen, Some(zip_digests?.0)))
}

/// How a full check hashes the whole zip beside the bag's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZipHashing {
    /// On a thread of its own, reading the zip again (a local file: the reads are cheap, and
    /// the digests are ready with the checks).
    Apart,
    /// From the blocks the checks read, in one reading of the zip (a remote store's, where
    /// every byte read is a byte fetched; see [`HashedBlocks`]).
    InOneReading,
}

/// What a full check of an archive found, and the facts a sidecar manifest records about it
/// (the zip's digests and size, the bag, the counts): enough to write a lost sidecar manifest
/// again from the zip alone.
pub(crate) struct Observed {
    pub(crate) report: Report,
    pub(crate) zip: hash::Digests,
    pub(crate) zip_bytes: u64,
    /// None when the bag lacks what the sidecar records (the report then has errors).
    pub(crate) bag: Option<crate::store::sidecar::BagFacts>,
    pub(crate) counts: crate::store::sidecar::Counts,
    pub(crate) bag_info: Vec<(String, String)>,
}

/// Checks an archive in full, on its own (no sidecar, no `.sha256`), and reports what it holds.
pub(crate) fn observe_archive(zip: &Path, progress: &dyn Progress) -> Result<Observed> {
    let (archive, report, seen, zip_digests) =
        check_archive_file(zip, Options::default(), progress)?;
    let zip_digests = zip_digests.expect("a full check computes the zip's digests");
    let tag_files: Option<std::collections::BTreeMap<String, hash::Digests>> = seen
        .tag_digests
        .iter()
        .map(|(name, d)| {
            let sha512 = d.sha512.clone()?;
            Some((
                name.clone(),
                hash::Digests {
                    sha256: d.sha256.clone(),
                    sha512,
                },
            ))
        })
        .collect();
    let bag = match (seen.folder, seen.payload_oxum, tag_files) {
        (Some(folder), Some(payload_oxum), Some(tag_files)) => {
            Some(crate::store::sidecar::BagFacts {
                folder,
                payload_oxum,
                tag_files,
            })
        }
        _ => None,
    };
    Ok(Observed {
        report,
        zip: zip_digests,
        zip_bytes: archive.index.file_len,
        bag,
        counts: crate::store::sidecar::Counts {
            cables: seen.cables,
            captures: seen.captures,
            unparsed: seen.unparsed,
            payload_files: seen.payload_files,
            payload_bytes: seen.payload_bytes,
            zip_entries: seen.zip_entries,
        },
        bag_info: seen.bag_info,
    })
}

/// A report of one finding when the archive's path is not a regular file: a FIFO would make
/// `verify` wait for a writer for ever, a device would never end.
fn refuse_unless_regular(zip: &Path, identifier: Option<String>) -> Option<Report> {
    let kind = Store::new("").file_kind(zip).ok()?;
    refuse_unless_kind_regular(zip, kind, identifier)
}

/// [`refuse_unless_regular`] for what the store says lies at `zip`.
fn refuse_unless_kind_regular(
    zip: &Path,
    kind: Option<FileKind>,
    identifier: Option<String>,
) -> Option<Report> {
    let kind = kind?;
    if matches!(kind, FileKind::File(_)) {
        return None;
    }
    let finding = Finding::new(
        Code::NotARegularFile,
        zip.display().to_string(),
        format!("{}: it was not read", not_regular_message(kind)),
    );
    Some(Report {
        archive: zip.to_path_buf(),
        identifier,
        findings: vec![finding],
        ..Report::default()
    })
}
