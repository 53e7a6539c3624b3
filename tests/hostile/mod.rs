//! Hostile inputs and faults: crafted zips, special files, huge option values, lost manifests,
//! changed stage blobs. Each test builds its hostile input itself (nothing crafted is committed)
//! and holds cablekeep to its promises: a clear error or a finding, never a panic, a hang or
//! memory that grows with what an attacker controls, and nothing stored lost or changed.

mod cli;
mod ingest;
mod query;
mod store;

#[test]
fn measuring_a_child_reports_its_peak_memory_and_exit_code() {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "echo hi; exit 3"]);
    let m = crate::util::measure(&cmd, std::time::Duration::from_secs(30));
    assert_eq!(m.code, Some(3));
    assert_eq!(m.stdout, "hi\n");
    assert!(m.peak_rss_kb > 0 && m.peak_rss_mb() < 64.0, "{m:?}");
    assert!(!m.timed_out);
}

#[test]
fn measuring_a_child_kills_it_at_the_time_limit() {
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    let m = crate::util::measure(&cmd, std::time::Duration::from_millis(300));
    assert!(m.timed_out, "{m:?}");
    assert_eq!(m.code, None);
}
mod linkin;
mod sealperf;
mod verify;
