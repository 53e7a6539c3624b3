//! The bag of an archive opened whole ([`check_bag`]): the payload manifests read into digest
//! tables aligned with the bag's sorted files, the index and the unparsed inputs' list checked
//! against them.

use super::files::{BagFiles, Cursor, bag_folder};
use super::payload::hash_payload;
use super::rules::{self, IndexLines, Problem};
use super::tags::{BagCheck, LineReader};
use super::{BagChecked, BagSeen, Depth, TagDigests};
use crate::bag::OpenArchive;
use crate::error::Result;
use crate::finding::CappedFindings;
use crate::hash::Sha256Bytes;
use crate::progress::Progress;
use std::collections::BTreeMap;

/// Checks the bag inside an archive: structure, bagit.txt, bag-info.txt, manifests, tag
/// manifests, Payload-Oxum, the cable index and (in full mode) every payload digest.
pub(crate) fn check_bag(
    archive: &OpenArchive,
    depth: Depth,
    progress: &dyn Progress,
) -> Result<(BagChecked, BagSeen)> {
    let mut checked = BagChecked {
        archive: archive.path.clone(),
        entries: archive.index.entries.len() as u64,
        ..BagChecked::default()
    };
    let mut seen = BagSeen {
        zip_entries: archive.index.entries.len() as u64,
        ..BagSeen::default()
    };
    let mut found: CappedFindings = archive.index.findings.iter().cloned().collect();
    // Without its end records nothing of the zip could be read.
    let folder = if archive.index.readable {
        bag_folder(archive, &mut found)
    } else {
        None
    };
    let Some(folder) = folder else {
        checked.findings = found.into_vec();
        return Ok((checked, seen));
    };
    let files = BagFiles::new(archive, &folder);
    seen.folder = Some(folder);
    let mut bag = BagCheck::new(archive, &files, depth);
    let pass = bag.check_tag_files(&mut seen)?;
    found.append(&mut bag.findings);
    if depth == Depth::Full {
        let expected = (&pass.sha256.digests[..], &pass.sha512.digests[..]);
        let (bytes, mut payload_findings) =
            hash_payload(archive, files.payload(), expected, progress)?;
        checked.bytes_hashed = bytes;
        found.append(&mut payload_findings);
    }
    checked.findings = found.into_vec();
    Ok((checked, seen))
}

/// A payload manifest as read: each payload file's digest, by position in the sorted payload.
#[derive(Default)]
struct PayloadDigests<const N: usize> {
    pub(super) digests: Vec<Option<[u8; N]>>,
    /// Paths it lists that the archive does not hold, sorted, once each.
    pub(super) unknown: Vec<String>,
}

/// What reading the tag files leaves: both payload manifests as digest tables, what the index
/// says of each raw capture, and the digests of every tag file.
struct TagPass {
    pub(super) sha256: PayloadDigests<32>,
    pub(super) sha512: PayloadDigests<64>,
    pub(super) tag_digests: BTreeMap<String, TagDigests>,
    /// The SHA-256 the index gives each raw capture, by payload position.
    index_sha256: Vec<Option<Sha256Bytes>>,
    /// The index's and the unparsed inputs' list's own findings (reported after the listings).
    index_findings: CappedFindings,
    /// Payload files named by the index or by the unparsed inputs' list.
    pub(super) referenced: Vec<bool>,
    pub(super) cables: u64,
    pub(super) captures: u64,
    pub(super) unparsed: u64,
}

impl BagCheck<'_> {
    /// Every check of the bag but the payload's digests, in the order of their findings; what
    /// the bag says of itself goes to `seen`. Returns the tag files' pass, for the payload's.
    fn check_tag_files(&mut self, seen: &mut BagSeen) -> Result<TagPass> {
        self.check_declaration_and_info(seen);
        let payload = self.files.payload();
        seen.payload_files = payload.len() as u64;
        seen.payload_bytes = payload.iter().map(|(_, e)| e.uncompressed_size).sum();
        self.check_oxum(
            seen.payload_oxum.as_deref(),
            seen.payload_bytes,
            seen.payload_files,
        );
        let mut pass = self.stream_tag_files()?;
        self.check_listing("sha256", &pass.sha256);
        self.check_listing("sha512", &pass.sha512);
        seen.tag_digests = self.check_tag_manifests(std::mem::take(&mut pass.tag_digests));
        self.check_index_digests(&pass.index_sha256, &pass.sha256.digests);
        self.findings.append(&mut pass.index_findings);
        self.report_strays(&pass.referenced);
        seen.cables = pass.cables;
        seen.captures = pass.captures;
        seen.unparsed = pass.unparsed;
        Ok(pass)
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
        let readers: [&mut dyn LineReader; 4] = [&mut index, &mut m256, &mut m512, &mut unparsed];
        let (streams, ()) = self.stream_tags(readers, || ());
        let tag_digests = self.take_tag_streams(streams);
        let sha256 = m256.finish(&mut self.findings);
        let sha512 = m512.finish(&mut self.findings);
        let mut index_findings: CappedFindings =
            rules::missing_index_files(self.label, |p| files.contains(p), self.kind)
                .into_iter()
                .collect();
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
                self.findings
                    .push(rules::index_digest_mismatch(self.label, path));
            }
        }
    }

    /// Both directions: every manifest line has a file, every payload file is in the manifest.
    fn check_listing<const N: usize>(&mut self, alg: &str, manifest: &PayloadDigests<N>) {
        for path in &manifest.unknown {
            self.findings
                .push(rules::payload_missing(self.label, alg, path));
        }
        for ((path, _), digest) in self.files.payload().iter().zip(&manifest.digests) {
            if digest.is_none() {
                self.findings.push(rules::unlisted(self.label, alg, path));
            }
        }
    }

    /// Payload files that neither the index nor the unparsed inputs' list names.
    fn report_strays(&mut self, referenced: &[bool]) {
        for ((path, _), named) in self.files.payload().iter().zip(referenced) {
            if !named {
                self.findings.push(rules::stray(self.label, path));
            }
        }
    }
}

/// Reads a payload manifest line by line into a digest table aligned with the sorted payload.
struct ManifestReader<'a, const N: usize> {
    pub(super) name: &'static str,
    pub(super) files: &'a BagFiles<'a>,
    pub(super) label: &'a str,
    pub(super) table: PayloadDigests<N>,
    cursor: Cursor,
    pub(super) findings: CappedFindings,
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

    fn malformed(&mut self, problem: Problem) {
        let finding = rules::manifest_malformed(self.label, self.name, problem);
        self.findings.push(finding);
    }

    fn duplicate(&mut self, path: &str) {
        let finding = rules::listed_twice(self.label, self.name, path);
        self.findings.push(finding);
    }

    /// The table, with the findings kept. A missing manifest is a finding.
    fn finish(mut self, findings: &mut CappedFindings) -> PayloadDigests<N> {
        if !self.files.contains(self.name) {
            self.findings
                .push(rules::manifest_missing(self.label, self.name));
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

impl<const N: usize> LineReader for ManifestReader<'_, N> {
    fn line(&mut self, raw: &[u8], number: usize) {
        let read = rules::with_manifest_line::<N>(raw, number, |path, bytes| {
            // A path the archive holds had its name checked with the zip's entries.
            let Some(position) = self.cursor.find(self.files, path) else {
                if let Some(problem) = rules::unsafe_manifest_path(path) {
                    return self.malformed(problem);
                }
                self.table.unknown.push(path.to_string());
                return;
            };
            if self.table.digests[position].replace(bytes).is_some() {
                self.duplicate(path);
            }
        });
        if let Err(problem) = read {
            self.malformed(problem);
        }
    }
}

/// Reads `cablekeep/unparsed.jsonl` line by line.
struct UnparsedReader<'a> {
    pub(super) files: &'a BagFiles<'a>,
    pub(super) label: &'a str,
    pub(super) referenced: Vec<bool>,
    pub(super) count: u64,
    pub(super) findings: CappedFindings,
}

impl LineReader for UnparsedReader<'_> {
    fn line(&mut self, raw: &[u8], number: usize) {
        let Some(line) = rules::take_unparsed_line(raw, number, self.label, &mut self.findings)
        else {
            return;
        };
        self.count += 1;
        match self.files.payload_position(&line.raw) {
            Some(position) => self.referenced[position] = true,
            None if self.files.contains(&line.raw) => {}
            None => self.findings.push(rules::unparsed_mismatch(
                self.label,
                rules::unparsed_not_in_archive(&line.raw),
            )),
        }
    }
}

/// Reads `cablekeep/index.jsonl` line by line: every capture it names must exist, with the
/// SHA-256 the manifest gives.
struct IndexReader<'a> {
    pub(super) files: &'a BagFiles<'a>,
    pub(super) label: &'a str,
    /// The SHA-256 given for each raw capture, by payload position.
    pub(super) sha256: Vec<Option<Sha256Bytes>>,
    pub(super) referenced: Vec<bool>,
    cursor: Cursor,
    pub(super) lines: IndexLines,
    pub(super) findings: CappedFindings,
}

impl LineReader for IndexReader<'_> {
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
            match rules::capture_sha256(&line.id, c) {
                Ok(digest) => self.sha256[raw] = Some(digest),
                Err(Problem(why)) => self.mismatch(why),
            }
        }
    }
}

impl IndexReader<'_> {
    fn mismatch(&mut self, message: String) {
        self.findings
            .push(rules::index_mismatch(self.label, message));
    }

    /// Marks a file the index names as referenced; a finding when the archive lacks it.
    /// Returns its position in the payload.
    fn locate(&mut self, id: &str, path: &str) -> Option<usize> {
        let position = self.cursor.find(self.files, path);
        match position {
            Some(p) => self.referenced[p] = true,
            None if self.files.contains(path) => {}
            None => self.mismatch(rules::not_in_archive(id, path)),
        }
        position
    }
}
