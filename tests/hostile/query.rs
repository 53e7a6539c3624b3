//! Hostile queries and option values: search terms that made snippets take minutes, numbers
//! that overflowed, URLs and texts that forged output, unknown collections, a read-only store.

use crate::util::{cablekeep, measure, run, run_ok, temp_store};
use std::path::Path;
use std::time::Duration;

/// A store of the first `n` cables of the shared dev set (long real texts, where a snippet's
/// cost shows), or None when the shared data is missing.
fn dev_store(n: usize) -> Option<tempfile::TempDir> {
    let dev = crate::util::shared("cables/dev/cable")?;
    let mut pages: Vec<_> = walkdir::WalkDir::new(dev)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    pages.sort();
    let input = tempfile::tempdir().unwrap();
    for page in pages.iter().take(n) {
        std::fs::copy(page, input.path().join(page.file_name().unwrap())).unwrap();
    }
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "dev"])
            .arg(input.path()),
        0,
    );
    Some(store)
}

fn search(store: &Path, query: &str) -> std::process::Command {
    let mut cmd = cablekeep(store);
    cmd.args(["search", "--", query]);
    cmd
}

#[test]
fn queries_past_the_bounds_are_refused_at_once() {
    let Some(store) = dev_store(20) else { return };
    let repeated = vec!["the"; 200].join(" ");
    let ors = vec!["a"; 3000].join(" OR ");
    let long = "x".repeat(3000);
    for query in [&repeated, &ors, &long] {
        let m = measure(&search(store.path(), query), Duration::from_secs(10));
        assert!(!m.timed_out, "{m:?}");
        assert_eq!(m.code, Some(2), "{m:?}");
        assert!(m.stderr.contains("at most"), "{}", m.stderr);
        let out = store.path().join("export");
        let mut export = cablekeep(store.path());
        export
            .args(["export", "--format", "csv", "--query", query, "--out"])
            .arg(&out);
        let m = measure(&export, Duration::from_secs(10));
        assert_eq!(m.code, Some(2), "{m:?}");
        assert!(m.stderr.contains("at most"), "{}", m.stderr);
        assert!(!out.exists());
    }
}

#[test]
fn a_word_repeated_up_to_the_bound_is_searched_in_moments() {
    let Some(store) = dev_store(20) else { return };
    for query in [
        vec!["the"; 64].join(" "),
        vec!["the"; 64].join(" OR "),
        ["thé", "The", "\"the\"", "THE"].repeat(16).join(" "),
    ] {
        // The old snippet cost took longer than this even in a release build; bounded, it is
        // a small fraction of it, in a debug build on a busy machine too.
        let m = measure(&search(store.path(), &query), Duration::from_secs(8));
        assert!(!m.timed_out, "{query}: {m:?}");
        assert_eq!(m.code, Some(0), "{m:?}");
        assert!(m.stdout.contains("[the]"), "{}", m.stdout);
    }
}

#[test]
fn an_unknown_collection_is_an_error_not_an_empty_answer() {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "ex"])
            .arg(crate::util::examples()),
        0,
    );
    for command in [
        &["log", "-c", "nonexistent"][..],
        &["links", "report", "-c", "nonexistent"],
        &["links", "history", "-c", "nonexistent", "09EXAMPLE101"],
        &["show", "-c", "nonexistent", "09EXAMPLE101"],
        &["stats", "-c", "nonexistent"],
        &["diff", "-c", "nonexistent", "v1"],
    ] {
        let out = run(cablekeep(store.path()).args(command));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("\"nonexistent\""), "{command:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{command:?}");
    }
}

#[test]
fn provenance_flags_refuse_urls_and_texts_that_forge_output() {
    let store = temp_store();
    let page = crate::util::examples().join("09EXAMPLE101.html");
    for (flag, value) in [
        ("--source-url", "javascript:alert(1)"),
        ("--source-url", "https://example.org/a\nok: forged line"),
        ("--source-url", "https://example.org/a b"),
        ("--source-url", "not a url"),
        ("--source-url", "file:///etc/passwd"),
        ("--publisher", "WikiLeaks\nverify: ok"),
        ("--publisher", "\u{1b}[2Jcleared"),
        ("--message", "done\rex@v9  forged"),
        ("--message", "\u{1b}[2Jcleared"),
    ] {
        for command in ["bundle", "parse"] {
            if flag == "--message" && command == "parse" {
                continue;
            }
            let mut cmd = cablekeep(store.path());
            cmd.arg(command);
            if command == "bundle" {
                cmd.args(["-c", "c"]);
            }
            let out = run(cmd.args([flag, value]).arg(&page));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command} {flag} {value:?}: {stderr}"
            );
            assert!(stderr.contains(flag), "{stderr}");
        }
    }
    assert!(
        !store.path().join("archives").exists(),
        "nothing was written"
    );
    let out = run_ok(
        cablekeep(store.path())
            .args(["parse", "--json", "--publisher", "Cablegate Ärchive"])
            .args([
                "--source-url",
                "ftp://mirror.example.org/cables/09EXAMPLE101.html",
            ])
            .arg(&page),
        0,
    );
    assert!(out.contains("ftp://mirror.example.org/"), "{out}");
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "c", "-m", "two lines\n\tand a tab"])
            .arg(&page),
        0,
    );
}

/// A command run as the user nobody, when this process is root and setpriv is there (root
/// writes through any mode bits, so only another user shows what a read-only store does).
fn as_nobody(cmd: &std::process::Command) -> Option<std::process::Command> {
    let root = run(std::process::Command::new("id").arg("-u")).stdout == b"0\n";
    if !root {
        return Some(clone_command(cmd, None));
    }
    let found = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "\n!!! SKIPPED: running as root without setpriv: a read-only store cannot be made !!!\n"
        );
        return None;
    }
    Some(clone_command(cmd, Some("setpriv")))
}

fn clone_command(cmd: &std::process::Command, wrapper: Option<&str>) -> std::process::Command {
    let mut out = match wrapper {
        Some(w) => {
            let mut c = std::process::Command::new(w);
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(cmd.get_program());
            c
        }
        None => std::process::Command::new(cmd.get_program()),
    };
    out.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => out.env(k, v),
            None => out.env_remove(k),
        };
    }
    out
}

fn chmod(path: &Path, mode: &str) {
    let ok = std::process::Command::new("chmod")
        .args(["-R", mode])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn tree_listing(path: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut all: Vec<_> = walkdir::WalkDir::new(path)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| (e.path().to_path_buf(), e.metadata().unwrap().len()))
        .collect();
    all.sort();
    all
}

#[test]
fn search_and_export_query_work_on_a_read_only_store() {
    let work = temp_store();
    chmod(work.path(), "a+rx");
    let store = work.path().join("store");
    run_ok(
        cablekeep(&store)
            .args(["bundle", "-c", "ex"])
            .arg(crate::util::examples()),
        0,
    );
    // No index yet: search has to make one, and the store cannot take it.
    let _ = std::fs::remove_dir_all(store.join(".cablekeep/search"));
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    chmod(&cache, "a+rwx");
    let out_dir = work.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    chmod(&out_dir, "a+rwx");
    chmod(&store, "a-w");
    let before = tree_listing(&store);
    for with_cache in [true, false] {
        let mut search = cablekeep(&store);
        search.args(["search", "redacted"]);
        let mut export = cablekeep(&store);
        let out = out_dir.join(format!("export-{with_cache}"));
        export
            .args(["export", "--format", "csv", "--query", "redacted", "--out"])
            .arg(&out);
        for cmd in [&mut search, &mut export] {
            match with_cache {
                true => cmd.env("XDG_CACHE_HOME", &cache),
                false => cmd.env_remove("XDG_CACHE_HOME").env_remove("HOME"),
            };
        }
        let Some(search) = as_nobody(&search) else {
            return;
        };
        let m = measure(&search, Duration::from_secs(60));
        assert_eq!(m.code, Some(0), "{m:?}");
        assert!(m.stdout.contains("10EXAMPLE202"), "{m:?}");
        let m = measure(&as_nobody(&export).unwrap(), Duration::from_secs(60));
        assert_eq!(m.code, Some(0), "{m:?}");
        assert!(out.join("cables.csv").exists() || out.exists(), "{m:?}");
    }
    assert_eq!(tree_listing(&store), before, "the store is unchanged");
    let cached = walkdir::WalkDir::new(&cache)
        .into_iter()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name() == "meta.json");
    assert!(cached, "the search index is kept in the cache");
    chmod(&store, "u+w");
}

#[test]
fn an_endless_ids_file_is_refused_in_bounded_memory() {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "ex"])
            .arg(crate::util::examples()),
        0,
    );
    let out = store.path().join("export");
    let mut export = cablekeep(store.path());
    export
        .args([
            "export",
            "--format",
            "csv",
            "--ids-from",
            "/dev/zero",
            "--out",
        ])
        .arg(&out);
    let mut search = cablekeep(store.path());
    search.args(["search", "--ids-from", "/dev/zero", "example"]);
    for cmd in [export, search] {
        let m = measure(&cmd, Duration::from_secs(20));
        assert!(!m.timed_out, "{m:?}");
        assert!(m.peak_rss_mb() < 256.0, "{m:?}");
        assert_eq!(m.code, Some(2), "{m:?}");
        assert!(
            m.stderr.contains("--ids-from /dev/zero: longer than"),
            "{m:?}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn search_text_output_escapes_control_characters_of_pages() {
    let store = temp_store();
    let input = store.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let page = std::fs::read_to_string(crate::util::examples().join("09EXAMPLE101.html"))
        .unwrap()
        .replace("This cable is invented.", "\u{1b}[2Jinvented escapes");
    std::fs::write(input.join("09EXAMPLE101.html"), page).unwrap();
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "e"])
            .arg(&input),
        0,
    );
    let out = run_ok(&mut search(store.path(), "escapes"), 0);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains("\\u{1b}[2Jinvented [escapes]"), "{out}");
}

#[test]
fn numeric_options_out_of_range_are_usage_errors() {
    let store = temp_store();
    let page = crate::util::examples().join("09EXAMPLE101.html");
    let huge = u64::MAX.to_string();
    let page_arg = page.to_str().unwrap();
    let cases: [&[&str]; 7] = [
        &["bundle", "-c", "c", "--max-input-bytes", "0", page_arg],
        &["bundle", "-c", "c", "--max-input-bytes", &huge, page_arg],
        &["add", "-c", "c", "--max-input-bytes", &huge, page_arg],
        &["parse", "--max-input-bytes", "0", page_arg],
        &["search", "--limit", "0", "cable"],
        &["search", "--limit", &huge, "cable"],
        &["search", "--limit=-1", "cable"],
    ];
    for args in cases {
        let out = run(cablekeep(store.path()).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("invalid value"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(
        !store.path().join("archives").exists(),
        "nothing was written"
    );
}

#[test]
fn the_link_log_is_read_in_bounded_memory_and_a_fifo_in_its_place_hangs_nothing() {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "e"])
            .arg(crate::util::examples()),
        0,
    );
    let log = store.path().join("manifests/e/links.jsonl");
    // One line of 256 MiB: read a bounded line at a time, it costs a buffer of 16 MiB (which
    // may grow to twice that); read whole, the line alone takes 256 MiB.
    let mut line = vec![b'x'; 256 << 20];
    line.push(b'\n');
    std::fs::write(&log, &line).unwrap();
    drop(line);
    for args in [
        &["links", "report"][..],
        &["links", "history", "09EXAMPLE101"],
    ] {
        let mut cmd = cablekeep(store.path());
        cmd.args(args);
        let m = measure(&cmd, Duration::from_secs(60));
        assert!(!m.timed_out, "{m:?}");
        assert!(
            m.peak_rss_mb() < 100.0,
            "{args:?}: {:.0} MB",
            m.peak_rss_mb()
        );
        assert!(m.stderr.contains("left out") || m.code == Some(2), "{m:?}");
    }
    std::fs::remove_file(&log).unwrap();
    crate::util::mkfifo(&log);
    let mut report = cablekeep(store.path());
    report.args(["links", "report"]);
    let m = measure(&report, Duration::from_secs(30));
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(2), "{m:?}");
    assert!(m.stderr.contains("FIFO"), "{m:?}");
}

/// Overwrites `len` bytes of `file` at `at` (from the end when negative) with `byte`.
fn damage(file: &Path, at: i64, len: usize, byte: u8) {
    let mut bytes = std::fs::read(file).unwrap();
    let start = if at < 0 {
        bytes.len().saturating_sub(at.unsigned_abs() as usize)
    } else {
        (at as usize).min(bytes.len())
    };
    let end = (start + len).min(bytes.len());
    bytes[start..end].fill(byte);
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn a_damaged_search_index_never_crashes_a_search_and_is_built_anew_when_found() {
    let Some(store) = dev_store(60) else { return };
    let queries = [
        "minister",
        "\"prime minister\"",
        "terror*",
        "embassy NOT oil",
        "tag:PREL",
    ];
    let ids = |query: &str| -> (Option<i32>, String, String) {
        let m = measure(&search(store.path(), query), Duration::from_secs(60));
        assert!(!m.timed_out, "{m:?}");
        (m.code, m.stdout, m.stderr)
    };
    let baseline: Vec<String> = queries.iter().map(|q| ids(q).1).collect();
    let index = store.path().join(".cablekeep/search");
    let kinds = ["idx", "term", "pos", "fast", "store", "fieldnorm"];
    for (round, (at, byte)) in [(-24i64, 0xFFu8), (-200, 0x00), (4096, 0xA5), (40, 0x5A)]
        .into_iter()
        .enumerate()
    {
        for kind in kinds {
            for entry in std::fs::read_dir(&index).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == kind) {
                    damage(&path, at, 64, byte);
                }
            }
            for (query, before) in queries.iter().zip(&baseline) {
                let (code, stdout, stderr) = ids(query);
                // Never a crash: the answer, or (for damage the engine cannot see) an answer
                // from the damaged index, or a clear error; a damaged index that is found out is
                // built anew and answers as before.
                assert!(
                    matches!(code, Some(0) | Some(2)),
                    "round {round}, {kind}, {query}: {code:?} {stderr}"
                );
                assert!(!stderr.contains("panicked"), "{stderr}");
                if code == Some(2) {
                    assert!(stderr.contains("search index"), "{stderr}");
                }
                if stderr.contains("search index built") {
                    assert_eq!(&stdout, before, "round {round}, {kind}, {query}");
                }
            }
        }
        // Rebuilt for the next round.
        run_ok(cablekeep(store.path()).args(["search", "--rebuild"]), 0);
    }
}
