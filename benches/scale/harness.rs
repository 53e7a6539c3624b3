//! The timed runs: cablekeep and its baselines on the same corpus, in one run, each command a
//! child process measured by `measure.rs`. A missing peer tool skips its rows (reported), never
//! the run.

use super::corpus::{Added, Summary};
use super::http;
use super::measure::{self, Cost};
use super::queries;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One line of the results table.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub name: String,
    /// "cablekeep" or "baseline".
    pub kind: &'static str,
    pub cost: Option<Cost>,
    /// Cables and input bytes the command handled, for throughput and per-cable cost.
    pub cables: u64,
    pub bytes: u64,
    /// Names of the baseline rows this row is compared with.
    pub versus: Vec<String>,
    pub note: String,
    /// Size in bytes of the archive the command wrote, for the rows whose output size is compared.
    pub output_bytes: Option<u64>,
    /// Figures beyond the table's columns, for the JSON results (per-query times, sizes).
    pub detail: Option<serde_json::Value>,
}

/// Where things are for one run.
pub struct Ctx {
    pub ck: PathBuf,
    pub corpus: PathBuf,
    pub store: PathBuf,
    pub scratch: PathBuf,
    pub logs: PathBuf,
    pub summary: Summary,
    pub cables: u64,
    /// `--archive-format N` for every `cablekeep bundle`; `None`: cablekeep's default.
    pub archive_format: Option<u8>,
    pub rows: Vec<Row>,
    /// Cables for a third version of `full`, that the search index update is timed on.
    pub added: Option<Added>,
}

const BAGIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/.venv-peers/bagit/bin/bagit.py"
);

impl Ctx {
    pub fn new(
        work: &Path,
        corpus: PathBuf,
        summary: Summary,
        cables: u64,
        archive_format: Option<u8>,
    ) -> std::io::Result<Self> {
        let run = work.join("run");
        // Every run starts from an empty store: timings must not depend on an earlier run.
        if run.exists() {
            fs::remove_dir_all(&run)?;
        }
        let (store, scratch, logs) = (run.join("store"), run.join("scratch"), run.join("logs"));
        for d in [&store, &scratch, &logs] {
            fs::create_dir_all(d)?;
        }
        Ok(Ctx {
            ck: PathBuf::from(env!("CARGO_BIN_EXE_cablekeep")),
            corpus: absolute(&corpus),
            store: absolute(&store),
            scratch: absolute(&scratch),
            logs: absolute(&logs),
            summary,
            cables,
            archive_format,
            rows: Vec::new(),
            added: None,
        })
    }

    /// A cablekeep command line on the run's store.
    pub fn ck(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            self.ck.display().to_string(),
            "--store".into(),
            self.store.display().to_string(),
            "--no-progress".into(),
        ];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// A `cablekeep bundle` command line, with the run's `--archive-format` when one was given.
    fn ck_bundle(&self, args: &[&str]) -> Vec<String> {
        let mut v = self.ck(&[&["bundle"], args].concat());
        if let Some(f) = self.archive_format {
            v.extend(["--archive-format".to_string(), f.to_string()]);
        }
        v
    }

    /// Notes the size of the archive a row's command wrote, in the row and its note.
    fn note_output(&mut self, archive: &Path) {
        let Some(row) = self.rows.last_mut() else {
            return;
        };
        let Ok(meta) = fs::metadata(archive) else {
            return;
        };
        row.output_bytes = Some(meta.len());
        let size = format!("output {:.1} MB", meta.len() as f64 / 1e6);
        row.note = if row.note.is_empty() {
            size
        } else {
            format!("{size}; {}", row.note)
        };
    }

    /// Measures `cmd` and records a row; a failing command is recorded with its exit code and
    /// the end of its stderr, and the run goes on.
    pub fn time(
        &mut self,
        name: &str,
        kind: &'static str,
        cmd: Vec<String>,
        cables: u64,
        bytes: u64,
        versus: &[&str],
    ) -> Option<Cost> {
        let tag: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        eprintln!("  timing {name} ...");
        let mut row = Row {
            name: name.into(),
            kind,
            cables,
            bytes,
            versus: versus.iter().map(|s| s.to_string()).collect(),
            ..Row::default()
        };
        match measure::run(&cmd, &self.logs, &tag) {
            Ok(c) => {
                if c.exit_code != 0 {
                    let err = fs::read_to_string(self.logs.join(format!("{tag}.err")))
                        .unwrap_or_default();
                    let tail = stderr_tail(&err, 3);
                    row.note = format!("exit {}: {}", c.exit_code, truncate(&tail, 200));
                    eprintln!("  ! {name}: {}", row.note);
                }
                row.cost = Some(c.clone());
                self.rows.push(row);
                Some(c)
            }
            Err(e) => {
                row.note = e;
                self.rows.push(row);
                None
            }
        }
    }

    /// Records a skipped row (a missing peer tool).
    pub fn skip(&mut self, name: &str, why: &str) {
        eprintln!("  skipped {name}: {why}");
        self.rows.push(Row {
            name: name.into(),
            kind: "baseline",
            note: format!("skipped: {why}"),
            ..Row::default()
        });
    }
}

/// The last `n` lines of a command's stderr that are not blank, last first.
fn stderr_tail(err: &str, n: usize) -> String {
    err.lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" | ")
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// True when `tool` is on PATH (or is an existing path).
pub fn have(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

fn sh(script: String) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script]
}

/// Runs an untimed helper step (copies, unzips); failure is reported, not fatal.
fn prepare(what: &str, cmd: &mut Command) -> bool {
    match cmd.status() {
        Ok(s) if s.success() => true,
        other => {
            eprintln!("  ! preparing {what} failed: {other:?}");
            false
        }
    }
}

/// `quick`: time 20 of the 200 search queries, to keep CI short.
pub fn run_all(c: &mut Ctx, pages: u64, quick: bool) {
    bundles(c, pages);
    bag_and_zip(c, pages);
    verifies(c);
    versions(c);
    seals(c);
    search(c, quick);
    super::web::run(c, quick);
    super::replica::run(c);
    links(c, pages);
}

/// The bundle of `cables.csv`: the yardstick of the search index build.
pub const BUNDLE_ROW: &str = "ck bundle cables.csv";

fn bundles(c: &mut Ctx, pages: u64) {
    let csv = c.corpus.join("cables.csv").display().to_string();
    let cmd = c.ck_bundle(&[
        &csv,
        "--format",
        "cables-csv",
        "-c",
        "full",
        "-m",
        "synthetic cables.csv",
    ]);
    let (n, b) = (c.cables, c.summary.csv_bytes);
    c.time(
        BUNDLE_ROW,
        "cablekeep",
        cmd,
        n,
        b,
        &["bagit.py make text/", "zip -r text/"],
    );
    let archive = c.store.join("archives/full/full-v1.zip");
    c.note_output(&archive);
    let dir = c.corpus.join("pages").display().to_string();
    let cmd = c.ck_bundle(&[
        &dir,
        "--format",
        "wikileaks-page",
        "-c",
        "pages",
        "-m",
        "synthetic pages",
    ]);
    let b = c.summary.page_bytes;
    c.time(
        "ck bundle pages/",
        "cablekeep",
        cmd,
        pages,
        b,
        &["bagit.py make pages/", "zip -r pages/"],
    );
}

/// bagit.py makes its bag in place, so it gets a hard-linked copy of the loose files.
fn bag_and_zip(c: &mut Ctx, pages: u64) {
    for (what, n, bytes) in [
        ("text", c.cables, c.summary.text_bytes),
        ("pages", pages, c.summary.page_bytes),
    ] {
        let copy = c.scratch.join(format!("{what}-bag"));
        let name = format!("bagit.py make {what}/");
        if !have(BAGIT) {
            c.skip(&name, "bagit.py not installed (run scripts/setup-peers.sh)");
            if what == "text" {
                c.skip(
                    ZIP_BAG,
                    "bagit.py not installed (run scripts/setup-peers.sh)",
                );
            }
        } else if prepare(
            &name,
            Command::new("cp")
                .arg("-al")
                .arg(c.corpus.join(what))
                .arg(&copy),
        ) {
            let cmd = vec![
                BAGIT.into(),
                "--processes".into(),
                "2".into(),
                "--quiet".into(),
                copy.display().to_string(),
            ];
            let made = c.time(&name, "baseline", cmd, n, bytes, &[]);
            if what == "text" && made.is_some_and(|m| m.exit_code == 0) {
                zip_bag(c, &copy, n, bytes);
            }
        }
        let name = format!("zip -r {what}/");
        if !have("zip") {
            c.skip(&name, "zip not installed");
            continue;
        }
        let out = c.scratch.join(format!("{what}.zip"));
        let script = format!(
            "cd '{}' && zip -r -q '{}' {what}",
            c.corpus.display(),
            out.display()
        );
        c.time(&name, "baseline", sh(script), n, bytes, &[]);
    }
}

/// The size target's yardstick: bagit.py's bag of `text/` (payload, manifests, tag files),
/// zipped at zip's default level.
pub const ZIP_BAG: &str = "zip -r -6 bagit bag of text/";

/// `zip -r -6` of the bag bagit.py made in `bag`; the zip's size goes in the row.
fn zip_bag(c: &mut Ctx, bag: &Path, n: u64, bytes: u64) {
    if !have("zip") {
        c.skip(ZIP_BAG, "zip not installed");
        return;
    }
    let (Some(parent), Some(folder)) = (bag.parent(), bag.file_name()) else {
        return;
    };
    let out = c.scratch.join("bagit-text-bag.zip");
    let script = format!(
        "cd '{}' && zip -r -6 -q '{}' '{}'",
        parent.display(),
        out.display(),
        folder.to_string_lossy()
    );
    if c.time(ZIP_BAG, "baseline", sh(script), n, bytes, &[])
        .is_some_and(|m| m.exit_code == 0)
    {
        c.note_output(&out);
    }
}

fn verifies(c: &mut Ctx) {
    let (n, zip_bytes) = (c.cables, zip_size(c, "full", 1));
    let vs = [
        "bagit.py --validate",
        "sha256sum -P2",
        "sha512sum -P2",
        "sha256sum+sha512sum",
    ];
    let cmd = c.ck(&["verify", "-c", "full"]);
    c.time("ck verify", "cablekeep", cmd, n, zip_bytes, &vs);
    let cmd = c.ck(&["verify", "-c", "full", "--fast"]);
    c.time("ck verify --fast", "cablekeep", cmd, n, zip_bytes, &vs);
    // The baselines check the same payload: cablekeep's own v1 bag, unzipped.
    let bag = c.scratch.join("full-v1");
    let zip = c.store.join("archives/full/full-v1.zip");
    let unzipped = prepare(
        "unzipped bag",
        Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&zip)
            .arg(&bag),
    );
    if !unzipped {
        return;
    }
    let bag = bag.join("full-v1");
    if have(BAGIT) {
        let cmd = vec![
            BAGIT.into(),
            "--validate".into(),
            "--processes".into(),
            "2".into(),
            "--quiet".into(),
            bag.display().to_string(),
        ];
        c.time("bagit.py --validate", "baseline", cmd, n, zip_bytes, &[]);
    } else {
        c.skip(
            "bagit.py --validate",
            "bagit.py not installed (run scripts/setup-peers.sh)",
        );
    }
    let mut both = 0.0;
    for tool in ["sha256sum", "sha512sum"] {
        let name = format!("{tool} -P2");
        if !have(tool) || !have("xargs") {
            c.skip(&name, &format!("{tool} or xargs not installed"));
            continue;
        }
        let script = format!(
            "cd '{}' && find data -type f -print0 | xargs -0 -P2 -n 1000 {tool} > /dev/null",
            bag.display()
        );
        if let Some(cost) = c.time(&name, "baseline", sh(script), n, zip_bytes, &[]) {
            both += cost.wall_s;
        }
    }
    if both > 0.0 {
        // The target compares with both hashers run one after the other, as a user would.
        c.rows.push(Row {
            name: "sha256sum+sha512sum".into(),
            kind: "baseline",
            cost: Some(Cost {
                wall_s: both,
                cpu_s: f64::NAN,
                ..Cost::default()
            }),
            cables: n,
            bytes: zip_bytes,
            note: "sum of the two rows above".into(),
            ..Row::default()
        });
    }
}

fn zip_size(c: &Ctx, collection: &str, v: u32) -> u64 {
    fs::metadata(
        c.store
            .join(format!("archives/{collection}/{collection}-v{v}.zip")),
    )
    .map_or(0, |m| m.len())
}

/// A second version (1% of the cables changed, 1% new), then diff and export of it.
fn versions(c: &mut Ctx) {
    let v2 = c.corpus.join("cables-v2.csv").display().to_string();
    let cmd = c.ck_bundle(&[
        &v2,
        "--format",
        "cables-csv",
        "-c",
        "full",
        "-m",
        "corrections",
    ]);
    // Per cable of the new version: v2 holds every capture of v1 plus the new rows.
    let (bytes, n) = (c.summary.v2_bytes, c.cables);
    let v2_cables = n + c.summary.v2_rows - c.summary.v2_changed;
    c.time(
        "ck bundle v2 (+2% rows)",
        "cablekeep",
        cmd,
        v2_cables,
        bytes,
        &[],
    );
    let cmd = c.ck(&["diff", "-c", "full", "v1", "v2"]);
    c.time("ck diff v1 v2", "cablekeep", cmd, n, 0, &[]);
    for (fmt, ext) in [("csv", "csv"), ("sqlite", "sqlite")] {
        let out = c
            .scratch
            .join(format!("export.{ext}"))
            .display()
            .to_string();
        let cmd = c.ck(&["export", "-c", "full", "--format", fmt, "--out", &out]);
        c.time(
            &format!("ck export --format {fmt}"),
            "cablekeep",
            cmd,
            n,
            0,
            &[],
        );
    }
}

/// Seals both versions with a key made here, then proves a cable of v1 (one capture) without
/// and with the tree cache and one of v2 that v2 corrected (two captures), and checks a proof.
fn seals(c: &mut Ctx) {
    let rows = [
        "ck seal v1",
        "ck seal v2",
        "ck prove (1 capture, no cache)",
        "ck prove (1 capture)",
        "ck prove (2 captures)",
        "ck check-proof",
    ];
    if !have("ssh-keygen") {
        for name in rows {
            c.skip(
                name,
                "ssh-keygen not installed (run scripts/setup-peers.sh)",
            );
        }
        return;
    }
    let key = c.scratch.join("seal-key");
    let made = prepare(
        "the sealing key",
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f"])
            .arg(&key),
    );
    let public = fs::read_to_string(key.with_extension("pub")).unwrap_or_default();
    let allowed = c.scratch.join("allowed_signers");
    let mut fields = public.split_whitespace();
    let line = match (fields.next(), fields.next()) {
        (Some(kind), Some(blob)) => format!("bench@example.org {kind} {blob}\n"),
        _ => String::new(),
    };
    if !made || fs::write(&allowed, line).is_err() {
        return;
    }
    let key = key.display().to_string();
    let n = c.cables;
    for v in ["1", "2"] {
        let cmd = c.ck(&["seal", "-c", "full", "--version", v, "--key", &key]);
        c.time(&format!("ck seal v{v}"), "cablekeep", cmd, n, 0, &[]);
    }
    // The first cable of cables-v2.csv is one that v2 corrected: a second capture in v2.
    let Some(corrected) = first_cable_id(&c.corpus.join("cables-v2.csv")) else {
        eprintln!("  ! no cable id in cables-v2.csv: the proofs are not timed");
        return;
    };
    let cache = c.store.join(".cablekeep/cache/trees/full-v1.tree");
    let _ = fs::remove_file(&cache);
    let proofs = [
        ("ck prove (1 capture, no cache)", "1", "proof-v1.json"),
        ("ck prove (1 capture)", "1", "proof-v1.json"),
        ("ck prove (2 captures)", "2", "proof-v2.json"),
    ];
    for (name, v, file) in proofs {
        let out = c.scratch.join(file).display().to_string();
        let cmd = c.ck(&[
            "prove",
            &corrected,
            "-c",
            "full",
            "--version",
            v,
            "--out",
            &out,
        ]);
        c.time(name, "cablekeep", cmd, 1, 0, &[]);
        let size = fs::metadata(&out).map_or(0, |m| m.len());
        if let Some(row) = c.rows.last_mut().filter(|r| r.note.is_empty()) {
            row.note = format!("{corrected}, proof {size} bytes");
        }
    }
    let proof = c.scratch.join("proof-v2.json").display().to_string();
    let allowed = allowed.display().to_string();
    let cmd = c.ck(&["check-proof", &proof, "--allowed-signers", &allowed]);
    c.time("ck check-proof", "cablekeep", cmd, 1, 0, &[]);
}

/// The id (third field) of the first row of a cables CSV.
fn first_cable_id(csv: &Path) -> Option<String> {
    use std::io::BufRead;
    let mut first = String::new();
    std::io::BufReader::new(fs::File::open(csv).ok()?)
        .read_line(&mut first)
        .ok()?;
    let id = first.split("\",\"").nth(2)?;
    let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| id.to_string())
}

/// The search rows' names (the targets find them by these).
pub const SEARCH_BUILD: &str = "ck search --rebuild (full index)";
pub const SEARCH_MEDIAN: &str = "ck search (median of";
pub const SEARCH_P99: &str = "ck search (p99 of";
pub const SEARCH_UPDATE: &str = "ck search update";
/// Where a store keeps its search index.
pub const SEARCH_INDEX: &str = ".cablekeep/search";

/// Issue #28: the search index built in full, the query mix against it, then the index
/// brought up to date after a version that adds cables.
fn search(c: &mut Ctx, quick: bool) {
    search_build(c);
    search_queries(c, quick);
    search_update(c);
}

/// Bytes of the files under `dir`, at any depth (0 when it is missing).
pub fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// `search --rebuild`: the latest version of every collection, i.e. `full` (v1's cables
/// and v2's new ones) and `pages`; compared with the bundle of `cables.csv`.
fn search_build(c: &mut Ctx) {
    let cmd = c.ck(&["search", "--rebuild"]);
    let full = c.cables + c.summary.v2_rows - c.summary.v2_changed;
    let indexed = full + c.summary.pages;
    let built = c.time(SEARCH_BUILD, "cablekeep", cmd, indexed, 0, &[BUNDLE_ROW]);
    if built.is_none_or(|b| b.exit_code != 0) {
        return;
    }
    let index = tree_bytes(&c.store.join(SEARCH_INDEX));
    let text = c.summary.text_bytes;
    let Some(row) = c.rows.last_mut() else {
        return;
    };
    row.output_bytes = Some(index);
    let share = if text > 0 {
        format!("{:.1}%", index as f64 * 100.0 / text as f64)
    } else {
        "-".into()
    };
    let what = format!(
        "index {:.1} MB = {share} of the corpus text ({:.1} MB, text/); {full} cables of full + {} of pages",
        mb(index),
        mb(text),
        c.summary.pages
    );
    row.note = if row.note.is_empty() {
        what
    } else {
        format!("{what}; {}", row.note)
    };
    row.detail = Some(serde_json::json!({
        "index_bytes": index, "corpus_text_bytes": text, "csv_bytes": c.summary.csv_bytes,
        "cables_full": full, "cables_pages": c.summary.pages,
    }));
}

/// One query's run: its cost, or why it did not run; a non-zero exit is a failure.
struct Ran {
    query: queries::Query,
    /// The measure log's name: `<logs>/<tag>.err` holds the query's stderr.
    tag: String,
    cost: Result<Cost, String>,
}

impl Ran {
    fn ok(&self) -> Option<&Cost> {
        self.cost.as_ref().ok().filter(|c| c.exit_code == 0)
    }
}

/// The mix (200 queries; 20 of them with `--quick`), each its own process as a user runs it,
/// after one untimed query; rows for the median and the p99.
fn search_queries(c: &mut Ctx, quick: bool) {
    let mix = queries::mix();
    let chosen = if quick {
        queries::quick_subset(&mix)
    } else {
        mix
    };
    let warm_up = measure::run(
        &search_command(c, &["minister".to_string()]),
        &c.logs,
        "search-warm-up",
    );
    let mut ran: Vec<Ran> = Vec::with_capacity(chosen.len());
    for (n, i) in queries::run_order(chosen.len()).into_iter().enumerate() {
        let q = &chosen[i];
        eprintln!("  timing search {}/{}: {}", n + 1, chosen.len(), q.shown());
        let tag = format!("search-{i}");
        let cost = measure::run(&search_command(c, &q.args), &c.logs, &tag);
        ran.push(Ran {
            query: q.clone(),
            tag,
            cost,
        });
    }
    write_query_log(&c.logs.join("search-queries.tsv"), &ran);
    let failure = first_failure(c, &ran);
    let fail_note = failure
        .as_ref()
        .map_or(String::new(), |f| format!("; {}", f.1));
    let code = failure.as_ref().map_or(0, |f| f.0);
    let n = ran.len();
    let warm = match &warm_up {
        Ok(w) if w.exit_code == 0 => format!("{:.1} ms", w.wall_s * 1e3),
        Ok(w) => format!("exit {}", w.exit_code),
        Err(e) => e.clone(),
    };
    let kinds = kind_medians(&ran)
        .iter()
        .map(|(k, m, _)| {
            let ms = m.map_or("-".into(), |m| format!("{:.1}", m * 1e3));
            format!("{} {ms}", k.label())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let detail = queries_detail(&ran, warm_up.as_ref().ok());
    // A query's time does not go per cable (nor its cables per second): `cables` stays 0.
    c.rows.push(Row {
        name: format!("{SEARCH_MEDIAN} {n})"),
        kind: "cablekeep",
        cost: summary_cost(&ran, &queries::median, code),
        note: format!(
            "median ms by kind: {kinds}; warm-up query {warm}; RSS: the largest{fail_note}"
        ),
        detail: Some(detail),
        ..Row::default()
    });
    let slowest = ran
        .iter()
        .filter_map(|r| Some((r.ok()?.wall_s, r)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(String::new(), |(w, r)| {
            format!("slowest {:.1} ms: {}", w * 1e3, r.query.shown())
        });
    c.rows.push(Row {
        name: format!("{SEARCH_P99} {n})"),
        kind: "cablekeep",
        cost: summary_cost(&ran, &|v| queries::percentile(v, 0.99), code),
        note: format!("{slowest}{fail_note}"),
        ..Row::default()
    });
}

/// `cablekeep search -c full --limit 20 ARGS...` on the run's store.
fn search_command(c: &Ctx, args: &[String]) -> Vec<String> {
    let mut all = vec!["search", "-c", "full", "--limit", "20"];
    all.extend(args.iter().map(String::as_str));
    c.ck(&all)
}

/// The exit code of the first query that failed and a note: how many failed, the query and
/// the end of its stderr.
fn first_failure(c: &Ctx, ran: &[Ran]) -> Option<(i32, String)> {
    let failed: Vec<&Ran> = ran.iter().filter(|r| r.ok().is_none()).collect();
    let r = failed.first()?;
    let why = match &r.cost {
        Ok(cost) => {
            let err = fs::read_to_string(c.logs.join(format!("{}.err", r.tag))).unwrap_or_default();
            let tail = stderr_tail(&err, 2);
            format!("exit {}: {}", cost.exit_code, truncate(&tail, 160))
        }
        Err(e) => e.clone(),
    };
    let what = format!(
        "{} of {} failed, first `{}`: {why}",
        failed.len(),
        ran.len(),
        r.query.shown()
    );
    eprintln!("  ! search: {what}");
    Some((r.cost.as_ref().map_or(-1, |c| c.exit_code), what))
}

/// Per kind of query: the median wall time of those that succeeded, and how many did.
fn kind_medians(ran: &[Ran]) -> Vec<(queries::Kind, Option<f64>, usize)> {
    queries::Kind::ALL
        .iter()
        .map(|&k| {
            let w: Vec<f64> = ran
                .iter()
                .filter(|r| r.query.kind == k)
                .filter_map(Ran::ok)
                .map(|c| c.wall_s)
                .collect();
            (k, queries::median(&w), w.len())
        })
        .collect()
}

/// One row's cost from the queries that succeeded: `pick` (median, p99) of the wall and CPU
/// times, the largest peak RSS; `exit_code` is the first failure's, so that a failed query
/// fails the run. `None` when no query succeeded.
fn summary_cost(ran: &[Ran], pick: &dyn Fn(&[f64]) -> Option<f64>, exit_code: i32) -> Option<Cost> {
    let ok: Vec<&Cost> = ran.iter().filter_map(Ran::ok).collect();
    let walls: Vec<f64> = ok.iter().map(|c| c.wall_s).collect();
    let cpus: Vec<f64> = ok.iter().map(|c| c.cpu_s).collect();
    let steals: Option<Vec<f64>> = ok.iter().map(|c| c.steal).collect();
    Some(Cost {
        wall_s: pick(&walls)?,
        cpu_s: pick(&cpus).unwrap_or(f64::NAN),
        peak_rss_mb: ok.iter().map(|c| c.peak_rss_mb).fold(0.0, f64::max),
        exit_code,
        steal: steals.and_then(|s| pick(&s)),
    })
}

/// The JSON results' figures of the mix: per kind, and every query's run.
fn queries_detail(ran: &[Ran], warm_up: Option<&Cost>) -> serde_json::Value {
    let by_kind: serde_json::Map<String, serde_json::Value> = kind_medians(ran)
        .into_iter()
        .map(|(k, m, ok)| {
            let v = serde_json::json!({"median_wall_s": m, "succeeded": ok});
            (k.label().to_string(), v)
        })
        .collect();
    let runs: Vec<serde_json::Value> = ran
        .iter()
        .map(|r| {
            serde_json::json!({
                "kind": r.query.kind.label(), "args": r.query.args,
                "wall_s": r.cost.as_ref().ok().map(|c| c.wall_s),
                "exit_code": r.cost.as_ref().ok().map(|c| c.exit_code),
            })
        })
        .collect();
    serde_json::json!({
        "queries": ran.len(),
        "failed": ran.iter().filter(|r| r.ok().is_none()).count(),
        "warm_up_wall_s": warm_up.map(|w| w.wall_s),
        "by_kind": by_kind,
        "runs": runs,
    })
}

/// Every timed query on a line: kind, wall s, CPU s, peak RSS MB, exit code, arguments.
fn write_query_log(path: &Path, ran: &[Ran]) {
    let mut s = String::from("kind\twall_s\tcpu_s\tpeak_rss_mb\texit\targs\n");
    for r in ran {
        let (w, cpu, rss, code) = match &r.cost {
            Ok(c) => (
                format!("{:.6}", c.wall_s),
                format!("{:.6}", c.cpu_s),
                format!("{:.1}", c.peak_rss_mb),
                c.exit_code.to_string(),
            ),
            Err(e) => ("-".into(), "-".into(), "-".into(), e.replace('\t', " ")),
        };
        s.push_str(&format!(
            "{}\t{w}\t{cpu}\t{rss}\t{code}\t{}\n",
            r.query.kind.label(),
            r.query.shown()
        ));
    }
    if let Err(e) = fs::write(path, s) {
        eprintln!("  ! cannot write {}: {e}", path.display());
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A third version of `full` that adds cables the store does not hold yet (bundled and
/// timed on its own row), then `search` without a query, which brings the index up to date.
fn search_update(c: &mut Ctx) {
    let Some(added) = c.added.clone() else {
        eprintln!("  ! no added cables were written: the index update is not timed");
        return;
    };
    let count = thousands(added.cables);
    let csv = added.path.display().to_string();
    let message = format!("{count} new cables");
    let cmd = c.ck_bundle(&[&csv, "--format", "cables-csv", "-c", "full", "-m", &message]);
    let name = format!("ck bundle v3 (+{count} cables)");
    // Per cable of the new version, as v2's row: v3 holds every cable of v2 and the new ones.
    let v3_cables = c.cables + c.summary.v2_rows - c.summary.v2_changed + added.cables;
    let bundled = c.time(&name, "cablekeep", cmd, v3_cables, added.bytes, &[]);
    let before = tree_bytes(&c.store.join(SEARCH_INDEX));
    if bundled.is_none_or(|b| b.exit_code != 0) {
        // Without the new version the update would have nothing to do: not timed.
        c.rows.push(Row {
            name: format!("{SEARCH_UPDATE} (+{count} cables)"),
            kind: "cablekeep",
            note: format!("not timed: {name} failed"),
            ..Row::default()
        });
        return;
    }
    let cmd = c.ck(&["search"]);
    let name = format!("{SEARCH_UPDATE} (+{count} cables)");
    let updated = c.time(&name, "cablekeep", cmd, added.cables, 0, &[]);
    if updated.is_none_or(|u| u.exit_code != 0) {
        return;
    }
    let after = tree_bytes(&c.store.join(SEARCH_INDEX));
    if let Some(row) = c.rows.last_mut() {
        let sizes = format!(
            "index {:.1} MB before, {:.1} MB after",
            mb(before),
            mb(after)
        );
        row.note = if row.note.is_empty() {
            sizes
        } else {
            format!("{sizes}; {}", row.note)
        };
    }
}

/// `links check` of every page's source URL, spread over 100 local servers: each month folder
/// of the WikiLeaks site is remapped to one server.
fn links(c: &mut Ctx, pages: u64) {
    let bases = match http::start(100, &c.corpus.join("pages")) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("  ! cannot start the HTTP servers: {e}");
            return;
        }
    };
    let months: BTreeSet<String> = walk_months(&c.corpus.join("pages/cable"));
    let mut args: Vec<String> = [
        "links",
        "check",
        "-c",
        "pages",
        "--json",
        "--concurrency",
        "16",
        "--per-host",
        "2",
        "--host-interval-ms",
        "0",
        "--retries",
        "0",
        "--timeout",
        "10",
        "--no-archive-lookup",
        "--ignore-robots",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (i, m) in months.iter().enumerate() {
        args.push("--remap".into());
        args.push(format!(
            "https://wikileaks.org/cable/{m}/ {}/cable/{m}/",
            bases[i % bases.len()]
        ));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let cmd = c.ck(&refs);
    let hosts = months.len().min(bases.len());
    let name = format!("ck links check ({pages} URLs, {hosts} hosts)");
    c.time(&name, "cablekeep", cmd, pages, 0, &[]);
    let tag: String = name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    let out = fs::read_to_string(c.logs.join(format!("{tag}.out"))).unwrap_or_default();
    let intact = out.lines().filter(|l| l.contains("\"intact\"")).count();
    if let Some(row) = c.rows.last_mut() {
        row.note = format!(
            "{intact} of {} results intact {}",
            out.lines().count(),
            row.note
        )
        .trim()
        .to_string();
    }
}

fn walk_months(cable: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for y in fs::read_dir(cable).into_iter().flatten().flatten() {
        for m in fs::read_dir(y.path()).into_iter().flatten().flatten() {
            out.insert(format!(
                "{}/{}",
                y.file_name().to_string_lossy(),
                m.file_name().to_string_lossy()
            ));
        }
    }
    out
}
