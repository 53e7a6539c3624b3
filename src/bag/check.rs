//! The bag inside an archive (RFC 8493 and cablekeep's additions): structure, `bagit.txt`,
//! `bag-info.txt`, both payload manifests, the tag manifests, Payload-Oxum, the cable index and,
//! in full mode, every payload digest.
//!
//! Two ways, with the same findings. An archive in cablekeep's layout is checked a chunk of
//! entries at a time, in memory that does not grow with it (the `stream` module: a merge join of
//! the directory with the manifests and the index). Any other archive is opened whole
//! ([`check_bag`]): memory then follows the number of entries, not the size of the tag files.
//! Either way the large tag files (the payload manifests and the index: hundreds of MB for the
//! whole Cablegate corpus) are inflated once, as a stream, while one thread hashes them with
//! SHA-256, another with SHA-512 and a third reads their lines. In the whole-archive check what a
//! payload manifest leaves behind is one digest in bytes per payload file, in a table aligned
//! with the bag's sorted file list; every lookup is a binary search in that list, never a map of
//! strings.

use crate::bag::capture::{UnparsedLine, borrowed};
use crate::bag::manifest;
use crate::bag::{self, Entry, OpenArchive};
use crate::error::{IoContext, Result};
use crate::finding::{CappedFindings, Code, Finding};
use crate::hash::{self, Hasher, OneHasher, Sha256Bytes, Sha512Bytes};
use crate::progress::Progress;
use crate::store::verify::{Options, Report};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

mod stream;
pub(crate) use stream::check_streamed;

/// What the bag says of itself, gathered while checking it, for the sidecar comparison.
#[derive(Debug, Default)]
pub(crate) struct BagSeen {
    pub folder: Option<String>,
    pub bag_info: Vec<(String, String)>,
    pub tag_digests: BTreeMap<String, TagDigests>,
    pub payload_oxum: Option<String>,
    pub cables: u64,
    pub captures: u64,
    pub unparsed: u64,
    pub payload_files: u64,
    pub payload_bytes: u64,
    /// The zip's entries, directories and all.
    pub zip_entries: u64,
}

/// A tag file's digests. Fast mode hashes tag files with SHA-256 only: a tag file whose SHA-256
/// and CRC-32 match is intact, and SHA-512 (no instructions for it on common CPUs) would take
/// most of fast mode's time on a large collection (its index and manifests are ~400 MB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagDigests {
    pub sha256: String,
    /// None in fast mode.
    pub sha512: Option<String>,
}

impl TagDigests {
    /// The digest for `alg`, when it was computed.
    fn get(&self, alg: &str) -> Option<&str> {
        match alg {
            "sha256" => Some(&self.sha256),
            _ => self.sha512.as_deref(),
        }
    }

    /// True when every digest computed equals the recorded one.
    pub fn agree_with(&self, recorded: &hash::Digests) -> bool {
        self.sha256 == recorded.sha256 && self.sha512.as_ref().is_none_or(|d| *d == recorded.sha512)
    }
}

/// Checks the bag inside an archive: structure, bagit.txt, bag-info.txt, manifests, tag
/// manifests, Payload-Oxum, the cable index and (in full mode) every payload digest.
pub(crate) fn check_bag(
    archive: &OpenArchive,
    options: Options,
    progress: &dyn Progress,
) -> Result<(Report, BagSeen)> {
    let mut report = Report {
        archive: archive.path.clone(),
        entries: archive.index.entries.len() as u64,
        ..Report::default()
    };
    let mut seen = BagSeen {
        zip_entries: archive.index.entries.len() as u64,
        ..BagSeen::default()
    };
    let mut found: CappedFindings = archive.index.findings.iter().cloned().collect();
    if !archive.index.readable {
        report.findings = found.into_vec();
        return Ok((report, seen));
    }
    let Some(folder) = bag_folder(archive, &mut found) else {
        report.findings = found.into_vec();
        return Ok((report, seen));
    };
    let files = BagFiles::new(archive, &folder);
    seen.folder = Some(folder);
    let mut bag = BagCheck {
        archive,
        fast: options.fast,
        label: archive.label.as_str(),
        files: &files,
        findings: CappedFindings::new(),
        export: false,
    };

    bag.check_declaration();
    seen.bag_info = bag.check_bag_info();
    bag.export = is_export(&seen.bag_info);
    let payload = files.payload();
    seen.payload_files = payload.len() as u64;
    seen.payload_bytes = payload.iter().map(|(_, e)| e.uncompressed_size).sum();
    seen.payload_oxum =
        manifest::bag_info_value(&seen.bag_info, "Payload-Oxum").map(str::to_string);
    bag.check_oxum(
        seen.payload_oxum.as_deref(),
        seen.payload_bytes,
        seen.payload_files,
    );
    let mut streamed = bag.stream_tag_files()?;
    bag.check_listing("sha256", &streamed.sha256);
    bag.check_listing("sha512", &streamed.sha512);
    seen.tag_digests = bag.check_tag_manifests(streamed.tag_digests);
    bag.check_index_digests(&streamed.index_sha256, &streamed.sha256.digests);
    bag.findings.append(&mut streamed.index_findings);
    bag.report_strays(&streamed.referenced);
    seen.cables = streamed.cables;
    seen.captures = streamed.captures;
    seen.unparsed = streamed.unparsed;
    found.append(&mut bag.findings);
    if !options.fast {
        let expected = (&streamed.sha256.digests[..], &streamed.sha512.digests[..]);
        let (bytes, mut payload_findings) = hash_payload(archive, payload, expected, progress)?;
        report.bytes_hashed = bytes;
        found.append(&mut payload_findings);
    }
    report.findings = found.into_vec();
    Ok((report, seen))
}

/// The bag folder: the one top-level folder holding `bagit.txt`. Entries outside it are findings.
fn bag_folder(archive: &OpenArchive, findings: &mut CappedFindings) -> Option<String> {
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

/// The files of the bag by path inside the bag, sorted (directory entries left out; of two
/// entries with one name, the first). The payload, `data/...`, is one contiguous run of them.
struct BagFiles<'a> {
    all: Vec<(&'a str, &'a Entry)>,
    payload: Range<usize>,
}

impl<'a> BagFiles<'a> {
    fn new(archive: &'a OpenArchive, folder: &str) -> Self {
        let prefix = format!("{folder}/");
        let mut all: Vec<(&str, &Entry)> = archive
            .index
            .entries
            .iter()
            .filter_map(|e| {
                let path = e.name.strip_prefix(&prefix)?;
                (!path.is_empty() && !path.ends_with('/')).then_some((path, e))
            })
            .collect();
        // A stable sort keeps entries of one name in zip order, so dedup keeps the first.
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.dedup_by(|later, earlier| later.0 == earlier.0);
        let start = all.partition_point(|(p, _)| *p < "data/");
        let end = start + all[start..].partition_point(|(p, _)| p.starts_with("data/"));
        BagFiles {
            all,
            payload: start..end,
        }
    }

    fn contains(&self, path: &str) -> bool {
        self.all.binary_search_by(|(p, _)| (*p).cmp(path)).is_ok()
    }

    fn get(&self, path: &str) -> Option<&'a Entry> {
        let i = self.all.binary_search_by(|(p, _)| (*p).cmp(path)).ok()?;
        Some(self.all[i].1)
    }

    fn payload(&self) -> &[(&'a str, &'a Entry)] {
        &self.all[self.payload.clone()]
    }

    /// Where a payload file stands in [`Self::payload`].
    fn payload_position(&self, path: &str) -> Option<usize> {
        self.payload()
            .binary_search_by(|(p, _)| (*p).cmp(path))
            .ok()
    }

    /// The tag files: every file outside `data/`.
    fn tag_paths(&self) -> Vec<&'a str> {
        let (before, rest) = self.all.split_at(self.payload.start);
        let after = &rest[self.payload.len()..];
        before.iter().chain(after).map(|(p, _)| *p).collect()
    }
}

/// Finds payload files by path when they are asked for mostly in sorted order (as cablekeep
/// writes manifests and the index): the next file is tried first, then a binary search.
#[derive(Default)]
struct Cursor {
    next: usize,
}

impl Cursor {
    fn find(&mut self, files: &BagFiles<'_>, path: &str) -> Option<usize> {
        let payload = files.payload();
        let position = match payload.get(self.next) {
            Some((p, _)) if *p == path => self.next,
            _ => files.payload_position(path)?,
        };
        self.next = position + 1;
        Some(position)
    }
}

/// A payload manifest as read: each payload file's digest, by position in the sorted payload.
#[derive(Default)]
struct PayloadDigests<const N: usize> {
    digests: Vec<Option<[u8; N]>>,
    /// Paths it lists that the archive does not hold, sorted, once each.
    unknown: Vec<String>,
}

/// What reading the tag files leaves: both payload manifests as digest tables, what the index
/// says of each raw capture, and the digests of every tag file.
struct TagPass {
    sha256: PayloadDigests<32>,
    sha512: PayloadDigests<64>,
    tag_digests: BTreeMap<String, TagDigests>,
    /// The SHA-256 the index gives each raw capture, by payload position.
    index_sha256: Vec<Option<Sha256Bytes>>,
    /// The index's and the unparsed inputs' list's own findings (reported after the listings).
    index_findings: CappedFindings,
    /// Payload files named by the index or by the unparsed inputs' list.
    referenced: Vec<bool>,
    cables: u64,
    captures: u64,
    unparsed: u64,
}

/// A tag file, hashed (and perhaps read line by line) as it streamed.
struct Streamed {
    /// None when its data could not be read whole.
    digests: Option<TagDigests>,
    findings: Vec<Finding>,
}

struct BagCheck<'a> {
    archive: &'a OpenArchive,
    /// Fast mode: tag files are hashed with SHA-256 only.
    fast: bool,
    label: &'a str,
    files: &'a BagFiles<'a>,
    findings: CappedFindings,
    /// The bag is a `cablekeep export` of a selection (its bag-info says so): it holds the
    /// cable index of what it exports but no list of unparsed inputs.
    export: bool,
}

impl BagCheck<'_> {
    fn finding(&mut self, code: Code, entry: &str, message: impl Into<String>) {
        self.findings
            .push(Finding::new(code, self.label, message).at_entry(entry));
    }

    /// Reads a small tag file; data findings (CRC, inflate) are kept. One larger than
    /// [`MAX_SMALL_TAG_FILE`] is a finding and is not read.
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        let entry = self.files.get(path)?;
        if entry.uncompressed_size > MAX_SMALL_TAG_FILE {
            let why = format!(
                "{} bytes: a bag's {path} is never larger than {MAX_SMALL_TAG_FILE}; it was not read",
                entry.uncompressed_size
            );
            self.finding(Code::TagFileTooLarge, path, why);
            return None;
        }
        match bag::read::read_entry(&self.archive.file, entry, self.label) {
            Ok((data, found)) => {
                self.findings.extend(found);
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

    /// Streams a tag file through both hashers and, when given, a line reader. None when the bag
    /// has no such file.
    fn stream_tag(&self, path: &str, mut lines: Option<LineSink<'_>>) -> Option<Streamed> {
        let entry = self.files.get(path)?;
        let (mut sha256, mut sha512) = (OneHasher::sha256(), OneHasher::sha512());
        let mut hash256 = |piece: &[u8]| sha256.update(piece);
        let mut hash512 = |piece: &[u8]| sha512.update(piece);
        let budget = if PAYLOAD_MANIFESTS.contains(&path) {
            payload_manifest_budget(self.archive.index.file_len)
        } else {
            u64::MAX
        };
        let mut splitter = LimitedLines::new(budget);
        let mut read_lines = |piece: &[u8]| {
            if let Some(each) = lines.as_mut() {
                splitter.feed(piece, &mut **each);
            }
        };
        let mut sinks: Vec<Sink<'_>> = vec![&mut hash256, &mut read_lines];
        if !self.fast {
            sinks.push(&mut hash512);
        }
        let streamed = fan_out(self.archive, entry, &mut sinks);
        drop(sinks);
        if let Some(each) = lines.as_mut() {
            splitter.finish(&mut **each);
        }
        let too_large = splitter
            .problems
            .into_iter()
            .map(|why| Finding::new(Code::TagFileTooLarge, self.label, why).at_entry(path));
        let findings = match streamed {
            Ok(mut findings) => {
                findings.extend(too_large);
                findings
            }
            Err(e) => {
                return Some(Streamed {
                    digests: None,
                    findings: vec![
                        Finding::new(Code::DecompressFailed, self.label, e.to_string())
                            .at_entry(path),
                    ],
                });
            }
        };
        let unreadable = findings.iter().any(|f| {
            matches!(
                f.code,
                Code::DecompressFailed | Code::LocalHeaderCorrupt | Code::UnsupportedEntry
            )
        });
        let fast = self.fast;
        let digests = (!unreadable).then(|| TagDigests {
            sha256: sha256.finish_hex(),
            sha512: (!fast).then(|| sha512.finish_hex()),
        });
        Some(Streamed { digests, findings })
    }

    /// Reads every tag file at once, each on its own threads: both payload manifests into
    /// digest tables, the index and the unparsed inputs' list line by line, and every tag file
    /// through both hashers.
    fn stream_tag_files(&mut self) -> Result<TagPass> {
        let files = self.files;
        let payload_len = files.payload().len();
        let mut m256 = ManifestReader::<32>::new("manifest-sha256.txt", files, self.label);
        let mut m512 = ManifestReader::<64>::new("manifest-sha512.txt", files, self.label);
        let mut unparsed = UnparsedReader {
            files,
            label: self.label,
            referenced: vec![false; payload_len],
            count: 0,
            findings: CappedFindings::new(),
        };
        let mut index = IndexReader {
            files,
            label: self.label,
            sha256: vec![None; payload_len],
            referenced: vec![false; payload_len],
            cursor: Cursor::default(),
            lines: IndexLines::default(),
            findings: CappedFindings::new(),
        };
        let read_apart = [
            bag::INDEX_FILE,
            "manifest-sha256.txt",
            "manifest-sha512.txt",
            bag::UNPARSED_FILE,
        ];
        let others: Vec<&str> = files
            .tag_paths()
            .into_iter()
            .filter(|p| !read_apart.contains(p))
            .collect();
        let this = &*self;
        let (streamed, other_streams) = std::thread::scope(|s| {
            let handles = [
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| index.line(l, n);
                    this.stream_tag(bag::INDEX_FILE, Some(&mut read))
                }),
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| m256.line(l, n);
                    this.stream_tag("manifest-sha256.txt", Some(&mut read))
                }),
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| m512.line(l, n);
                    this.stream_tag("manifest-sha512.txt", Some(&mut read))
                }),
                s.spawn(|| {
                    let mut read = |l: &[u8], n: usize| unparsed.line(l, n);
                    this.stream_tag(bag::UNPARSED_FILE, Some(&mut read))
                }),
            ];
            let others: Vec<_> = others
                .par_iter()
                .map(|p| (*p, this.stream_tag(p, None)))
                .collect();
            let streamed = handles.map(|h| h.join().expect("a tag file reader panicked"));
            (streamed, others)
        });
        let mut tag_digests = BTreeMap::new();
        let named = read_apart.into_iter().zip(streamed);
        for (path, streamed) in named.chain(other_streams) {
            let Some(streamed) = streamed else {
                continue;
            };
            self.findings.extend(streamed.findings);
            if let Some(d) = streamed.digests {
                tag_digests.insert(path.to_string(), d);
            }
        }
        let sha256 = m256.finish(&mut self.findings, files.contains("manifest-sha256.txt"));
        let sha512 = m512.finish(&mut self.findings, files.contains("manifest-sha512.txt"));
        let mut index_findings = CappedFindings::new();
        for (name, present) in [
            (bag::INDEX_FILE, files.contains(bag::INDEX_FILE)),
            (
                bag::UNPARSED_FILE,
                files.contains(bag::UNPARSED_FILE) || self.export,
            ),
        ] {
            if !present {
                index_findings.push(
                    Finding::new(Code::IndexMismatch, self.label, "missing or unreadable")
                        .at_entry(name),
                );
            }
        }
        index_findings.append(&mut index.findings);
        index_findings.append(&mut unparsed.findings);
        let referenced = index
            .referenced
            .iter()
            .zip(&unparsed.referenced)
            .map(|(a, b)| *a || *b)
            .collect();
        Ok(TagPass {
            sha256,
            sha512,
            tag_digests,
            index_sha256: index.sha256,
            index_findings,
            referenced,
            cables: index.lines.cables,
            captures: index.lines.captures,
            unparsed: unparsed.count,
        })
    }

    /// The index must give each raw capture the SHA-256 the manifest gives it.
    fn check_index_digests(
        &mut self,
        index: &[Option<Sha256Bytes>],
        manifest: &[Option<Sha256Bytes>],
    ) {
        let payload = self.files.payload();
        for (((path, _), said), listed) in payload.iter().zip(index).zip(manifest) {
            if let (Some(said), Some(listed)) = (said, listed)
                && said != listed
            {
                self.findings.push(index_digest_mismatch(self.label, path));
            }
        }
    }

    /// Both directions: every manifest line has a file, every payload file is in the manifest.
    fn check_listing<const N: usize>(&mut self, alg: &str, manifest: &PayloadDigests<N>) {
        for path in &manifest.unknown {
            self.findings.push(payload_missing(self.label, alg, path));
        }
        for ((path, _), digest) in self.files.payload().iter().zip(&manifest.digests) {
            if digest.is_none() {
                self.findings.push(unlisted(self.label, alg, path));
            }
        }
    }

    /// Parses a tag manifest into path → digest; every malformed and duplicate line is a finding.
    fn read_tag_manifest(&mut self, name: &str, alg: &str) -> HashMap<String, String> {
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
            if let Some(problem) = bag::read::unsafe_name_problem(&line.path) {
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

    /// Tag manifests: present for both algorithms, listing every tag file but themselves and no
    /// payload file, with matching digests. Takes and returns the digests of every tag file.
    fn check_tag_manifests(
        &mut self,
        digests: BTreeMap<String, TagDigests>,
    ) -> BTreeMap<String, TagDigests> {
        let tag_paths = self.files.tag_paths();
        for alg in bag::ALGORITHMS {
            let name = format!("tagmanifest-{alg}.txt");
            let listed = self.read_tag_manifest(&name, alg);
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
                        let Some(actual) = d.get(alg) else {
                            continue;
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
                if !path.starts_with("tagmanifest-") && !listed.contains_key(*path) {
                    self.findings.push(
                        Finding::new(
                            Code::TagFileUnlisted,
                            self.label,
                            format!("tag file not listed in {name}"),
                        )
                        .at_entry(path.to_string()),
                    );
                }
            }
        }
        digests
    }

    /// Payload files that neither the index nor the unparsed inputs' list names.
    fn report_strays(&mut self, referenced: &[bool]) {
        for ((path, _), named) in self.files.payload().iter().zip(referenced) {
            if !named {
                self.findings.push(stray(self.label, path));
            }
        }
    }
}

/// Reads a payload manifest line by line into a digest table aligned with the sorted payload.
struct ManifestReader<'a, const N: usize> {
    name: &'static str,
    files: &'a BagFiles<'a>,
    label: &'a str,
    table: PayloadDigests<N>,
    cursor: Cursor,
    findings: CappedFindings,
}

impl<'a, const N: usize> ManifestReader<'a, N> {
    fn new(name: &'static str, files: &'a BagFiles<'a>, label: &'a str) -> Self {
        ManifestReader {
            name,
            files,
            label,
            table: PayloadDigests {
                digests: vec![None; files.payload().len()],
                unknown: Vec::new(),
            },
            cursor: Cursor::default(),
            findings: CappedFindings::new(),
        }
    }

    fn malformed(&mut self, message: String) {
        self.findings
            .push(Finding::new(Code::ManifestMalformed, self.label, message).at_entry(self.name));
    }

    fn duplicate(&mut self, path: &str) {
        self.findings.push(
            Finding::new(
                Code::DuplicateManifestEntry,
                self.label,
                format!("lists {path:?} more than once"),
            )
            .at_entry(self.name),
        );
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let read = with_manifest_line::<N>(raw, number, |path, bytes| {
            // A path the archive holds had its name checked with the zip's entries.
            let Some(position) = self.cursor.find(self.files, path) else {
                if let Some(problem) = bag::read::unsafe_name_problem(path) {
                    return self.malformed(format!("unsafe path {path:?}: {problem}"));
                }
                self.table.unknown.push(path.to_string());
                return;
            };
            if self.table.digests[position].replace(bytes).is_some() {
                self.duplicate(path);
            }
        });
        if let Err(why) = read {
            self.malformed(why);
        }
    }

    /// The table, with the findings kept. A missing manifest is a finding.
    fn finish(mut self, findings: &mut CappedFindings, present: bool) -> PayloadDigests<N> {
        if !present {
            self.malformed("missing or unreadable".to_string());
        }
        let mut unknown = std::mem::take(&mut self.table.unknown);
        unknown.sort();
        let mut once: Vec<String> = Vec::with_capacity(unknown.len());
        for path in unknown {
            if once.last() == Some(&path) {
                self.duplicate(&path);
            } else {
                once.push(path);
            }
        }
        self.table.unknown = once;
        findings.append(&mut self.findings);
        self.table
    }
}

/// Hands a payload manifest line's path and digest (in bytes) to `each`; nothing for an empty
/// line; `Err` with the finding's message for a malformed one.
fn with_manifest_line<const N: usize>(
    raw: &[u8],
    number: usize,
    each: impl FnOnce(&str, [u8; N]),
) -> std::result::Result<(), String> {
    let text = bag::lossy_text(raw);
    let (digest, path) = match manifest::split_manifest_line(&text) {
        Ok(None) => return Ok(()),
        Ok(Some(line)) => line,
        Err(why) => return Err(format!("line {number}: {why}")),
    };
    let Some(bytes) = hash::hex_to_bytes::<N>(digest) else {
        let why = manifest::not_a_digest(digest, 2 * N);
        return Err(format!("line {number}: {why}"));
    };
    if !path.starts_with("data/") {
        return Err(format!("lists {path:?}, which is outside data/"));
    }
    each(&path, bytes);
    Ok(())
}

/// Reads `cablekeep/unparsed.jsonl` line by line.
struct UnparsedReader<'a> {
    files: &'a BagFiles<'a>,
    label: &'a str,
    referenced: Vec<bool>,
    count: u64,
    findings: CappedFindings,
}

impl UnparsedReader<'_> {
    fn line(&mut self, raw: &[u8], number: usize) {
        let line = match read_unparsed_line(raw, number) {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(why) => return self.findings.push(unparsed_mismatch(self.label, why)),
        };
        self.count += 1;
        match self.files.payload_position(&line.raw) {
            Some(position) => self.referenced[position] = true,
            None if self.files.contains(&line.raw) => {}
            None => self.findings.push(unparsed_mismatch(
                self.label,
                unparsed_not_in_archive(&line.raw),
            )),
        }
    }
}

/// An `I` finding about the unparsed inputs' list.
fn unparsed_mismatch(label: &str, message: String) -> Finding {
    Finding::new(Code::IndexMismatch, label, message).at_entry(bag::UNPARSED_FILE)
}

fn unparsed_not_in_archive(raw: &str) -> String {
    format!("names {raw}, which is not in the archive")
}

/// Reads `cablekeep/index.jsonl` line by line: every capture it names must exist, with the
/// SHA-256 the manifest gives.
struct IndexReader<'a> {
    files: &'a BagFiles<'a>,
    label: &'a str,
    /// The SHA-256 given for each raw capture, by payload position.
    sha256: Vec<Option<Sha256Bytes>>,
    referenced: Vec<bool>,
    cursor: Cursor,
    lines: IndexLines,
    findings: CappedFindings,
}

impl IndexReader<'_> {
    fn mismatch(&mut self, message: String) {
        self.findings.push(index_mismatch(self.label, message));
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let mut problems = Vec::new();
        let line = self.lines.read(raw, number, &mut problems);
        for p in problems {
            self.mismatch(p);
        }
        let Some(line) = line else {
            return;
        };
        for c in &line.captures {
            let raw = self.locate(&line.id, &c.raw);
            self.locate(&line.id, &c.record);
            let Some(raw) = raw else {
                continue;
            };
            match capture_sha256(&line.id, c) {
                Ok(digest) => self.sha256[raw] = Some(digest),
                Err(why) => self.mismatch(why),
            }
        }
    }

    /// Marks a file the index names as referenced; a finding when the archive lacks it.
    /// Returns its position in the payload.
    fn locate(&mut self, id: &str, path: &str) -> Option<usize> {
        let position = self.cursor.find(self.files, path);
        match position {
            Some(p) => self.referenced[p] = true,
            None if self.files.contains(path) => {}
            None => self.mismatch(not_in_archive(id, path)),
        }
        position
    }
}

fn unlisted(label: &str, alg: &str, path: &str) -> Finding {
    Finding::new(
        Code::PayloadUnlisted,
        label,
        format!("not listed in manifest-{alg}.txt"),
    )
    .at_entry(path.to_string())
}

fn payload_missing(label: &str, alg: &str, path: &str) -> Finding {
    Finding::new(
        Code::PayloadMissing,
        label,
        format!("listed in manifest-{alg}.txt but not in the archive"),
    )
    .at_entry(path.to_string())
}

fn index_digest_mismatch(label: &str, path: &str) -> Finding {
    let cable = path
        .strip_prefix("data/cables/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("?");
    index_mismatch(
        label,
        format!("cable {cable}: the index and the manifest give {path} different digests"),
    )
}

fn stray(label: &str, path: &str) -> Finding {
    index_mismatch(
        label,
        format!("payload file {path} belongs to no cable in the index"),
    )
}

/// An `I` finding about the cable index.
fn index_mismatch(label: &str, message: String) -> Finding {
    Finding::new(Code::IndexMismatch, label, message).at_entry(bag::INDEX_FILE)
}

fn not_in_archive(id: &str, path: &str) -> String {
    format!("cable {id} names {path}, which is not in the archive")
}

/// The raw capture's SHA-256 as the index gives it, in bytes.
fn capture_sha256(id: &str, c: &borrowed::CaptureRef) -> std::result::Result<Sha256Bytes, String> {
    hash::hex_to_bytes(&c.sha256).ok_or_else(|| {
        format!(
            "cable {id}: {:?} is not a SHA-256 in hex (for {})",
            &*c.sha256, &*c.raw
        )
    })
}

/// What every reader of the index checks of each line by itself: that it is JSON, and in id
/// order; and what it counts.
#[derive(Default)]
struct IndexLines {
    previous_id: Option<String>,
    cables: u64,
    captures: u64,
}

impl IndexLines {
    /// The line read; what is wrong with it by itself goes to `problems`.
    fn read<'a>(
        &mut self,
        raw: &'a [u8],
        number: usize,
        problems: &mut Vec<String>,
    ) -> Option<borrowed::IndexLine<'a>> {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let line: borrowed::IndexLine = match crate::jsonl::parse_json(raw) {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("line {number}: {e}"));
                return None;
            }
        };
        let id: &str = &line.id;
        // The format keeps the index sorted by id (readers such as `diff` merge two indexes).
        if let Some(previous) = &self.previous_id
            && id <= previous.as_str()
        {
            let why = if id == previous {
                "repeats"
            } else {
                "comes after"
            };
            problems.push(format!(
                "line {number}: cable {id} {why} cable {previous}: the index must be sorted by id"
            ));
        }
        let previous = self.previous_id.get_or_insert_default();
        previous.clear();
        previous.push_str(id);
        self.cables += 1;
        self.captures += line.captures.len() as u64;
        Some(line)
    }
}

/// The line of `cablekeep/unparsed.jsonl`, when it is one; `Err` with the finding's message.
fn read_unparsed_line(
    raw: &[u8],
    number: usize,
) -> std::result::Result<Option<UnparsedLine>, String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    crate::jsonl::parse_json(raw)
        .map(Some)
        .map_err(|e| format!("line {number}: {e}"))
}

/// The bag-info.txt label `cablekeep export` gives its bags: the identifier of the version a
/// selection was exported from.
const EXPORT_OF: &str = "Cablekeep-Export-Of";

/// True for the bag of a `cablekeep export`, which has no list of unparsed inputs.
fn is_export(bag_info: &[(String, String)]) -> bool {
    manifest::bag_info_value(bag_info, EXPORT_OF).is_some()
}

/// The payload manifests, read as streams of lines.
const PAYLOAD_MANIFESTS: [&str; 2] = ["manifest-sha256.txt", "manifest-sha512.txt"];

/// `bagit.txt`, `bag-info.txt` and the tag manifests are read whole: a few KB in any real bag.
const MAX_SMALL_TAG_FILE: u64 = 16 << 20;

/// A line of a tag file read line by line is held whole: far longer than any real line
/// (a payload path is at most 64 KiB; an index line names a cable's few captures).
const MAX_LINE: usize = 4 << 20;

/// How much of a payload manifest is read as lines. A line per payload file, and each such file
/// takes more bytes of the zip (local header, directory record, both with its name) than about
/// half its manifest line: so no real manifest is larger than twice the zip. A hostile one (a
/// few MB of zip that inflate to a GB of repeated lines) is read as far as this, and hashed to
/// its end.
fn payload_manifest_budget(zip_len: u64) -> u64 {
    zip_len.saturating_mul(4).saturating_add(1 << 20)
}

/// Splits a stream into lines (as [`crate::jsonl::LineSplitter`] does, without their `\r\n` or
/// `\n`), reading no more than a budget of it, and skipping lines longer than [`MAX_LINE`]:
/// what is held stays bounded whatever the stream. Each limit reached is a problem.
struct LimitedLines {
    partial: Vec<u8>,
    number: usize,
    /// Bytes still to read as lines.
    budget: u64,
    /// Bytes of the stream seen, read or not.
    seen: u64,
    /// The current line is too long: its bytes up to its end are skipped.
    skipping: bool,
    /// The stream went on past the budget.
    cut: bool,
    problems: Vec<String>,
}

impl LimitedLines {
    fn new(budget: u64) -> Self {
        LimitedLines {
            partial: Vec::new(),
            number: 0,
            budget,
            seen: 0,
            skipping: false,
            cut: false,
            problems: Vec::new(),
        }
    }

    fn feed(&mut self, piece: &[u8], each: &mut (dyn FnMut(&[u8], usize) + Send)) {
        self.seen += piece.len() as u64;
        let take = piece
            .len()
            .min(usize::try_from(self.budget).unwrap_or(usize::MAX));
        self.budget -= take as u64;
        self.cut |= take < piece.len();
        let mut rest = &piece[..take];
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.number += 1;
            let line = &rest[..end];
            rest = &rest[end + 1..];
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if self.partial.is_empty() {
                each(without_cr(line), self.number);
            } else if self.partial.len() + line.len() > MAX_LINE {
                self.partial.clear();
                self.too_long(self.number);
            } else {
                self.partial.extend_from_slice(line);
                each(without_cr(&self.partial), self.number);
                self.partial.clear();
            }
        }
        if !self.skipping {
            if self.partial.len() + rest.len() > MAX_LINE {
                self.partial.clear();
                self.skipping = true;
                self.too_long(self.number + 1);
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
    }

    fn too_long(&mut self, number: usize) {
        self.problems.push(format!(
            "line {number} is longer than {MAX_LINE} bytes, longer than any real line: it was skipped"
        ));
    }

    /// The last line, when the stream does not end with a line break; a problem when the stream
    /// was longer than the budget (the line it cut is not read).
    fn finish(&mut self, each: &mut (dyn FnMut(&[u8], usize) + Send)) {
        if self.cut {
            self.problems.push(format!(
                "{} bytes, more than a manifest of this zip could need: only its first lines were read (those are checked; the rest is only hashed)",
                self.seen
            ));
        } else if !self.skipping && !self.partial.is_empty() {
            self.number += 1;
            each(without_cr(&self.partial), self.number);
        }
    }
}

/// A line without the `\r` of a `\r\n` break.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Takes a stream's bytes, piece by piece, on a thread of its own.
type Sink<'a> = &'a mut (dyn FnMut(&[u8]) + Send);

/// Takes a stream's lines with their numbers.
type LineSink<'a> = &'a mut (dyn FnMut(&[u8], usize) + Send);

/// Bytes handed from the inflating thread to the sinks at a time.
const PIECE: usize = 1 << 18;

/// Inflates an entry once and hands its bytes, in order, to every sink, each sink on a thread
/// of its own (so that hashing twice and parsing take the time of the slowest, not the sum).
/// The data is inflated straight into the pieces the sinks share. Returns the findings about
/// the entry's data.
fn fan_out(archive: &OpenArchive, entry: &Entry, sinks: &mut [Sink<'_>]) -> Result<Vec<Finding>> {
    let mut data = match archive.entry_data(entry) {
        Ok(data) => data,
        Err(finding) => return Ok(vec![finding]),
    };
    std::thread::scope(|scope| {
        let senders: Vec<_> = sinks
            .iter_mut()
            .map(|sink| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(4);
                let sink: &mut (dyn FnMut(&[u8]) + Send) = &mut **sink;
                scope.spawn(move || rx.into_iter().for_each(|piece| sink(&piece)));
                tx
            })
            .collect();
        let mut pieces = Pieces::default();
        loop {
            let mut piece = pieces.blank();
            let filled = data.fill(&mut piece).at(&archive.path)?;
            if filled == 0 {
                break;
            }
            piece.truncate(filled);
            let piece = Arc::new(piece);
            for tx in &senders {
                // A sink only stops early by panicking, which the scope reports.
                let _ = tx.send(Arc::clone(&piece));
            }
            pieces.lent(piece);
            if filled < PIECE {
                break;
            }
        }
        Ok(())
    })?;
    Ok(data.finish())
}

/// The pieces [`fan_out`] has handed to its sinks, oldest first, filled again once every sink
/// is done with them: fresh 256 KB buffers would each be zeroed before being filled.
#[derive(Default)]
struct Pieces {
    lent: std::collections::VecDeque<Arc<Vec<u8>>>,
}

impl Pieces {
    /// A buffer of [`PIECE`] bytes to fill.
    fn blank(&mut self) -> Vec<u8> {
        let returned = self.lent.front().is_some_and(|p| Arc::strong_count(p) == 1);
        if returned && let Some(Ok(mut piece)) = self.lent.pop_front().map(Arc::try_unwrap) {
            piece.resize(PIECE, 0);
            return piece;
        }
        vec![0; PIECE]
    }

    fn lent(&mut self, piece: Arc<Vec<u8>>) {
        self.lent.push_back(piece);
    }
}

/// Inflates and hashes every payload entry on all cores and compares both digests with the
/// manifests' tables. Returns the bytes hashed and the findings, in path order.
fn hash_payload(
    archive: &OpenArchive,
    payload: &[(&str, &Entry)],
    expected: (&[Option<Sha256Bytes>], &[Option<Sha512Bytes>]),
    progress: &dyn Progress,
) -> Result<(u64, CappedFindings)> {
    let total: u64 = payload.iter().map(|(_, e)| e.uncompressed_size).sum();
    progress.start("verifying", total);
    let result = payload
        .par_iter()
        .enumerate()
        .map(|(position, (path, entry))| {
            let listed = (expected.0[position], expected.1[position]);
            let checked = check_payload_file(archive, path, entry, listed);
            progress.inc(entry.uncompressed_size);
            checked.map(|(bytes, findings)| (bytes, findings.into_iter().collect()))
        })
        .try_reduce(
            || (0, CappedFindings::new()),
            |(bytes_a, mut findings_a), (bytes_b, mut findings_b)| {
                findings_a.append(&mut findings_b);
                Ok((bytes_a + bytes_b, findings_a))
            },
        );
    progress.finish();
    result
}

/// Inflates and hashes one payload file; findings when it cannot be read or a digest differs.
fn check_payload_file(
    archive: &OpenArchive,
    path: &str,
    entry: &Entry,
    listed: (Option<Sha256Bytes>, Option<Sha512Bytes>),
) -> Result<(u64, Vec<Finding>)> {
    let mut hasher = Hasher::new();
    let mut findings = archive.stream(entry, |chunk| hasher.update(chunk))?;
    let len = hasher.len();
    let (sha256, sha512) = hasher.finish_bytes();
    let unreadable = findings.iter().any(|f| {
        matches!(
            f.code,
            Code::DecompressFailed | Code::LocalHeaderCorrupt | Code::UnsupportedEntry
        )
    });
    let mismatch = |alg: &str, actual: &[u8], listed: &[u8]| {
        Finding::new(
            Code::PayloadDigestMismatch,
            &archive.label,
            format!(
                "{alg} is {}, manifest-{alg}.txt says {}",
                hex::encode(actual),
                hex::encode(listed)
            ),
        )
        .at_entry(path.to_string())
    };
    if unreadable {
        findings.push(
            Finding::new(
                Code::PayloadDigestMismatch,
                &archive.label,
                "the data cannot be read whole, so it cannot match the manifests",
            )
            .at_entry(path.to_string()),
        );
        return Ok((len, findings));
    }
    if let Some(listed) = listed.0
        && listed != sha256
    {
        findings.push(mismatch("sha256", &sha256, &listed));
    }
    if let Some(listed) = listed.1
        && listed != sha512
    {
        findings.push(mismatch("sha512", &sha512, &listed));
    }
    Ok((len, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `LimitedLines` hands over for a stream fed in `pieces`, and its problems.
    fn lines_of(pieces: &[&[u8]], budget: u64) -> (Vec<(usize, Vec<u8>)>, Vec<String>) {
        let mut splitter = LimitedLines::new(budget);
        let mut lines = Vec::new();
        let mut each = |line: &[u8], number: usize| lines.push((number, line.to_vec()));
        for piece in pieces {
            splitter.feed(piece, &mut each);
        }
        splitter.finish(&mut each);
        (lines, splitter.problems)
    }

    #[test]
    fn lines_are_split_across_pieces_without_their_breaks() {
        let (lines, problems) = lines_of(&[b"a\r\nb", b"c\n", b"\nlast"], u64::MAX);
        let expected: Vec<(usize, Vec<u8>)> = vec![
            (1, b"a".to_vec()),
            (2, b"bc".to_vec()),
            (3, b"".to_vec()),
            (4, b"last".to_vec()),
        ];
        assert_eq!(lines, expected);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_skipped_and_reported_and_the_next_is_read() {
        let long = vec![b'x'; PIECE];
        let mut pieces: Vec<&[u8]> = vec![b"first\nxx"];
        pieces.extend(std::iter::repeat_n(&long[..], MAX_LINE / PIECE + 1));
        pieces.push(b"\nnext\n");
        let (lines, problems) = lines_of(&pieces, u64::MAX);
        assert_eq!(lines, vec![(1, b"first".to_vec()), (3, b"next".to_vec())]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("line 2 is longer"), "{problems:?}");
    }

    #[test]
    fn a_stream_past_the_budget_is_read_up_to_it_and_reported() {
        let (lines, problems) = lines_of(&[b"one\ntwo\nthree\n"], 6);
        assert_eq!(lines, vec![(1, b"one".to_vec())]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("14 bytes, more than"),
            "{problems:?}"
        );
        let (_, problems) = lines_of(&[b"one\n"], 4);
        assert!(
            problems.is_empty(),
            "a stream of exactly the budget is whole"
        );
    }

    #[test]
    fn no_real_manifest_is_larger_than_the_budget_for_its_zip() {
        // The smallest footprint a payload file can have in a zip (local header and directory
        // record with its name, no data) against its SHA-512 manifest line.
        for name_len in [1u64, 20, 200, 65_535] {
            let footprint = 30 + 46 + 2 * name_len;
            let line = 128 + 2 + name_len + 1;
            let files = 1_000_000;
            assert!(payload_manifest_budget(files * footprint) > files * line);
        }
    }
}
