//! The timed runs: cablekeep and its baselines on the same corpus, in one run, each command a
//! child process measured by `measure.rs`. A missing peer tool skips its rows (reported), never
//! the run.

use super::corpus::Summary;
use super::http;
use super::measure::{self, Cost};
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
        })
    }

    /// A cablekeep command line on the run's store.
    fn ck(&self, args: &[&str]) -> Vec<String> {
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
    fn time(
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
                    let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
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
    fn skip(&mut self, name: &str, why: &str) {
        eprintln!("  skipped {name}: {why}");
        self.rows.push(Row {
            name: name.into(),
            kind: "baseline",
            note: format!("skipped: {why}"),
            ..Row::default()
        });
    }
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

/// `searches`: how many of the 50 queries to time (fewer in --quick, to keep CI short).
pub fn run_all(c: &mut Ctx, pages: u64, searches: usize) {
    bundles(c, pages);
    bag_and_zip(c, pages);
    verifies(c);
    versions(c);
    seals(c);
    search(c, searches);
    links(c, pages);
}

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
        "ck bundle cables.csv",
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

/// Queries of the kinds users type: words, phrases, OR, prefixes, with and without filters.
fn queries() -> Vec<Vec<&'static str>> {
    let words = [
        "minister",
        "election",
        "oil",
        "border",
        "investment",
        "coalition",
        "budget",
        "police",
        "reform",
        "energy",
    ];
    let mut q: Vec<Vec<&str>> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        q.push(vec![w]);
        q.push(vec![
            [
                "\"prime minister\"",
                "\"human rights\"",
                "\"foreign affairs\"",
                "\"trade talks\"",
                "\"security forces\"",
            ][i % 5],
        ]);
        q.push(vec![
            [
                "oil OR gas",
                "court OR law",
                "vote OR election",
                "bank OR budget",
                "media OR press",
            ][i % 5],
        ]);
        q.push(vec![
            [
                "negotiat*",
                "cooperat*",
                "develop*",
                "implement*",
                "stabil*",
            ][i % 5],
        ]);
        q.push(vec![
            w,
            "--tag",
            ["PREL", "PGOV", "ECON", "ETRD", "PHUM"][i % 5],
        ]);
    }
    q
}

fn search(c: &mut Ctx, searches: usize) {
    let mut costs = Vec::new();
    for (i, q) in queries().iter().take(searches).enumerate() {
        let mut args = vec!["search", "-c", "full", "--limit", "20"];
        args.extend(q.iter().copied());
        let cmd = c.ck(&args);
        eprintln!("  timing search {i}: {}", q.join(" "));
        match measure::run(&cmd, &c.logs, &format!("search-{i}")) {
            Ok(cost) if cost.exit_code <= 1 => costs.push(cost),
            Ok(cost) => eprintln!("  ! search {i} exit {}", cost.exit_code),
            Err(e) => eprintln!("  ! search {i}: {e}"),
        }
    }
    if costs.is_empty() {
        return;
    }
    // The first query may build the search index: shown on its own, not in the median.
    let first = costs.remove(0);
    c.rows.push(Row {
        name: "ck search (first query)".into(),
        kind: "cablekeep",
        cost: Some(first),
        cables: c.cables,
        ..Row::default()
    });
    if costs.is_empty() {
        return;
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let cost = Cost {
        wall_s: median(costs.iter().map(|c| c.wall_s).collect()),
        cpu_s: median(costs.iter().map(|c| c.cpu_s).collect()),
        peak_rss_mb: costs.iter().map(|c| c.peak_rss_mb).fold(0.0, f64::max),
        exit_code: 0,
        steal: costs
            .iter()
            .map(|c| c.steal)
            .collect::<Option<Vec<f64>>>()
            .map(median),
    };
    let name = format!("ck search (median of {})", costs.len());
    c.rows.push(Row {
        name,
        kind: "cablekeep",
        cost: Some(cost),
        // A query's time does not go per cable (nor its cables per second).
        cables: 0,
        note: "RSS: the largest".into(),
        ..Row::default()
    });
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
