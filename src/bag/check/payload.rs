//! Payload files inflated and hashed, and their digests compared with the manifests'.

use super::rules;
use crate::bag::{Entry, OpenArchive};
use crate::error::Result;
use crate::finding::{CappedFindings, Code, Finding};
use crate::hash::{Hasher, Sha256Bytes, Sha512Bytes};
use crate::progress::Progress;
use rayon::prelude::*;

/// Inflates and hashes every payload entry on all cores and compares both digests with the
/// manifests' tables. Returns the bytes hashed and the findings, in path order.
pub(super) fn hash_payload(
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
pub(super) fn check_payload_file(
    archive: &OpenArchive,
    path: &str,
    entry: &Entry,
    listed: (Option<Sha256Bytes>, Option<Sha512Bytes>),
) -> Result<(u64, Vec<Finding>)> {
    let mut hasher = Hasher::new();
    let mut findings = archive.stream(entry, |chunk| hasher.update(chunk))?;
    let len = hasher.len();
    let (sha256, sha512) = hasher.finish_bytes();
    let unreadable = rules::unreadable(&findings);
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
