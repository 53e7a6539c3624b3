//! Verification: every byte of an archive against its manifests, the archive against its sidecar
//! manifest, and each version against the one before it. Every problem is a finding; nothing
//! stops at the first one.
//!
//! Full mode inflates and hashes every entry (SHA-256, SHA-512 and the zip CRC-32 in one pass, on
//! all cores, streaming). Fast mode checks structure, listings, sizes, Payload-Oxum and the small
//! tag files, without reading the payload.

use crate::archive::{self, Entry, OpenArchive};
use crate::capture::{self, IndexLine, UnparsedLine};
use crate::error::Result;
use crate::finding::{Code, Finding};
use crate::hash::{self, Hasher};
use crate::manifest::{self, VersionManifest};
use crate::store::{Progress, Store};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How thoroughly to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Skip re-hashing the payload (structure, listings, sizes and Payload-Oxum only).
    pub fast: bool,
}

/// The result of checking one archive.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The archive checked.
    pub archive: PathBuf,
    /// `<collection>@v<N>` when known.
    pub identifier: Option<String>,
    pub entries: u64,
    /// Uncompressed bytes read and hashed (0 in fast mode).
    pub bytes_hashed: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when no finding is an error.
    pub fn is_clean(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
}

/// What the bag says of itself, gathered while checking it, for the sidecar comparison.
#[derive(Debug, Default)]
struct BagSeen {
    folder: Option<String>,
    bag_info: Vec<(String, String)>,
    tag_digests: BTreeMap<String, hash::Digests>,
    payload_oxum: Option<String>,
    cables: u64,
    captures: u64,
    unparsed: u64,
    payload_files: u64,
    payload_bytes: u64,
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
    let archive = OpenArchive::open(zip)?;
    let (mut report, seen) = check_bag(&archive, options, progress)?;
    let sidecar_path = sidecar.map(Path::to_path_buf).or_else(|| find_sidecar(zip));
    let mut sidecar = None;
    let mut computed = None;
    if let Some(path) = sidecar_path {
        match read_sidecar(&path) {
            Ok((m, _)) => {
                report.identifier = Some(m.identifier.clone());
                check_bag_identity(&archive, &seen, &m.identifier, &mut report.findings);
                computed = compare_sidecar(&archive, &m, &seen, options, &mut report.findings)?;
                sidecar = Some(m);
            }
            Err(f) => report.findings.push(f),
        }
    }
    let checksum = PathBuf::from(format!("{}.sha256", zip.display()));
    if checksum.exists() {
        let reference = ChecksumReference::choose(computed, sidecar.as_ref(), options);
        check_checksum_file(&archive, &checksum, reference, &mut report.findings)?;
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
    Latest,
    One(u32),
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
    collection_findings.extend(crate::linkcheck::log::verify_chain(store, collection));
    let chosen: Vec<u32> = match selection {
        Selection::All => versions.clone(),
        Selection::Latest => versions.last().copied().into_iter().collect(),
        Selection::One(v) if versions.contains(&v) => vec![v],
        Selection::One(v) => {
            return Err(crate::Error::NotFound(format!(
                "collection {collection:?} has no version v{v}"
            )));
        }
    };
    if chosen.is_empty() && collection_findings.is_empty() {
        return Err(crate::Error::NotFound(format!(
            "collection {collection:?} has no versions in {}",
            store.root().display()
        )));
    }
    // The chain is checked end to end whatever is selected: manifests are small.
    for &v in versions.iter().filter(|v| !chosen.contains(v)) {
        let path = store.manifest_path(collection, v);
        match read_sidecar(&path) {
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
        report.findings.append(&mut collection_findings);
        reports.push(report);
    }
    Ok(reports)
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
    match std::fs::metadata(&zip) {
        Err(_) => findings.push(Finding::new(
            Code::VersionMissing,
            &label,
            "the archive of this version is missing",
        )),
        Ok(meta) if meta.len() != m.archive.bytes => findings.push(Finding::new(
            Code::ArchiveDigestMismatch,
            &label,
            format!(
                "the zip is {} bytes, the manifest says {}",
                meta.len(),
                m.archive.bytes
            ),
        )),
        Ok(_) => {}
    }
    let checksum = store.checksum_path(collection, version);
    let expected = format!("{}  {}\n", m.archive.sha256, m.archive.file);
    if std::fs::read_to_string(&checksum).ok().as_deref() != Some(expected.as_str()) {
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
        for v in 1..last {
            if !versions.contains(&v) {
                findings.push(Finding::new(
                    Code::VersionMissing,
                    &dir,
                    format!("v{v} has no manifest, though v{last} exists"),
                ));
            }
        }
    }
    for v in store.archive_versions(collection)? {
        if versions.contains(&v) {
            continue;
        }
        let zip = store.zip_path(collection, v).display().to_string();
        if store.pending_marker(collection, v).exists() {
            findings.push(Finding::new(Code::UncommittedArchive, zip, "no sidecar manifest: a write was interrupted before its commit point; the next write removes it"));
        } else {
            findings.push(Finding::new(Code::VersionMissing, zip, format!("the zip of v{v} has no sidecar manifest, and no write was under way: the manifest was lost")));
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
    let identifier = format!("{collection}@v{version}");
    let mut findings = Vec::new();
    let sidecar = match read_sidecar(&manifest_path) {
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
    if !zip.exists() {
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
    let archive = OpenArchive::open(&zip)?;
    let (mut report, seen) = check_bag(&archive, options, progress)?;
    report.identifier = Some(identifier.clone());
    report.findings.splice(0..0, findings);
    check_bag_identity(&archive, &seen, &identifier, &mut report.findings);
    let mut computed = None;
    if let Some((m, _)) = &sidecar {
        computed = compare_sidecar(&archive, m, &seen, options, &mut report.findings)?;
        check_previous_in_bag(m, &seen, &archive, &mut report.findings);
    }
    let reference = ChecksumReference::choose(computed, sidecar.as_ref().map(|s| &s.0), options);
    check_checksum_file(
        &archive,
        &store.checksum_path(collection, version),
        reference,
        &mut report.findings,
    )?;
    Ok(report)
}

/// The bag's External-Identifier must be the identifier it is stored or described as.
fn check_bag_identity(
    archive: &OpenArchive,
    seen: &BagSeen,
    identifier: &str,
    findings: &mut Vec<Finding>,
) {
    if let Some(found) = manifest::bag_info_value(&seen.bag_info, "External-Identifier")
        && found != identifier
    {
        findings.push(
            Finding::new(
                Code::IdentityMismatch,
                &archive.label,
                format!(
                    "the bag says it is {found:?}, but it is stored or described as {identifier}"
                ),
            )
            .at_entry("bag-info.txt"),
        );
    }
}

fn read_sidecar(path: &Path) -> std::result::Result<(VersionManifest, Vec<u8>), Finding> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Finding::new(Code::SidecarUnreadable, &label, e.to_string()))?;
    let manifest: VersionManifest = serde_json::from_slice(&bytes).map_err(|e| {
        Finding::new(
            Code::SidecarUnreadable,
            &label,
            format!("not a cablekeep manifest: {e}"),
        )
    })?;
    if manifest.format != manifest::SIDECAR_FORMAT {
        return Err(Finding::new(
            Code::SidecarUnreadable,
            &label,
            format!("unknown manifest format {:?}", manifest.format),
        ));
    }
    Ok((manifest, bytes))
}

fn check_sidecar_identity(
    m: &VersionManifest,
    collection: &str,
    version: u32,
    path: &Path,
    findings: &mut Vec<Finding>,
) {
    let expected = format!("{collection}@v{version}");
    if m.collection != collection
        || m.version != version
        || m.identifier != expected
        || m.archive.file != Store::zip_name(collection, version)
    {
        findings.push(Finding::new(
            Code::IdentityMismatch,
            path.display().to_string(),
            format!(
                "the manifest describes {:?} ({}), but it is stored as {expected}",
                m.identifier, m.archive.file
            ),
        ));
    }
}

/// The hash chain: each manifest names the SHA-256 of the previous manifest and archive.
fn check_chain(
    store: &Store,
    collection: &str,
    version: u32,
    m: &VersionManifest,
    path: &Path,
    findings: &mut Vec<Finding>,
) {
    let label = path.display().to_string();
    match (&m.previous, version) {
        (None, 1) => {}
        (None, _) => findings.push(Finding::new(
            Code::ChainBroken,
            &label,
            format!("v{version} names no previous version"),
        )),
        (Some(_), 1) => findings.push(Finding::new(
            Code::ChainBroken,
            &label,
            "v1 names a previous version",
        )),
        (Some(link), _) => {
            if link.version != version - 1 {
                findings.push(Finding::new(
                    Code::ChainBroken,
                    &label,
                    format!(
                        "names v{} as previous, expected v{}",
                        link.version,
                        version - 1
                    ),
                ));
            }
            match read_sidecar(&store.manifest_path(collection, version - 1)) {
                Ok((prev, prev_bytes)) => {
                    let actual = hash::sha256_hex(&prev_bytes);
                    if actual != link.manifest_sha256 {
                        findings.push(Finding::new(Code::ChainBroken, &label, format!("previous manifest's SHA-256 is {actual}, this manifest recorded {}", link.manifest_sha256)));
                    }
                    if prev.archive.sha256 != link.archive_sha256 {
                        findings.push(Finding::new(
                            Code::ChainBroken,
                            &label,
                            "the previous archive's SHA-256 differs from the one recorded here",
                        ));
                    }
                }
                Err(_) => findings.push(Finding::new(
                    Code::ChainBroken,
                    &label,
                    format!(
                        "the previous version's manifest (v{}) cannot be read",
                        version - 1
                    ),
                )),
            }
        }
    }
}

/// The bag also records the previous archive's digest, so the chain survives in the zip alone.
fn check_previous_in_bag(
    m: &VersionManifest,
    seen: &BagSeen,
    archive: &OpenArchive,
    findings: &mut Vec<Finding>,
) {
    let in_bag = manifest::bag_info_value(&seen.bag_info, "Cablekeep-Previous-Archive-SHA256");
    let in_sidecar = m.previous.as_ref().map(|p| p.archive_sha256.as_str());
    if seen.folder.is_some() && in_bag != in_sidecar {
        findings.push(
            Finding::new(
                Code::ChainBroken,
                &archive.label,
                "bag-info.txt and the sidecar manifest name different previous archives",
            )
            .at_entry("bag-info.txt"),
        );
    }
}

/// The zip file against the sidecar: its digests and size, and the facts about the bag.
fn compare_sidecar(
    archive: &OpenArchive,
    m: &VersionManifest,
    seen: &BagSeen,
    options: Options,
    findings: &mut Vec<Finding>,
) -> Result<Option<String>> {
    let label = &archive.label;
    let mut computed = None;
    if archive.index.file_len != m.archive.bytes {
        findings.push(Finding::new(
            Code::ArchiveDigestMismatch,
            label,
            format!(
                "the zip is {} bytes, the manifest says {}",
                archive.index.file_len, m.archive.bytes
            ),
        ));
    } else if !options.fast {
        let (digests, _) = hash::digest_file(&archive.path)?;
        if digests.sha256 != m.archive.sha256 {
            findings.push(Finding::new(
                Code::ArchiveDigestMismatch,
                label,
                format!(
                    "the zip's SHA-256 is {}, the manifest says {}",
                    digests.sha256, m.archive.sha256
                ),
            ));
        }
        if digests.sha512 != m.archive.sha512 {
            findings.push(Finding::new(
                Code::ArchiveDigestMismatch,
                label,
                "the zip's SHA-512 differs from the manifest",
            ));
        }
        computed = Some(digests.sha256);
    }
    let mut differences = Vec::new();
    if seen.folder.as_deref() != Some(m.bag.folder.as_str()) {
        differences.push(format!(
            "bag folder {:?} vs {:?}",
            seen.folder, m.bag.folder
        ));
    }
    if seen.payload_oxum.as_deref() != Some(m.bag.payload_oxum.as_str()) {
        differences.push(format!(
            "Payload-Oxum {:?} vs {:?}",
            seen.payload_oxum, m.bag.payload_oxum
        ));
    }
    for (name, digests) in &m.bag.tag_files {
        match seen.tag_digests.get(name) {
            Some(d) if d == digests => {}
            Some(_) => differences.push(format!("tag file {name} has other digests")),
            None => differences.push(format!("tag file {name} is missing")),
        }
    }
    for name in seen.tag_digests.keys() {
        if !m.bag.tag_files.contains_key(name) {
            differences.push(format!("tag file {name} is not in the manifest"));
        }
    }
    let counts = [
        ("cables", seen.cables, m.counts.cables),
        ("captures", seen.captures, m.counts.captures),
        ("unparsed", seen.unparsed, m.counts.unparsed),
        ("payload files", seen.payload_files, m.counts.payload_files),
        ("payload bytes", seen.payload_bytes, m.counts.payload_bytes),
        (
            "zip entries",
            archive.index.entries.len() as u64,
            m.counts.zip_entries,
        ),
    ];
    for (what, actual, recorded) in counts {
        if actual != recorded {
            differences.push(format!(
                "{what}: {actual} in the archive, {recorded} in the manifest"
            ));
        }
    }
    for d in differences {
        findings.push(Finding::new(Code::SidecarMismatch, label, d));
    }
    Ok(computed)
}

/// What the `.sha256` file is compared with.
enum ChecksumReference {
    /// The zip's SHA-256, computed in this run.
    Computed(String),
    /// The sidecar's record of it (fast mode: nothing is hashed).
    Recorded(String),
    /// Compute it now (full mode, no sidecar).
    Compute,
    /// Only the file's form is checked (fast mode, no sidecar).
    FormOnly,
}

impl ChecksumReference {
    fn choose(
        computed: Option<String>,
        sidecar: Option<&VersionManifest>,
        options: Options,
    ) -> Self {
        match (computed, sidecar) {
            (Some(d), _) => ChecksumReference::Computed(d),
            (None, Some(m)) if options.fast => {
                ChecksumReference::Recorded(m.archive.sha256.clone())
            }
            (None, _) if options.fast => ChecksumReference::FormOnly,
            (None, _) => ChecksumReference::Compute,
        }
    }
}

/// The `.sha256` file must exist (for stored versions), name the zip, and give its digest.
fn check_checksum_file(
    archive: &OpenArchive,
    path: &Path,
    reference: ChecksumReference,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let label = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            findings.push(Finding::new(Code::ChecksumFile, &label, e.to_string()));
            return Ok(());
        }
    };
    let zip_name = archive
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (lines, bad) = manifest::parse_manifest(&text, 64);
    if !bad.is_empty() || lines.len() != 1 || lines[0].path.trim_start_matches('*') != zip_name {
        findings.push(Finding::new(
            Code::ChecksumFile,
            &label,
            format!("expected one line `<sha256>  {zip_name}`"),
        ));
        return Ok(());
    }
    let recorded = &lines[0].digest;
    let (actual, what) = match reference {
        ChecksumReference::Computed(d) => (d, "the zip's SHA-256 is"),
        ChecksumReference::Recorded(d) => (d, "the sidecar manifest records"),
        ChecksumReference::Compute => (
            hash::digest_file(&archive.path)?.0.sha256,
            "the zip's SHA-256 is",
        ),
        ChecksumReference::FormOnly => return Ok(()),
    };
    if *recorded != actual {
        findings.push(Finding::new(
            Code::ChecksumFile,
            &label,
            format!("says {recorded}, {what} {actual}"),
        ));
    }
    Ok(())
}

/// Checks the bag inside an archive: structure, bagit.txt, bag-info.txt, manifests, tag
/// manifests, Payload-Oxum, the cable index and (in full mode) every payload digest.
fn check_bag(
    archive: &OpenArchive,
    options: Options,
    progress: &dyn Progress,
) -> Result<(Report, BagSeen)> {
    let mut report = Report {
        archive: archive.path.clone(),
        entries: archive.index.entries.len() as u64,
        ..Report::default()
    };
    let mut seen = BagSeen::default();
    report
        .findings
        .extend(archive.index.findings.iter().cloned());
    if !archive.index.readable {
        return Ok((report, seen));
    }
    let label = archive.label.as_str();
    let Some(folder) = bag_folder(archive, &mut report.findings) else {
        return Ok((report, seen));
    };
    seen.folder = Some(folder.clone());
    let files = bag_files(archive, &folder);
    let mut bag = BagCheck {
        archive,
        label,
        files: &files,
        findings: Vec::new(),
    };

    bag.check_declaration();
    seen.bag_info = bag.check_bag_info();
    let payload: Vec<(&str, &Entry)> = files
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .map(|(p, e)| (p.as_str(), *e))
        .collect();
    seen.payload_files = payload.len() as u64;
    seen.payload_bytes = payload.iter().map(|(_, e)| e.uncompressed_size).sum();
    seen.payload_oxum =
        manifest::bag_info_value(&seen.bag_info, "Payload-Oxum").map(str::to_string);
    bag.check_oxum(
        seen.payload_oxum.as_deref(),
        seen.payload_bytes,
        seen.payload_files,
    );
    let manifests: Vec<(&str, HashMap<String, String>)> = archive::ALGORITHMS
        .iter()
        .map(|alg| {
            (
                *alg,
                bag.read_manifest(&format!("manifest-{alg}.txt"), alg, true),
            )
        })
        .collect();
    bag.check_listing(&manifests, &payload);
    seen.tag_digests = bag.check_tag_manifests();
    let (lines, unparsed) = bag.check_index(&manifests[0].1);
    seen.cables = lines.len() as u64;
    seen.captures = lines.iter().map(|l| l.captures.len() as u64).sum();
    seen.unparsed = unparsed.len() as u64;
    let mut findings = bag.findings;
    if !options.fast {
        let (bytes, mut payload_findings) = hash_payload(archive, &payload, &manifests, progress)?;
        report.bytes_hashed = bytes;
        findings.append(&mut payload_findings);
    }
    report.findings.extend(findings);
    Ok((report, seen))
}

/// The bag folder: the one top-level folder holding `bagit.txt`. Entries outside it are findings.
fn bag_folder(archive: &OpenArchive, findings: &mut Vec<Finding>) -> Option<String> {
    let candidates: Vec<&str> = archive
        .index
        .entries
        .iter()
        .filter_map(|e| e.name.strip_suffix("/bagit.txt"))
        .filter(|f| !f.contains('/'))
        .collect();
    let folder = match candidates.as_slice() {
        [one] => one.to_string(),
        [] => {
            findings.push(Finding::new(
                Code::BagitDeclaration,
                &archive.label,
                "no <folder>/bagit.txt: the zip holds no bag",
            ));
            return None;
        }
        many => {
            findings.push(Finding::new(
                Code::BagitDeclaration,
                &archive.label,
                format!("{} bag folders; an archive holds exactly one", many.len()),
            ));
            return None;
        }
    };
    let prefix = format!("{folder}/");
    for e in &archive.index.entries {
        if !e.name.starts_with(&prefix) {
            findings.push(
                Finding::new(
                    Code::UnsafeEntryName,
                    &archive.label,
                    format!("outside the bag folder {folder:?}"),
                )
                .at_entry(&e.name),
            );
        }
    }
    Some(folder)
}

/// Files of the bag by path inside the bag (directory entries left out), first of duplicates.
fn bag_files<'a>(archive: &'a OpenArchive, folder: &str) -> BTreeMap<String, &'a Entry> {
    let prefix = format!("{folder}/");
    let mut files = BTreeMap::new();
    for e in &archive.index.entries {
        if let Some(path) = e.name.strip_prefix(&prefix)
            && !path.is_empty()
            && !path.ends_with('/')
        {
            files.entry(path.to_string()).or_insert(e);
        }
    }
    files
}

struct BagCheck<'a> {
    archive: &'a OpenArchive,
    label: &'a str,
    files: &'a BTreeMap<String, &'a Entry>,
    findings: Vec<Finding>,
}

impl BagCheck<'_> {
    fn finding(&mut self, code: Code, entry: &str, message: impl Into<String>) {
        self.findings
            .push(Finding::new(code, self.label, message).at_entry(entry));
    }

    /// Reads a small tag file; data findings (CRC, inflate) are kept.
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        let entry = *self.files.get(path)?;
        match archive::read::read_entry(&self.archive.file, entry, self.label) {
            Ok((data, mut found)) => {
                self.findings.append(&mut found);
                data
            }
            Err(e) => {
                self.finding(Code::DecompressFailed, path, e.to_string());
                None
            }
        }
    }

    fn check_declaration(&mut self) {
        let Some(data) = self.read("bagit.txt") else {
            self.finding(Code::BagitDeclaration, "bagit.txt", "missing or unreadable");
            return;
        };
        if data.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.finding(
                Code::BagitDeclaration,
                "bagit.txt",
                "starts with a byte-order mark",
            );
        }
        let text = String::from_utf8_lossy(&data);
        let lines: Vec<&str> = text.lines().collect();
        let version_ok = lines
            .first()
            .and_then(|l| l.strip_prefix("BagIt-Version: "))
            .is_some_and(|v| {
                let mut parts = v.split('.');
                let ok = |p: Option<&str>| {
                    p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                };
                ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
            });
        let encoding_ok = lines
            .get(1)
            .is_some_and(|l| *l == "Tag-File-Character-Encoding: UTF-8");
        if lines.len() != 2 || !version_ok || !encoding_ok {
            self.finding(
                Code::BagitDeclaration,
                "bagit.txt",
                "expected exactly `BagIt-Version: M.N` and `Tag-File-Character-Encoding: UTF-8`",
            );
        }
    }

    fn check_bag_info(&mut self) -> Vec<(String, String)> {
        let Some(data) = self.read("bag-info.txt") else {
            self.finding(Code::BagInfo, "bag-info.txt", "missing or unreadable");
            return Vec::new();
        };
        let (fields, bad) = manifest::parse_bag_info(&String::from_utf8_lossy(&data));
        for line in bad {
            self.finding(
                Code::BagInfo,
                "bag-info.txt",
                format!("line {line} is not `Label: value`"),
            );
        }
        for label in [
            "Payload-Oxum",
            "Bagging-Date",
            "External-Identifier",
            "Bag-Group-Identifier",
            "Bag-Size",
        ] {
            let n = fields
                .iter()
                .filter(|(l, _)| l.eq_ignore_ascii_case(label))
                .count();
            if n > 1 {
                self.finding(
                    Code::BagInfo,
                    "bag-info.txt",
                    format!("{label} appears {n} times; it must not repeat"),
                );
            }
        }
        fields
    }

    fn check_oxum(&mut self, oxum: Option<&str>, bytes: u64, files: u64) {
        let actual = format!("{bytes}.{files}");
        match oxum {
            None => self.finding(
                Code::PayloadOxum,
                "bag-info.txt",
                format!("no Payload-Oxum (the payload is {actual})"),
            ),
            Some(o) if o != actual => self.finding(
                Code::PayloadOxum,
                "bag-info.txt",
                format!("Payload-Oxum says {o}, the payload is {actual}"),
            ),
            Some(_) => {}
        }
    }

    /// Parses a (tag) manifest into path → digest; every malformed and duplicate line is a finding.
    fn read_manifest(&mut self, name: &str, alg: &str, payload: bool) -> HashMap<String, String> {
        let digest_len = if alg == "sha256" { 64 } else { 128 };
        let Some(data) = self.read(name) else {
            self.finding(Code::ManifestMalformed, name, "missing or unreadable");
            return HashMap::new();
        };
        let (lines, bad) = manifest::parse_manifest(&String::from_utf8_lossy(&data), digest_len);
        for (line, why) in bad {
            self.finding(Code::ManifestMalformed, name, format!("line {line}: {why}"));
        }
        let mut map = HashMap::new();
        for line in lines {
            if payload && !line.path.starts_with("data/") {
                self.finding(
                    Code::ManifestMalformed,
                    name,
                    format!("lists {:?}, which is outside data/", line.path),
                );
                continue;
            }
            if let Some(problem) = archive::read::unsafe_name_problem(&line.path) {
                self.finding(
                    Code::ManifestMalformed,
                    name,
                    format!("unsafe path {:?}: {problem}", line.path),
                );
                continue;
            }
            if map.insert(line.path.clone(), line.digest).is_some() {
                self.finding(
                    Code::DuplicateManifestEntry,
                    name,
                    format!("lists {:?} more than once", line.path),
                );
            }
        }
        map
    }

    /// Both directions: every manifest line has a file, every payload file is in every manifest.
    fn check_listing(
        &mut self,
        manifests: &[(&str, HashMap<String, String>)],
        payload: &[(&str, &Entry)],
    ) {
        for (alg, map) in manifests {
            let mut missing: Vec<&String> = map
                .keys()
                .filter(|p| !self.files.contains_key(*p))
                .collect();
            missing.sort();
            for path in missing {
                self.findings.push(
                    Finding::new(
                        Code::PayloadMissing,
                        self.label,
                        format!("listed in manifest-{alg}.txt but not in the archive"),
                    )
                    .at_entry(path.clone()),
                );
            }
            for (path, _) in payload {
                if !map.contains_key(*path) {
                    self.findings.push(
                        Finding::new(
                            Code::PayloadUnlisted,
                            self.label,
                            format!("not listed in manifest-{alg}.txt"),
                        )
                        .at_entry(path.to_string()),
                    );
                }
            }
        }
    }

    /// Tag manifests: present for both algorithms, listing every tag file but themselves and no
    /// payload file, with matching digests. Returns the digests of every tag file.
    fn check_tag_manifests(&mut self) -> BTreeMap<String, hash::Digests> {
        let tag_paths: Vec<String> = self
            .files
            .keys()
            .filter(|p| !p.starts_with("data/"))
            .cloned()
            .collect();
        // Tag files are few but can be large (the index and the payload manifests of a big
        // collection): each is inflated and hashed on its own core.
        let read: Vec<_> = tag_paths
            .par_iter()
            .map(|path| {
                let entry = self.files[path.as_str()];
                let result = archive::read::read_entry(&self.archive.file, entry, self.label)
                    .map(|(data, found)| (data.map(|d| hash::digests(&d)), found));
                (path, result)
            })
            .collect();
        let mut digests = BTreeMap::new();
        for (path, result) in read {
            match result {
                Ok((d, mut found)) => {
                    self.findings.append(&mut found);
                    if let Some(d) = d {
                        digests.insert(path.clone(), d);
                    }
                }
                Err(e) => self.finding(Code::DecompressFailed, path, e.to_string()),
            }
        }
        for alg in archive::ALGORITHMS {
            let name = format!("tagmanifest-{alg}.txt");
            let listed = self.read_manifest(&name, alg, false);
            let mut listed_paths: Vec<&String> = listed.keys().collect();
            listed_paths.sort();
            for path in listed_paths {
                let expected = &listed[path];
                if path.starts_with("data/") || path.starts_with("tagmanifest-") {
                    self.finding(
                        Code::TagFileUnlisted,
                        &name,
                        format!("lists {path:?}, which a tag manifest must not list"),
                    );
                    continue;
                }
                match digests.get(path) {
                    None => self.findings.push(
                        Finding::new(
                            Code::TagFileUnlisted,
                            self.label,
                            format!("listed in {name} but not in the archive"),
                        )
                        .at_entry(path.clone()),
                    ),
                    Some(d) => {
                        let actual = if alg == "sha256" {
                            &d.sha256
                        } else {
                            &d.sha512
                        };
                        if actual != expected {
                            self.findings.push(
                                Finding::new(
                                    Code::TagDigestMismatch,
                                    self.label,
                                    format!("{alg} is {actual}, {name} says {expected}"),
                                )
                                .at_entry(path.clone()),
                            );
                        }
                    }
                }
            }
            for path in &tag_paths {
                if !path.starts_with("tagmanifest-") && !listed.contains_key(path) {
                    self.findings.push(
                        Finding::new(
                            Code::TagFileUnlisted,
                            self.label,
                            format!("tag file not listed in {name}"),
                        )
                        .at_entry(path.clone()),
                    );
                }
            }
        }
        digests
    }

    /// The cable index against the payload: every capture it names exists with the digest it
    /// records, and every payload file belongs to a capture.
    fn check_index(
        &mut self,
        sha256_manifest: &HashMap<String, String>,
    ) -> (Vec<IndexLine>, Vec<UnparsedLine>) {
        let lines: Vec<IndexLine> = self.read_jsonl(archive::INDEX_FILE);
        let unparsed: Vec<UnparsedLine> = self.read_jsonl(archive::UNPARSED_FILE);
        let mut referenced = HashSet::new();
        for line in &lines {
            for c in &line.captures {
                for path in [&c.raw, &c.record] {
                    referenced.insert(path.clone());
                    if !self.files.contains_key(path) {
                        self.finding(
                            Code::IndexMismatch,
                            archive::INDEX_FILE,
                            format!(
                                "cable {} names {path}, which is not in the archive",
                                line.id
                            ),
                        );
                    }
                }
                if sha256_manifest.get(&c.raw).is_some_and(|d| *d != c.sha256) {
                    self.finding(
                        Code::IndexMismatch,
                        archive::INDEX_FILE,
                        format!(
                            "cable {}: the index and the manifest give {} different digests",
                            line.id, c.raw
                        ),
                    );
                }
            }
        }
        for u in &unparsed {
            referenced.insert(u.raw.clone());
            if !self.files.contains_key(&u.raw) {
                self.finding(
                    Code::IndexMismatch,
                    archive::UNPARSED_FILE,
                    format!("names {}, which is not in the archive", u.raw),
                );
            }
        }
        let strays: Vec<String> = self
            .files
            .keys()
            .filter(|p| p.starts_with("data/") && !referenced.contains(*p))
            .cloned()
            .collect();
        for path in strays {
            self.finding(
                Code::IndexMismatch,
                archive::INDEX_FILE,
                format!("payload file {path} belongs to no cable in the index"),
            );
        }
        (lines, unparsed)
    }

    fn read_jsonl<T: for<'de> serde::Deserialize<'de>>(&mut self, name: &str) -> Vec<T> {
        let Some(data) = self.read(name) else {
            self.finding(Code::IndexMismatch, name, "missing or unreadable");
            return Vec::new();
        };
        capture::read_jsonl(&data).unwrap_or_else(|e| {
            self.finding(Code::IndexMismatch, name, e);
            Vec::new()
        })
    }
}

/// Inflates and hashes every payload entry on all cores and compares both digests with the
/// manifests. Returns the bytes hashed and the findings.
fn hash_payload(
    archive: &OpenArchive,
    payload: &[(&str, &Entry)],
    manifests: &[(&str, HashMap<String, String>)],
    progress: &dyn Progress,
) -> Result<(u64, Vec<Finding>)> {
    let total: u64 = payload.iter().map(|(_, e)| e.uncompressed_size).sum();
    progress.start("verifying", total);
    let results: Vec<Result<(u64, Vec<Finding>)>> = payload
        .par_iter()
        .map(|(path, entry)| {
            let mut hasher = Hasher::new();
            let mut findings = archive.stream(entry, |chunk| hasher.update(chunk))?;
            let len = hasher.len();
            let digests = hasher.finish();
            let unreadable = findings.iter().any(|f| {
                matches!(
                    f.code,
                    Code::DecompressFailed | Code::LocalHeaderCorrupt | Code::UnsupportedEntry
                )
            });
            if unreadable {
                findings.push(
                    Finding::new(
                        Code::PayloadDigestMismatch,
                        &archive.label,
                        "the data cannot be read whole, so it cannot match the manifests",
                    )
                    .at_entry(path.to_string()),
                );
                progress.inc(entry.uncompressed_size);
                return Ok((len, findings));
            }
            for (alg, map) in manifests {
                let actual = if *alg == "sha256" {
                    &digests.sha256
                } else {
                    &digests.sha512
                };
                if let Some(expected) = map.get(*path)
                    && expected != actual
                {
                    findings.push(
                        Finding::new(
                            Code::PayloadDigestMismatch,
                            &archive.label,
                            format!("{alg} is {actual}, manifest-{alg}.txt says {expected}"),
                        )
                        .at_entry(path.to_string()),
                    );
                }
            }
            progress.inc(entry.uncompressed_size);
            Ok((len, findings))
        })
        .collect();
    progress.finish();
    let mut bytes = 0;
    let mut findings = Vec::new();
    for r in results {
        let (len, mut f) = r?;
        bytes += len;
        findings.append(&mut f);
    }
    Ok((bytes, findings))
}
