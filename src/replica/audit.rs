//! `audit`: compare replicas file by file; a majority decides which copy is good.
//!
//! Cheap first: one listing per replica (names, sizes, entity tags), then the small files read
//! whole (sidecars, checksums, checkpoints, signatures, timestamps, link logs: kilobytes). A zip
//! is read only where that cannot settle it: its size differs from the good sidecar's, or on
//! object storage its entity tag is not the one the replica's receipt recorded when the bytes
//! were verified on arrival, or `--deep` asks for every byte. Replicas that agree are compared
//! without reading a byte of any zip.

use super::files::{self, FileKind, StoreFile, sidecar_rel};
use super::replicate::{MAX_SMALL_FILE, Receipt, receipt_rel};
use super::{Digest, Listed, Replica, STATE_DIR};
use crate::finding::{Code, Finding};
use crate::progress::Progress;
use crate::store::sidecar::VersionManifest;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One collection (default: every collection any replica holds).
    pub collection: Option<String>,
    /// Hash every zip on every replica.
    pub deep: bool,
}

/// The outcome of an audit.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Per replica, in the order given.
    pub replicas: Vec<ReplicaSummary>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Files compared (distinct store paths).
    pub files_compared: u64,
    /// Bytes of zips read (0 when every replica agreed by listing and receipts).
    pub payload_bytes_read: u64,
    /// Bytes of small files read.
    pub small_bytes_read: u64,
    /// What each replica must be given to be whole again (used by `repair`).
    #[serde(skip)]
    pub damage: Vec<Damage>,
}

/// One replica's result.
#[derive(Debug, Serialize)]
pub struct ReplicaSummary {
    /// Its folder or URL.
    pub replica: String,
    /// No error finding names it.
    pub whole: bool,
    /// Files missing (R001).
    pub missing: u64,
    /// Files damaged (R002).
    pub damaged: u64,
    /// Files no store writes (R003).
    pub extra: u64,
}

/// A file a replica lacks or holds damaged, and where good copies were seen.
#[derive(Debug, Clone)]
pub struct Damage {
    /// The replica's index in the order given.
    pub replica: usize,
    /// The store-relative path.
    pub rel: String,
    /// What it is.
    pub file: StoreFile,
    /// Whether the replica has a copy that must be moved aside (damaged) or none (missing).
    pub present: bool,
    /// A link log that is only behind the good one (R007): replaced, not reported as damage.
    pub behind: bool,
    /// The good copy's size and SHA-256.
    pub good: Digest,
    /// Replicas whose copy was judged good.
    pub sources: Vec<usize>,
}

/// A copy of one file on one replica, as far as the audit looked at it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Absent,
    /// Its bytes were read: their digest.
    Read(Digest),
    /// Only listed: its size (and entity tag).
    Listed(Listed),
    /// It could not be read.
    Unreadable,
}

/// Compares `replicas`.
pub fn audit(replicas: &[Replica], options: &Options, progress: &dyn Progress) -> Report {
    let mut audit = Audit::new(replicas, options, progress);
    audit.run();
    audit.into_report()
}

struct Audit<'a> {
    replicas: &'a [Replica],
    options: &'a Options,
    progress: &'a dyn Progress,
    /// Per replica: its listing by store path, or None when it could not be listed.
    listings: Vec<Option<BTreeMap<String, Listed>>>,
    findings: Vec<Finding>,
    damage: Vec<Damage>,
    /// Per replica and version: the receipt, read once.
    receipts: BTreeMap<(usize, String, u32), Option<Receipt>>,
    /// Good sidecar bytes by (collection, version).
    good_sidecars: BTreeMap<(String, u32), Vec<u8>>,
    payload: AtomicU64,
    small: u64,
    compared: u64,
}

impl<'a> Audit<'a> {
    fn new(replicas: &'a [Replica], options: &'a Options, progress: &'a dyn Progress) -> Self {
        Audit {
            replicas,
            options,
            progress,
            listings: Vec::new(),
            findings: Vec::new(),
            damage: Vec::new(),
            receipts: BTreeMap::new(),
            good_sidecars: BTreeMap::new(),
            payload: AtomicU64::new(0),
            small: 0,
            compared: 0,
        }
    }

    fn run(&mut self) {
        self.list_replicas();
        let files = self.store_files();
        self.progress
            .start("comparing replicas", files.len() as u64);
        // Sidecars first (by version), so a zip is judged against its good sidecar.
        let mut ordered: Vec<(&String, &StoreFile)> = files.iter().collect();
        ordered.sort_by_key(|(rel, f)| {
            (
                f.kind != FileKind::Sidecar,
                f.collection.clone(),
                f.version,
                *rel,
            )
        });
        for (rel, file) in ordered {
            self.compare(rel, file);
            self.compared += 1;
            self.progress.inc(1);
        }
        self.progress.finish();
    }

    /// Lists every replica once; one that cannot be listed is reported (R006) and takes no
    /// part, but still counts in the majority's denominator.
    fn list_replicas(&mut self) {
        for replica in self.replicas {
            let listed = replica.check_access().and_then(|()| replica.list());
            match listed {
                Ok(list) => {
                    self.report_state_files(replica, &list);
                    self.listings
                        .push(Some(list.into_iter().map(|l| (l.rel.clone(), l)).collect()));
                }
                Err(e) => {
                    self.findings.push(Finding::new(
                        Code::ReplicaUnreadable,
                        replica.label(),
                        e.to_string(),
                    ));
                    self.listings.push(None);
                }
            }
        }
    }

    /// R003 for names no store writes, R005 for temporaries.
    fn report_state_files(&mut self, replica: &Replica, list: &[Listed]) {
        let temps = list
            .iter()
            .filter(|l| l.rel.starts_with(&format!("{STATE_DIR}/tmp/")))
            .count();
        if temps > 0 {
            self.findings.push(Finding::new(
                Code::ReplicaInterrupted,
                replica.label_of(&format!("{STATE_DIR}/tmp/")),
                format!("{temps} temporaries of an interrupted replicate or repair (the next replicate removes them)"),
            ));
        }
        for l in list {
            let in_store = l.rel.starts_with("archives/") || l.rel.starts_with("manifests/");
            if in_store && files::classify(&l.rel).is_none() && !self.excluded_by_collection(&l.rel)
            {
                self.findings.push(Finding::new(
                    Code::ReplicaExtra,
                    replica.label_of(&l.rel),
                    "no store writes a file of this name here (reported, not removed)",
                ));
            }
        }
    }

    fn excluded_by_collection(&self, rel: &str) -> bool {
        let collection = rel.split('/').nth(1).unwrap_or("");
        self.options
            .collection
            .as_deref()
            .is_some_and(|c| c != collection)
    }

    /// Every store file any replica holds, in the collection asked for.
    fn store_files(&self) -> BTreeMap<String, StoreFile> {
        let mut all = BTreeMap::new();
        for listing in self.listings.iter().flatten() {
            for rel in listing.keys() {
                if let Some(file) = files::classify(rel)
                    && self
                        .options
                        .collection
                        .as_deref()
                        .is_none_or(|c| c == file.collection)
                {
                    all.insert(rel.clone(), file);
                }
            }
        }
        all
    }

    fn compare(&mut self, rel: &str, file: &StoreFile) {
        let good = if file.is_small() {
            self.compare_small(rel, file)
        } else {
            self.compare_zip(rel, file)
        };
        let Some((good, seen)) = good else { return };
        self.judge(rel, file, &good, &seen);
    }

    /// Reads a small file on every replica; the good digest by majority (or by agreement of
    /// all holders of a version not yet everywhere), or None after an R004.
    fn compare_small(&mut self, rel: &str, file: &StoreFile) -> Option<(Digest, Vec<Seen>)> {
        let mut seen = Vec::new();
        let mut bytes_of: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
        for i in 0..self.replicas.len() {
            let s = self.look_at_small(i, rel, file, &mut bytes_of);
            seen.push(s);
        }
        let good = self.majority(rel, file, &seen, &bytes_of)?;
        if file.kind == FileKind::Sidecar
            && let (Some(v), Some(bytes)) = (file.version, bytes_of.get(&good))
        {
            self.good_sidecars
                .insert((file.collection.clone(), v), bytes.clone());
        }
        if file.kind == FileKind::LinkLog {
            self.link_logs_behind(rel, &good, &mut seen);
        }
        Some((good, seen))
    }

    /// One replica's copy of a small file: read whole (kept in `bytes_of` by digest), or for
    /// the link log, which may be large, hashed as it streams.
    fn look_at_small(
        &mut self,
        i: usize,
        rel: &str,
        file: &StoreFile,
        bytes_of: &mut BTreeMap<Digest, Vec<u8>>,
    ) -> Seen {
        let replica = &self.replicas[i];
        let Some(listing) = &self.listings[i] else {
            return Seen::Unreadable;
        };
        if !listing.contains_key(rel) {
            return Seen::Absent;
        }
        let read = if file.kind == FileKind::LinkLog {
            replica.hash(rel, &crate::progress::NoProgress)
        } else {
            replica.read_small(rel, MAX_SMALL_FILE).map(|bytes| {
                bytes.map(|b| {
                    let digest = Digest::of(&b);
                    bytes_of.entry(digest.clone()).or_insert(b);
                    digest
                })
            })
        };
        match read {
            Ok(Some(digest)) => {
                self.small += digest.bytes;
                Seen::Read(digest)
            }
            Ok(None) => Seen::Absent,
            Err(e) => {
                self.unreadable(replica, rel, &e);
                Seen::Unreadable
            }
        }
    }

    /// The digest held by more than half of the replicas given; else, when every holder agrees
    /// (a version or log not copied everywhere yet) and a sidecar links to the good one
    /// before it, theirs; else R004 and None.
    fn majority(
        &mut self,
        rel: &str,
        file: &StoreFile,
        seen: &[Seen],
        bytes_of: &BTreeMap<Digest, Vec<u8>>,
    ) -> Option<Digest> {
        let mut votes: BTreeMap<&Digest, usize> = BTreeMap::new();
        for s in seen {
            if let Seen::Read(d) = s {
                *votes.entry(d).or_default() += 1;
            }
        }
        let n = self.replicas.len();
        if let Some((d, _)) = votes.iter().find(|(_, c)| **c * 2 > n) {
            return Some((*d).clone());
        }
        let unanimous = votes.len() == 1;
        if unanimous {
            let d = votes.keys().next().map(|d| (*d).clone())?;
            let chained = file.kind != FileKind::Sidecar
                || bytes_of
                    .get(&d)
                    .is_some_and(|b| self.links_to_good_previous(file, b));
            if chained {
                return Some(d);
            }
        }
        if votes.is_empty() {
            return None;
        }
        let held: Vec<String> = seen
            .iter()
            .zip(self.replicas)
            .filter_map(|(s, r)| match s {
                Seen::Read(d) => Some(format!(
                    "{} has {} bytes {}",
                    r.label(),
                    d.bytes,
                    short(&d.sha256)
                )),
                _ => None,
            })
            .collect();
        let why = if unanimous {
            "the sidecar held by fewer than half of the replicas does not link to the good sidecar of the version before"
        } else {
            "the copies differ and none is held by more than half of the replicas"
        };
        self.findings.push(Finding::new(
            Code::ReplicaNoMajority,
            rel,
            format!("{why}: {}", held.join("; ")),
        ));
        None
    }

    /// Whether a sidecar's link to its previous version names the good previous sidecar.
    fn links_to_good_previous(&self, file: &StoreFile, sidecar: &[u8]) -> bool {
        let Ok(manifest) = serde_json::from_slice::<VersionManifest>(sidecar) else {
            return false;
        };
        match (file.version, &manifest.previous) {
            (Some(1), None) => true,
            (Some(v), Some(previous)) if v > 1 => self
                .good_sidecars
                .get(&(file.collection.clone(), v - 1))
                .is_some_and(|b| Digest::of(b).sha256 == previous.manifest_sha256),
            _ => false,
        }
    }

    /// A link log that is the beginning of the good one is behind (R007), not damaged: the
    /// good copy's first bytes are hashed on a replica that holds it.
    fn link_logs_behind(&mut self, rel: &str, good: &Digest, seen: &mut [Seen]) {
        let Some(source) = seen.iter().position(|s| *s == Seen::Read(good.clone())) else {
            return;
        };
        for (i, s) in seen.iter_mut().enumerate() {
            let Seen::Read(d) = s else { continue };
            if d == good || d.bytes >= good.bytes {
                continue;
            }
            let prefix = self.replicas[source].hash_prefix(rel, d.bytes);
            if prefix.ok().flatten().as_ref() != Some(d) {
                continue;
            }
            self.findings.push(Finding::new(
                Code::ReplicaLinkLogBehind,
                self.replicas[i].label_of(rel),
                format!(
                    "{} bytes of the good log's {}: checks recorded since were not copied",
                    d.bytes, good.bytes
                ),
            ));
            // Behind is mended by the longer log, and not reported again as damage.
            self.damage.push(Damage {
                replica: i,
                rel: rel.to_string(),
                file: files::classify(rel).unwrap_or_else(|| unreachable_file(rel)),
                present: true,
                behind: true,
                good: good.clone(),
                sources: Vec::new(),
            });
            *s = Seen::Read(good.clone());
        }
    }

    /// Judges a zip against its version's good sidecar, reading it only where the listing and
    /// the receipt cannot settle it.
    fn compare_zip(&mut self, rel: &str, file: &StoreFile) -> Option<(Digest, Vec<Seen>)> {
        let v = file.version?;
        let Some(sidecar) = self.good_sidecars.get(&(file.collection.clone(), v)) else {
            // No good sidecar: an R004 or missing sidecar was reported for it already, unless
            // no replica holds a sidecar at all (a zip without its version: R003-like).
            if !self.any_holds(&sidecar_rel(&file.collection, v)) {
                self.findings.push(Finding::new(
                    Code::ReplicaExtra,
                    rel,
                    "a zip that no replica holds a sidecar for (an interrupted write)",
                ));
            }
            return None;
        };
        let manifest: VersionManifest = serde_json::from_slice(sidecar).ok()?;
        let good = Digest {
            bytes: manifest.archive.bytes,
            sha256: manifest.archive.sha256,
        };
        let mut seen = Vec::new();
        for i in 0..self.replicas.len() {
            let s = self.look_at_zip(i, rel, file, &good);
            seen.push(s);
        }
        Some((good, seen))
    }

    fn look_at_zip(&mut self, i: usize, rel: &str, file: &StoreFile, good: &Digest) -> Seen {
        let replica = &self.replicas[i];
        let Some(listing) = &self.listings[i] else {
            return Seen::Unreadable;
        };
        let Some(listed) = listing.get(rel).cloned() else {
            return Seen::Absent;
        };
        if listed.bytes != good.bytes {
            return Seen::Listed(listed);
        }
        let vouched = !self.options.deep
            && (!replica.is_remote() || self.receipt_vouches(i, file, &listed, good));
        if vouched {
            return Seen::Read(good.clone());
        }
        let counter = Counter(&self.payload);
        match replica.hash(rel, &counter) {
            Ok(Some(d)) => Seen::Read(d),
            Ok(None) => Seen::Absent,
            Err(e) => {
                self.unreadable(replica, rel, &e);
                Seen::Unreadable
            }
        }
    }

    /// Whether the replica's receipt records this object, with this entity tag, as verified
    /// bytes of the good digest.
    fn receipt_vouches(
        &mut self,
        i: usize,
        file: &StoreFile,
        listed: &Listed,
        good: &Digest,
    ) -> bool {
        let Some(v) = file.version else { return false };
        let key = (i, file.collection.clone(), v);
        if !self.receipts.contains_key(&key) {
            let rel = receipt_rel(&file.collection, v);
            let receipt = self.replicas[i]
                .read_small(&rel, MAX_SMALL_FILE)
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<Receipt>(&b).ok());
            self.receipts.insert(key.clone(), receipt);
        }
        self.receipts[&key].as_ref().is_some_and(|r| {
            r.files.iter().any(|f| {
                f.rel == listed.rel
                    && &f.digest == good
                    && f.etag.is_some()
                    && f.etag == listed.etag
            })
        })
    }

    fn any_holds(&self, rel: &str) -> bool {
        self.listings.iter().flatten().any(|l| l.contains_key(rel))
    }

    /// R001 for the replicas that lack a file with a good copy, R002 for those that hold
    /// another.
    fn judge(&mut self, rel: &str, file: &StoreFile, good: &Digest, seen: &[Seen]) {
        let sources: Vec<usize> = seen
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == Seen::Read(good.clone()))
            .map(|(i, _)| i)
            .collect();
        for (i, s) in seen.iter().enumerate() {
            let replica = &self.replicas[i];
            let (code, present, message) = match s {
                Seen::Absent => (
                    Code::ReplicaMissing,
                    false,
                    format!(
                        "missing; the good copy is {} bytes, SHA-256 {}",
                        good.bytes, good.sha256
                    ),
                ),
                Seen::Read(d) if d == good => continue,
                Seen::Read(d) => (
                    Code::ReplicaDamaged,
                    true,
                    format!(
                        "{} bytes with SHA-256 {}, where the good copy is {} bytes with SHA-256 {}",
                        d.bytes, d.sha256, good.bytes, good.sha256
                    ),
                ),
                Seen::Listed(l) => (
                    Code::ReplicaDamaged,
                    true,
                    format!(
                        "{} bytes, where the good copy is {} bytes (SHA-256 {})",
                        l.bytes, good.bytes, good.sha256
                    ),
                ),
                Seen::Unreadable => continue,
            };
            self.findings
                .push(Finding::new(code, replica.label_of(rel), message));
            self.damage.push(Damage {
                replica: i,
                rel: rel.to_string(),
                file: file.clone(),
                present,
                behind: false,
                good: good.clone(),
                sources: sources.clone(),
            });
        }
        for d in self
            .damage
            .iter_mut()
            .filter(|d| d.rel == rel && d.sources.is_empty())
        {
            d.sources = sources.clone();
        }
    }

    fn unreadable(&mut self, replica: &Replica, rel: &str, e: &crate::error::Error) {
        self.findings.push(Finding::new(
            Code::ReplicaUnreadable,
            replica.label_of(rel),
            e.to_string(),
        ));
    }

    fn into_report(self) -> Report {
        let replicas = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let label = r.label();
                let mine = |code: Code| {
                    self.damage
                        .iter()
                        .filter(|d| d.replica == i && !d.behind)
                        .filter(|d| (code == Code::ReplicaDamaged) == d.present)
                        .count() as u64
                };
                let names_me = |f: &&Finding| r.names(&f.file);
                ReplicaSummary {
                    whole: !self.findings.iter().filter(names_me).any(Finding::is_error),
                    missing: mine(Code::ReplicaMissing),
                    damaged: mine(Code::ReplicaDamaged),
                    extra: self
                        .findings
                        .iter()
                        .filter(names_me)
                        .filter(|f| f.code == Code::ReplicaExtra)
                        .count() as u64,
                    replica: label,
                }
            })
            .collect();
        Report {
            replicas,
            findings: self.findings,
            files_compared: self.compared,
            payload_bytes_read: self.payload.load(Ordering::Relaxed),
            small_bytes_read: self.small,
            damage: self.damage,
        }
    }
}

/// Counts the payload bytes read.
struct Counter<'c>(&'c AtomicU64);

impl Progress for Counter<'_> {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    fn finish(&self) {}
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(16)]
}

fn unreachable_file(rel: &str) -> StoreFile {
    StoreFile {
        collection: rel.split('/').nth(1).unwrap_or_default().to_string(),
        version: None,
        kind: FileKind::LinkLog,
    }
}
