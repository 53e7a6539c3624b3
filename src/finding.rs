//! Findings: integrity and input problems reported as data, each with a stable code.
//!
//! Codes never change meaning once released; `docs/FINDINGS.md` lists every one of them
//! (a test keeps that page and this table in step).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How serious a finding is. Errors make `verify` exit 1; warnings are reported only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported only, it does not make a command fail: a repaired id, a duplicate input, a zip
    /// left by a killed writer; written `warning`.
    Warning,
    /// Makes the command exit 1: a check failed, or an input could not be kept as a cable;
    /// written `error`.
    Error,
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $sev:ident, $title:literal; )*) => {
        /// A stable finding code. See `docs/FINDINGS.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( #[doc = $title] $variant, )* }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];
            /// The code as printed, e.g. `Z005`.
            pub fn as_str(self) -> &'static str { match self { $( Code::$variant => $code, )* } }
            /// A short title.
            pub fn title(self) -> &'static str { match self { $( Code::$variant => $title, )* } }
            /// The default severity.
            pub fn severity(self) -> Severity { match self { $( Code::$variant => Severity::$sev, )* } }
        }
    };
}

codes! {
    // Input and parsing (reported by bundle, add and parse).
    UnknownFormat = "P001", Error, "page is in no format cablekeep reads";
    MissingField = "P002", Warning, "a field the format should have is missing";
    BadEncoding = "P003", Warning, "bytes are not valid in the page's character encoding";
    BrokenMarkup = "P004", Warning, "page markup is broken or truncated";
    MalformedField = "P005", Warning, "a field value cannot be interpreted";
    MalformedId = "P006", Warning, "reference id is malformed";
    MalformedRow = "P007", Error, "a bulk table row cannot be read as a cable";
    EncodingGuessed = "P008", Warning, "the page's character encoding was guessed";
    UnsafeInputName = "I001", Error, "input zip member has an unsafe name and was skipped";
    InputTooLarge = "I002", Error, "input is larger than the size limit and was skipped";
    DuplicateCapture = "I003", Warning, "the same bytes were given more than once";
    UnreadableInput = "I004", Error, "input could not be read and was skipped";
    NotRegularFile = "I005", Error, "input is not a regular file and was skipped";
    InputZipOverLimit = "I006", Error, "input zip is over a limit and its members past it were skipped";
    InputZipAmbiguous = "I007", Warning, "input zip's structure is ambiguous; its members were read as its central directory lists them";
    // Zip structure (verify).
    ZipUnreadable = "Z001", Error, "zip end of central directory missing or unreadable";
    CentralDirectoryCorrupt = "Z002", Error, "central directory record corrupt";
    LocalHeaderCorrupt = "Z003", Error, "local file header corrupt or missing";
    HeaderMismatch = "Z004", Error, "local header disagrees with central directory";
    CrcMismatch = "Z005", Error, "entry data does not match its CRC-32";
    DecompressFailed = "Z006", Error, "entry data cannot be decompressed to its recorded size";
    UnsafeEntryName = "Z007", Error, "entry name is unsafe or outside the bag folder";
    DuplicateEntryName = "Z008", Error, "two entries have the same name";
    StrayBytes = "Z009", Error, "bytes outside any entry, or entries overlap";
    UnsupportedEntry = "Z010", Error, "entry uses a zip feature cablekeep archives never use";
    NotARegularFile = "Z011", Error, "the archive is not a regular file";
    // BagIt (verify).
    BagitDeclaration = "B001", Error, "bagit.txt missing or malformed";
    BagInfo = "B002", Error, "bag-info.txt missing or malformed";
    ManifestMalformed = "B003", Error, "manifest missing or a line is malformed";
    PayloadDigestMismatch = "B004", Error, "payload file digest differs from the manifest";
    PayloadMissing = "B005", Error, "manifest lists a file the archive does not hold";
    PayloadUnlisted = "B006", Error, "payload file not listed in a manifest";
    PayloadOxum = "B007", Error, "Payload-Oxum does not match the payload";
    TagDigestMismatch = "B008", Error, "tag file digest differs from the tag manifest";
    TagFileUnlisted = "B009", Error, "tag file missing from, or missing but listed in, a tag manifest";
    DuplicateManifestEntry = "B010", Error, "a manifest lists the same path twice";
    IndexMismatch = "B011", Error, "the cable index disagrees with the payload";
    TagFileTooLarge = "B012", Error, "a tag file or one of its lines is larger than the bag could need";
    // Sidecar manifest and version chain (verify).
    SidecarUnreadable = "M001", Error, "sidecar version manifest missing or unreadable";
    ArchiveDigestMismatch = "M002", Error, "zip digest differs from the sidecar manifest";
    SidecarMismatch = "M003", Error, "sidecar manifest disagrees with the archive";
    ChecksumFile = "M004", Error, "the .sha256 file is missing or disagrees";
    ChainBroken = "M005", Error, "hash chain to the previous version is broken";
    VersionMissing = "M006", Error, "a version is missing or has no archive";
    IdentityMismatch = "M007", Error, "archive belongs to another collection or version";
    UncommittedArchive = "M008", Warning, "archive left without a sidecar manifest by an interrupted write";
    CollectionEmpty = "M009", Warning, "a collection folder holds no version";
    // Link event log (verify).
    LinkLogChainBroken = "L001", Error, "link log chain broken";
    LinkLogMalformed = "L002", Error, "link log line unreadable or cut short";
    // Seals and proofs (verify, check-proof).
    SealMissing = "S001", Warning, "a version has no seal";
    SignatureBad = "S002", Error, "a seal signature does not verify";
    SignerNotAllowed = "S003", Error, "a seal is signed by a key the allowed signers do not list";
    CheckpointMismatch = "S004", Error, "a checkpoint disagrees with its archive";
    CheckpointChainBroken = "S005", Error, "the checkpoint chain to the previous version is broken";
    SealMalformed = "S006", Error, "a checkpoint or signature file is unreadable or malformed";
    SealsUnchecked = "S007", Warning, "seal signatures were checked without a list of allowed signers";
    ProofMalformed = "S010", Error, "a proof is unreadable or malformed";
    ProofPathMismatch = "S011", Error, "a proof's audit path does not lead to its checkpoint's root";
    ProofTreeSize = "S012", Error, "a proof's tree size disagrees with its checkpoint";
    ProofFileMismatch = "S013", Error, "a file's bytes are not the ones the proof proves";
    ProofForOther = "S014", Error, "a proof is for another collection, version or cable";
    ProofUnsigned = "S015", Error, "a proof's checkpoint has no signature by an allowed signer";
    // Trusted timestamps (verify, check-proof).
    TimestampMalformed = "S020", Error, "timestamp token is unreadable or was not granted";
    TimestampOtherBytes = "S021", Error, "timestamp covers other bytes";
    TimestampBadSignature = "S022", Error, "timestamp signature does not verify";
    TimestampUntrusted = "S023", Error, "timestamp signer is not trusted";
    TimestampNotForTimestamping = "S024", Error, "timestamp signer certificate is not a time-stamping certificate";
    TimestampUnchecked = "S025", Warning, "timestamp not checked: no trusted TSA certificate given";
    // Replicas (reported by audit and repair).
    ReplicaMissing = "R001", Error, "a file the good copies hold is missing on this replica";
    ReplicaDamaged = "R002", Error, "a file differs from the good copies";
    ReplicaExtra = "R003", Warning, "a file no store writes is in a replica's store folders";
    ReplicaNoMajority = "R004", Error, "the replicas disagree and no copy has a majority";
    ReplicaInterrupted = "R005", Warning, "an interrupted replicate left temporaries";
    ReplicaUnreadable = "R006", Error, "a replica cannot be read";
    ReplicaLinkLogBehind = "R007", Warning, "a replica's link log is behind the good copies'";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {s:?}")))
    }
}

/// One problem found, with where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The stable code (`docs/FINDINGS.md`), written as its text, e.g. `B011`.
    pub code: Code,
    /// The code's own severity, unless the context made it milder or worse (a cosignature by
    /// an unknown key is a warning when another signature is trusted).
    pub severity: Severity,
    /// The file checked (an archive, an input page, a manifest).
    pub file: String,
    /// The entry inside the file, when there is one (a zip entry name, a manifest line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// What is wrong, for a person.
    pub message: String,
}

impl Finding {
    /// A finding with the code's default severity.
    pub fn new(code: Code, file: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: code.severity(),
            file: file.into(),
            entry: None,
            message: message.into(),
        }
    }

    /// Names the entry inside the file.
    pub fn at_entry(mut self, entry: impl Into<String>) -> Self {
        self.entry = Some(entry.into());
        self
    }

    /// True when the finding should make a check fail.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A finding as one line of text. Its file, entry and message may carry names from the input
/// (zip member names, file names, page text), so control characters and bidirectional
/// overrides in them are escaped ([`terminal_safe`]): a name holding a line break cannot
/// forge a second finding line, nor an escape sequence reach the terminal.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let (file, message) = (terminal_safe(&self.file), terminal_safe(&self.message));
        match &self.entry {
            Some(e) => write!(
                f,
                "{} {sev}: {file}: {}: {message}",
                self.code,
                terminal_safe(e)
            ),
            None => write!(f, "{} {sev}: {file}: {message}", self.code),
        }
    }
}

/// `text` with every control character (line breaks and escape sequences among them) and every
/// bidirectional formatting character written as a `\u{..}` escape (`\n`, `\r`, `\t` for
/// those three), so that untrusted text printed on a line stays on that line and cannot steer
/// the terminal. Text without them is returned as it is.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || is_bidi_control(c);
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The Unicode characters that reorder text as it is shown (a name could show as another).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_a_line_break_cannot_forge_a_finding_line() {
        let f = Finding::new(
            Code::UnsafeInputName,
            "in.zip",
            "unsafe name: control character",
        )
        .at_entry("nl\nP001 error: fake.html\u{1b}[2J\u{202e}lmth.exe");
        let line = f.to_string();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert_eq!(
            line,
            "I001 error: in.zip: nl\\nP001 error: fake.html\\u{1b}[2J\\u{202e}lmth.exe: unsafe name: control character"
        );
        assert!(matches!(
            terminal_safe("plain name.html"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

/// Findings of each code shown in full by a check; of the rest only the number is reported (in
/// one more finding of that code), so that a hostile input with millions of bad lines gives a
/// report of bounded size, in bounded memory.
pub const SHOWN_PER_CODE: u64 = 100;

/// Findings in the order found, the first [`SHOWN_PER_CODE`] of each code kept and the rest
/// counted. Appending one to another keeps the first of each code of the two in order, so the
/// parts of a check can each be capped and their sum is what capping the whole would give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CappedFindings {
    kept: Vec<Finding>,
    /// Every finding of each code, kept or not.
    counts: std::collections::BTreeMap<Code, u64>,
}

impl CappedFindings {
    /// An empty list: nothing kept, nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the finding, or counts it when its code has been kept often enough.
    pub fn push(&mut self, finding: Finding) {
        let count = self.counts.entry(finding.code).or_insert(0);
        *count += 1;
        if *count <= SHOWN_PER_CODE {
            self.kept.push(finding);
        }
    }

    /// Moves every finding of `other` after these (counted ones stay counted).
    pub fn append(&mut self, other: &mut CappedFindings) {
        let counts = std::mem::take(&mut other.counts);
        for finding in other.kept.drain(..) {
            self.push(finding);
        }
        for (code, count) in counts {
            let unkept = count.saturating_sub(SHOWN_PER_CODE);
            *self.counts.entry(code).or_insert(0) += unkept;
        }
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// True when a finding that is an error was found.
    pub fn has_error(&self) -> bool {
        self.kept.iter().any(Finding::is_error)
    }

    /// The findings kept, then, for each code with more, one finding of that code (the severity
    /// and file of its first) that says how many more there were.
    pub fn into_vec(self) -> Vec<Finding> {
        let mut findings = self.kept;
        for (code, count) in self.counts {
            if count <= SHOWN_PER_CODE {
                continue;
            }
            let Some(first) = findings.iter().find(|f| f.code == code) else {
                continue;
            };
            let more = count - SHOWN_PER_CODE;
            let mut summary = Finding::new(
                code,
                first.file.clone(),
                format!(
                    "{more} more {code} findings like the ones above are not listed \
                     (only the first {SHOWN_PER_CODE} of each code are)"
                ),
            );
            summary.severity = first.severity;
            findings.push(summary);
        }
        findings
    }
}

impl Extend<Finding> for CappedFindings {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, findings: I) {
        for finding in findings {
            self.push(finding);
        }
    }
}

impl FromIterator<Finding> for CappedFindings {
    fn from_iter<I: IntoIterator<Item = Finding>>(findings: I) -> Self {
        let mut capped = CappedFindings::new();
        capped.extend(findings);
        capped
    }
}

#[cfg(test)]
mod capped_tests {
    use super::*;

    fn finding(code: Code, n: u64) -> Finding {
        Finding::new(code, "a.zip", format!("number {n}"))
    }

    #[test]
    fn capped_findings_keep_the_first_of_each_code_and_count_the_rest() {
        let mut first: CappedFindings = (0..150)
            .map(|n| finding(Code::DuplicateManifestEntry, n))
            .collect();
        first.push(finding(Code::PayloadMissing, 0));
        let mut second: CappedFindings = (150..400)
            .map(|n| finding(Code::DuplicateManifestEntry, n))
            .collect();
        second.push(finding(Code::PayloadMissing, 1));
        first.append(&mut second);
        let all = first.into_vec();
        let b010: Vec<&Finding> = all
            .iter()
            .filter(|f| f.code == Code::DuplicateManifestEntry)
            .collect();
        assert_eq!(b010.len(), 101);
        assert_eq!(b010[99].message, "number 99");
        assert!(
            b010[100].message.starts_with("300 more B010 findings"),
            "{}",
            b010[100].message
        );
        assert_eq!(
            all.iter()
                .filter(|f| f.code == Code::PayloadMissing)
                .count(),
            2
        );
    }
}
