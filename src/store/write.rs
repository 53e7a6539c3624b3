//! The write protocol: a collection's next version is read from its inputs and the previous
//! version, packed into a zip, and committed (zip, `.sha256`, then the sidecar manifest, each
//! by an atomic rename, under a pending marker).

use super::Store;
use super::base::Base;
use super::ingest::ingest_all;
use super::journal::LineJournal;
use super::name::{VersionId, validate_collection_name};
use super::recovery::PendingWrite;
use super::sidecar::{ArchiveFacts, BagFacts, Counts, PreviousLink, VersionManifest};
use super::snapshot::Snapshot;
use crate::bag::{self, ArchiveFormat, BagPlan, BagWriter, Spill, Spooled, TagData, WrittenBag};
use crate::cable::provenance::SourceHints;
use crate::error::{IoContext, Result};
use crate::finding::{Code, Finding};
use crate::fsutil::{self, StoreLock};
use crate::hash;
use crate::input::Input;
use crate::progress::Progress;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::NamedTempFile;

/// What to write as a collection's next version.
pub struct WriteRequest<'a> {
    /// The collection to write to; created with its first version when it has none.
    pub collection: &'a str,
    /// The new pages (or tables of them), each with the provenance flags given for it.
    pub inputs: Vec<(Input, Arc<SourceHints>)>,
    /// The version holds exactly the inputs (cables not among them are removed), instead of the
    /// previous version's captures plus the inputs.
    pub replace: bool,
    /// The version's message (the sidecar's `message`, the bag's `External-Description`); may be
    /// empty.
    pub message: &'a str,
    /// Report progress here (inputs read, then the archive written).
    pub progress: &'a dyn Progress,
    /// The archive format to write (FORMAT.md section 8): format 2 unless format 1 is asked for,
    /// which cannot follow a version written in format 2.
    pub archive_format: ArchiveFormat,
}

/// What a write did.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// The manifest of the new version; None when nothing changed (no version was written).
    pub manifest: Option<VersionManifest>,
    /// The latest version before this write.
    pub previous: Option<u32>,
    /// Every finding about the inputs.
    pub findings: Vec<Finding>,
    /// Inputs whose bytes the collection did not hold yet, each stored as a new capture.
    pub new_captures: u64,
    /// Inputs whose exact bytes the collection or an earlier input already held: stored once, each
    /// reported as `I003`.
    pub duplicate_captures: u64,
    /// With `replace`, how many cables of the previous version the new one no longer holds; else 0.
    pub removed_cables: u64,
}

impl Store {
    /// Writes the next version of a collection, or nothing when the inputs add nothing new.
    ///
    /// Memory stays small as the collection grows: captures are compressed into the spill as
    /// they are read, index lines live in a journal on disk, and per cable only its id, where
    /// its line is, and a 16-byte key of each capture are held.
    pub fn write_version(
        &self,
        lock: &StoreLock,
        mut request: WriteRequest<'_>,
    ) -> Result<WriteOutcome> {
        self.require_local("write a version to it")?;
        validate_collection_name(request.collection)?;
        // Taken so that each can go once read (see `InputQueue`).
        let inputs = std::mem::take(&mut request.inputs);
        let input_count = inputs.iter().map(|(input, _)| input.count()).sum();
        self.recover(lock)?;
        let collection = request.collection;
        self.refuse_uncommitted_archives(collection)?;
        let previous = self.latest(collection)?;
        let mut outcome = WriteOutcome {
            previous,
            ..WriteOutcome::default()
        };
        let scratch = self.state_dir();
        let mut journal = LineJournal::create(&scratch)?;
        // The previous version is read even with --replace: the new version chains to it and
        // copies the captures it still holds.
        let mut base = previous
            .map(|v| Base::open(self, collection, v, &mut journal))
            .transpose()?;
        if let Some(b) = &base {
            refuse_older_format(collection, b, request.archive_format)?;
        }
        // Its lines move into the new version, unless that replaces its captures.
        let lines = match (&mut base, request.replace) {
            (Some(b), false) => Some(std::mem::take(&mut b.lines)),
            _ => None,
        };
        // Every new capture is compressed into the spill as it is read, so it is read, parsed,
        // hashed and compressed once; bytes the previous version already holds are not spilled.
        let spill = Spill::create(&scratch, request.archive_format.payload_deflate())?;
        let mut snapshot = Snapshot::starting(base.as_ref(), lines, input_count);
        let mut reading = Reading {
            snapshot: &mut snapshot,
            journal: &mut journal,
            outcome: &mut outcome,
        };
        let into = Into {
            spill: &spill,
            base: base.as_ref(),
            format: request.archive_format,
        };
        reading.read_all(inputs, request.progress, into)?;
        // No input was read (none given, or every one refused): there is nothing to write,
        // neither an empty first version nor, with --replace, a version without cables.
        if outcome.new_captures == 0 && outcome.duplicate_captures == 0 {
            return Ok(outcome);
        }
        if let Some(b) = &base {
            if request.replace {
                outcome.removed_cables = b
                    .lines
                    .keys()
                    .filter(|id| !snapshot.cables.contains_key(*id))
                    .count() as u64;
                snapshot.reuse_from(&mut journal, b)?;
            }
            if snapshot.same_as(b) {
                return Ok(outcome);
            }
        }
        let version = previous.map_or(1, |v| v + 1);
        let written = Written {
            snapshot: &snapshot,
            journal: &mut journal,
            spill,
            base: base.as_ref(),
        };
        let manifest = self.commit_snapshot(collection, version, written, &request)?;
        outcome.manifest = Some(manifest);
        Ok(outcome)
    }

    /// Packs the snapshot into a zip, puts it in place and commits its sidecar manifest.
    fn commit_snapshot(
        &self,
        collection: &str,
        version: u32,
        written: Written<'_>,
        request: &WriteRequest<'_>,
    ) -> Result<VersionManifest> {
        let (snapshot, base) = (written.snapshot, written.base);
        let (tmp, bag) = self.pack_zip(collection, version, written, request)?;
        let marker = self.put_zip_in_place(collection, version, tmp, &bag)?;
        let manifest = sidecar_manifest(collection, version, request.message, snapshot, base, bag);
        // The commit point: the version exists from the moment this rename lands.
        fsutil::atomic_create(
            &self.manifest_path(collection, version),
            &manifest.to_bytes(),
        )?;
        // The version is committed. The marker goes, durably: left behind (a crash just now), it
        // is removed whenever the store lock is next taken, since its version has a manifest.
        if std::fs::remove_file(&marker).is_ok() {
            let _ = fsutil::fsync_parent(&marker);
        }
        Ok(manifest)
    }

    /// Writes the version's bag into a temporary zip in its collection's archive folder, synced
    /// to disk.
    fn pack_zip(
        &self,
        collection: &str,
        version: u32,
        written: Written<'_>,
        request: &WriteRequest<'_>,
    ) -> Result<(NamedTempFile, WrittenBag)> {
        let Written {
            snapshot,
            journal,
            spill,
            base,
        } = written;
        let folder = format!("{collection}-v{version}");
        let scratch = self.state_dir();
        let index = snapshot.spool_index(journal, &scratch)?;
        let tmp = fsutil::temp_file_in(&self.archive_dir(collection))?;
        let file = tmp.as_file().try_clone().at(tmp.path())?;
        let mut bag = BagWriter::new(file, &folder, &scratch)?;
        let spill = spill.into_reader()?;
        request.progress.start("packing", snapshot.payload_files());
        // The index is complete before the payload is copied, and copying leaves a core mostly
        // free (the zip's SHA-512 takes the other): the index is compressed meanwhile.
        let (copied, index) = std::thread::scope(|s| {
            let scratch = &scratch;
            let compressing = s.spawn(move || -> Result<Spooled> {
                let mut index = index;
                index.compress(bag::INDEX_FILE, scratch)?;
                Ok(index)
            });
            let copied = snapshot.write_payload(journal, &spill, base, &mut bag, request.progress);
            match compressing.join() {
                Ok(index) => (copied, index),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        copied?;
        request.progress.finish();
        drop(spill);
        let plan = BagPlan {
            bag_info: bag_info(collection, version, request, snapshot, base),
            folder,
            tag_files: vec![
                (bag::INDEX_FILE.to_string(), TagData::Spooled(index?)),
                (
                    bag::UNPARSED_FILE.to_string(),
                    TagData::Bytes(crate::jsonl::write_jsonl(snapshot.unparsed.values())),
                ),
            ],
        };
        let (_, written) = bag.finish(plan)?;
        tmp.as_file().sync_all().at(tmp.path())?;
        Ok((tmp, written))
    }

    /// Renames the packed zip into place, then writes its `.sha256` file, both under a pending
    /// marker naming the zip's digest, which is returned.
    fn put_zip_in_place(
        &self,
        collection: &str,
        version: u32,
        tmp: NamedTempFile,
        bag: &WrittenBag,
    ) -> Result<PathBuf> {
        let pending = PendingWrite {
            file: Self::zip_name(collection, version),
            bytes: bag.zip_bytes,
            sha256: bag.zip_digests.sha256.clone(),
        };
        let marker = self.pending_marker(collection, version);
        // The marker is created only for a name this writer is about to own: never over another
        // writer's marker, and it goes again when the zip cannot take its name.
        fsutil::atomic_create(&marker, &pending.to_bytes())?;
        if let Err(e) = fsutil::persist(
            tmp,
            &self.zip_path(collection, version),
            fsutil::Existing::Keep,
        ) {
            let _ = std::fs::remove_file(&marker);
            return Err(e);
        }
        fsutil::atomic_create(
            &self.checksum_path(collection, version),
            pending.checksum_line().as_bytes(),
        )?;
        Ok(marker)
    }
}

/// Reads every input into the snapshot, counting new and duplicate captures in the outcome.
struct Reading<'a, 'b> {
    snapshot: &'a mut Snapshot<'b>,
    journal: &'a mut LineJournal,
    outcome: &'a mut WriteOutcome,
}

impl Reading<'_, '_> {
    fn read_all(
        &mut self,
        inputs: Vec<(Input, Arc<SourceHints>)>,
        progress: &dyn Progress,
        into: Into<'_>,
    ) -> Result<()> {
        let known = into.base.map(|b| &b.raw_keys);
        let Reading {
            snapshot,
            journal,
            outcome,
        } = self;
        let mut duplicates = Vec::new();
        ingest_all(
            inputs,
            progress,
            (into.spill, into.format),
            known,
            &mut outcome.findings,
            |input, item| {
                if snapshot.add(journal, item)? {
                    outcome.new_captures += 1;
                } else {
                    outcome.duplicate_captures += 1;
                    duplicates.push(Finding::new(
                    Code::DuplicateCapture,
                    &input.name,
                    "the same bytes are already in the collection or among the inputs; kept once",
                ));
                }
                Ok(())
            },
        )?;
        outcome.findings.append(&mut duplicates);
        Ok(())
    }
}

/// Where a write's inputs go: the spill, in the archive format written, beside the previous
/// version.
struct Into<'a> {
    spill: &'a Spill,
    base: Option<&'a Base>,
    format: ArchiveFormat,
}

/// Format 1 cannot follow format 2: the format 2 records a new version copies from the previous
/// one would be unreadable to the releases that only read format 1.
fn refuse_older_format(collection: &str, base: &Base, format: ArchiveFormat) -> Result<()> {
    if format < base.format {
        return Err(crate::error::Error::Invalid(format!(
            "{}: written in archive format {}; its next version cannot be written in format {}",
            VersionId::new(collection, base.version),
            base.format.number(),
            format.number()
        )));
    }
    Ok(())
}

/// The sidecar manifest of a version just packed and put in place.
fn sidecar_manifest(
    collection: &str,
    version: u32,
    message: &str,
    snapshot: &Snapshot<'_>,
    base: Option<&Base>,
    bag: WrittenBag,
) -> VersionManifest {
    VersionManifest {
        format: crate::store::sidecar::SIDECAR_FORMAT.to_string(),
        collection: collection.to_string(),
        version,
        identifier: VersionId::new(collection, version).to_string(),
        created: crate::time::rfc3339(crate::time::now()),
        tool: format!("cablekeep {}", crate::TOOL_VERSION),
        message: message.to_string(),
        archive: ArchiveFacts {
            file: Store::zip_name(collection, version),
            bytes: bag.zip_bytes,
            sha256: bag.zip_digests.sha256,
            sha512: bag.zip_digests.sha512,
        },
        bag: BagFacts {
            folder: format!("{collection}-v{version}"),
            payload_oxum: bag.payload_oxum,
            tag_files: bag.tag_files,
        },
        counts: Counts {
            cables: snapshot.cables.len() as u64,
            captures: snapshot.captures,
            unparsed: snapshot.unparsed.len() as u64,
            payload_files: bag.payload_files,
            payload_bytes: bag.payload_bytes,
            zip_entries: bag.zip_entries,
        },
        previous: base.map(|b| PreviousLink {
            version: b.version,
            manifest_sha256: hash::sha256_hex(&b.manifest_bytes),
            archive_sha256: b.manifest.archive.sha256.clone(),
        }),
        rebuilt: None,
    }
}

/// What [`Store::commit_snapshot`] writes: the snapshot, the journal its lines are in, the
/// spilled captures and the previous version.
struct Written<'a> {
    snapshot: &'a Snapshot<'a>,
    journal: &'a mut LineJournal,
    spill: Spill,
    base: Option<&'a Base>,
}

/// The `bag-info.txt` labels of a version, in order (Payload-Oxum and Bag-Size are added by the
/// writer). Bagging-Date follows `SOURCE_DATE_EPOCH` when it is set.
fn bag_info(
    collection: &str,
    version: u32,
    request: &WriteRequest<'_>,
    snapshot: &Snapshot<'_>,
    base: Option<&Base>,
) -> Vec<(String, String)> {
    let mut info = vec![
        (
            "Bag-Software-Agent".to_string(),
            format!(
                "cablekeep {} (https://crates.io/crates/cablekeep)",
                crate::TOOL_VERSION
            ),
        ),
        (
            "Bagging-Date".to_string(),
            crate::time::date(crate::time::now()),
        ),
        (
            "External-Identifier".to_string(),
            VersionId::new(collection, version).to_string(),
        ),
        ("Bag-Group-Identifier".to_string(), collection.to_string()),
    ];
    let (message, format) = (request.message, request.archive_format);
    if !message.trim().is_empty() {
        info.push((
            "External-Description".to_string(),
            message.trim().to_string(),
        ));
    }
    info.extend([
        (
            "Cablekeep-Format".to_string(),
            format.bag_info_value().to_string(),
        ),
        ("Cablekeep-Collection".to_string(), collection.to_string()),
        ("Cablekeep-Version".to_string(), version.to_string()),
        (
            "Cablekeep-Cables".to_string(),
            snapshot.cables.len().to_string(),
        ),
        (
            "Cablekeep-Captures".to_string(),
            snapshot.captures.to_string(),
        ),
        (
            "Cablekeep-Unparsed".to_string(),
            snapshot.unparsed.len().to_string(),
        ),
    ]);
    if let Some(b) = base {
        info.push((
            "Cablekeep-Previous-Version".to_string(),
            VersionId::new(collection, b.version).to_string(),
        ));
        info.push((
            "Cablekeep-Previous-Archive-SHA256".to_string(),
            b.manifest.archive.sha256.clone(),
        ));
    }
    info
}
