//! Headless Chromium for the browser tests: `--dump-dom` of a page after its scripts ran, and
//! screenshots. Installed by `scripts/setup-peers.sh` from the system's packages; a test that
//! finds no Chromium is skipped and says so (counted like a missing ../shared).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Chromium binary: `$CHROMIUM`, else `chromium` or `chromium-browser` on PATH; None (the
/// test is skipped and listed as skipped) when there is none.
pub(crate) fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .chain(which("chromium"))
        .chain(which("chromium-browser"));
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    let missing = Path::new("chromium (scripts/setup-peers.sh installs it)");
    eprintln!("\n!!! SKIPPED: headless Chromium is missing; this test needs it !!!\n");
    crate::util::record_skip(missing);
    None
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium's flags for a closed, quiet, headless run as root, with a fresh profile in `profile`.
fn command(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    cmd
}

/// Runs Chromium to completion, killed after a minute; its stdout.
fn run_bounded(mut cmd: Command) -> String {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("stdout");
    let out_file = std::fs::File::create(&out_path).unwrap();
    let mut child = cmd
        .stdout(out_file)
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&out_path).unwrap_or_default()
}

/// The DOM of `url` (`file://...` or `http://127.0.0.1:...`) after its scripts ran.
pub(crate) fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = command(chromium, profile.path());
    cmd.arg("--dump-dom").arg(url);
    run_bounded(cmd)
}

/// A 1280×900 screenshot of `url` into `png`.
pub(crate) fn screenshot(chromium: &Path, url: &str, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    if let Some(dir) = png.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut cmd = command(chromium, profile.path());
    cmd.arg(format!("--screenshot={}", png.display()))
        .args(["--window-size=1280,900", "--hide-scrollbars"])
        .arg(url);
    run_bounded(cmd);
    assert!(png.is_file(), "chromium wrote no screenshot of {url}");
}

/// Where screenshots go: `$CABLEKEEP_SCREENSHOTS` (the README's images are made with
/// `CABLEKEEP_SCREENSHOTS=docs/images`), else `target/screenshots/`.
pub(crate) fn screenshot_dir() -> PathBuf {
    std::env::var_os("CABLEKEEP_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::util::project_root().join("target/screenshots"))
}

/// The `file://` URL of a file.
pub(crate) fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

#[test]
fn a_cable_page_opens_from_file_in_chromium() {
    let Some(ed) = super::dev_edition() else {
        return;
    };
    let Some(chromium) = chromium() else { return };
    let page = ed.site.join("cable/2009/07/09TRIPOLI583.html");
    let dom = dump_dom(&chromium, &file_url(&page));
    assert!(dom.contains("09TRIPOLI583"), "{dom}");
    assert!(dom.contains("<pre"), "{dom}");
    screenshot(
        &chromium,
        &file_url(&page),
        &screenshot_dir().join("cable.png"),
    );
}
