//! Issue #30: `replicate` of `full` to a loopback Garage (one node, as the setup script builds
//! it), then `audit` of three replicas that agree (the store and two prefixes: no zip byte may
//! be read), and again with one zip damaged behind cablekeep's back (only that zip is read).

use super::harness::{Ctx, have};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REPLICATE_ROW: &str = "ck replicate full (to loopback Garage)";
pub const AUDIT_ROW: &str = "ck audit: 3 replicas that agree";
pub const AUDIT_DAMAGED_ROW: &str = "ck audit: one zip damaged";

const KEY_ID: &str = "GKcablekeepbench0001";
const SECRET: &str = "bench-secret-0123456789abcdef";
const BUCKET: &str = "bench";

pub fn run(c: &mut Ctx) {
    let Some(garage) = garage_binary() else {
        for row in [REPLICATE_ROW, AUDIT_ROW, AUDIT_DAMAGED_ROW] {
            c.skip(
                row,
                "Garage is not installed (scripts/setup-peers.sh builds it)",
            );
        }
        return;
    };
    let dir = c.scratch.join("garage");
    let _ = fs::remove_dir_all(&dir);
    let server = match Server::start(&garage, &dir) {
        Ok(s) => s,
        Err(e) => {
            c.skip(REPLICATE_ROW, &format!("Garage did not start: {e}"));
            return;
        }
    };
    let zips = zip_bytes(&c.store.join("archives/full"));
    let env = server.env();
    let with_env = |args: Vec<String>| -> Vec<String> {
        let mut cmd = vec!["env".to_string()];
        cmd.extend(env.iter().cloned());
        cmd.extend(args);
        cmd
    };
    let a = format!("s3://{BUCKET}/a");
    let b = format!("s3://{BUCKET}/b");
    let cmd = with_env(c.ck(&["replicate", "-c", "full", "--to", &a, "--json"]));
    let copied = c.time(REPLICATE_ROW, "cablekeep", cmd, 0, zips, &[]);
    if copied.is_none_or(|m| m.exit_code != 0) {
        return;
    }
    // The second replica is not timed (Garage keeps one copy of blocks it already holds).
    let second = with_env(c.ck(&["replicate", "-c", "full", "--to", &b]));
    if !run_quiet(&second) {
        c.skip(AUDIT_ROW, "the second replicate failed");
        return;
    }
    let store = c.store.display().to_string();
    let audit = with_env(c.ck(&["audit", &store, &a, &b, "-c", "full", "--json"]));
    c.time(AUDIT_ROW, "cablekeep", audit.clone(), 0, 0, &[]);
    note_bytes_read(c, AUDIT_ROW);
    match damage_latest_zip(c, &server) {
        Ok(damaged_bytes) => {
            // The audit must find the damage: its exit 1 is this row's success.
            let mut expecting_findings = vec![
                "sh".to_string(),
                "-c".to_string(),
                "\"$@\"; test $? -eq 1".to_string(),
                "sh".to_string(),
            ];
            expecting_findings.extend(audit);
            c.time(
                AUDIT_DAMAGED_ROW,
                "cablekeep",
                expecting_findings,
                0,
                0,
                &[],
            );
            note_bytes_read(c, AUDIT_DAMAGED_ROW);
            if let Some(detail) = c.rows.last_mut().and_then(|r| r.detail.as_mut()) {
                detail["damaged_zip_bytes"] = damaged_bytes.into();
            }
        }
        Err(e) => c.skip(AUDIT_DAMAGED_ROW, &e),
    }
    drop(server);
    let _ = fs::remove_dir_all(&dir);
}

/// The sum of the zips' sizes in `dir`: what a replicate of the collection moves.
fn zip_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "zip"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Puts the audit's `payload_bytes_read` in the row's note and detail.
fn note_bytes_read(c: &mut Ctx, row_name: &str) {
    let tag: String = row_name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    let out = fs::read_to_string(c.logs.join(format!("{tag}.out"))).unwrap_or_default();
    let report: Option<serde_json::Value> = out.lines().find_map(|l| serde_json::from_str(l).ok());
    let Some(report) = report else { return };
    let payload = report["payload_bytes_read"].as_u64().unwrap_or(0);
    let findings = report["findings"].as_array().map_or(0, Vec::len);
    if let Some(row) = c.rows.last_mut() {
        row.note = format!(
            "{payload} zip bytes read, {} bytes of small files, {findings} findings",
            report["small_bytes_read"].as_u64().unwrap_or(0)
        );
        row.detail =
            Some(serde_json::json!({ "payload_bytes_read": payload, "findings": findings }));
    }
}

/// Replaces replica b's latest zip with bytes of the same size, one of them changed, through
/// the S3 API (curl), as damage behind cablekeep's back.
fn damage_latest_zip(c: &Ctx, server: &Server) -> Result<u64, String> {
    if !have("curl") {
        return Err("curl is not installed".into());
    }
    let dir = c.store.join("archives/full");
    let latest = fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .max_by_key(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            name.trim_start_matches("full-v")
                .trim_end_matches(".zip")
                .parse::<u32>()
                .unwrap_or(0)
        })
        .ok_or("no zip of full")?;
    let name = latest
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let damaged = c.scratch.join("damaged.zip");
    fs::copy(&latest, &damaged).map_err(|e| e.to_string())?;
    flip_byte(&damaged, 1000).map_err(|e| e.to_string())?;
    let url = format!(
        "http://127.0.0.1:{}/{BUCKET}/b/archives/full/{name}",
        server.s3_port
    );
    let ok = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "--aws-sigv4",
            "aws:amz:garage:s3",
            "--user",
        ])
        .arg(format!("{KEY_ID}:{SECRET}"))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T"])
        .arg(&damaged)
        .arg(&url)
        .status()
        .is_ok_and(|s| s.success());
    let size = fs::metadata(&damaged).map_or(0, |m| m.len());
    let _ = fs::remove_file(&damaged);
    ok.then_some(size)
        .ok_or_else(|| format!("curl could not overwrite {url}"))
}

fn flip_byte(path: &Path, at: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = fs::OpenOptions::new().read(true).write(true).open(path)?;
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut b)?;
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&[b[0] ^ 0x5a])
}

fn run_quiet(cmd: &[String]) -> bool {
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where the setup script builds Garage (or `CABLEKEEP_GARAGE`).
fn garage_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CABLEKEEP_GARAGE") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let tools = std::env::var_os("CABLEKEEP_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("cablekeep-tools"))
        })?;
    Some(tools.join("garage-2.5.0/bin/garage")).filter(|p| p.is_file())
}

/// A one-node Garage on loopback ports, killed when dropped.
struct Server {
    child: Child,
    s3_port: u16,
}

impl Server {
    fn start(garage: &Path, dir: &Path) -> Result<Server, String> {
        fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let (s3_port, rpc_port) = (free_port()?, free_port()?);
        let config = dir.join("garage.toml");
        fs::write(
            &config,
            format!(
                "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\ncompression_level = \"none\"\n\
                 rpc_secret = \"{secret}\"\nrpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc_port}\"\n\n[s3_api]\n\
                 api_bind_addr = \"127.0.0.1:{s3_port}\"\ns3_region = \"garage\"\n",
                meta = dir.join("meta").display(),
                data = dir.join("data").display(),
                secret = "ab".repeat(32),
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = fs::File::create(dir.join("garage.log")).map_err(|e| e.to_string())?;
        let child = Command::new(garage)
            .arg("-c")
            .arg(&config)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", KEY_ID)
            .env("GARAGE_DEFAULT_SECRET_KEY", SECRET)
            .env("GARAGE_DEFAULT_BUCKET", BUCKET)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        let server = Server { child, s3_port };
        server.wait_ready(garage, &config)?;
        Ok(server)
    }

    /// Ready when its bucket answers a listing (`garage bucket info`).
    fn wait_ready(&self, garage: &Path, config: &Path) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let ok = Command::new(garage)
                .arg("-c")
                .arg(config)
                .args(["bucket", "info", BUCKET])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("not ready after 30 s".into())
    }

    /// The `VAR=value` words of `env` for cablekeep.
    fn env(&self) -> Vec<String> {
        vec![
            format!("AWS_ENDPOINT_URL=http://127.0.0.1:{}", self.s3_port),
            "AWS_ALLOW_HTTP=true".into(),
            "AWS_REGION=garage".into(),
            format!("AWS_ACCESS_KEY_ID={KEY_ID}"),
            format!("AWS_SECRET_ACCESS_KEY={SECRET}"),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
