//! Issue #29: the web edition of `full`'s latest version (sealed first, so every cable page
//! has its proof beside it), then `serve` answering cable pages to 20 clients at once.

use super::harness::{Ctx, Row, have, thousands, tree_bytes};
use super::measure::Cost;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The row of the edition's writing.
pub const SITE_ROW: &str = "ck site (full edition)";
/// The row of `serve`'s cable pages.
pub const SERVE_ROW: &str = "ck serve: a cable page, 20 clients";
/// Clients requesting pages at once.
const CLIENTS: usize = 20;

pub fn run(c: &mut Ctx, quick: bool) {
    let key = c.scratch.join("seal-key");
    if have("ssh-keygen") && key.is_file() {
        let key = key.display().to_string();
        let cmd = c.ck(&["seal", "-c", "full", "--key", &key]);
        c.time("ck seal v3", "cablekeep", cmd, 0, 0, &[]);
    }
    let out = c.scratch.join("site");
    let _ = fs::remove_dir_all(&out);
    let cables = latest_cables(c);
    let cmd = c.ck(&["site", "-c", "full", "--out", &out.display().to_string()]);
    let made = c.time(SITE_ROW, "cablekeep", cmd, cables, 0, &[]);
    if made.is_none_or(|m| m.exit_code != 0) {
        return;
    }
    let pages = describe_site(c, &out);
    // The edition is a few GB: it goes as soon as its figures are taken.
    let _ = fs::remove_dir_all(&out);
    serve(c, &pages, quick);
}

/// Cables of `full`'s latest version, from `log --json`.
fn latest_cables(c: &Ctx) -> u64 {
    let out = Command::new(&c.ck)
        .arg("--store")
        .arg(&c.store)
        .args(["log", "-c", "full", "--json"])
        .output();
    let Ok(out) = out else { return 0 };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["counts"]["cables"].as_u64())
        .next()
        .unwrap_or(0)
}

/// Notes the edition's files, bytes and search index in the last row; returns a sample of its
/// cable pages (every file listed in SHA256SUMS under `cable/` ending in `.html`).
fn describe_site(c: &mut Ctx, out: &Path) -> Vec<String> {
    let sums = fs::read_to_string(out.join("SHA256SUMS")).unwrap_or_default();
    let files = sums.lines().count() as u64 + 1;
    let bytes = tree_bytes(out);
    let search = tree_bytes(&out.join("search"))
        + fs::metadata(out.join("search.html")).map_or(0, |m| m.len());
    let cable_pages: Vec<String> = sums
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(_, p)| p))
        .filter(|p| p.starts_with("cable/") && p.ends_with(".html"))
        .map(str::to_string)
        .collect();
    if let Some(row) = c.rows.last_mut() {
        row.output_bytes = Some(bytes);
        let what = format!(
            "{} files, {:.0} MB, of which search {:.1} MB ({:.1} %); {} cable pages",
            thousands(files),
            bytes as f64 / 1e6,
            search as f64 / 1e6,
            search as f64 * 100.0 / bytes.max(1) as f64,
            thousands(cable_pages.len() as u64)
        );
        row.note = if row.note.is_empty() {
            what
        } else {
            format!("{what}; {}", row.note)
        };
        row.detail = Some(serde_json::json!({
            "files": files, "bytes": bytes, "search_bytes": search,
            "cable_pages": cable_pages.len(),
        }));
    }
    // Spread evenly over the corpus, so the requests touch the whole archive.
    let step = (cable_pages.len() / 4_000).max(1);
    cable_pages.into_iter().step_by(step).collect()
}

/// A `serve` child; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` on a free port: its base URL, once it said it listens, and the time that took.
fn start_server(c: &Ctx) -> Option<(Server, String, f64)> {
    let started = Instant::now();
    let mut child = Command::new(&c.ck)
        .arg("--store")
        .arg(&c.store)
        .args([
            "--no-progress",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "-c",
            "full",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).ok()?;
    let base = line
        .trim()
        .strip_prefix("listening on ")?
        .trim_end_matches('/')
        .to_string();
    Some((server, base, started.elapsed().as_secs_f64()))
}

/// `CLIENTS` threads request the sample's pages at once, each over one keep-alive
/// connection; the row holds the median time of a page (wall) and the server's peak RSS.
fn serve(c: &mut Ctx, pages: &[String], quick: bool) {
    eprintln!("  timing {SERVE_ROW} ...");
    let Some((server, base, startup)) = start_server(c) else {
        c.rows.push(Row {
            name: SERVE_ROW.into(),
            kind: "cablekeep",
            note: "serve did not start".into(),
            cost: Some(Cost {
                exit_code: 2,
                ..Cost::default()
            }),
            ..Row::default()
        });
        return;
    };
    let per_client = if quick { 25 } else { 200 };
    // Warm-up: the first requests of each page kind load the server's caches.
    let _ = fetch_all(&base, &pages[..pages.len().min(20)]);
    let chunks: Vec<Vec<String>> = (0..CLIENTS)
        .map(|i| {
            pages
                .iter()
                .skip(i)
                .step_by(CLIENTS)
                .take(per_client)
                .cloned()
                .collect()
        })
        .collect();
    let wall = Instant::now();
    let results: Vec<Result<Vec<f64>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| s.spawn(|| fetch_all(&base, chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into())))
            .collect()
    });
    let wall = wall.elapsed().as_secs_f64();
    let rss = peak_rss_mb(server.0.id());
    drop(server);
    let mut times: Vec<f64> = Vec::new();
    let mut failure = None;
    for r in results {
        match r {
            Ok(t) => times.extend(t),
            Err(e) => failure = Some(e),
        }
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    let (median, p99) = (pick(0.5), pick(0.99));
    let requests = times.len();
    c.rows.push(Row {
        name: SERVE_ROW.into(),
        kind: "cablekeep",
        cost: Some(Cost {
            wall_s: median.unwrap_or(0.0),
            cpu_s: 0.0,
            peak_rss_mb: rss,
            exit_code: if failure.is_some() || requests == 0 { 1 } else { 0 },
            steal: None,
        }),
        note: format!(
            "median of {requests} pages over {CLIENTS} keep-alive clients; p99 {:.1} ms; {:.0} pages/s; server ready in {startup:.1} s; peak RSS of the server{}",
            p99.unwrap_or(0.0) * 1e3,
            requests as f64 / wall.max(1e-9),
            failure.map_or(String::new(), |e| format!("; failed: {e}"))
        ),
        detail: Some(serde_json::json!({
            "requests": requests, "clients": CLIENTS, "median_s": median, "p99_s": p99,
            "startup_s": startup, "server_peak_rss_mb": rss,
        })),
        ..Row::default()
    });
}

/// Requests each page over one connection; the time of each, or the first failure.
fn fetch_all(base: &str, pages: &[String]) -> Result<Vec<f64>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut times = Vec::with_capacity(pages.len());
    for page in pages {
        let url = format!("{base}/{page}");
        let started = Instant::now();
        let mut response = agent.get(&url).call().map_err(|e| format!("{url}: {e}"))?;
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("{url}: {e}"))?;
        times.push(started.elapsed().as_secs_f64());
        if body.is_empty() {
            return Err(format!("{url}: an empty page"));
        }
    }
    Ok(times)
}

/// The server's peak resident memory (VmHWM), in MB; 0 when unknown.
fn peak_rss_mb(pid: u32) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
