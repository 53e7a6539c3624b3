//! The seal checks of `verify` (findings S001-S007 and the timestamps' S020-S025): every
//! checkpoint, signature and timestamp of the versions checked, against the archive and the chain.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::finding::{Code, Finding};
use crate::store::Store;

use super::checkpoint::Checkpoint;
use super::sshsig::{AllowedSigners, Verdict};
use super::*;

/// Options of the seal checks of `verify`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A version without a seal is an error, not a warning.
    pub require_seal: bool,
    /// The TSA certificates timestamps are checked against.
    pub tsa_trust: stamp::TsaTrust,
}

/// Checks the seals of `versions` of a collection: each checkpoint against its archive and the
/// chain, each signature over it, and whose key it is. Findings, never errors, for what is
/// wrong with the seal files; errors only when the archive itself cannot be read.
pub fn check_seals(
    store: &Store,
    collection: &str,
    versions: &[u32],
    allowed: Option<&AllowedSigners>,
    options: &CheckOptions,
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let mut any_signature = false;
    let mut any_timestamp = false;
    for &version in versions {
        any_signature |=
            check_version(store, collection, version, allowed, options, &mut findings)?;
        any_timestamp |= stamp::check_version_timestamp(
            store,
            collection,
            version,
            &options.tsa_trust,
            &mut findings,
        );
    }
    if any_timestamp
        && let Some(f) = options
            .tsa_trust
            .unchecked_finding(&store.manifest_dir(collection).display().to_string())
    {
        findings.push(f);
    }
    if any_signature && allowed.is_none() {
        findings.push(Finding::new(
            Code::SealsUnchecked,
            store.manifest_dir(collection).display().to_string(),
            format!(
                "the signatures were checked, not whose keys they are: give --allowed-signers (or put the file at {DEFAULT_ALLOWED_SIGNERS})"
            ),
        ));
    }
    Ok(findings)
}

/// One version's seal; returns whether it has any signature file.
fn check_version(
    store: &Store,
    collection: &str,
    version: u32,
    allowed: Option<&AllowedSigners>,
    options: &CheckOptions,
    findings: &mut Vec<Finding>,
) -> Result<bool> {
    let path = checkpoint_path(store, collection, version);
    let label = path.display().to_string();
    let missing = |message: String| {
        let mut f = Finding::new(Code::SealMissing, &label, message);
        if options.require_seal {
            f.severity = crate::Severity::Error;
        }
        f
    };
    let bytes = match read_checkpoint_file(store, &path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            findings.push(missing(format!(
                "{collection}@v{version} has no checkpoint (run `cablekeep seal`)"
            )));
            return Ok(!signature_files(store, collection, version)?.is_empty());
        }
        Err(e) => {
            findings.push(Finding::new(Code::SealMalformed, &label, e.to_string()));
            return Ok(false);
        }
    };
    match Checkpoint::parse(&bytes) {
        Ok(cp) => compare_with_archive(store, collection, version, &cp, &label, findings)?,
        Err(e) => findings.push(Finding::new(
            Code::SealMalformed,
            &label,
            format!("checkpoint unreadable: {e}"),
        )),
    }
    let signatures = signature_files(store, collection, version)?;
    let mut trusted = false;
    for (key_id, sig_path) in signatures.iter().take(MAX_SIGNATURE_FILES) {
        trusted |= check_signature_file(store, key_id, sig_path, &bytes, allowed, findings);
    }
    if signatures.is_empty() {
        findings.push(missing(format!(
            "{collection}@v{version}'s checkpoint has no signature"
        )));
    } else if allowed.is_some() && !trusted && !findings_cover(findings, &signatures) {
        findings.push(missing(format!(
            "{collection}@v{version} has no signature by an allowed signer"
        )));
    }
    Ok(!signatures.is_empty())
}

/// True when every signature file already has a finding (bad or not allowed).
fn findings_cover(findings: &[Finding], signatures: &[(String, PathBuf)]) -> bool {
    signatures.iter().all(|(_, p)| {
        let label = p.display().to_string();
        findings.iter().any(|f| f.file == label)
    })
}

/// Checks one signature file; returns whether an allowed signer made it.
fn check_signature_file(
    store: &Store,
    key_id: &str,
    path: &Path,
    checkpoint: &[u8],
    allowed: Option<&AllowedSigners>,
    findings: &mut Vec<Finding>,
) -> bool {
    let label = path.display().to_string();
    let bytes = match store.read_regular(path, sshsig::MAX_SIGNATURE_BYTES) {
        Ok(b) => b,
        Err(e) => {
            findings.push(Finding::new(Code::SealMalformed, &label, e.to_string()));
            return false;
        }
    };
    let verdict = sshsig::check(&bytes, checkpoint, allowed);
    let named_other = |actual: &str| {
        Finding::new(
            Code::SealMalformed,
            &label,
            format!("the file is named for key {key_id}, the signature is by key {actual}"),
        )
    };
    match verdict {
        Verdict::Trusted { key_id: actual, .. } | Verdict::Unchecked { key_id: actual }
            if actual != key_id =>
        {
            findings.push(named_other(&actual));
            false
        }
        Verdict::Trusted { .. } => true,
        Verdict::Unchecked { .. } => false,
        Verdict::NotAllowed { key_id: actual } => {
            findings.push(Finding::new(
                Code::SignerNotAllowed,
                &label,
                format!(
                    "signed by key {actual}, which the allowed signers do not list for {}",
                    sshsig::NAMESPACE
                ),
            ));
            false
        }
        Verdict::Bad { problem } => {
            findings.push(Finding::new(Code::SignatureBad, &label, problem));
            false
        }
    }
}

/// A parsed checkpoint against the one its archive and the previous checkpoint call for.
fn compare_with_archive(
    store: &Store,
    collection: &str,
    version: u32,
    cp: &Checkpoint,
    label: &str,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let facts = match read_version(store, collection, version) {
        Ok(f) => f,
        // The archive's own checks report why it cannot be read.
        Err(_) => return Ok(()),
    };
    let previous = match version {
        1 => None,
        v => checkpoint_digest(store, collection, v - 1, cp.store.as_deref()).ok(),
    };
    let expected = match checkpoint_of(&facts, cp.store.as_deref(), previous.clone()) {
        Ok(e) => e,
        Err(e) => {
            findings.push(Finding::new(Code::CheckpointMismatch, label, e.to_string()));
            return Ok(());
        }
    };
    let mut differs = Vec::new();
    if (&cp.collection, cp.version) != (&expected.collection, expected.version) {
        differs.push(format!("it names {}@v{}", cp.collection, cp.version));
    }
    if (cp.size, cp.root) != (expected.size, expected.root) {
        differs.push(format!(
            "tree {} leaves, root {}; the archive's manifest gives {} leaves, root {}",
            cp.size,
            hex::encode(cp.root),
            expected.size,
            hex::encode(expected.root)
        ));
    }
    if cp.zip_sha256 != expected.zip_sha256 || cp.zip_sha512 != expected.zip_sha512 {
        differs.push("the zip digests are not the sidecar's".into());
    }
    if cp.tagmanifest_sha512 != expected.tagmanifest_sha512 {
        differs.push(format!("the {TAG_MANIFEST} digest is not the sidecar's"));
    }
    if !differs.is_empty() {
        findings.push(Finding::new(
            Code::CheckpointMismatch,
            label,
            differs.join("; "),
        ));
    }
    if cp.previous != previous && previous.is_some() {
        findings.push(Finding::new(
            Code::CheckpointChainBroken,
            label,
            format!(
                "it names previous checkpoint SHA-256 {}, v{}'s checkpoint has {}",
                cp.previous.as_deref().unwrap_or("none"),
                version - 1,
                previous.as_deref().unwrap_or("none")
            ),
        ));
    }
    Ok(())
}
