//! Timestamps of a store's checkpoints (docs/FORMAT.md section 9.5): asking a time-stamping
//! authority for one and keeping it beside the checkpoint, and checking those found.
//!
//! The `.tsr` file is written once, under the store lock, with a no-clobber rename, and never
//! replaced: a version is timestamped at most once, and a timestamp that fails to come leaves the
//! version and its checkpoint as they are (they can be timestamped later).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::timestamp::{self, TimestampFacts, TimestampProblem};
use super::{MAX_TIMESTAMP_BYTES, checkpoint_path, read_checkpoint_file, timestamp_path};
use crate::error::{Error, Result};
use crate::finding::{Code, Finding};
use crate::fsutil::{self, StoreLock};
use crate::store::Store;

/// Where `verify` and `check-proof` look for the trusted TSA certificates when none are given.
pub const DEFAULT_TSA_CA: &str = ".cablekeep/tsa-ca.pem";
/// A trusted-certificates file is read up to this size (a CA certificate is 1-2 KB).
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// What timestamping one version did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stamped {
    /// The `.tsr` file.
    pub path: PathBuf,
    /// The token was fetched and written now (false: one was there and stamps the checkpoint).
    pub written: bool,
    /// When the TSA says the checkpoint existed (RFC 3339 UTC); its signer is not checked here.
    pub gen_time: String,
    /// The TSA's name, when its token names it.
    pub tsa: Option<String>,
}

/// Timestamps a version's checkpoint: asks the TSA at `url` for a token over the checkpoint
/// file's bytes and stores it as `<c>-v<N>.checkpoint.tsr`. A token already there is kept when it
/// stamps the checkpoint, and is an error otherwise (never replaced). The checkpoint must exist.
pub fn timestamp_version(
    store: &Store,
    _lock: &StoreLock,
    collection: &str,
    version: u32,
    url: &str,
    timeout: Duration,
) -> Result<Stamped> {
    store.require_local("timestamp a version in it")?;
    let cp_path = checkpoint_path(store, collection, version);
    let checkpoint = read_checkpoint_file(store, &cp_path)?.ok_or_else(|| {
        Error::NotFound(format!(
            "{collection}@v{version} has no checkpoint to timestamp (no {})",
            cp_path.display()
        ))
    })?;
    let path = timestamp_path(store, collection, version);
    if std::fs::symlink_metadata(&path).is_ok() {
        let tsr = fsutil::read_regular_file(&path, MAX_TIMESTAMP_BYTES)?;
        let facts = timestamp::inspect(&tsr, &checkpoint).map_err(|p| Error::Corrupt {
            path: path.clone(),
            message: format!(
                "{p}; this timestamp is kept as it is (move it away to timestamp the checkpoint again)"
            ),
        })?;
        return Ok(stamped(path, false, facts));
    }
    let tsr = timestamp::fetch(url, &checkpoint, timeout)?;
    let facts = timestamp::inspect(&tsr, &checkpoint).map_err(|p| Error::Timestamp {
        url: url.to_string(),
        message: p.to_string(),
    })?;
    fsutil::atomic_create(&path, &tsr)?;
    Ok(stamped(path, true, facts))
}

fn stamped(path: PathBuf, written: bool, facts: TimestampFacts) -> Stamped {
    Stamped {
        path,
        written,
        gen_time: facts.gen_time,
        tsa: facts.tsa_name,
    }
}

/// The TSA certificates a checker trusts, or why it has none.
#[derive(Debug, Clone)]
pub enum TsaTrust {
    /// PEM certificates (at least one).
    Certificates(Vec<u8>),
    /// No trusted certificate: why (said by finding `S025`).
    Missing(String),
}

impl Default for TsaTrust {
    fn default() -> Self {
        TsaTrust::Missing("no trusted TSA certificate was given".into())
    }
}

impl TsaTrust {
    /// Checks a token over `data`: fully with trusted certificates; without them, everything but
    /// whether its signer is trusted.
    pub fn check(&self, tsr: &[u8], data: &[u8]) -> Result<TimestampFacts, TimestampProblem> {
        match self {
            TsaTrust::Certificates(pem) => timestamp::verify(tsr, data, pem),
            TsaTrust::Missing(_) => timestamp::inspect(tsr, data),
        }
    }

    /// Whether tokens are checked against trusted certificates.
    pub fn is_given(&self) -> bool {
        matches!(self, TsaTrust::Certificates(_))
    }

    /// The warning (`S025`) that timestamps found at `place` were not checked against a TSA
    /// anyone trusts; None when certificates are given.
    pub fn unchecked_finding(&self, place: &str) -> Option<Finding> {
        let TsaTrust::Missing(why) = self else {
            return None;
        };
        Some(Finding::new(
            Code::TimestampUnchecked,
            place,
            format!(
                "whether a trusted TSA made the timestamps is not checked (their form, signature and imprint are): {why}; give --tsa-ca FILE, or put the TSA's CA certificate at {DEFAULT_TSA_CA}"
            ),
        ))
    }
}

/// Reads the trusted TSA certificates: the file given, else the store's default one when
/// present. A file that cannot be read is an error; one that holds no certificate is
/// [`TsaTrust::Missing`] (`S025`).
pub fn tsa_trust(store: Option<&Store>, given: Option<&Path>) -> Result<TsaTrust> {
    let path = match (given, store) {
        (Some(p), _) => p.to_path_buf(),
        // A remote store's `.cablekeep/` is local state that is not copied to it.
        (None, Some(s))
            if !s.is_remote()
                && std::fs::symlink_metadata(s.root().join(DEFAULT_TSA_CA)).is_ok() =>
        {
            s.root().join(DEFAULT_TSA_CA)
        }
        _ => {
            return Ok(TsaTrust::default());
        }
    };
    let pem = fsutil::read_regular_file(&path, MAX_CA_BYTES)?;
    Ok(match timestamp::check_trusted_pem(&pem) {
        Ok(()) => TsaTrust::Certificates(pem),
        Err(problem) => TsaTrust::Missing(format!("{}: {problem}", path.display())),
    })
}

/// `verify`'s check of a version's timestamp, when it has one: the token against the checkpoint
/// file's bytes as they are now. Returns whether there is a token.
pub fn check_version_timestamp(
    store: &Store,
    collection: &str,
    version: u32,
    trust: &TsaTrust,
    findings: &mut Vec<Finding>,
) -> bool {
    let path = timestamp_path(store, collection, version);
    if !store.has_entry(&path) {
        return false;
    }
    let label = path.display().to_string();
    let tsr = match store.read_regular(&path, MAX_TIMESTAMP_BYTES) {
        Ok(t) => t,
        Err(e) => {
            findings.push(Finding::new(
                Code::TimestampMalformed,
                &label,
                e.to_string(),
            ));
            return true;
        }
    };
    let checkpoint = match read_checkpoint_file(store, &checkpoint_path(store, collection, version))
    {
        Ok(Some(bytes)) => bytes,
        // The checkpoint's own finding says why it cannot be read.
        _ => {
            findings.push(Finding::new(
                Code::TimestampOtherBytes,
                &label,
                format!("{collection}@v{version} has no readable checkpoint for it to stamp"),
            ));
            return true;
        }
    };
    if let Err(problem) = trust.check(&tsr, &checkpoint) {
        findings.push(timestamp::finding_for(&problem, &label));
    }
    true
}
