//! The command line's edges and the use cases it calls: names and versions are refused where
//! they enter (a usage error naming the value, nothing run), output formats are one enum with
//! the old flags as aliases, and `show`, `stats`, `commit` and the sample store are library
//! functions that give what the commands print.

use crate::util::*;
use cablekeep::progress::NoProgress;
use cablekeep::store::show::{ShowRequest, show_cable};
use cablekeep::store::{Store, VersionNum};

/// Runs a command expected to be refused as a usage error; returns its stderr.
fn usage_error(store: &std::path::Path, args: &[&str]) -> String {
    let out = run(cablekeep(store).args(args));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

#[test]
fn bad_collection_names_and_versions_are_usage_errors_that_name_the_value() {
    let store = sample_store("dev");
    for (args, value, why) in [
        (&["log", "-c", "Dev"][..], "'Dev'", "lower-case letters"),
        (
            &["bundle", "-c", "../x", "."],
            "'../x'",
            "lower-case letters",
        ),
        (&["show", "X", "--version", "v0"], "'v0'", "numbered from 1"),
        (
            &["stats", "--version", "latest"],
            "'latest'",
            "give a number from 1",
        ),
        (&["diff", "v1", "two"], "'two'", "give a number from 1"),
        (
            &["rebuild-manifest", "--version", "0"],
            "'0'",
            "numbered from 1",
        ),
        (&["verify", "--version=-3"], "'-3'", "give a number from 1"),
    ] {
        let stderr = usage_error(store.path(), args);
        assert!(
            stderr.contains(&format!("invalid value {value}")),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    assert!(!store.path().join("archives/x").exists());
}

#[test]
fn links_report_format_and_its_alias_flags_print_the_same() {
    let store = sample_store("dev");
    let report = |args: &[&str]| {
        run_ok(
            cablekeep(store.path())
                .args(["links", "report", "-c", "dev"])
                .args(args),
            0,
        )
    };
    for (format, flag) in [
        ("json", "--json"),
        ("markdown", "--markdown"),
        ("csv", "--csv"),
    ] {
        let by_format = report(&["--format", format]);
        assert_eq!(by_format, report(&[flag]), "{format}");
        assert!(!by_format.is_empty(), "{format}");
    }
    assert_eq!(report(&["--format", "text"]), report(&[]));
    assert!(report(&["--format", "csv"]).starts_with("cable,url,state,"));
    let stderr = usage_error(
        store.path(),
        &["links", "report", "--format", "csv", "--json"],
    );
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let stderr = usage_error(store.path(), &["links", "check", "--format", "yaml"]);
    assert!(stderr.contains("invalid value 'yaml'"), "{stderr}");
}

#[test]
fn show_and_stats_from_the_library_are_what_the_commands_print() {
    let dir = sample_store("dev");
    let store = Store::new(dir.path());
    let shown = show_cable(
        &store,
        &ShowRequest {
            id: "10EXAMPLE202",
            collection: Some("dev"),
            version: Some(VersionNum::FIRST),
            capture: None,
        },
    )
    .unwrap();
    assert_eq!(shown.version_id().to_string(), "dev@v1");
    let json = run_ok(
        cablekeep(dir.path()).args(["show", "10EXAMPLE202", "--json"]),
        0,
    );
    assert_eq!(json.as_bytes(), shown.record_json().unwrap());
    let raw = run(cablekeep(dir.path()).args(["show", "10EXAMPLE202", "--raw"])).stdout;
    assert_eq!(raw, shown.raw_bytes().unwrap());

    let stats = cablekeep::query::stats::of_version(&store, "dev", None).unwrap();
    assert_eq!(stats.identifier, "dev@v1");
    assert_eq!(stats.cables, 3);
    let printed = run_ok(cablekeep(dir.path()).args(["stats", "--json"]), 0);
    assert_eq!(
        printed,
        format!("{}\n", serde_json::to_string(&stats).unwrap())
    );
}

#[test]
fn the_stage_committed_by_the_library_is_the_version_commit_writes() {
    let dir = temp_store();
    let page = examples().join("09EXAMPLE101.html");
    run_ok(
        cablekeep(dir.path()).args(["add", "-c", "dev"]).arg(&page),
        0,
    );
    let store = Store::new(dir.path());
    let lock = store.lock(cablekeep::store::LockWait::FailAtOnce).unwrap();
    let collection = store.collection_to_commit(None).unwrap();
    let outcome = store
        .commit_stage(&lock, &collection, "by the library", &NoProgress)
        .unwrap();
    drop(lock);
    assert_eq!(outcome.manifest.unwrap().identifier, "dev@v1");
    let status = run_ok(cablekeep(dir.path()).arg("status"), 0);
    assert_eq!(status, "nothing staged\n");
    let log = run_ok(cablekeep(dir.path()).args(["log", "-c", "dev"]), 0);
    assert!(log.contains("  by the library\n"), "{log}");
    let again = run(cablekeep(dir.path()).arg("commit"));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing staged"));
}

#[test]
fn the_sample_store_is_what_demo_writes_and_verifies() {
    let dir = temp_store();
    let out = run_ok(cablekeep(dir.path()).arg("demo"), 0);
    assert!(out.starts_with("wrote examples@v1 (3 cables"), "{out}");
    assert!(out.contains("ok: examples@v1 (full:"), "{out}");
    let store = Store::new(dir.path());
    let lock = store.lock(cablekeep::store::LockWait::FailAtOnce).unwrap();
    let again = cablekeep::store::demo::write_samples(&store, &lock, &NoProgress).unwrap();
    assert!(again.manifest.is_none(), "the samples are there already");
    assert_eq!(
        again.duplicate_captures,
        cablekeep::store::demo::SAMPLES.len() as u64
    );
}
