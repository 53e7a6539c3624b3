//! The bag checked a chunk of entries at a time, with memory that does not grow with the archive:
//! a merge join of the zip's central directory, read forward, against the payload manifests, the
//! cable index and the unparsed inputs' list, each read as a stream on threads of its own.
//!
//! It applies to archives in cablekeep's layout (section 2.1 of `docs/FORMAT.md`): the payload
//! first, sorted by path, then the tag files; the manifests and lists sorted by path, the index
//! by id. It finds what the whole-archive check ([`super::check_bag`]) finds; when an archive is
//! found to be in another order at any point, the work so far is dropped and the caller checks
//! the archive whole (its tables follow the number of entries: ~160 MB for the whole corpus).

mod channel;
mod readers;

use super::files::{BagFiles, bag_folder};
use super::payload::check_payload_file;
use super::rules;
use super::tags::{BagCheck, TagStreams};
use super::{BagChecked, BagSeen, Depth};
use crate::bag::{Chunk, DirectoryStream, Entry, OpenArchive};
use crate::bag::{ReadAt, Reading};
use crate::error::{IoContext, Result};
use crate::finding::{CappedFindings, Finding};
use crate::hash::{Sha256Bytes, Sha512Bytes};
use crate::progress::Progress;
use channel::{Stream, Unstreamable};
use rayon::prelude::*;
use readers::{IndexDigest, IndexItem, IndexStream, ManifestStream, UnparsedStream};
use std::path::Path;
use std::sync::Arc;

/// Entries read from the directory, checked and hashed at a time.
const CHUNK: usize = 4096;

/// Checks the bag as [`super::check_bag`] does after [`OpenArchive::open`], a chunk at a time.
/// None when the archive is not in cablekeep's layout: the caller then opens it whole. Returns
/// the archive opened for its tag files, the report and what the bag says of itself.
pub(crate) fn check_streamed(
    source: Arc<dyn ReadAt>,
    path: &Path,
    depth: Depth,
    progress: &dyn Progress,
) -> Result<Option<(OpenArchive, BagChecked, BagSeen)>> {
    let tag_files = |p: &str| !p.starts_with("data/");
    let archive = OpenArchive::open_source(source, path, Reading::Selected(&tag_files))?;
    let Some(folder) = streamable_folder(&archive) else {
        return Ok(None);
    };
    let files = BagFiles::new(&archive, &folder);
    if files.all.len() != archive.index.entries.len() || !tag_names_distinct(&files) {
        return Ok(None);
    }
    let Some(directory) = DirectoryStream::new(&*archive.file, &archive.label).at(path)? else {
        return Ok(None);
    };
    let checked = Streaming {
        bag: BagCheck::new(&archive, &files, depth),
        prefix: format!("{folder}/"),
    }
    .run(directory, progress)?;
    let Some((mut report, mut seen)) = checked else {
        return Ok(None);
    };
    report.archive = archive.path.clone();
    seen.folder = Some(folder);
    drop(files);
    Ok(Some((archive, report, seen)))
}

/// The bag folder, when every tag file lies in it and it holds `bagit.txt`.
fn streamable_folder(archive: &OpenArchive) -> Option<String> {
    if !archive.index.readable {
        return None;
    }
    let mut findings = CappedFindings::new();
    let folder = bag_folder(archive, &mut findings)?;
    findings.is_empty().then_some(folder)
}

/// No two tag files whose names are equal when folded to lower case, and none that folds to a
/// payload path (`DATA/...`): the merge rules out duplicates among payload files only.
fn tag_names_distinct(files: &BagFiles<'_>) -> bool {
    let mut folded: Vec<String> = files.all.iter().map(|(p, _)| p.to_lowercase()).collect();
    folded.sort();
    let repeats = folded.windows(2).any(|w| w[0] == w[1]);
    !repeats && !folded.iter().any(|p| p.starts_with("data/"))
}

/// The check under way: the bag's own files are read through [`BagCheck`], the payload through
/// the merge.
struct Streaming<'a> {
    bag: BagCheck<'a>,
    /// `<folder>/`.
    prefix: String,
}

/// Findings of the merge, kept apart so that they come out in the order the whole-archive check
/// gives them.
#[derive(Default)]
struct MergeFindings {
    /// Manifest lines naming a path the archive lacks that is not a safe path.
    unsafe256: CappedFindings,
    unsafe512: CappedFindings,
    missing256: CappedFindings,
    missing512: CappedFindings,
    unlisted256: CappedFindings,
    unlisted512: CappedFindings,
    index_digests: CappedFindings,
    index: CappedFindings,
    unparsed: CappedFindings,
    strays: CappedFindings,
    payload: CappedFindings,
}

/// What the walk over the directory leaves.
#[derive(Default)]
struct Walked {
    entries: u64,
    payload_files: u64,
    payload_bytes: u64,
    bytes_hashed: u64,
    structure: CappedFindings,
    merge: MergeFindings,
}

impl Streaming<'_> {
    fn run(
        mut self,
        directory: DirectoryStream<'_>,
        progress: &dyn Progress,
    ) -> Result<Option<(BagChecked, BagSeen)>> {
        let mut seen = BagSeen::default();
        self.bag.check_declaration_and_info(&mut seen);
        let label = self.bag.label;
        let mut readers = Readers {
            m256: ManifestStream::new("manifest-sha256.txt", label),
            m512: ManifestStream::new("manifest-sha512.txt", label),
            index: IndexStream::new(label),
            unparsed: UnparsedStream::new(label),
        };
        let streams = Incoming {
            m256: readers.m256.out.receiver(),
            m512: readers.m512.out.receiver(),
            index: readers.index.out.receiver(),
            unparsed: readers.unparsed.out.receiver(),
        };
        let total = rules::oxum_bytes(seen.payload_oxum.as_deref());
        let Readers {
            m256,
            m512,
            index,
            unparsed,
        } = &mut readers;
        let (tags, walked) = self.bag.stream_tags([index, m256, m512, unparsed], || {
            let hashing = self.bag.depth == Depth::Full;
            if hashing {
                progress.start("verifying", total);
            }
            // The walk drops the receivers when it returns, so that readers never wait on it.
            let walked = self.walk(directory, streams, progress);
            if hashing {
                progress.finish();
            }
            walked
        });
        let Some(walked) = walked? else {
            return Ok(None);
        };
        Ok(Some(self.assemble(seen, walked, tags, readers)))
    }

    /// Reads the directory a chunk at a time: structure, the merge, and in full mode the hashes.
    /// None when the archive turns out not to be in cablekeep's layout.
    fn walk(
        &self,
        mut directory: DirectoryStream<'_>,
        mut streams: Incoming,
        progress: &dyn Progress,
    ) -> Result<Option<Walked>> {
        let mut walked = Walked::default();
        let mut order = PayloadOrder::default();
        let mut tags_seen = 0;
        loop {
            let chunk = match directory.next_chunk(CHUNK).at(&self.bag.archive.path)? {
                Chunk::Entries(entries) => entries,
                Chunk::End => break,
                Chunk::Unstreamable(_) => return Ok(None),
            };
            walked.entries += chunk.len() as u64;
            let mut jobs = Vec::new();
            for entry in &chunk {
                let Some(path) = entry.name.strip_prefix(&self.prefix) else {
                    return Ok(None);
                };
                if !path.starts_with("data/") {
                    tags_seen += 1;
                    order.tags_begun = true;
                    continue;
                }
                if order.refuses(path) {
                    return Ok(None);
                }
                walked.payload_files += 1;
                walked.payload_bytes += entry.uncompressed_size;
                let Ok(listed) = self.merge(path, &mut streams, &mut walked.merge) else {
                    return Ok(None);
                };
                if self.bag.depth == Depth::Full {
                    jobs.push((path, entry, listed));
                }
            }
            self.hash_chunk(&jobs, progress, &mut walked)?;
        }
        if tags_seen != self.bag.files.all.len() || streams.drain(self, &mut walked.merge).is_err()
        {
            return Ok(None);
        }
        walked.structure = directory.finish();
        Ok(Some(walked))
    }

    /// Takes from each stream what it says of one payload file; findings for every listed path
    /// that sorts before it (those files are not in the archive).
    fn merge(
        &self,
        path: &str,
        streams: &mut Incoming,
        findings: &mut MergeFindings,
    ) -> std::result::Result<Listed, Unstreamable> {
        let mut listed256 = None;
        streams.m256.advance_to(
            path,
            |p, _| {
                self.unknown_in_manifest(
                    "sha256",
                    p,
                    &mut findings.unsafe256,
                    &mut findings.missing256,
                )
            },
            |d| listed256 = Some(d),
        )?;
        let mut listed512 = None;
        streams.m512.advance_to(
            path,
            |p, _| {
                self.unknown_in_manifest(
                    "sha512",
                    p,
                    &mut findings.unsafe512,
                    &mut findings.missing512,
                )
            },
            |d| listed512 = Some(d),
        )?;
        let (mut referenced, mut said, mut not_hex) = (false, None, Vec::new());
        streams.index.advance_to(
            path,
            |p, item| self.unknown_in_index(p, &item, &mut findings.index),
            |item| {
                referenced = true;
                match item.sha256 {
                    IndexDigest::None => {}
                    IndexDigest::Given(d) => said = Some(d),
                    IndexDigest::NotHex(rules::Problem(why)) => {
                        not_hex.push(rules::index_mismatch(self.bag.label, why))
                    }
                }
            },
        )?;
        findings.index.extend(not_hex);
        streams.unparsed.advance_to(
            path,
            |p, ()| self.unknown_in_unparsed(p, &mut findings.unparsed),
            |()| referenced = true,
        )?;
        self.payload_findings(path, (listed256, listed512), (said, referenced), findings);
        Ok((listed256, listed512))
    }

    /// What the whole-archive check's listing, index-digest and stray checks say of one file.
    fn payload_findings(
        &self,
        path: &str,
        listed: Listed,
        (said, referenced): (Option<Sha256Bytes>, bool),
        findings: &mut MergeFindings,
    ) {
        let label = self.bag.label;
        if listed.0.is_none() {
            findings
                .unlisted256
                .push(rules::unlisted(label, "sha256", path));
        }
        if listed.1.is_none() {
            findings
                .unlisted512
                .push(rules::unlisted(label, "sha512", path));
        }
        if let (Some(said), Some(listed)) = (said, listed.0)
            && said != listed
        {
            findings
                .index_digests
                .push(rules::index_digest_mismatch(label, path));
        }
        if !referenced {
            findings.strays.push(rules::stray(label, path));
        }
    }

    /// A manifest line naming a path the archive does not hold.
    fn unknown_in_manifest(
        &self,
        alg: &str,
        path: &str,
        unsafe_paths: &mut CappedFindings,
        missing: &mut CappedFindings,
    ) {
        let label = self.bag.label;
        match rules::unsafe_manifest_path(path) {
            Some(problem) => {
                let name = format!("manifest-{alg}.txt");
                unsafe_paths.push(rules::manifest_malformed(label, &name, problem));
            }
            None => missing.push(rules::payload_missing(label, alg, path)),
        }
    }

    /// A capture the index names that is not in the payload: a finding unless it is a tag file.
    fn unknown_in_index(&self, path: &str, item: &IndexItem, findings: &mut CappedFindings) {
        if !self.bag.files.contains(path) {
            findings.push(rules::index_mismatch(
                self.bag.label,
                rules::not_in_archive(&item.cable, path),
            ));
        }
    }

    fn unknown_in_unparsed(&self, path: &str, findings: &mut CappedFindings) {
        if !self.bag.files.contains(path) {
            findings.push(rules::unparsed_mismatch(
                self.bag.label,
                rules::unparsed_not_in_archive(path),
            ));
        }
    }

    /// Inflates and hashes a chunk's payload files on all cores.
    fn hash_chunk(
        &self,
        jobs: &[(&str, &Entry, Listed)],
        progress: &dyn Progress,
        walked: &mut Walked,
    ) -> Result<()> {
        let archive = self.bag.archive;
        let checked: Vec<(u64, Vec<Finding>)> = jobs
            .par_iter()
            .map(|(path, entry, listed)| {
                let checked = check_payload_file(archive, path, entry, *listed);
                progress.inc(entry.uncompressed_size);
                checked
            })
            .collect::<Result<_>>()?;
        for (bytes, mut findings) in checked {
            walked.bytes_hashed += bytes;
            walked.merge.payload.extend(findings.drain(..));
        }
        Ok(())
    }

    /// The result, its findings in the order [`super::check_bag`] gives them.
    fn assemble(
        mut self,
        mut seen: BagSeen,
        walked: Walked,
        tags: TagStreams<'_>,
        readers: Readers,
    ) -> (BagChecked, BagSeen) {
        let Walked {
            entries,
            payload_files,
            payload_bytes,
            bytes_hashed,
            structure,
            merge: mut m,
        } = walked;
        seen.payload_files = payload_files;
        seen.payload_bytes = payload_bytes;
        seen.zip_entries = entries;
        seen.cables = readers.index.lines.cables;
        seen.captures = readers.index.lines.captures;
        seen.unparsed = readers.unparsed.count;
        let bag = &mut self.bag;
        bag.check_oxum(seen.payload_oxum.as_deref(), payload_bytes, payload_files);
        let tag_digests = bag.take_tag_streams(tags);
        add_manifest_findings(bag, &mut m, readers.m256.findings, readers.m512.findings);
        seen.tag_digests = bag.check_tag_manifests(tag_digests);
        bag.findings.append(&mut m.index_digests);
        let files = bag.files;
        let missing = rules::missing_index_files(bag.label, |p| files.contains(p), bag.kind);
        bag.findings.extend(missing);
        bag.findings.append(&mut { readers.index.findings });
        bag.findings.append(&mut m.index);
        bag.findings.append(&mut { readers.unparsed.findings });
        bag.findings.append(&mut m.unparsed);
        bag.findings.append(&mut m.strays);
        bag.findings.append(&mut m.payload);
        let mut findings = structure;
        findings.append(&mut bag.findings);
        let checked = BagChecked {
            archive: bag.archive.path.clone(),
            entries,
            bytes_hashed,
            findings: findings.into_vec(),
            streamed: true,
        };
        (checked, seen)
    }
}

/// The payload manifests' findings, in the order the whole-archive check gives them: each
/// manifest's own (its lines, then unsafe paths, then its absence), then the listings both ways.
fn add_manifest_findings(
    bag: &mut BagCheck<'_>,
    m: &mut MergeFindings,
    read256: CappedFindings,
    read512: CappedFindings,
) {
    let manifests = [
        ("manifest-sha256.txt", read256, &mut m.unsafe256),
        ("manifest-sha512.txt", read512, &mut m.unsafe512),
    ];
    for (name, mut read, unsafe_paths) in manifests {
        bag.findings.append(&mut read);
        bag.findings.append(unsafe_paths);
        if !bag.files.contains(name) {
            bag.findings.push(rules::manifest_missing(bag.label, name));
        }
    }
    for listing in [
        &mut m.missing256,
        &mut m.unlisted256,
        &mut m.missing512,
        &mut m.unlisted512,
    ] {
        bag.findings.append(listing);
    }
}

/// The readers of the tag files the merge takes its streams from.
struct Readers {
    m256: ManifestStream<32>,
    m512: ManifestStream<64>,
    index: IndexStream,
    unparsed: UnparsedStream,
}

/// A payload file's digests as the two manifests list them.
type Listed = (Option<Sha256Bytes>, Option<Sha512Bytes>);

/// The payload files must come first, each after the last both bytewise and folded to lower
/// case (so no two are equal, even in case): the order the merge needs.
#[derive(Default)]
struct PayloadOrder {
    previous: String,
    tags_begun: bool,
}

impl PayloadOrder {
    /// True when `path` breaks the order.
    fn refuses(&mut self, path: &str) -> bool {
        let first = self.previous.is_empty();
        let after = first
            || (path > self.previous.as_str()
                && crate::bag::zip_read::folded_cmp(path, &self.previous).is_gt());
        if self.tags_begun || !after || path.ends_with('/') {
            return true;
        }
        self.previous.clear();
        self.previous.push_str(path);
        false
    }
}

/// The merge's ends of the four streams.
struct Incoming {
    m256: Stream<Sha256Bytes>,
    m512: Stream<Sha512Bytes>,
    index: Stream<IndexItem>,
    unparsed: Stream<()>,
}

impl Incoming {
    /// After the last payload file: everything still listed names a file the archive lacks.
    fn drain(
        &mut self,
        merge: &Streaming<'_>,
        findings: &mut MergeFindings,
    ) -> std::result::Result<(), Unstreamable> {
        self.m256.rest(|p, _| {
            merge.unknown_in_manifest(
                "sha256",
                p,
                &mut findings.unsafe256,
                &mut findings.missing256,
            )
        })?;
        self.m512.rest(|p, _| {
            merge.unknown_in_manifest(
                "sha512",
                p,
                &mut findings.unsafe512,
                &mut findings.missing512,
            )
        })?;
        self.index
            .rest(|p, item| merge.unknown_in_index(p, &item, &mut findings.index))?;
        self.unparsed
            .rest(|p, ()| merge.unknown_in_unparsed(p, &mut findings.unparsed))
    }
}
