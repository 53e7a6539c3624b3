//! The README's "Keeping three copies" runs as written: its commands, taken from the README,
//! run by bash against two Garage buckets reached through two AWS profiles, before and after a
//! copy is damaged.

use super::garage::{Garage, KEY_ID, SECRET, clear_aws_env};
use crate::util::{project_root, sample_store};
use std::path::Path;
use std::process::Command;

/// The shell block that follows the heading `#### Keeping three copies`.
fn three_copies_block() -> String {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    let section = readme
        .split("#### Keeping three copies")
        .nth(1)
        .expect("the README has the section");
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_string()
}

/// Writes `~/.aws/credentials` and `~/.aws/config` with the profiles the README names.
fn profiles(home: &Path, endpoint: &str) {
    let aws = home.join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    let mut credentials = String::new();
    let mut config = String::new();
    for name in ["partner", "second-region"] {
        credentials.push_str(&format!(
            "[{name}]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n\n"
        ));
        config.push_str(&format!(
            "[profile {name}]\nregion = garage\nendpoint_url = {endpoint}\n\n"
        ));
    }
    std::fs::write(aws.join("credentials"), credentials).unwrap();
    std::fs::write(aws.join("config"), config).unwrap();
}

/// Runs the block with bash; `stop_at_error` as `bash -e` (the whole workflow must pass), else
/// every line runs as a scheduled job would, whatever the one before it did.
fn run_block(block: &str, home: &Path, stop_at_error: bool) -> std::process::Output {
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("cablekeep");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cablekeep"), &link).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    clear_aws_env(&mut cmd)
        .args(if stop_at_error {
            ["-e", "-c"]
        } else {
            ["+e", "-c"]
        })
        .arg(block)
        .current_dir(home)
        .env("HOME", home)
        .env("PATH", path)
        .env("AWS_ALLOW_HTTP", "true")
        .env_remove("CABLEKEEP_STORE");
    cmd.output().unwrap()
}

#[test]
fn the_readme_three_copies_workflow_runs_as_written() {
    let Some(garage) = Garage::single() else {
        return;
    };
    garage.bucket("partner-archive");
    garage.bucket("cablegate-eu");
    let home = tempfile::tempdir().unwrap();
    profiles(home.path(), &garage.endpoint_of(1));
    let store = sample_store("dev");
    let block = three_copies_block().replace("/srv/cablekeep", store.path().to_str().unwrap());
    let out = run_block(&block, home.path(), true);
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let audit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("audit.json")).unwrap())
            .unwrap();
    assert_eq!(audit["findings"], serde_json::json!([]), "{audit:#}");
    assert_eq!(audit["replicas"].as_array().unwrap().len(), 3);
    assert!(!garage.list("cablegate-eu", "store/archives/").is_empty());
    // A copy in the second region goes bad: the weekly audit names it, the repair mends it.
    garage.delete("cablegate-eu", "store/manifests/dev/dev-v1.json");
    let zip = "store/archives/dev/dev-v1.zip";
    let mut bytes = garage.get("cablegate-eu", zip).unwrap();
    bytes[64] ^= 0x20;
    garage.put("cablegate-eu", zip, &bytes);
    let out = run_block(&block, home.path(), false);
    let said = String::from_utf8_lossy(&out.stderr);
    // The replicate refuses to give back the lost sidecar over a zip that is not the store's.
    assert!(said.contains("never overwrites"), "{said}");
    let audit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("audit.json")).unwrap())
            .unwrap();
    let named: Vec<(&str, &str)> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["file"].as_str().unwrap()))
        .collect();
    assert!(
        named.contains(&("R002", "s3://cablegate-eu/store/archives/dev/dev-v1.zip")),
        "{audit:#}"
    );
    assert!(
        named.contains(&("R001", "s3://cablegate-eu/store/manifests/dev/dev-v1.json")),
        "{audit:#}"
    );
    let check = format!(
        "cablekeep audit {} 's3://partner-archive/cablegate?profile=partner' 's3://cablegate-eu/store?profile=second-region'",
        store.path().display()
    );
    let out = run_block(&check, home.path(), true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
