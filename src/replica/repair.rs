//! `repair`: give one replica the files an audit found missing or damaged on it, from replicas
//! whose copies the majority agrees on, and audit again.
//!
//! Only the replica being repaired is written; a damaged file is moved aside to
//! `.cablekeep/replica/quarantine/<run>/` (kept as evidence) before the good copy takes its
//! name; every copy is checked against the good digest when it is read from its source and
//! again when it is read back on arrival. With a file that no copy has a majority for, nothing
//! is written at all.

use super::audit::{self, Damage, Options};
use super::files::FileKind;
use super::replicate::{RECEIPT_FORMAT, Receipt, ReceiptFile, quarantine_dir, receipt_rel};
use super::{Replica, STATE_DIR};
use crate::error::{Error, Result};
use crate::finding::Code;
use crate::progress::{NoProgress, Progress};
use serde::Serialize;
use std::collections::BTreeSet;

/// What a repair did, and the audit after it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The replica repaired.
    pub replica: String,
    /// Files given to it: store path and the replica copied from.
    pub repaired: Vec<Repaired>,
    /// Where damaged copies were moved (when any were).
    pub quarantine: Option<String>,
    /// The audit of all the replicas after the repair.
    pub after: audit::Report,
}

/// One file given to the replica.
#[derive(Debug, Serialize)]
pub struct Repaired {
    /// Store-relative path.
    pub file: String,
    /// `missing`, `damaged`, or `behind` (a link log the good one extends).
    pub was: &'static str,
    /// The replica its good copy came from.
    pub from: String,
}

/// Repairs `replicas[0]` from the others.
pub fn repair(replicas: &[Replica], options: &Options, progress: &dyn Progress) -> Result<Report> {
    let target = &replicas[0];
    let before = audit::audit(replicas, options, &NoProgress);
    refuse_without_majority(&before)?;
    if let Some(f) = before
        .findings
        .iter()
        .find(|f| f.code == Code::ReplicaUnreadable && target.names(&f.file))
    {
        return Err(Error::Invalid(format!(
            "{}: cannot be read ({}); nothing was written",
            target.label(),
            f.message
        )));
    }
    let mut todo: Vec<&Damage> = before.damage.iter().filter(|d| d.replica == 0).collect();
    // As on disk: the sidecar of a version last, so a version is never there before its files.
    todo.sort_by_key(|d| {
        (
            d.file.kind == FileKind::Sidecar,
            d.file.kind == FileKind::LinkLog,
            d.rel.clone(),
        )
    });
    let _lock = if todo.is_empty() {
        None
    } else {
        target.prepare_for_writing()?
    };
    let run = crate::time::now().format("%Y%m%dT%H%M%SZ").to_string()
        + &format!("-{}", std::process::id());
    let quarantine = quarantine_dir(&run);
    let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    progress.start("repairing", todo.iter().map(|d| d.good.bytes).sum());
    let mut repaired = Vec::new();
    let mut moved_any = false;
    for damage in &todo {
        let from = copy_from_a_good_source(
            replicas,
            damage,
            &run,
            &quarantine,
            scratch.path(),
            progress,
        )?;
        moved_any |= damage.present && damage.file.kind != FileKind::LinkLog;
        repaired.push(Repaired {
            file: damage.rel.clone(),
            was: match (damage.present, damage.behind) {
                (_, true) => "behind",
                (true, false) => "damaged",
                (false, false) => "missing",
            },
            from,
        });
    }
    if target.is_remote() {
        renew_receipts(target, &todo)?;
    }
    progress.finish();
    let after = audit::audit(replicas, options, &NoProgress);
    Ok(Report {
        replica: target.label(),
        repaired,
        quarantine: moved_any.then(|| target.label_of(&quarantine)),
        after,
    })
}

/// Nothing is written while any file has no majority: which copy is good is unknown.
fn refuse_without_majority(report: &audit::Report) -> Result<()> {
    let disputed: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == Code::ReplicaNoMajority)
        .map(|f| f.file.as_str())
        .collect();
    if disputed.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "no majority of the replicas agrees on {} file(s) ({}); nothing was written: add a \
         replica that holds good copies (`--from`) or decide by hand with `cablekeep verify`",
        disputed.len(),
        disputed.join(", ")
    )))
}

/// Copies the good file from the first source that gives exactly its bytes: the label of the
/// source used.
fn copy_from_a_good_source(
    replicas: &[Replica],
    damage: &Damage,
    run: &str,
    quarantine: &str,
    scratch: &std::path::Path,
    progress: &dyn Progress,
) -> Result<String> {
    let target = &replicas[0];
    let mut tried = Vec::new();
    for &i in damage.sources.iter().filter(|&&i| i != 0) {
        let source = &replicas[i];
        let fetched = match source.fetch(&damage.rel, &damage.good, scratch) {
            Ok(f) => f,
            Err(e) => {
                tried.push(e.to_string());
                continue;
            }
        };
        let replacing = if !damage.present {
            None
        } else if damage.file.kind == FileKind::LinkLog {
            // A log behind is replaced by the log it begins; a damaged one is kept aside too.
            Some(format!("{STATE_DIR}/superseded/{run}"))
        } else {
            Some(quarantine.to_string())
        };
        target.write_once(
            &damage.rel,
            fetched.path(),
            &damage.good,
            run,
            replacing.as_deref(),
            progress,
        )?;
        return Ok(source.label());
    }
    Err(Error::Invalid(format!(
        "{}: no source replica gave the good copy ({}); the repair stopped here",
        target.label_of(&damage.rel),
        if tried.is_empty() {
            "no --from replica holds it".to_string()
        } else {
            tried.join("; ")
        }
    )))
}

/// Writes again the receipts of the versions whose files were repaired on object storage, so
/// the next audit knows the new objects' entity tags.
fn renew_receipts(target: &Replica, repaired: &[&Damage]) -> Result<()> {
    let versions: BTreeSet<(String, u32)> = repaired
        .iter()
        .filter_map(|d| Some((d.file.collection.clone(), d.file.version?)))
        .collect();
    for (collection, version) in versions {
        let rel = receipt_rel(&collection, version);
        let mut receipt = target
            .read_small(&rel, super::replicate::MAX_SMALL_FILE)?
            .and_then(|b| serde_json::from_slice::<Receipt>(&b).ok())
            .unwrap_or(Receipt {
                format: RECEIPT_FORMAT.to_string(),
                files: Vec::new(),
            });
        for d in repaired.iter().filter(|d| {
            d.file.collection == collection
                && d.file.version == Some(version)
                && d.file.kind != FileKind::Sidecar
        }) {
            let etag = target.head(&d.rel)?.and_then(|l| l.etag);
            receipt.files.retain(|f| f.rel != d.rel);
            receipt.files.push(ReceiptFile {
                rel: d.rel.clone(),
                digest: d.good.clone(),
                etag,
            });
        }
        receipt.files.sort_by(|a, b| a.rel.cmp(&b.rel));
        let bytes =
            serde_json::to_vec_pretty(&receipt).map_err(|e| Error::Invalid(e.to_string()))?;
        target.put_state(&rel, bytes)?;
    }
    Ok(())
}
