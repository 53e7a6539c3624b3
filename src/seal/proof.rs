//! The proof for one cable (`cablekeep-proof/1`, docs/FORMAT.md section 9): the version's
//! checkpoint and its signatures, and for each of the cable's payload files its manifest line,
//! leaf index and audit path. Checked offline with nothing but the proof, an allowed_signers
//! file and, optionally, the cable's files.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::merkle::{self, Hash};
use super::sshsig::{self, AllowedSigners, Verdict};
use super::stamp::TsaTrust;
use super::timestamp;
use crate::finding::{Code, Finding, terminal_safe};

/// The `format` of a proof.
pub const PROOF_FORMAT: &str = "cablekeep-proof/1";
/// A proof is read up to this size (one for a cable with many captures is a few KB).
pub const MAX_PROOF_BYTES: u64 = 1024 * 1024;
/// At most this many files and signatures are checked in one proof.
const MAX_FILES: usize = 4096;
const MAX_SIGNATURES: usize = 64;

/// A proof that a cable's files are in a signed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Always `cablekeep-proof/1` ([`PROOF_FORMAT`]).
    pub format: String,
    /// The cable's canonical id.
    pub cable: String,
    /// The collection of the version proven; must be the checkpoint's.
    pub collection: String,
    /// The version proven; must be the checkpoint's.
    pub version: u32,
    /// The number of leaves of the tree the audit paths are for (the checkpoint's size).
    pub tree_size: u64,
    /// The checkpoint text, exactly as signed.
    pub checkpoint: String,
    /// Each `.sig` file of the checkpoint, its text exactly (FORMAT.md section 9.3).
    pub signatures: Vec<ProofSignature>,
    /// An RFC 3161 timestamp token (the `.tsr` reply) over the checkpoint, base64; absent (or
    /// null) when the version has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The cable's payload files (each capture's raw bytes and record), by leaf index.
    pub files: Vec<ProvenFile>,
    /// The hashes that prove all the files together (docs/FORMAT.md section 9.4), 32 bytes
    /// each, one after the other, in one base64 string; for one file, its audit path from leaf
    /// to root.
    pub audit_path: String,
}

/// One signature over the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofSignature {
    /// The key id (first 16 hex digits of the SHA-256 of the public key blob).
    pub key_id: String,
    /// The armoured SSH signature, as in the `.sig` file.
    pub signature: String,
}

/// One payload file of the cable and its place in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenFile {
    /// The file's line of `manifest-sha256.txt`, without its line end: `<sha256>  <path>`.
    pub line: String,
    /// The line's index among the manifest's lines (from 0): the leaf index.
    pub index: u64,
}

impl Proof {
    /// The proof as written: compact JSON (one line) with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// What a check of a proof found: the findings (none when it holds) and who signed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProofReport {
    /// True when the proof holds: no finding is an error (FORMAT.md section 9.4).
    pub holds: bool,
    /// The cable the proof names; None when the proof could not be read as JSON.
    pub cable: Option<String>,
    /// The collection the proof names; None when it could not be read.
    pub collection: Option<String>,
    /// The version the proof names; None when it could not be read.
    pub version: Option<u32>,
    /// The principals of the allowed signers whose signatures verified; empty when none did.
    pub signed_by: Vec<String>,
    /// Files whose audit path led to the checkpoint's root; 0 when the path does not hold.
    pub files_checked: usize,
    /// The proof's timestamp, when it has one and it stamps its checkpoint.
    pub timestamp: Option<ProofTimestamp>,
    /// Everything found wrong, errors and warnings (codes `S002`-`S015` in `docs/FINDINGS.md`); empty when
    /// the proof holds cleanly.
    pub findings: Vec<Finding>,
}

/// What a proof's timestamp says.
#[derive(Debug, Clone, Serialize)]
pub struct ProofTimestamp {
    /// When the TSA says the checkpoint existed (RFC 3339 UTC).
    pub gen_time: String,
    /// The TSA's name, when its token names it.
    pub tsa: Option<String>,
    /// The token's signer chains to a certificate the checker trusts (false: none was given).
    pub trusted: bool,
}

/// What the checker was told to expect (command-line options).
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The collection the proof must be for (`--collection`); None accepts any.
    pub collection: Option<String>,
    /// The version the proof must be for (`--version`); None accepts any.
    pub version: Option<u32>,
    /// The cable the proof must be for (`--cable`), canonical or as published; None accepts any.
    pub cable: Option<String>,
}

/// A file given to check against the proven lines: a label and the SHA-256 of its bytes.
pub struct GivenFile {
    /// How findings name the file: its path as given.
    pub label: String,
    /// SHA-256 of the file's bytes, lower-case hex; the file matches when a proven line names this
    /// digest.
    pub sha256: String,
}

impl GivenFile {
    /// Hashes a regular file, streamed (a FIFO or device is refused, not opened).
    pub fn read(path: &std::path::Path) -> crate::Result<GivenFile> {
        crate::fsutil::require_regular_file(path)?;
        let (digests, _) = crate::hash::digest_file(path)?;
        Ok(GivenFile {
            label: path.display().to_string(),
            sha256: digests.sha256,
        })
    }
}

/// Checks a proof: the checkpoint's signatures against `allowed`, every audit path against the
/// checkpoint's root, and every given file's bytes against the proven lines.
pub fn check(
    label: &str,
    bytes: &[u8],
    allowed: &AllowedSigners,
    tsa: &TsaTrust,
    expect: &Expect,
    given: &[GivenFile],
) -> ProofReport {
    let mut report = ProofReport::default();
    let finding = |code: Code, message: String| Finding::new(code, label, message);
    let proof: Proof = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(e) => {
            report.findings.push(finding(
                Code::ProofMalformed,
                format!("not a cablekeep proof: {e}"),
            ));
            return report;
        }
    };
    report.cable = Some(proof.cable.clone());
    report.collection = Some(proof.collection.clone());
    report.version = Some(proof.version);
    let mut findings = Vec::new();
    check_shape(&proof, &mut findings, label);
    let checkpoint = match Checkpoint::parse(proof.checkpoint.as_bytes()) {
        Ok(c) => Some(c),
        Err(e) => {
            findings.push(finding(
                Code::ProofMalformed,
                format!("its checkpoint cannot be read: {e}"),
            ));
            None
        }
    };
    if let Some(cp) = &checkpoint {
        check_identity(&proof, cp, expect, &mut findings, label);
        report.signed_by = check_signatures(&proof, allowed, &mut findings, label);
        report.files_checked = check_files(&proof, cp, &mut findings, label);
    }
    report.timestamp = check_timestamp(&proof, tsa, &mut findings, label);
    check_given(&proof, given, &mut findings);
    report.holds = !findings.iter().any(Finding::is_error);
    report.findings = findings;
    report
}

fn check_shape(proof: &Proof, findings: &mut Vec<Finding>, label: &str) {
    let mut bad = |m: String| findings.push(Finding::new(Code::ProofMalformed, label, m));
    if proof.format != PROOF_FORMAT {
        bad(format!(
            "format {:?} is not {PROOF_FORMAT}",
            terminal_safe(&proof.format)
        ));
    }
    if proof.files.is_empty() || proof.files.len() > MAX_FILES {
        bad(format!(
            "it proves {} files (1 to {MAX_FILES})",
            proof.files.len()
        ));
    }
    if proof.signatures.len() > MAX_SIGNATURES {
        bad(format!(
            "it has {} signatures (at most {MAX_SIGNATURES})",
            proof.signatures.len()
        ));
    }
}

/// The proof's own claims (collection, version, tree size, cable) against its checkpoint and
/// what the checker expects.
fn check_identity(
    proof: &Proof,
    cp: &Checkpoint,
    expect: &Expect,
    findings: &mut Vec<Finding>,
    label: &str,
) {
    let mut other = |m: String| findings.push(Finding::new(Code::ProofForOther, label, m));
    if cp.collection != proof.collection || cp.version != proof.version {
        other(format!(
            "the proof says {}@v{}, its checkpoint is of {}@v{}",
            terminal_safe(&proof.collection),
            proof.version,
            cp.collection,
            cp.version
        ));
    }
    if let Some(c) = &expect.collection
        && c != &cp.collection
    {
        other(format!(
            "the checkpoint is of collection {}, not {}",
            cp.collection,
            terminal_safe(c)
        ));
    }
    if let Some(v) = expect.version
        && v != cp.version
    {
        other(format!(
            "the checkpoint is of version v{}, not v{v}",
            cp.version
        ));
    }
    if let Some(id) = &expect.cable
        && !crate::query::select::ids_to_look_up(id).contains(&proof.cable)
    {
        other(format!(
            "the proof is for cable {}, not {}",
            terminal_safe(&proof.cable),
            terminal_safe(id)
        ));
    }
    if proof.tree_size != cp.size {
        findings.push(Finding::new(
            Code::ProofTreeSize,
            label,
            format!(
                "the proof's tree size {} is not the checkpoint's {}",
                proof.tree_size, cp.size
            ),
        ));
    }
}

/// Checks each signature over the checkpoint text; returns the principals that signed.
fn check_signatures(
    proof: &Proof,
    allowed: &AllowedSigners,
    findings: &mut Vec<Finding>,
    label: &str,
) -> Vec<String> {
    let mut signed_by = Vec::new();
    for sig in proof.signatures.iter().take(MAX_SIGNATURES) {
        let key = terminal_safe(&sig.key_id);
        match sshsig::check(sig.signature.as_bytes(), proof.checkpoint.as_bytes(), Some(allowed)) {
            Verdict::Trusted { principal, key_id } => {
                if key_id != sig.key_id {
                    findings.push(Finding::new(
                        Code::SealMalformed,
                        label,
                        format!("signature named {key} is by key {key_id}"),
                    ));
                }
                signed_by.push(principal);
            }
            Verdict::NotAllowed { key_id } | Verdict::Unchecked { key_id } => {
                findings.push(Finding::new(
                    Code::SignerNotAllowed,
                    label,
                    format!("the checkpoint is signed by key {key_id}, which the allowed signers do not list for {}", sshsig::NAMESPACE),
                ))
            }
            Verdict::Bad { problem } => findings.push(Finding::new(
                Code::SignatureBad,
                label,
                format!("signature {key}: {problem}"),
            )),
        }
    }
    if !signed_by.is_empty() {
        // A cosignature by a key this verifier does not know takes nothing from the one it
        // trusts: reported, as a warning.
        for f in findings
            .iter_mut()
            .filter(|f| f.code == Code::SignerNotAllowed)
        {
            f.severity = crate::Severity::Warning;
        }
    } else {
        findings.push(Finding::new(
            Code::ProofUnsigned,
            label,
            "the checkpoint carries no signature by an allowed signer",
        ));
    }
    signed_by
}

/// Checks the files' lines and the audit path against the checkpoint's root; returns how many
/// files are proven.
fn check_files(proof: &Proof, cp: &Checkpoint, findings: &mut Vec<Finding>, label: &str) -> usize {
    let prefix = format!("data/cables/{}/", proof.cable);
    let mut leaves = Vec::new();
    for file in proof.files.iter().take(MAX_FILES) {
        let at = |code: Code, m: String| {
            Finding::new(code, label, m).at_entry(terminal_safe(&file.line))
        };
        match split_line(&file.line) {
            Some((_, path)) if path.starts_with(&prefix) => {}
            Some(_) => findings.push(at(
                Code::ProofForOther,
                format!("the line names a file outside {prefix}"),
            )),
            None => {
                findings.push(at(
                    Code::ProofMalformed,
                    "not a manifest line `<sha256>  <path>`".into(),
                ));
                continue;
            }
        }
        leaves.push((file.index, merkle::leaf_hash(file.line.as_bytes())));
    }
    let Some(path) = decode_path(&proof.audit_path) else {
        findings.push(Finding::new(
            Code::ProofMalformed,
            label,
            "the audit path is not base64 of 32-byte hashes, or it is too long",
        ));
        return 0;
    };
    // The path is checked against the checkpoint's size, whatever the proof claims.
    let proven = merkle::root_from_multi_path(cp.size, &leaves, &path).and_then(|root| {
        if root == cp.root {
            Ok(())
        } else {
            Err(merkle::ProofError::RootMismatch {
                computed: hex::encode(root),
                expected: hex::encode(cp.root),
            })
        }
    });
    match proven {
        Ok(()) => leaves.len(),
        Err(e) => {
            let indices: Vec<String> = leaves.iter().map(|(i, _)| i.to_string()).collect();
            findings.push(Finding::new(
                Code::ProofPathMismatch,
                label,
                format!("leaves {}: {e}", indices.join(", ")),
            ));
            0
        }
    }
}

/// Checks the proof's timestamp, when it has one, over its checkpoint's bytes: against the
/// trusted TSA certificates, or (without them) everything but its signer's trust, with `S025`.
fn check_timestamp(
    proof: &Proof,
    tsa: &TsaTrust,
    findings: &mut Vec<Finding>,
    label: &str,
) -> Option<ProofTimestamp> {
    let encoded = proof.timestamp.as_ref()?;
    let Ok(tsr) = Base64::decode_vec(encoded) else {
        findings.push(Finding::new(
            Code::TimestampMalformed,
            label,
            "its timestamp is not base64",
        ));
        return None;
    };
    match tsa.check(&tsr, proof.checkpoint.as_bytes()) {
        Ok(facts) => {
            findings.extend(tsa.unchecked_finding(label));
            Some(ProofTimestamp {
                gen_time: facts.gen_time,
                tsa: facts.tsa_name,
                trusted: tsa.is_given(),
            })
        }
        Err(problem) => {
            findings.push(timestamp::finding_for(&problem, label));
            None
        }
    }
}

fn decode_path(path: &str) -> Option<Vec<Hash>> {
    // Base64 of at most this many hashes; checked before decoding.
    let most = merkle::MAX_PATH * MAX_FILES;
    if path.len() > (most * 32).div_ceil(3) * 4 {
        return None;
    }
    let bytes = Base64::decode_vec(path).ok()?;
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    bytes.chunks_exact(32).map(|c| c.try_into().ok()).collect()
}

/// Each given file's SHA-256 must be the digest of one of the proven lines.
fn check_given(proof: &Proof, given: &[GivenFile], findings: &mut Vec<Finding>) {
    for file in given {
        let digest = &file.sha256;
        let proven = proof
            .files
            .iter()
            .any(|f| split_line(&f.line).is_some_and(|(d, _)| d == digest.as_str()));
        if !proven {
            findings.push(Finding::new(
                Code::ProofFileMismatch,
                &file.label,
                format!(
                    "its SHA-256 {digest} is not the digest of any file the proof proves for cable {}",
                    terminal_safe(&proof.cable)
                ),
            ));
        }
    }
}

/// `<64 lower-case hex>  <path>` into the digest and the path.
pub fn split_line(line: &str) -> Option<(&str, &str)> {
    let (digest, path) = line.split_once("  ")?;
    let ok = digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && !path.is_empty();
    ok.then_some((digest, path))
}

/// Encodes an audit path for a proof: the hashes one after the other, in base64.
pub fn encode_path(path: &[Hash]) -> String {
    Base64::encode_string(&path.concat())
}
