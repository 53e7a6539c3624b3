//! Writers killed with SIGKILL at many moments: the store must stay consistent (a version exists
//! completely or not at all), and the next writer must clean up after the dead one.
//!
//! The moments come from a fixed pseudo-random sequence, spread over the measured duration of an
//! unkilled run, with extra weight near its end, where the renames into place happen.

use crate::need_shared;
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Fixed, so every run of the archive's bytes is the same (and comparable with a reference).
const EPOCH: &str = "1300000000";
const C: &str = "k";

/// A deterministic pseudo-random sequence (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// When an unkilled run did what, measured by watching the collection's folders.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    /// The temporary zip appeared: the writing phase began.
    writing: Duration,
    /// The zip got its final name.
    zip: Duration,
    /// The sidecar manifest got its final name: the commit point.
    manifest: Duration,
    /// The process exited.
    end: Duration,
}

/// `n` delays from a fixed seed: half spread over the whole run, a quarter over the writing
/// phase, and (every fourth, i % 4 == 3) a quarter counted from the moment the zip gets its
/// final name, up to a little after the manifest's rename: the window where a killed writer
/// leaves a zip without its manifest is a few milliseconds, narrower than the run-to-run
/// variation of a bundle, so these kills wait for the zip to appear instead of starting the
/// clock at spawn.
fn delays(seed: u64, n: usize, t: Timeline) -> Vec<Duration> {
    let mut rng = Lcg(seed);
    let margin = Duration::from_millis(20);
    let between = |a: Duration, b: Duration, x: f64| a + (b.saturating_sub(a)).mul_f64(x);
    (0..n)
        .map(|i| {
            let x = rng.next();
            match i % 4 {
                1 => between(t.writing, t.end, x),
                // Measured from the moment the zip gets its final name (see `Kill`).
                3 => between(Duration::ZERO, t.manifest.saturating_sub(t.zip) + margin, x),
                _ => between(Duration::ZERO, t.end, x),
            }
        })
        .collect()
}

/// Runs `c` to completion, watching for the temporary zip, the zip and the manifest of v2.
fn timed_ok(c: &mut Command, store: &Path) -> Timeline {
    let archives = store.join("archives").join(C);
    let manifest = store.join(format!("manifests/{C}/{C}-v2.json"));
    let start = Instant::now();
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cablekeep starts");
    let (mut writing, mut zip, mut landed) = (None, None, None);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let now = start.elapsed();
        if writing.is_none() && !temp_files(&archives).is_empty() {
            writing = Some(now);
        }
        if zip.is_none() && zip_path(store, 2).exists() {
            zip = Some(now);
        }
        if landed.is_none() && manifest.exists() {
            landed = Some(now);
        }
        // Coarse enough not to slow the writer down (it uses every core).
        std::thread::sleep(Duration::from_millis(5));
    };
    let end = start.elapsed();
    assert!(status.success(), "the unkilled run failed: {c:?}");
    let zip = zip.unwrap_or(end);
    Timeline {
        writing: writing.unwrap_or(zip),
        zip,
        manifest: landed.unwrap_or(end),
        end,
    }
}

/// The kill tests measure durations: they run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Reads every page once, so the first measured run does not pay for a cold cache.
fn warm(dir: &Path) {
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let _ = std::fs::read(e.path());
        }
    }
}

fn cmd(store: &Path) -> Command {
    let mut c = cablekeep(store);
    c.env("SOURCE_DATE_EPOCH", EPOCH);
    c
}

/// Starts `c`, kills it with SIGKILL after `delay` (counted from when `after` exists, when
/// given); true when it had already finished by then.
fn run_killed(c: &mut Command, delay: Duration, after: Option<&Path>) -> bool {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cablekeep starts");
    if let Some(path) = after {
        while !path.exists() && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let status = child.wait().unwrap();
    if finished {
        assert_eq!(status.code(), Some(0), "the unkilled run succeeded");
    }
    finished
}

fn zip_path(store: &Path, v: u32) -> PathBuf {
    store.join(format!("archives/{C}/{C}-v{v}.zip"))
}

/// Version numbers of files named `k-v<N><suffix>` in a folder.
fn numbered(dir: &Path, suffix: &str) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_prefix(&format!("{C}-v"))?
                    .strip_suffix(suffix)?
                    .parse()
                    .ok()
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

fn committed(store: &Path) -> Vec<u32> {
    numbered(&store.join("manifests").join(C), ".json")
}

fn zips(store: &Path) -> Vec<u32> {
    numbered(&store.join("archives").join(C), ".zip")
}

/// Files a writer leaves only while it runs.
fn temp_files(store: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(store)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".cablekeep-tmp-")
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// The findings of `verify --json` with `args`, asserting exit 0.
fn verify_ok(store: &Path, args: &[&str]) -> Vec<Value> {
    json_lines(&run_ok(
        cablekeep(store).args(["verify", "--json"]).args(args),
        0,
    ))
}

/// What must hold right after a writer was killed, whatever the moment. Returns a label of the
/// state found, for the summary.
fn check_after_kill(store: &Path, reference_v2: &[u8], run: &str) -> &'static str {
    // Every version verifies; the only finding allowed is the warning about a zip a killed
    // writer left without its manifest.
    let findings = verify_ok(store, &["--all"]);
    for f in &findings {
        assert!(
            f["code"] == "M008" && f["severity"] == "warning",
            "{run}: unexpected finding after a kill: {f}"
        );
    }
    let committed = committed(store);
    let zips = zips(store);
    // Every manifest has its zip and its .sha256 file.
    for v in &committed {
        assert!(zip_path(store, *v).exists(), "{run}: v{v} has no zip");
        let sum = store.join(format!("archives/{C}/{C}-v{v}.zip.sha256"));
        assert!(sum.exists(), "{run}: v{v} has no .sha256");
    }
    // No half-written zip under a final name: any zip there, committed or not, is whole, and
    // it is exactly the zip an unkilled run writes.
    // (The reference was verified once; v1 is committed, so `verify --all` covered it.)
    for v in &zips {
        let path = zip_path(store, *v);
        if *v == 2 {
            assert!(
                std::fs::read(&path).unwrap() == reference_v2,
                "{run}: v2's zip differs from the one an unkilled run writes"
            );
        }
    }
    assert!(
        committed.iter().all(|v| zips.contains(v)),
        "{run}: manifests {committed:?}, zips {zips:?}"
    );
    let uncommitted: Vec<&u32> = zips.iter().filter(|v| !committed.contains(v)).collect();
    assert!(
        uncommitted.iter().all(|v| **v == 2),
        "{run}: only the version being written can be left uncommitted: {uncommitted:?}"
    );
    let m008 = findings.iter().filter(|f| f["code"] == "M008").count();
    assert_eq!(
        m008,
        uncommitted.len(),
        "{run}: one M008 per uncommitted zip"
    );
    match (committed.contains(&2), uncommitted.is_empty()) {
        (true, _) => "v2 committed",
        (false, false) => "v2 zip without manifest",
        (false, true) => "no v2",
    }
}

/// What must hold after a writer ran to the end: nothing temporary, nothing uncommitted, and
/// every version verifies without a finding.
fn check_clean(store: &Path, run: &str) {
    let temps = temp_files(store);
    assert!(temps.is_empty(), "{run}: temporary files left: {temps:?}");
    assert_eq!(
        committed(store),
        zips(store),
        "{run}: every zip has its manifest"
    );
    let findings = verify_ok(store, &[]);
    assert!(findings.is_empty(), "{run}: {findings:?}");
}

fn summarize(what: &str, outcomes: &[&str], started: Instant) {
    let mut counts = std::collections::BTreeMap::new();
    for o in outcomes {
        *counts.entry(*o).or_insert(0) += 1;
    }
    eprintln!(
        "{what}: {} runs in {:.1?}: {counts:?}",
        outcomes.len(),
        started.elapsed()
    );
}

#[test]
fn bundle_killed_at_any_moment_leaves_a_consistent_store() {
    let dev = need_shared!("cables/dev");
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    warm(&dev);
    // The starting point: a store with a committed v1 (two sample pages).
    let template = temp_store();
    run_ok(
        cmd(template.path())
            .arg("bundle")
            .arg(examples().join("09EXAMPLE101.html"))
            .arg(examples().join("10EXAMPLE202.html"))
            .args(["-c", C]),
        0,
    );
    let bundle_dev = |store: &Path| {
        let mut c = cmd(store);
        c.arg("bundle").arg(&dev).args(["-c", C, "-m", "dev pages"]);
        c
    };
    // One unkilled run: when a bundle does what, and the v2 it writes.
    let reference = temp_store();
    copy_tree(template.path(), reference.path());
    let mut timeline = timed_ok(&mut bundle_dev(reference.path()), reference.path());
    // A second run: the first one in a test process is often slower than the rest.
    let again = temp_store();
    copy_tree(template.path(), again.path());
    let second = timed_ok(&mut bundle_dev(again.path()), again.path());
    if second.end < timeline.end {
        timeline = second;
    }
    run_ok(cablekeep(reference.path()).args(["verify", "--all"]), 0);
    let reference_v2 = std::fs::read(zip_path(reference.path(), 2)).unwrap();
    eprintln!("an unkilled bundle of the dev pages: {timeline:?}");

    // The page a quick follow-up bundle adds (not in v1, and not among the dev pages).
    let third = examples().join("06EXAMPLE303.txt");
    let mut outcomes = Vec::new();
    for (i, delay) in delays(0x6b69_6c6c, 20, timeline).into_iter().enumerate() {
        let run = format!("run {i} (killed after {delay:.2?})");
        let store = temp_store();
        copy_tree(template.path(), store.path());
        let zip2 = zip_path(store.path(), 2);
        let after = (i % 4 == 3).then_some(zip2.as_path());
        let finished = run_killed(&mut bundle_dev(store.path()), delay, after);
        let state = check_after_kill(store.path(), &reference_v2, &run);
        outcomes.push(if finished { "finished first" } else { state });

        // The next writer succeeds and cleans up. Most runs add one small page (quick); every
        // tenth run bundles the dev pages again, which must give the reference v2 exactly.
        if i % 10 == 0 {
            let out = run_ok(&mut bundle_dev(store.path()), 0);
            assert!(
                out.contains("wrote k@v2") || out.contains("nothing new: k@v2"),
                "{run}: {out}"
            );
            assert!(std::fs::read(zip_path(store.path(), 2)).unwrap() == reference_v2);
        } else {
            run_ok(
                cmd(store.path()).arg("bundle").arg(&third).args(["-c", C]),
                0,
            );
        }
        check_clean(store.path(), &run);
    }
    summarize("killed bundles", &outcomes, started);
}

#[test]
fn commit_killed_at_any_moment_keeps_the_stage_until_the_version_lands() {
    let dev = need_shared!("cables/dev");
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    // A committed v1, and 100 dev pages staged for v2.
    let template = temp_store();
    run_ok(
        cmd(template.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", C]),
        0,
    );
    let mut pages: Vec<PathBuf> = walkdir::WalkDir::new(&dev)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "html" || x == "txt"))
        .collect();
    pages.sort();
    pages.truncate(100);
    assert_eq!(pages.len(), 100, "dev has at least 100 pages");
    run_ok(
        cmd(template.path()).arg("add").args(&pages).args(["-c", C]),
        0,
    );
    let stage_of = |store: &Path| -> Value {
        let out = run_ok(cablekeep(store).args(["status", "--json", "-c", C]), 0);
        json_lines(&out).remove(0)["stage"].clone()
    };
    let staged = stage_of(template.path());
    assert_eq!(staged["items"].as_array().unwrap().len(), 100);
    let blobs = template.path().join(".cablekeep/stage/blobs");
    let commit = |store: &Path| {
        let mut c = cmd(store);
        c.args(["commit", "-c", C, "-m", "staged pages"]);
        c
    };
    let reference = temp_store();
    copy_tree(template.path(), reference.path());
    let timeline = timed_ok(&mut commit(reference.path()), reference.path());
    run_ok(cablekeep(reference.path()).args(["verify", "--all"]), 0);
    let reference_v2 = std::fs::read(zip_path(reference.path(), 2)).unwrap();
    eprintln!("an unkilled commit of 100 staged pages: {timeline:?}");

    let mut outcomes = Vec::new();
    for (i, delay) in delays(0x636f_6d6d, 6, timeline).into_iter().enumerate() {
        let run = format!("commit run {i} (killed after {delay:.2?})");
        let store = temp_store();
        copy_tree(template.path(), store.path());
        let zip2 = zip_path(store.path(), 2);
        let after = (i % 4 == 3).then_some(zip2.as_path());
        let finished = run_killed(&mut commit(store.path()), delay, after);
        let state = check_after_kill(store.path(), &reference_v2, &run);
        outcomes.push(if finished { "finished first" } else { state });
        let stage = stage_of(store.path());
        let landed = committed(store.path()).contains(&2);
        if !landed {
            // The commit did not land: the stage is intact, every blob with the same bytes.
            assert_eq!(stage, staged, "{run}: the stage changed");
            for item in staged["items"].as_array().unwrap() {
                let sha = item["sha256"].as_str().unwrap();
                let blob = store.path().join(".cablekeep/stage/blobs").join(sha);
                assert!(
                    std::fs::read(&blob).ok() == std::fs::read(blobs.join(sha)).ok(),
                    "{run}: blob {sha} is missing or changed"
                );
            }
        }
        if stage["items"].as_array().is_some_and(|a| !a.is_empty()) {
            // The stage is still there (the commit did not land, or it was killed between its
            // commit point and emptying the stage): committing again works.
            let out = run_ok(&mut commit(store.path()), 0);
            assert!(
                out.contains("wrote k@v2") || out.contains("nothing new: k@v2"),
                "{run}: {out}"
            );
        }
        assert!(
            stage_of(store.path())["items"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{run}: the stage is empty once v2 is committed"
        );
        assert!(std::fs::read(zip_path(store.path(), 2)).unwrap() == reference_v2);
        check_clean(store.path(), &run);
    }
    summarize("killed commits", &outcomes, started);
}
