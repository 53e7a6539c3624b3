//! The tag files: `bagit.txt`, `bag-info.txt`, Payload-Oxum, the tag manifests, and every tag
//! file streamed (hashed, and the four large ones read line by line) on threads of their own.

use super::fan_out::{LineSink, Sink, fan_out};
use super::files::BagFiles;
use super::lines::{LimitedLines, payload_manifest_budget};
use super::rules::{self, BagKind, MAX_SMALL_TAG_FILE, PAYLOAD_MANIFESTS, Problem, READ_APART};
use super::{BagSeen, Depth, TagDigests};
use crate::bag::{self, OpenArchive, manifest};
use crate::finding::{CappedFindings, Code, Finding};
use crate::hash::OneHasher;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// A tag file, hashed (and perhaps read line by line) as it streamed.
/// Reads a tag file's lines, on a thread of its own.
pub(super) trait LineReader: Send {
    fn line(&mut self, raw: &[u8], number: usize);
    /// The file has ended (or is missing).
    fn end(&mut self) {}
}

struct Streamed {
    /// None when its data could not be read whole.
    pub(super) digests: Option<TagDigests>,
    pub(super) findings: Vec<Finding>,
}

pub(super) struct BagCheck<'a> {
    pub(super) archive: &'a OpenArchive,
    /// In fast mode tag files are hashed with SHA-256 only.
    pub(super) depth: Depth,
    pub(super) label: &'a str,
    pub(super) files: &'a BagFiles<'a>,
    pub(super) findings: CappedFindings,
    /// What its bag-info says the bag is.
    pub(super) kind: BagKind,
}

impl<'a> BagCheck<'a> {
    pub(super) fn new(archive: &'a OpenArchive, files: &'a BagFiles<'a>, depth: Depth) -> Self {
        BagCheck {
            archive,
            depth,
            label: archive.label.as_str(),
            files,
            findings: CappedFindings::new(),
            kind: BagKind::Version,
        }
    }

    /// Checks `bagit.txt` and `bag-info.txt`, and notes what bag-info says.
    pub(super) fn check_declaration_and_info(&mut self, seen: &mut BagSeen) {
        self.check_declaration();
        seen.bag_info = self.check_bag_info();
        self.kind = rules::bag_kind(&seen.bag_info);
        seen.payload_oxum =
            manifest::bag_info_value(&seen.bag_info, "Payload-Oxum").map(str::to_string);
    }

    /// Streams every tag file on threads of their own: the four read apart ([`READ_APART`])
    /// through `readers` (given in that order), the others only hashed; runs `meanwhile` on
    /// this thread at the same time.
    pub(super) fn stream_tags<R>(
        &self,
        readers: [&mut dyn LineReader; 4],
        meanwhile: impl FnOnce() -> R,
    ) -> (TagStreams<'a>, R) {
        let others: Vec<&'a str> = self
            .files
            .tag_paths()
            .into_iter()
            .filter(|p| !READ_APART.contains(p))
            .collect();
        std::thread::scope(|s| {
            let mut paths = READ_APART.into_iter();
            let handles = readers.map(|reader| {
                let path = paths.next().unwrap_or_default();
                s.spawn(move || {
                    let mut read = |l: &[u8], n: usize| reader.line(l, n);
                    let streamed = self.stream_tag(path, Some(&mut read));
                    reader.end();
                    streamed
                })
            });
            let others: Vec<_> = others
                .par_iter()
                .map(|p| (*p, self.stream_tag(p, None)))
                .collect();
            let during = meanwhile();
            let apart = handles.map(|h| h.join().expect("a tag file reader panicked"));
            (TagStreams { apart, others }, during)
        })
    }

    /// Keeps the tag files' findings; returns their digests by path.
    pub(super) fn take_tag_streams(
        &mut self,
        tags: TagStreams<'_>,
    ) -> BTreeMap<String, TagDigests> {
        let mut tag_digests = BTreeMap::new();
        let named = READ_APART.into_iter().zip(tags.apart);
        for (path, streamed) in named.chain(tags.others) {
            let Some(streamed) = streamed else {
                continue;
            };
            self.findings.extend(streamed.findings);
            if let Some(d) = streamed.digests {
                tag_digests.insert(path.to_string(), d);
            }
        }
        tag_digests
    }

    pub(super) fn finding(&mut self, code: Code, entry: &str, message: impl Into<String>) {
        self.findings
            .push(Finding::new(code, self.label, message).at_entry(entry));
    }

    /// Reads a small tag file; data findings (CRC, inflate) are kept. One larger than
    /// [`MAX_SMALL_TAG_FILE`] is a finding and is not read.
    pub(super) fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        let entry = self.files.get(path)?;
        if entry.uncompressed_size > MAX_SMALL_TAG_FILE {
            let why = format!(
                "{} bytes: a bag's {path} is never larger than {MAX_SMALL_TAG_FILE}; it was not read",
                entry.uncompressed_size
            );
            self.finding(Code::TagFileTooLarge, path, why);
            return None;
        }
        match bag::zip_read::read_entry(&*self.archive.file, entry, self.label) {
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

    /// Payload-Oxum must give the payload's bytes and files.
    pub(super) fn check_oxum(&mut self, oxum: Option<&str>, bytes: u64, files: u64) {
        if let Some(Problem(why)) = rules::oxum_problem(oxum, bytes, files) {
            self.finding(Code::PayloadOxum, "bag-info.txt", why);
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
        if self.depth == Depth::Full {
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
        let unreadable = rules::unreadable(&findings);
        let full = self.depth == Depth::Full;
        let digests = (!unreadable).then(|| TagDigests {
            sha256: sha256.finish_hex(),
            sha512: full.then(|| sha512.finish_hex()),
        });
        Some(Streamed { digests, findings })
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
            if let Some(problem) = rules::unsafe_manifest_path(&line.path) {
                let finding = rules::manifest_malformed(self.label, name, problem);
                self.findings.push(finding);
                continue;
            }
            if map.insert(line.path.clone(), line.digest).is_some() {
                let finding = rules::listed_twice(self.label, name, &line.path);
                self.findings.push(finding);
            }
        }
        map
    }

    /// Tag manifests: present for both algorithms, listing every tag file but themselves and no
    /// payload file, with matching digests. Takes and returns the digests of every tag file.
    pub(super) fn check_tag_manifests(
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
}

/// The tag files as streamed: those read apart ([`READ_APART`]), then the others.
pub(super) struct TagStreams<'p> {
    apart: [Option<Streamed>; 4],
    others: Vec<(&'p str, Option<Streamed>)>,
}
