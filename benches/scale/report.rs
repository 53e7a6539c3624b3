//! The results: a table on stdout and a JSON file, with the machine they came from, so runs
//! can be compared over time.

use super::corpus::{Spec, Summary};
use super::harness::{
    BUNDLE_ROW, Row, SEARCH_BUILD, SEARCH_MEDIAN, SEARCH_P99, SEARCH_UPDATE, ZIP_BAG,
};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn per_s(n: u64, wall: f64) -> Option<f64> {
    (n > 0 && wall > 0.0).then(|| n as f64 / wall)
}

/// Seconds with two decimals, or four below a tenth (a search takes milliseconds).
fn fmt_secs(v: f64) -> String {
    match v {
        x if x.is_finite() && x < 0.1 => format!("{x:.4}"),
        x => fmt_opt(Some(x), 2),
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "-".into(),
    }
}

/// Ratio of a row's wall time to each of its baselines' (below 1: cablekeep is faster); none
/// where either command failed (a failure's time says nothing).
fn ratios(row: &Row, rows: &[Row]) -> Vec<(String, f64)> {
    let Some(own) = row.cost.as_ref().filter(|c| c.exit_code == 0) else {
        return Vec::new();
    };
    row.versus
        .iter()
        .filter_map(|b| {
            let base = ok_cost(rows, b)?;
            (base.wall_s > 0.0).then(|| (b.clone(), own.wall_s / base.wall_s))
        })
        .collect()
}

/// A note as a table cell: a `|` (a stderr tail's separator, a query's OR) would end it.
fn cell(note: &str) -> String {
    note.replace('|', "\\|")
}

pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| command | wall s | CPU s | peak RSS MB | cables/s | MB/s | µs/cable | steal % | wall ratio to baselines | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for r in rows {
        let Some(c) = r.cost.as_ref() else {
            let _ = writeln!(
                s,
                "| {} | - | - | - | - | - | - | - | | {} |",
                r.name,
                cell(&r.note)
            );
            continue;
        };
        let mbs = per_s(r.bytes, c.wall_s).map(|b| b / 1e6);
        let us = (r.cables > 0).then(|| c.wall_s * 1e6 / r.cables as f64);
        let rs: Vec<String> = ratios(r, rows)
            .iter()
            .map(|(b, x)| format!("{x:.2}× {b}"))
            .collect();
        let rss = (c.peak_rss_mb > 0.0).then_some(c.peak_rss_mb);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            fmt_secs(c.wall_s),
            fmt_secs(c.cpu_s),
            fmt_opt(rss, 0),
            fmt_opt(per_s(r.cables, c.wall_s), 0),
            fmt_opt(mbs, 1),
            fmt_opt(us, 1),
            fmt_opt(c.steal.map(|x| x * 100.0), 0),
            rs.join(", "),
            cell(&r.note)
        );
    }
    s
}

/// A row's cost when its command ran and succeeded.
fn ok_cost<'a>(rows: &'a [Row], name: &str) -> Option<&'a super::measure::Cost> {
    rows.iter()
        .find(|r| r.name == name)?
        .cost
        .as_ref()
        .filter(|c| c.exit_code == 0)
}

fn output_bytes(rows: &[Row], name: &str) -> Option<u64> {
    rows.iter().find(|r| r.name == name)?.output_bytes
}

const BUNDLE: &str = BUNDLE_ROW;

/// cablekeep's archive of the cables and the zipped bagit bag of the same cables, in bytes.
fn sizes(rows: &[Row]) -> (Option<u64>, Option<u64>) {
    (output_bytes(rows, BUNDLE), output_bytes(rows, ZIP_BAG))
}

/// "archive size: full-v1.zip N MB = X.XX× zip -r -6 of the bagit bag (M MB)".
pub fn sizes_line(rows: &[Row]) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    match sizes(rows) {
        (Some(ck), Some(zip)) if zip > 0 => format!(
            "archive size: full-v1.zip {:.1} MB = {:.2}× zip -r -6 of the bagit bag ({:.1} MB)",
            mb(ck),
            ck as f64 / zip as f64,
            mb(zip)
        ),
        (ck, zip) => format!(
            "archive size: full-v1.zip {} MB, zip -r -6 of the bagit bag {} MB (no ratio)",
            fmt_opt(ck.map(mb), 1),
            fmt_opt(zip.map(mb), 1)
        ),
    }
}

/// One of issue #27's or #28's targets, as measured in this run.
pub struct Target {
    pub what: &'static str,
    /// The measured ratio or figure; `None` when a row it needs was not measured.
    pub value: Option<f64>,
    pub shown: String,
    pub met: Option<bool>,
}

fn target(what: &'static str, value: Option<f64>, shown: String, met: fn(f64) -> bool) -> Target {
    Target {
        what,
        value,
        shown: if value.is_some() {
            shown
        } else {
            "not measured".into()
        },
        met: value.map(met),
    }
}

fn wall_ratio(rows: &[Row], own: &str, base: &str) -> Option<f64> {
    let (a, b) = (ok_cost(rows, own)?, ok_cost(rows, base)?);
    (b.wall_s > 0.0).then(|| a.wall_s / b.wall_s)
}

/// The first row whose name starts with `prefix` (the search rows' names carry counts).
fn row_starting<'a>(rows: &'a [Row], prefix: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name.starts_with(prefix))
}

/// The wall time of the first row named `prefix`…, when its command ran and succeeded.
fn ok_wall(rows: &[Row], prefix: &str) -> Option<f64> {
    let c = row_starting(rows, prefix)?.cost.as_ref()?;
    (c.exit_code == 0 && c.wall_s.is_finite()).then_some(c.wall_s)
}

/// Seconds per cable of the index build over those of the bundle of `cables.csv`: the
/// build indexes every collection's latest version, more cables than the bundle wrote.
fn search_build_per_cable(rows: &[Row]) -> Option<f64> {
    let build = rows.iter().find(|r| r.name == SEARCH_BUILD)?;
    let bundle = rows.iter().find(|r| r.name == BUNDLE)?;
    let (b, u) = (ok_cost(rows, SEARCH_BUILD)?, ok_cost(rows, BUNDLE)?);
    (build.cables > 0 && bundle.cables > 0 && u.wall_s > 0.0)
        .then(|| (b.wall_s / build.cables as f64) / (u.wall_s / bundle.cables as f64))
}

/// The search index's size and the corpus text's, in bytes.
pub fn search_sizes(rows: &[Row], summary: &Summary) -> (Option<u64>, u64) {
    let index = rows
        .iter()
        .find(|r| r.name == SEARCH_BUILD)
        .filter(|_| ok_cost(rows, SEARCH_BUILD).is_some())
        .and_then(|r| r.output_bytes);
    (index, summary.text_bytes)
}

/// Issue #28's targets.
fn search_targets(rows: &[Row], summary: &Summary) -> Vec<Target> {
    let build = ok_cost(rows, SEARCH_BUILD).map(|c| c.wall_s);
    let per_cable = search_build_per_cable(rows);
    let wall = wall_ratio(rows, SEARCH_BUILD, BUNDLE);
    let share = match search_sizes(rows, summary) {
        (Some(index), text) if text > 0 => Some(index as f64 / text as f64),
        _ => None,
    };
    let (median, p99) = (ok_wall(rows, SEARCH_MEDIAN), ok_wall(rows, SEARCH_P99));
    let update = ok_wall(rows, SEARCH_UPDATE);
    let largest = rows
        .iter()
        .filter(|r| r.kind == "cablekeep" && r.name.starts_with("ck search"))
        .filter_map(|r| Some((r.cost.as_ref()?.peak_rss_mb, r.name.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let ms = |v: Option<f64>| format!("{} ms", fmt_opt(v.map(|s| s * 1e3), 1));
    vec![
        target(
            "search index build ≤ 60 s",
            build,
            format!("{} s", fmt_opt(build, 1)),
            |v| v <= 60.0,
        ),
        target(
            "search index build ≤ 1.0× ck bundle cables.csv (per cable)",
            per_cable,
            format!(
                "{}× per cable (wall {}×)",
                fmt_opt(per_cable, 2),
                fmt_opt(wall, 2)
            ),
            |v| v <= 1.0,
        ),
        target(
            "search index ≤ 25 % of the corpus text",
            share,
            format!("{} %", fmt_opt(share.map(|s| s * 100.0), 1)),
            |v| v <= 0.25,
        ),
        target("ck search median < 10 ms", median, ms(median), |v| {
            v < 0.010
        }),
        target("ck search p99 < 100 ms", p99, ms(p99), |v| v < 0.100),
        target(
            "ck search update after a version < 5 s",
            update,
            format!("{} s", fmt_opt(update, 2)),
            |v| v < 5.0,
        ),
        target(
            "search peak RSS < 256 MB",
            largest.map(|l| l.0),
            largest.map_or(String::new(), |(mb, name)| {
                format!("largest {mb:.0} MB ({name})")
            }),
            |v| v < 256.0,
        ),
    ]
}

pub fn targets(rows: &[Row], summary: &Summary) -> Vec<Target> {
    let bundle = wall_ratio(rows, BUNDLE, "bagit.py make text/");
    let export = rows
        .iter()
        .find(|r| r.name == "ck export --format csv")
        .and_then(|r| per_s(r.cables, ok_cost(rows, &r.name)?.wall_s));
    let size = match sizes(rows) {
        (Some(ck), Some(zip)) if zip > 0 => Some(ck as f64 / zip as f64),
        _ => None,
    };
    let verify = wall_ratio(rows, "ck verify", "bagit.py --validate");
    let largest = rows
        .iter()
        .filter(|r| r.kind == "cablekeep")
        .filter_map(|r| Some((r.cost.as_ref()?.peak_rss_mb, r.name.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let x = |v: Option<f64>| format!("{}×", fmt_opt(v, 2));
    vec![
        target(
            "ck bundle cables.csv wall ≤ 1.0× bagit.py make text/",
            bundle,
            x(bundle),
            |v| v <= 1.0,
        ),
        target(
            "ck export --format csv ≥ 50,000 cables/s",
            export,
            format!("{} cables/s", fmt_opt(export, 0)),
            |v| v >= 50_000.0,
        ),
        target(
            "archive size ≤ 1.0× zip -r -6 of the bagit bag",
            size,
            x(size),
            |v| v <= 1.0,
        ),
        target(
            "ck verify ≤ 0.2× bagit.py --validate",
            verify,
            x(verify),
            |v| v <= 0.2,
        ),
        target(
            "peak RSS of every cablekeep command < 256 MB",
            largest.map(|l| l.0),
            largest.map_or(String::new(), |(mb, name)| {
                format!("largest {mb:.0} MB ({name})")
            }),
            |v| v < 256.0,
        ),
    ]
    .into_iter()
    .chain(search_targets(rows, summary))
    .chain(web_targets(rows))
    .chain(replica_targets(rows))
    .collect()
}

/// Issue #29's targets: the full edition's speed and memory, `serve`'s median page.
fn web_targets(rows: &[Row]) -> Vec<Target> {
    let site = rows.iter().find(|r| r.name == super::web::SITE_ROW);
    let rate = site.and_then(|r| per_s(r.cables, ok_cost(rows, &r.name)?.wall_s));
    let rss = site
        .and_then(|r| ok_cost(rows, &r.name))
        .map(|c| c.peak_rss_mb);
    let page = ok_cost(rows, super::web::SERVE_ROW).map(|c| c.wall_s);
    vec![
        target(
            "ck site ≥ 5,000 cables/s",
            rate,
            format!("{} cables/s", fmt_opt(rate, 0)),
            |v| v >= 5_000.0,
        ),
        target(
            "ck site peak RSS < 256 MB",
            rss,
            format!("{} MB", fmt_opt(rss, 0)),
            |v| v < 256.0,
        ),
        target(
            "ck serve: a cable page < 5 ms median, 20 clients",
            page,
            format!("{} ms", fmt_opt(page.map(|s| s * 1e3), 2)),
            |v| v < 0.005,
        ),
    ]
}

/// Issue #30's targets: replicate's rate, audit's time and the zip bytes it reads.
fn replica_targets(rows: &[Row]) -> Vec<Target> {
    use super::replica::{AUDIT_DAMAGED_ROW, AUDIT_ROW, REPLICATE_ROW};
    let rate = rows
        .iter()
        .find(|r| r.name == REPLICATE_ROW)
        .and_then(|r| per_s(r.bytes, ok_cost(rows, &r.name)?.wall_s))
        .map(|b| b / 1e6);
    let audit = ok_cost(rows, AUDIT_ROW).map(|c| c.wall_s);
    let detail = |name: &str, key: &str| {
        ok_cost(rows, name)?;
        rows.iter().find(|r| r.name == name)?.detail.as_ref()?[key].as_u64()
    };
    let agree_read = detail(AUDIT_ROW, "payload_bytes_read").map(|b| b as f64);
    let damaged_share = detail(AUDIT_DAMAGED_ROW, "payload_bytes_read")
        .zip(detail(AUDIT_DAMAGED_ROW, "damaged_zip_bytes"))
        .filter(|(_, zip)| *zip > 0)
        .map(|(read, zip)| read as f64 / zip as f64);
    vec![
        target(
            "ck replicate ≥ 100 MB/s (loopback Garage)",
            rate,
            format!("{} MB/s", fmt_opt(rate, 0)),
            |v| v >= 100.0,
        ),
        target(
            "ck audit of 3 agreeing replicas < 2 s",
            audit,
            format!("{} s", fmt_opt(audit, 2)),
            |v| v < 2.0,
        ),
        target(
            "ck audit of 3 agreeing replicas reads no zip byte",
            agree_read,
            format!("{} bytes", fmt_opt(agree_read, 0)),
            |v| v == 0.0,
        ),
        target(
            "ck audit, one zip damaged: reads that zip once, no other",
            damaged_share,
            format!("{}× the damaged zip", fmt_opt(damaged_share, 3)),
            |v| (0.99..=1.01).contains(&v),
        ),
    ]
}

pub fn targets_text(targets: &[Target]) -> String {
    let mut s = String::from("targets (issues #27 and #28; ratios within this run):\n");
    for (i, t) in targets.iter().enumerate() {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let _ = writeln!(s, "  {}. {}: {} (met: {met})", i + 1, t.what, t.shown);
    }
    s
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

pub fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let root = env!("CARGO_MANIFEST_DIR");
    serde_json::json!({
        "cpu": proc_field("/proc/cpuinfo", "model name"),
        "cores": cores,
        "memory": proc_field("/proc/meminfo", "MemTotal"),
        "sha_ni": proc_field("/proc/cpuinfo", "flags").split(' ').any(|f| f == "sha_ni"),
        "kernel": first_line("uname", &["-sr"]),
        "date": first_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "git_commit": first_line("git", &["-C", root, "rev-parse", "HEAD"]),
        "git_dirty": !first_line("git", &["-C", root, "status", "--porcelain", "--untracked-files=no"]).is_empty(),
        "cablekeep": first_line(env!("CARGO_BIN_EXE_cablekeep"), &["--version"]),
    })
}

pub fn json(
    spec: &Spec,
    summary: &Summary,
    rows: &[Row],
    archive_format: Option<u8>,
    targets: &[Target],
) -> serde_json::Value {
    let out: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let c = r.cost.clone().unwrap_or_default();
            let num = |x: f64| if x.is_finite() { serde_json::json!(x) } else { serde_json::Value::Null };
            serde_json::json!({
                "command": r.name, "kind": r.kind, "measured": r.cost.is_some(),
                "wall_s": num(c.wall_s), "cpu_s": num(c.cpu_s), "peak_rss_mb": num(c.peak_rss_mb), "steal_share": c.steal,
                "exit_code": c.exit_code, "cables": r.cables, "bytes": r.bytes,
                "cables_per_s": per_s(r.cables, c.wall_s), "us_per_cable": (r.cables > 0 && r.cost.is_some()).then(|| c.wall_s * 1e6 / r.cables as f64),
                "ratios": ratios(r, rows).into_iter().map(|(k, x)| (k, serde_json::json!(x))).collect::<serde_json::Map<_, _>>(), "note": r.note,
                "output_bytes": r.output_bytes, "detail": r.detail,
            })
        })
        .collect();
    serde_json::json!({
        "schema": "cablekeep-bench-scale/1",
        "machine": machine(),
        "corpus": {
            "seed": spec.seed, "cables": spec.cables, "pages": summary.pages,
            "csv_bytes": summary.csv_bytes, "text_bytes": summary.text_bytes, "page_bytes": summary.page_bytes,
            "mirror_bytes": summary.mirror_bytes, "v2_rows": summary.v2_rows, "generator_version": super::corpus::GENERATOR_VERSION,
        },
        "archive_format": archive_format,
        "sizes": {
            "full_v1_zip_bytes": sizes(rows).0, "bagit_bag_zip6_bytes": sizes(rows).1,
            "ratio": targets.get(2).and_then(|t| t.value),
            "search_index_bytes": search_sizes(rows, summary).0,
            "corpus_text_bytes": search_sizes(rows, summary).1,
            "csv_bytes": summary.csv_bytes,
            "search_index_ratio": search_sizes(rows, summary).0
                .filter(|_| summary.text_bytes > 0)
                .map(|i| i as f64 / summary.text_bytes as f64),
        },
        "targets": targets.iter().map(|t| serde_json::json!({
            "target": t.what, "value": t.value, "shown": t.shown, "met": t.met,
        })).collect::<Vec<_>>(),
        "rows": out,
    })
}

pub fn write(path: &Path, v: &serde_json::Value) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(v)?)
}
