//! The `seal`, `prove` and `check-proof` commands, `--sign` of `bundle` and `commit`, and the
//! seal checks of `verify`.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::render::{json_line, out};
use super::{Ctx, EXIT_FINDINGS, EXIT_OK};
use anyhow::{Context, Result, bail};
use cablekeep::finding::{Finding, terminal_safe};
use cablekeep::fsutil::StoreLock;
use cablekeep::seal::{self, proof, sshsig::SigningKey, stamp, timestamp};
use cablekeep::store::verify::Selection;
use cablekeep::store::{CollectionName, VersionId, VersionNum};
use clap::{ArgAction, Args};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args)]
pub(super) struct SealArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// Seal this version (default: the latest).
    #[arg(long, conflicts_with = "all")]
    version: Option<VersionNum>,
    /// Seal every version (those this key has signed already are left as they are).
    #[arg(long)]
    all: bool,
    /// The OpenSSH private key to sign with (Ed25519, without a passphrase); without it (with
    /// --tsa) the checkpoint is written, if missing, and timestamped but not signed.
    #[arg(long, value_name = "FILE", required_unless_present = "tsa")]
    key: Option<PathBuf>,
    #[command(flatten)]
    origin: OriginArgs,
    #[command(flatten)]
    tsa: TsaArgs,
    /// Print one JSON object per version sealed.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

#[derive(Debug, Args, Clone, Default)]
pub(super) struct OriginArgs {
    /// A store identity for the origin line of new checkpoints (a schema-less URL such as
    /// archive.example.org): `<ID>/cablekeep/<collection>`.
    #[arg(long, value_name = "ID")]
    store_id: Option<String>,
}

/// `--tsa` and its timeout, for `seal`, `bundle` and `commit`.
#[derive(Debug, Args, Clone, Default)]
pub(super) struct TsaArgs {
    /// Timestamp the checkpoint: ask the RFC 3161 time-stamping authority at URL for a token
    /// over it, stored as <c>-v<N>.checkpoint.tsr (a version already timestamped keeps its own).
    #[arg(long, value_name = "URL")]
    tsa: Option<String>,
    /// Seconds the time-stamping authority gets to answer.
    #[arg(long, value_name = "SECONDS", requires = "tsa",
          default_value_t = timestamp::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    tsa_timeout: u64,
}

impl TsaArgs {
    /// Refuses a URL no request could go to, before anything is written.
    fn check_url(&self) -> Result<()> {
        if let Some(url) = &self.tsa {
            timestamp::check_url(url)?;
        }
        Ok(())
    }

    /// Timestamps a sealed version's checkpoint when --tsa is given. On failure, says that the
    /// version and its checkpoint stay and how to timestamp them later.
    fn stamp(&self, ctx: &Ctx, lock: &StoreLock, sealed: &mut seal::Sealed) -> Result<()> {
        let Some(url) = &self.tsa else {
            return Ok(());
        };
        let (c, v) = (&sealed.collection, sealed.version);
        let timeout = Duration::from_secs(self.tsa_timeout);
        let stamped = stamp::timestamp_version(&ctx.store, lock, c, v, url, timeout)
            .with_context(|| {
                format!(
                    "{c}@v{v} and its checkpoint are kept, not timestamped (timestamp them later with `cablekeep seal -c {c} --version {v} --tsa {url}`)"
                )
            })?;
        sealed.timestamp = Some(stamped);
        Ok(())
    }
}

#[derive(Debug, Args)]
pub(super) struct ProveArgs {
    /// The cable's id (as published or canonical).
    id: String,
    /// The collection (default: the one that holds the cable).
    #[arg(long, short = 'c')]
    collection: Option<CollectionName>,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<VersionNum>,
    /// Write the proof to FILE (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct CheckProofArgs {
    /// The proof (JSON, written by `cablekeep prove`).
    proof: PathBuf,
    /// Files whose bytes must be among the proven ones (the cable's raw capture or record).
    files: Vec<PathBuf>,
    /// The trusted keys, an OpenSSH allowed_signers file (default: .cablekeep/allowed_signers
    /// of the store, when present).
    #[arg(long, value_name = "FILE")]
    allowed_signers: Option<PathBuf>,
    /// The trusted time-stamping authority certificates (PEM) the proof's timestamp is checked
    /// against (default: .cablekeep/tsa-ca.pem of the store, when present).
    #[arg(long, value_name = "FILE")]
    tsa_ca: Option<PathBuf>,
    /// The proof must be of this collection.
    #[arg(long = "collection", short = 'c', value_name = "C")]
    collection: Option<CollectionName>,
    /// The proof must be of this version.
    #[arg(long)]
    version: Option<VersionNum>,
    /// The proof must be of this cable.
    #[arg(long = "cable", value_name = "ID")]
    cable: Option<String>,
    /// Print the result as JSON.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

/// `verify`'s seal options.
#[derive(Debug, Args, Clone, Default)]
pub(super) struct SealCheckArgs {
    /// The trusted keys, an OpenSSH allowed_signers file (default: .cablekeep/allowed_signers
    /// when present).
    #[arg(long, value_name = "FILE")]
    pub(super) allowed_signers: Option<PathBuf>,
    /// A version without a seal by an allowed signer is an error (S001), not a warning.
    #[arg(long)]
    pub(super) require_seal: bool,
    /// The trusted time-stamping authority certificates (PEM) that timestamps are checked
    /// against (default: .cablekeep/tsa-ca.pem when present).
    #[arg(long, value_name = "FILE")]
    pub(super) tsa_ca: Option<PathBuf>,
}

/// `bundle`'s and `commit`'s `--sign`.
#[derive(Debug, Args, Clone, Default)]
pub(super) struct SignArgs {
    /// Seal the version written with this OpenSSH private key (as `cablekeep seal`).
    #[arg(long, value_name = "FILE")]
    sign: Option<PathBuf>,
    #[command(flatten)]
    origin: OriginArgs,
    #[command(flatten)]
    tsa: TsaArgs,
}

impl SignArgs {
    /// Reads the key before anything is written, so that a key that cannot sign stops the
    /// command before the version exists.
    pub(super) fn key(&self) -> Result<Option<SigningKey>> {
        if let Some(id) = &self.origin.store_id {
            seal::checkpoint::check_store_identity(id)?;
        }
        self.tsa.check_url()?;
        Ok(self.sign.as_deref().map(SigningKey::read).transpose()?)
    }
}

pub(super) fn seal(ctx: &Ctx, a: SealArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    if let Some(id) = &a.origin.store_id {
        seal::checkpoint::check_store_identity(id)?;
    }
    a.tsa.check_url()?;
    let key = a.key.as_deref().map(SigningKey::read).transpose()?;
    let lock = ctx.lock()?;
    let versions = if a.all {
        ctx.store.versions(&collection)?
    } else {
        let version = a.version.map(VersionNum::get);
        vec![ctx.store.resolve_version(&collection, version)?]
    };
    if versions.is_empty() {
        bail!("collection {collection} has no versions");
    }
    for v in versions {
        let mut sealed = seal::seal_version(
            &ctx.store,
            &lock,
            &collection,
            v,
            key.as_ref(),
            a.origin.store_id.as_deref(),
        )?;
        a.tsa.stamp(ctx, &lock, &mut sealed)?;
        if a.output == OutputFormat::Json {
            json_line(&sealed)?;
        } else {
            writeln!(out(), "sealed {}", seal::describe(&sealed))?;
        }
    }
    Ok(EXIT_OK)
}

/// `--sign` and `--tsa` of `bundle` and `commit`: seals the version just written, if one was.
pub(super) fn seal_written(
    ctx: &Ctx,
    lock: &StoreLock,
    collection: &str,
    outcome: &cablekeep::store::WriteOutcome,
    key: Option<&SigningKey>,
    sign: &SignArgs,
) -> Result<()> {
    let Some(manifest) = &outcome.manifest else {
        return Ok(());
    };
    if key.is_none() && sign.tsa.tsa.is_none() {
        return Ok(());
    }
    let mut sealed = seal::seal_version(
        &ctx.store,
        lock,
        collection,
        manifest.version,
        key,
        sign.origin.store_id.as_deref(),
    )?;
    sign.tsa.stamp(ctx, lock, &mut sealed)?;
    // Standard output carries the write's own result (one JSON object with --json).
    eprintln!("cablekeep: sealed {}", seal::describe(&sealed));
    Ok(())
}

pub(super) fn prove(ctx: &Ctx, a: ProveArgs) -> Result<u8> {
    let version = a.version.map(VersionNum::get);
    let proof = seal::prove(&ctx.store, a.collection.as_deref(), version, &a.id)?;
    let bytes = proof.to_bytes();
    match &a.out {
        Some(path) => {
            if ctx.store.root_owning(path).is_some() {
                bail!(
                    "{}: a proof is not written into a store's own folders",
                    path.display()
                );
            }
            std::fs::write(path, &bytes).with_context(|| path.display().to_string())?;
            eprintln!(
                "cablekeep: wrote the proof of {} in {} ({} files, {} bytes) to {}",
                proof.cable,
                VersionId::new(&proof.collection, proof.version),
                proof.files.len(),
                bytes.len(),
                terminal_safe(&path.display().to_string())
            );
        }
        None => out().write_all(&bytes)?,
    }
    Ok(EXIT_OK)
}

pub(super) fn check_proof(ctx: &Ctx, a: CheckProofArgs) -> Result<u8> {
    let Some(allowed) = seal::allowed_signers(Some(&ctx.store), a.allowed_signers.as_deref())?
    else {
        bail!(
            "no allowed signers: give --allowed-signers FILE (an OpenSSH allowed_signers file naming the keys you trust)"
        );
    };
    let bytes = read_bounded(&a.proof, proof::MAX_PROOF_BYTES)?;
    let given = a
        .files
        .iter()
        .map(|f| proof::GivenFile::read(f))
        .collect::<Result<Vec<_>, _>>()?;
    let expect = proof::Expect {
        collection: a.collection.as_ref().map(|c| c.to_string()),
        version: a.version.map(VersionNum::get),
        cable: a.cable.clone(),
    };
    let label = a.proof.display().to_string();
    let tsa = stamp::tsa_trust(Some(&ctx.store), a.tsa_ca.as_deref())?;
    let report = proof::check(&label, &bytes, &allowed, &tsa, &expect, &given);
    if a.output == OutputFormat::Json {
        json_line(&report)?;
    } else {
        print_proof_report(&report, &label, a.files.len())?;
    }
    Ok(if report.holds { EXIT_OK } else { EXIT_FINDINGS })
}

/// `verify`'s seal checks for the collections and versions it checked. A collection that
/// has never been sealed is reported only when allowed signers are set or seals required.
impl SealCheckArgs {
    /// The trusted TSA certificates, read before anything is checked so that a CA file that
    /// cannot be read stops `verify` at once.
    pub(super) fn tsa_trust(&self, ctx: &Ctx) -> Result<stamp::TsaTrust> {
        Ok(stamp::tsa_trust(Some(&ctx.store), self.tsa_ca.as_deref())?)
    }
}

pub(super) fn verify_seals(
    ctx: &Ctx,
    a: &SealCheckArgs,
    tsa_trust: stamp::TsaTrust,
    collections: &[String],
    selection: Selection,
    output: OutputFormat,
) -> Result<u8> {
    let allowed = seal::allowed_signers(Some(&ctx.store), a.allowed_signers.as_deref())?;
    let options = seal::CheckOptions {
        require_seal: a.require_seal,
        tsa_trust,
    };
    let mut code = EXIT_OK;
    for c in collections {
        let all = ctx.store.versions(c)?;
        let versions: Vec<u32> = match selection {
            Selection::All => all.clone(),
            Selection::Latest => all.last().copied().into_iter().collect(),
            Selection::One(v) => all.iter().copied().filter(|x| *x == v).collect(),
        };
        let sealed_before = all.iter().any(|v| {
            ctx.store.exists(&seal::checkpoint_path(&ctx.store, c, *v))
                || ctx.store.exists(&seal::timestamp_path(&ctx.store, c, *v))
        });
        if !sealed_before && allowed.is_none() && !a.require_seal {
            continue;
        }
        let findings = seal::check_seals(&ctx.store, c, &versions, allowed.as_ref(), &options)?;
        print_seal_findings(c, &versions, &findings, output)?;
        if findings.iter().any(Finding::is_error) {
            code = EXIT_FINDINGS;
        }
    }
    Ok(code)
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    Ok(cablekeep::fsutil::read_regular_file(path, limit)?)
}

fn print_seal_findings(
    collection: &str,
    versions: &[u32],
    findings: &[Finding],
    output: OutputFormat,
) -> Result<()> {
    let mut o = out();
    if output == OutputFormat::Json {
        for f in findings {
            let mut value = serde_json::to_value(f)?;
            value["seals"] = serde_json::json!(collection);
            serde_json::to_writer(&mut o, &value)?;
            writeln!(o)?;
        }
        return Ok(());
    }
    for f in findings {
        writeln!(o, "{f}")?;
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    let verdict = if errors == 0 { "ok" } else { "FAILED" };
    writeln!(
        o,
        "{verdict}: seals of {collection} ({} versions checked; {errors} errors, {} warnings)",
        versions.len(),
        findings.len() - errors
    )?;
    Ok(())
}

fn print_proof_report(report: &proof::ProofReport, label: &str, given: usize) -> Result<()> {
    let mut o = out();
    for f in &report.findings {
        writeln!(o, "{f}")?;
    }
    let what = format!(
        "{} in {}@v{}",
        terminal_safe(report.cable.as_deref().unwrap_or("?")),
        terminal_safe(report.collection.as_deref().unwrap_or("?")),
        report.version.unwrap_or(0)
    );
    if report.holds {
        writeln!(
            o,
            "holds: {what}: {} files proven, signed by {}{}",
            report.files_checked,
            report
                .signed_by
                .iter()
                .map(|p| terminal_safe(p).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            if given > 0 {
                format!("; {given} given files match")
            } else {
                String::new()
            }
        )?;
        if let Some(t) = &report.timestamp {
            writeln!(
                o,
                "timestamp: the checkpoint existed at {}{}{}",
                terminal_safe(&t.gen_time),
                t.tsa
                    .as_deref()
                    .map(|n| format!(" (TSA {})", terminal_safe(n)))
                    .unwrap_or_default(),
                if t.trusted {
                    ""
                } else {
                    "; the TSA is not checked: give --tsa-ca"
                }
            )?;
        }
    } else {
        writeln!(
            o,
            "DOES NOT HOLD: {} ({what}): {} findings",
            terminal_safe(label),
            report.findings.len()
        )?;
    }
    Ok(())
}
