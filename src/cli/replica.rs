//! `replicate`, `audit` and `repair`: copies of the store elsewhere (folders, `s3://` buckets),
//! compared and mended.

use super::args::{OutputFormat, json_flag};
use super::{Ctx, EXIT_FINDINGS, EXIT_OK, exit_for, render};
use anyhow::{Result, bail};
use cablekeep::finding::terminal_safe;
use cablekeep::replica::{Replica, ReplicaUrl, audit, repair, replicate};
use cablekeep::store::CollectionName;
use clap::{ArgAction, Args};
use std::io::Write;

#[derive(Debug, Args)]
pub(super) struct ReplicateArgs {
    /// The replica: `s3://bucket/prefix` (credentials from AWS_* variables or ~/.aws) or a
    /// folder.
    #[arg(long, value_name = "REPLICA")]
    to: String,
    /// Only this collection (default: every collection of the store).
    #[arg(long, short = 'c')]
    collection: Option<CollectionName>,
    /// Print the summary as JSON.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(super) struct AuditArgs {
    /// Two or more replicas: store folders and/or `s3://bucket/prefix` URLs.
    #[arg(required = true, num_args = 2.., value_name = "REPLICA")]
    replicas: Vec<String>,
    /// Only this collection (default: every collection any replica holds).
    #[arg(long, short = 'c')]
    collection: Option<CollectionName>,
    /// Read and hash every zip on every replica, not only where listings and receipts
    /// disagree.
    #[arg(long)]
    deep: bool,
    /// Print the report as JSON.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(super) struct RepairArgs {
    /// The replica to repair (the only one written).
    #[arg(value_name = "REPLICA")]
    replica: String,
    /// A replica to compare with and copy good files from (repeat it: with two or more, a
    /// majority can outvote a damaged copy).
    #[arg(long = "from", required = true, value_name = "REPLICA")]
    from: Vec<String>,
    /// Only this collection.
    #[arg(long, short = 'c')]
    collection: Option<CollectionName>,
    /// Compare by hashing every zip on every replica (as `audit --deep`), so that a damaged zip
    /// of the right size in a folder is found and repaired too.
    #[arg(long)]
    deep: bool,
    /// Print the report as JSON.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

fn open(text: &str) -> Result<Replica> {
    Ok(Replica::open(&ReplicaUrl::parse(text)?)?)
}

pub(super) fn replicate(ctx: &Ctx, a: ReplicateArgs) -> Result<u8> {
    let target = open(&a.to)?;
    let started = std::time::Instant::now();
    let report = replicate::replicate(&ctx.store, &target, a.collection.as_deref(), &ctx.bar)?;
    let seconds = started.elapsed().as_secs_f64();
    if a.output == OutputFormat::Json {
        let mut value = serde_json::to_value(&report)?;
        value["seconds"] = serde_json::json!((seconds * 1000.0).round() / 1000.0);
        render::json_line(&value)?;
        return Ok(EXIT_OK);
    }
    let mut o = render::out();
    for c in &report.collections {
        writeln!(
            o,
            "{}: copied {}, already there {}, link log {}",
            terminal_safe(&c.name),
            versions_text(&c.versions_copied),
            versions_text(&c.versions_present),
            c.link_log
        )?;
    }
    writeln!(
        o,
        "{} files, {} bytes copied to {} in {seconds:.1} s{}",
        report.files_copied,
        report.bytes_copied,
        terminal_safe(&report.to),
        if report.temporaries_removed > 0 {
            format!(
                " ({} temporaries of an interrupted run removed)",
                report.temporaries_removed
            )
        } else {
            String::new()
        }
    )?;
    Ok(EXIT_OK)
}

fn versions_text(versions: &[u32]) -> String {
    if versions.is_empty() {
        return "none".to_string();
    }
    versions
        .iter()
        .map(|v| format!("v{v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn audit(ctx: &Ctx, a: AuditArgs) -> Result<u8> {
    let replicas = open_distinct(&a.replicas)?;
    let options = audit::Options {
        collection: a.collection.map(|c| c.to_string()),
        deep: a.deep,
    };
    let report = audit::audit(&replicas, &options, &ctx.bar);
    print_audit(&report, a.output)?;
    Ok(exit_for(&report.findings))
}

fn print_audit(report: &audit::Report, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        return render::json_line(report);
    }
    render::findings(&report.findings)?;
    let mut o = render::out();
    for r in &report.replicas {
        let state = if r.whole { "whole" } else { "NOT whole" };
        writeln!(
            o,
            "{state}: {} ({} missing, {} damaged, {} extra)",
            terminal_safe(&r.replica),
            r.missing,
            r.damaged,
            r.extra
        )?;
    }
    writeln!(
        o,
        "{} files compared; {} bytes of zips read, {} bytes of small files",
        report.files_compared, report.payload_bytes_read, report.small_bytes_read
    )?;
    Ok(())
}

pub(super) fn repair(ctx: &Ctx, a: RepairArgs) -> Result<u8> {
    let mut all = vec![a.replica.clone()];
    all.extend(a.from.iter().cloned());
    let replicas = open_distinct(&all)?;
    let options = audit::Options {
        collection: a.collection.map(|c| c.to_string()),
        deep: a.deep,
    };
    let report = repair::repair(&replicas, &options, &ctx.bar)?;
    if a.output == OutputFormat::Json {
        render::json_line(&report)?;
    } else {
        let mut o = render::out();
        for r in &report.repaired {
            writeln!(
                o,
                "repaired {} ({}) from {}",
                terminal_safe(&r.file),
                r.was,
                terminal_safe(&r.from)
            )?;
        }
        if let Some(q) = &report.quarantine {
            writeln!(o, "damaged copies moved to {}", terminal_safe(q))?;
        }
        drop(o);
        writeln!(render::out(), "after the repair:")?;
        print_audit(&report.after, OutputFormat::Text)?;
    }
    Ok(if report.after.replicas.first().is_some_and(|r| r.whole) {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// Opens each replica once: the same one twice would count twice in a majority.
fn open_distinct(texts: &[String]) -> Result<Vec<Replica>> {
    let urls: Vec<ReplicaUrl> = texts
        .iter()
        .map(|t| ReplicaUrl::parse(t))
        .collect::<Result<_, _>>()?;
    for (i, u) in urls.iter().enumerate() {
        if urls[..i].iter().any(|o| same_place(o, u)) {
            bail!(
                "{} is given twice; each replica counts once in a majority",
                texts[i]
            );
        }
    }
    urls.iter().map(|u| Ok(Replica::open(u)?)).collect()
}

fn same_place(a: &ReplicaUrl, b: &ReplicaUrl) -> bool {
    match (a, b) {
        (ReplicaUrl::Local(x), ReplicaUrl::Local(y)) => {
            x == y
                || std::fs::canonicalize(x)
                    .ok()
                    .is_some_and(|x| std::fs::canonicalize(y).ok() == Some(x))
        }
        _ => a == b,
    }
}
