//! The bag checked a chunk of entries at a time, with memory that does not grow with the archive:
//! a merge join of the zip's central directory, read forward, against the payload manifests, the
//! cable index and the unparsed inputs' list, each read as a stream on threads of its own.
//!
//! It applies to archives in cablekeep's layout (section 2.1 of `docs/FORMAT.md`): the payload
//! first, sorted by path, then the tag files; the manifests and lists sorted by path, the index
//! by id. It finds what the whole-archive check ([`super::check_bag`]) finds; when an archive is
//! found to be in another order at any point, the work so far is dropped and the caller checks
//! the archive whole (its tables follow the number of entries: ~160 MB for the whole corpus).

use super::*;
use crate::bag::{Chunk, DirectoryStream};
use crate::error::IoContext;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Entries read from the directory, checked and hashed at a time.
const CHUNK: usize = 4096;
/// Items a tag file's reader hands to the merge at a time.
const BATCH: usize = 1024;
/// Batches in flight between a reader and the merge.
const IN_FLIGHT: usize = 8;

/// Checks the bag as [`super::check_bag`] does after [`OpenArchive::open`], a chunk at a time.
/// None when the archive is not in cablekeep's layout: the caller then opens it whole. Returns
/// the archive opened for its tag files, the report and what the bag says of itself.
pub(crate) fn check_streamed(
    path: &Path,
    options: Options,
    progress: &dyn Progress,
) -> Result<Option<(OpenArchive, Report, BagSeen)>> {
    let archive = OpenArchive::open_selected(path, &|p| !p.starts_with("data/"))?;
    let Some(folder) = streamable_folder(&archive) else {
        return Ok(None);
    };
    let files = BagFiles::new(&archive, &folder);
    if files.all.len() != archive.index.entries.len() || !tag_names_distinct(&files) {
        return Ok(None);
    }
    let Some(directory) = DirectoryStream::new(&archive.file, &archive.label).at(path)? else {
        return Ok(None);
    };
    let checked = Streaming {
        bag: BagCheck {
            archive: &archive,
            fast: options.fast,
            label: archive.label.as_str(),
            files: &files,
            findings: CappedFindings::new(),
            export: false,
        },
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

/// A reason to give up on streaming (the archive is in an order the merge cannot follow).
struct Unstreamable;

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
    ) -> Result<Option<(Report, BagSeen)>> {
        let mut seen = BagSeen::default();
        self.bag.check_declaration();
        seen.bag_info = self.bag.check_bag_info();
        self.bag.export = is_export(&seen.bag_info);
        seen.payload_oxum =
            manifest::bag_info_value(&seen.bag_info, "Payload-Oxum").map(str::to_string);
        let files = self.bag.files;
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
        let Readers {
            m256,
            m512,
            index,
            unparsed,
        } = &mut readers;
        let others: Vec<&str> = files
            .tag_paths()
            .into_iter()
            .filter(|p| !READ_APART.contains(p))
            .collect();
        let total = oxum_bytes(seen.payload_oxum.as_deref());
        let this = &self;
        let (apart, others, walked) = std::thread::scope(|s| {
            let handles = [
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| index.line(l, n);
                    let streamed = this.bag.stream_tag(bag::INDEX_FILE, Some(&mut read));
                    index.out.finish();
                    streamed
                }),
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| m256.line(l, n);
                    let streamed = this.bag.stream_tag("manifest-sha256.txt", Some(&mut read));
                    m256.out.finish();
                    streamed
                }),
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| m512.line(l, n);
                    let streamed = this.bag.stream_tag("manifest-sha512.txt", Some(&mut read));
                    m512.out.finish();
                    streamed
                }),
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| unparsed.line(l, n);
                    let streamed = this.bag.stream_tag(bag::UNPARSED_FILE, Some(&mut read));
                    unparsed.out.finish();
                    streamed
                }),
            ];
            let others: Vec<_> = others
                .par_iter()
                .map(|p| (*p, this.bag.stream_tag(p, None)))
                .collect();
            let hashing = !this.bag.fast;
            if hashing {
                progress.start("verifying", total);
            }
            // The walk drops the receivers when it returns, so that readers never wait on it.
            let walked = this.walk(directory, streams, progress);
            if hashing {
                progress.finish();
            }
            let streamed = handles.map(|h| h.join().expect("a tag file reader panicked"));
            (streamed, others, walked)
        });
        let Some(walked) = walked? else {
            return Ok(None);
        };
        let tags = TagStreams { apart, others };
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
                if !self.bag.fast {
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
                    IndexDigest::NotHex(why) => not_hex.push(index_mismatch(self.bag.label, why)),
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
            findings.unlisted256.push(unlisted(label, "sha256", path));
        }
        if listed.1.is_none() {
            findings.unlisted512.push(unlisted(label, "sha512", path));
        }
        if let (Some(said), Some(listed)) = (said, listed.0)
            && said != listed
        {
            findings
                .index_digests
                .push(index_digest_mismatch(label, path));
        }
        if !referenced {
            findings.strays.push(stray(label, path));
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
        match bag::read::unsafe_name_problem(path) {
            Some(problem) => unsafe_paths.push(
                Finding::new(
                    Code::ManifestMalformed,
                    label,
                    format!("unsafe path {path:?}: {problem}"),
                )
                .at_entry(format!("manifest-{alg}.txt")),
            ),
            None => missing.push(payload_missing(label, alg, path)),
        }
    }

    /// A capture the index names that is not in the payload: a finding unless it is a tag file.
    fn unknown_in_index(&self, path: &str, item: &IndexItem, findings: &mut CappedFindings) {
        if !self.bag.files.contains(path) {
            findings.push(index_mismatch(
                self.bag.label,
                not_in_archive(&item.cable, path),
            ));
        }
    }

    fn unknown_in_unparsed(&self, path: &str, findings: &mut CappedFindings) {
        if !self.bag.files.contains(path) {
            findings.push(unparsed_mismatch(
                self.bag.label,
                unparsed_not_in_archive(path),
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

    /// The report, its findings in the order [`super::check_bag`] gives them.
    fn assemble(
        mut self,
        mut seen: BagSeen,
        walked: Walked,
        tags: TagStreams<'_>,
        readers: Readers,
    ) -> (Report, BagSeen) {
        let Readers {
            m256,
            m512,
            index,
            unparsed,
        } = readers;
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
        seen.cables = index.lines.cables;
        seen.captures = index.lines.captures;
        seen.unparsed = unparsed.count;
        let bag = &mut self.bag;
        bag.check_oxum(seen.payload_oxum.as_deref(), payload_bytes, payload_files);
        let mut tag_digests = BTreeMap::new();
        let named = READ_APART.into_iter().zip(tags.apart);
        for (path, streamed) in named.chain(tags.others) {
            let Some(streamed) = streamed else {
                continue;
            };
            bag.findings.extend(streamed.findings);
            if let Some(d) = streamed.digests {
                tag_digests.insert(path.to_string(), d);
            }
        }
        let files = bag.files;
        let manifests = [
            ("manifest-sha256.txt", m256.findings, &mut m.unsafe256),
            ("manifest-sha512.txt", m512.findings, &mut m.unsafe512),
        ];
        for (name, read, unsafe_paths) in manifests {
            bag.findings.append(&mut { read });
            bag.findings.append(unsafe_paths);
            if !files.contains(name) {
                bag.finding(Code::ManifestMalformed, name, "missing or unreadable");
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
        seen.tag_digests = bag.check_tag_manifests(tag_digests);
        bag.findings.append(&mut m.index_digests);
        for name in [bag::INDEX_FILE, bag::UNPARSED_FILE] {
            let optional = name == bag::UNPARSED_FILE && bag.export;
            if !files.contains(name) && !optional {
                bag.findings.push(
                    Finding::new(Code::IndexMismatch, bag.label, "missing or unreadable")
                        .at_entry(name),
                );
            }
        }
        bag.findings.append(&mut { index.findings });
        bag.findings.append(&mut m.index);
        bag.findings.append(&mut { unparsed.findings });
        bag.findings.append(&mut m.unparsed);
        bag.findings.append(&mut m.strays);
        bag.findings.append(&mut m.payload);
        let mut findings = structure;
        findings.append(&mut bag.findings);
        let report = Report {
            entries,
            bytes_hashed,
            findings: findings.into_vec(),
            streamed: true,
            ..Report::default()
        };
        (report, seen)
    }
}

/// The readers of the tag files the merge takes its streams from.
struct Readers {
    m256: ManifestStream<32>,
    m512: ManifestStream<64>,
    index: IndexStream,
    unparsed: UnparsedStream,
}

/// The tag files as streamed: those read apart ([`READ_APART`]), then the others.
struct TagStreams<'p> {
    apart: [Option<Streamed>; 4],
    others: Vec<(&'p str, Option<Streamed>)>,
}

/// A payload file's digests as the two manifests list them.
type Listed = (Option<Sha256Bytes>, Option<Sha512Bytes>);

/// The tag files read on threads of their own, in the order their findings are reported.
const READ_APART: [&str; 4] = [
    bag::INDEX_FILE,
    "manifest-sha256.txt",
    "manifest-sha512.txt",
    bag::UNPARSED_FILE,
];

/// The payload size Payload-Oxum gives, for the progress display (0 when it cannot be read).
fn oxum_bytes(oxum: Option<&str>) -> u64 {
    oxum.and_then(|o| o.split_once('.'))
        .and_then(|(bytes, _)| bytes.parse().ok())
        .unwrap_or(0)
}

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
                && bag::read::folded_cmp(path, &self.previous).is_gt());
        if self.tags_begun || !after || path.ends_with('/') {
            return true;
        }
        self.previous.clear();
        self.previous.push_str(path);
        false
    }
}

/// What a tag file's reader hands to the merge: paths in sorted order with what it says of
/// each, or word that the file is not sorted (the merge then gives up).
enum Message<T> {
    Items(Batch<T>),
    Unsorted,
}

/// Paths and their values, the paths packed into one string (no allocation per path: the
/// manifests and the index of the whole corpus name a million and a half).
struct Batch<T> {
    paths: String,
    /// Where each path lies in `paths`, and its value.
    items: VecDeque<(u32, u32, T)>,
}

impl<T> Batch<T> {
    fn new() -> Self {
        Batch {
            paths: String::with_capacity(BATCH * 64),
            items: VecDeque::with_capacity(BATCH),
        }
    }

    fn push(&mut self, path: &str, value: T) {
        let start = self.paths.len() as u32;
        self.paths.push_str(path);
        self.items
            .push_back((start, self.paths.len() as u32, value));
    }

    fn front_path(&self) -> Option<&str> {
        let (start, end, _) = self.items.front()?;
        Some(&self.paths[*start as usize..*end as usize])
    }
}

/// The sending end of a reader's stream, in batches.
struct Outgoing<T> {
    tx: Option<SyncSender<Message<T>>>,
    rx: Option<Receiver<Message<T>>>,
    batch: Batch<T>,
}

impl<T> Outgoing<T> {
    fn new() -> Self {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        Outgoing {
            tx: Some(tx),
            rx: Some(rx),
            batch: Batch::new(),
        }
    }

    /// The receiving end, for the merge (taken once).
    fn receiver(&mut self) -> Stream<T> {
        Stream {
            rx: self.rx.take().expect("the receiver is taken once"),
            batch: Batch::new(),
        }
    }

    fn push(&mut self, path: &str, value: T) {
        if self.tx.is_none() {
            return;
        }
        self.batch.push(path, value);
        if self.batch.items.len() >= BATCH {
            let batch = std::mem::replace(&mut self.batch, Batch::new());
            self.send(Message::Items(batch));
        }
    }

    /// The stream is out of order: nothing more is sent.
    fn unsorted(&mut self) {
        self.batch = Batch::new();
        self.send(Message::Unsorted);
        self.tx = None;
    }

    /// The stream's end: what is left is sent and the channel closed.
    fn finish(&mut self) {
        if !self.batch.items.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Batch::new());
            self.send(Message::Items(batch));
        }
        self.tx = None;
    }

    fn send(&mut self, message: Message<T>) {
        // The merge hung up: it gave up streaming, and nothing more is wanted.
        if self.tx.as_ref().is_some_and(|tx| tx.send(message).is_err()) {
            self.tx = None;
        }
    }
}

/// The receiving end of a reader's stream.
struct Stream<T> {
    rx: Receiver<Message<T>>,
    batch: Batch<T>,
}

impl<T> Stream<T> {
    /// The next path, None at the end of the stream.
    fn peek(&mut self) -> std::result::Result<Option<&str>, Unstreamable> {
        while self.batch.items.is_empty() {
            match self.rx.recv() {
                Ok(Message::Items(batch)) => self.batch = batch,
                Ok(Message::Unsorted) => return Err(Unstreamable),
                Err(_) => return Ok(None),
            }
        }
        Ok(self.batch.front_path())
    }

    /// Hands every item before `path` to `unknown`, then every item at `path` to `found`.
    fn advance_to(
        &mut self,
        path: &str,
        mut unknown: impl FnMut(&str, T),
        mut found: impl FnMut(T),
    ) -> std::result::Result<(), Unstreamable> {
        while let Some(next) = self.peek()? {
            let ordering = next.cmp(path);
            if ordering.is_gt() {
                break;
            }
            let (start, end, value) = self.batch.items.pop_front().expect("peeked");
            if ordering.is_lt() {
                unknown(&self.batch.paths[start as usize..end as usize], value);
            } else {
                found(value);
            }
        }
        Ok(())
    }

    /// Hands every item left to `unknown`.
    fn rest(&mut self, mut unknown: impl FnMut(&str, T)) -> std::result::Result<(), Unstreamable> {
        while self.peek()?.is_some() {
            let (start, end, value) = self.batch.items.pop_front().expect("peeked");
            unknown(&self.batch.paths[start as usize..end as usize], value);
        }
        Ok(())
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

/// Reads a payload manifest line by line into a sorted stream of paths and digests.
struct ManifestStream<const N: usize> {
    name: &'static str,
    label: String,
    /// The last path sent (empty before the first).
    previous: String,
    out: Outgoing<[u8; N]>,
    findings: CappedFindings,
}

impl<const N: usize> ManifestStream<N> {
    fn new(name: &'static str, label: &str) -> Self {
        ManifestStream {
            name,
            label: label.to_string(),
            previous: String::new(),
            out: Outgoing::new(),
            findings: CappedFindings::new(),
        }
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let (name, label) = (self.name, self.label.as_str());
        let (previous, out, findings) = (&mut self.previous, &mut self.out, &mut self.findings);
        let read = with_manifest_line::<N>(raw, number, |path, digest| {
            match path.cmp(previous) {
                std::cmp::Ordering::Less => return out.unsorted(),
                std::cmp::Ordering::Equal => {
                    return findings.push(
                        Finding::new(
                            Code::DuplicateManifestEntry,
                            label,
                            format!("lists {path:?} more than once"),
                        )
                        .at_entry(name),
                    );
                }
                std::cmp::Ordering::Greater => {}
            }
            previous.clear();
            previous.push_str(path);
            out.push(path, digest);
        });
        if let Err(why) = read {
            self.findings
                .push(Finding::new(Code::ManifestMalformed, label, why).at_entry(name));
        }
    }
}

/// What the index says of one file: the SHA-256 of a raw capture, or nothing (a record).
enum IndexDigest {
    None,
    Given(Sha256Bytes),
    /// The digest is not hex: the finding's message, reported when the file is in the archive.
    NotHex(String),
}

/// What the index says of a file it names, and which cable names it.
struct IndexItem {
    cable: Arc<str>,
    sha256: IndexDigest,
}

/// Reads `cablekeep/index.jsonl` line by line into a sorted stream of the files it names.
struct IndexStream {
    label: String,
    lines: IndexLines,
    previous: String,
    out: Outgoing<IndexItem>,
    findings: CappedFindings,
}

impl IndexStream {
    fn new(label: &str) -> Self {
        IndexStream {
            label: label.to_string(),
            lines: IndexLines::default(),
            previous: String::new(),
            out: Outgoing::new(),
            findings: CappedFindings::new(),
        }
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let mut problems = Vec::new();
        let line = self.lines.read(raw, number, &mut problems);
        for p in problems {
            self.findings.push(index_mismatch(&self.label, p));
        }
        let Some(line) = line else {
            return;
        };
        let cable: Arc<str> = Arc::from(&*line.id);
        let mut named: Vec<(&str, IndexDigest)> = Vec::with_capacity(2 * line.captures.len());
        for c in &line.captures {
            let sha256 = match capture_sha256(&line.id, c) {
                Ok(d) => IndexDigest::Given(d),
                Err(why) => IndexDigest::NotHex(why),
            };
            named.push((&c.raw, sha256));
            named.push((&c.record, IndexDigest::None));
        }
        // Stable: of two captures naming one raw file, the later's digest is the one kept.
        named.sort_by(|a, b| a.0.cmp(b.0));
        if named
            .first()
            .is_some_and(|(p, _)| *p < self.previous.as_str())
        {
            return self.out.unsorted();
        }
        if let Some((last, _)) = named.last() {
            self.previous.clear();
            self.previous.push_str(last);
        }
        for (path, sha256) in named {
            let cable = Arc::clone(&cable);
            self.out.push(path, IndexItem { cable, sha256 });
        }
    }
}

/// Reads `cablekeep/unparsed.jsonl` line by line into a sorted stream of the files it names.
struct UnparsedStream {
    label: String,
    previous: String,
    count: u64,
    out: Outgoing<()>,
    findings: CappedFindings,
}

impl UnparsedStream {
    fn new(label: &str) -> Self {
        UnparsedStream {
            label: label.to_string(),
            previous: String::new(),
            count: 0,
            out: Outgoing::new(),
            findings: CappedFindings::new(),
        }
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let line = match read_unparsed_line(raw, number) {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(why) => return self.findings.push(unparsed_mismatch(&self.label, why)),
        };
        self.count += 1;
        if line.raw < self.previous {
            return self.out.unsorted();
        }
        self.previous.clone_from(&line.raw);
        self.out.push(&line.raw, ());
    }
}
