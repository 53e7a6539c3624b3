//! A real Garage S3 object store on 127.0.0.1 for the replica tests: a cluster of nodes (or one
//! node) started by the test, each `garage server` a child killed in `Drop`. Objects are read
//! and damaged behind cablekeep's back with the raw S3 calls of `super::s3` (curl).
//!
//! The binary is `$CABLEKEEP_GARAGE`, else the one `scripts/setup-peers.sh` builds into
//! `${CABLEKEEP_TOOLS:-${XDG_CACHE_HOME:-~/.cache}/cablekeep-tools}/garage-2.5.0/bin/garage`.
//! When it is missing the test is skipped loudly and listed like a missing `../shared`; with
//! `CABLEKEEP_REQUIRE_GARAGE=1` (CI) it fails instead.

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::s3::{Object, REGION, S3};
use crate::util::record_skip;

/// The S3 access key every fixture imports (read, write and owner on every bucket it makes).
pub const KEY_ID: &str = "GKcablekeeptest0001";
/// Its secret.
pub const SECRET: &str = "cablekeep-test-secret-0123456789abcdef";

const VERSION: &str = "2.5.0";
const POLL: Duration = Duration::from_millis(100);
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The Garage binary, or None (the skip said and recorded) when it is missing; panics when it
/// is missing and `CABLEKEEP_REQUIRE_GARAGE=1`.
pub fn garage_binary() -> Option<PathBuf> {
    let path = env_path("CABLEKEEP_GARAGE")
        .unwrap_or_else(|| tools_dir().join(format!("garage-{VERSION}/bin/garage")));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CABLEKEEP_REQUIRE_GARAGE").as_deref() == Ok("1") {
        panic!(
            "Garage {VERSION} is missing at {} and CABLEKEEP_REQUIRE_GARAGE=1: run \
             scripts/setup-peers.sh or set CABLEKEEP_GARAGE to the binary",
            path.display()
        );
    }
    eprintln!(
        "\n!!! SKIPPED: Garage is missing at {}; run scripts/setup-peers.sh (or set \
         CABLEKEEP_GARAGE) !!!\n",
        path.display()
    );
    record_skip(&path);
    None
}

fn tools_dir() -> PathBuf {
    env_path("CABLEKEEP_TOOLS").unwrap_or_else(|| {
        env_path("XDG_CACHE_HOME")
            .or_else(|| env_path("HOME").map(|home| home.join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"))
            .join("cablekeep-tools")
    })
}

/// A variable's value as a path, an empty value counting as unset (as the shell's `${X:-}`).
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Removes every `AWS_*` variable a child would inherit (or was given), so the developer's own
/// credentials and endpoints never reach a test's cablekeep.
pub fn clear_aws_env(cmd: &mut Command) -> &mut Command {
    let given: Vec<_> = cmd.get_envs().map(|(name, _)| name.to_owned()).collect();
    let inherited = std::env::vars_os().map(|(name, _)| name);
    for name in inherited.chain(given) {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

struct Node {
    config: PathBuf,
    /// `<hex id>@127.0.0.1:<rpc port>`, known once the node started (cluster only).
    id: String,
    log: PathBuf,
    s3_port: u16,
    child: Option<Child>,
}

/// A running Garage: nodes 1..=n, numbered from 1 as in the test names.
pub struct Garage {
    binary: PathBuf,
    nodes: Vec<Node>,
    single_node: bool,
    started_in: Duration,
    // Last: the folder outlives the children, killed in Drop.
    dir: TempDir,
}

impl Garage {
    /// `n` nodes (replication factor min(n, 3), sqlite, no compression) joined into one layout
    /// with the CLI, the test key imported; None when Garage is missing (skipped).
    pub fn cluster(n: usize) -> Option<Garage> {
        assert!(n >= 1, "a cluster needs a node");
        let started = Instant::now();
        let mut garage = Garage::configure(garage_binary()?, n, false);
        for i in 1..=n {
            garage.spawn(i);
        }
        let ids: Vec<String> = (1..=n)
            .map(|i| garage.poll("node id", |g| g.try_cli(i, &["node", "id", "-q"])))
            .collect();
        for id in &ids[1..] {
            garage.cli(1, &["node", "connect", id]);
        }
        for (node, id) in garage.nodes.iter_mut().zip(&ids) {
            node.id = id.clone();
        }
        let mut assign = vec!["layout", "assign", "-z", "dc1", "-c", "1G"];
        assign.extend(ids.iter().map(|id| id.split('@').next().unwrap_or(id)));
        garage.cli(1, &assign);
        garage.cli(1, &["layout", "apply", "--version", "1"]);
        garage.wait_connected();
        garage.cli(
            1,
            &[
                "key",
                "import",
                KEY_ID,
                SECRET,
                "-n",
                "cablekeep-test",
                "--yes",
            ],
        );
        garage.wait_s3();
        garage.started_in = started.elapsed();
        eprintln!(
            "Garage: {n} nodes ready in {:.2} s",
            garage.started_in.as_secs_f64()
        );
        Some(garage)
    }

    /// One node (replication factor 1) started with `server --single-node --default-access-key`,
    /// which makes the layout and the test key itself; None when Garage is missing (skipped).
    pub fn single() -> Option<Garage> {
        let started = Instant::now();
        let mut garage = Garage::configure(garage_binary()?, 1, true);
        garage.spawn(1);
        garage.wait_connected();
        garage.wait_s3();
        garage.started_in = started.elapsed();
        eprintln!(
            "Garage: single node ready in {:.2} s",
            garage.started_in.as_secs_f64()
        );
        Some(garage)
    }

    /// How long the start took, until every node answered S3 with the test key.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Creates `name` and allows the test key to read, write and own it; returns once every
    /// running node lists it.
    pub fn bucket(&self, name: &str) {
        let via = self.first_running();
        self.cli(via, &["bucket", "create", name]);
        self.cli(
            via,
            &[
                "bucket", "allow", "--read", "--write", "--owner", name, "--key", KEY_ID,
            ],
        );
        for i in self.running() {
            self.poll(&format!("bucket {name} on node {i}"), |g| {
                match g
                    .s3(i)
                    .request("GET", name, "", &[("list-type", "2")], None)
                {
                    Ok(r) if r.status == 200 => Ok(()),
                    Ok(r) => Err(format!("HTTP {}: {}", r.status, r.text())),
                    Err(e) => Err(e),
                }
            });
        }
    }

    /// `http://127.0.0.1:<port>`, node `node`'s S3 endpoint.
    pub fn endpoint_of(&self, node: usize) -> String {
        format!("http://127.0.0.1:{}", self.node(node).s3_port)
    }

    /// What a cablekeep child needs to reach node 1 with the test key.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_via(1)
    }

    /// What a cablekeep child needs to reach node `node` with the test key. The profile files
    /// named are an empty file, so the developer's `~/.aws` adds nothing (a session token, say).
    pub fn env_via(&self, node: usize) -> Vec<(String, String)> {
        let no_profiles = self.no_aws_profiles().display().to_string();
        [
            ("AWS_ENDPOINT_URL", self.endpoint_of(node)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ("AWS_SHARED_CREDENTIALS_FILE", no_profiles.clone()),
            ("AWS_CONFIG_FILE", no_profiles),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Clears the inherited `AWS_*` variables of `cmd`, then sets [`Garage::env`].
    pub fn apply_env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        self.apply_env_via(cmd, 1)
    }

    /// Clears the inherited `AWS_*` variables of `cmd`, then sets [`Garage::env_via`]`(node)`.
    pub fn apply_env_via<'c>(&self, cmd: &'c mut Command, node: usize) -> &'c mut Command {
        clear_aws_env(cmd).envs(self.env_via(node))
    }

    /// SIGKILLs node `node` and reaps it; returns once the other running nodes know it is down
    /// (so the next requests through them are not held up by it).
    pub fn kill_node(&mut self, node: usize) {
        self.reap(node);
        let started = Instant::now();
        let running = self.running();
        // A connection to a killed peer is found broken only when written to twice (the first
        // write draws the reset), and a call waits for its answer: calls to every node are
        // started without waiting for them, until the node counts the peer down.
        let mut pokes = Vec::new();
        for &i in &running {
            self.poll(&format!("node {i} noticing node {node} is down"), |g| {
                let poke = g
                    .command(i)
                    .args(["stats", "-a"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                pokes.extend(poke);
                let health = g.try_cli(i, &["health"])?;
                match health_field(&health, "Storage nodes up:") {
                    Some(up) if up == running.len().to_string() => Ok(()),
                    _ => Err(health),
                }
            });
        }
        for mut poke in pokes {
            let _ = poke.kill();
            let _ = poke.wait();
        }
        eprintln!(
            "Garage: node {node} killed, noticed in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }

    fn reap(&mut self, node: usize) {
        if let Some(mut child) = self.nodes[node - 1].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `node` again on its folders and ports; returns once it is connected to the
    /// other running nodes and answers S3.
    pub fn restart_node(&mut self, node: usize) {
        assert!(
            self.node(node).child.is_none(),
            "node {node} is running; kill it first"
        );
        let started = Instant::now();
        self.spawn(node);
        // A node counts a peer as up only through a connection it opened itself, and retries a
        // lost peer every 30 s: each side connects now.
        for other in self.running().into_iter().filter(|&o| o != node) {
            for (from, to) in [(node, other), (other, node)] {
                let id = self.node(to).id.clone();
                self.poll(&format!("node {from} connecting to node {to}"), |g| {
                    g.try_cli(from, &["node", "connect", &id])
                });
            }
        }
        self.wait_connected();
        self.wait_s3();
        eprintln!(
            "Garage: node {node} restarted in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }

    /// Raw S3 calls through node `node` with the test key.
    pub fn s3(&self, node: usize) -> S3 {
        S3::new(&self.endpoint_of(node), KEY_ID, SECRET)
    }

    /// PUTs `bytes` at `bucket/key`; panics unless 200. This and the next four go through the
    /// first running node.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.s3(self.first_running()).put(bucket, key, bytes)
    }

    /// The object's bytes, None when it does not exist.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.s3(self.first_running()).get(bucket, key)
    }

    /// Deletes the object (no error when it does not exist).
    pub fn delete(&self, bucket: &str, key: &str) {
        self.s3(self.first_running()).delete(bucket, key)
    }

    /// (size, etag without quotes), None when it does not exist.
    pub fn head(&self, bucket: &str, key: &str) -> Option<(u64, String)> {
        self.s3(self.first_running()).head(bucket, key)
    }

    /// Every object under `prefix`, in key order.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<Object> {
        self.s3(self.first_running()).list(bucket, prefix)
    }

    /// The server log of node `node` (for a failure message).
    pub fn log_of(&self, node: usize) -> String {
        std::fs::read_to_string(&self.node(node).log).unwrap_or_default()
    }

    /// An empty file: the AWS profile files of the children.
    pub fn no_aws_profiles(&self) -> PathBuf {
        self.dir.path().join("no-aws-profiles")
    }

    fn configure(binary: PathBuf, n: usize, single_node: bool) -> Garage {
        let dir = tempfile::Builder::new()
            .prefix("cablekeep-garage-")
            .tempdir()
            .expect("a temporary folder for Garage");
        File::create(dir.path().join("no-aws-profiles")).expect("an empty file");
        let secret = random_hex(32);
        let ports = free_ports(2 * n);
        let nodes = (1..=n)
            .map(|i| {
                let home = dir.path().join(format!("n{i}"));
                std::fs::create_dir_all(&home).expect("a node folder");
                let (rpc, s3) = (ports[2 * i - 2], ports[2 * i - 1]);
                let config = home.join("garage.toml");
                let toml = node_config(&home, n.min(3), &secret, rpc, s3);
                std::fs::write(&config, toml).expect("garage.toml written");
                Node {
                    config,
                    id: String::new(),
                    log: home.join("server.log"),
                    s3_port: s3,
                    child: None,
                }
            })
            .collect();
        Garage {
            binary,
            nodes,
            single_node,
            started_in: Duration::ZERO,
            dir,
        }
    }

    fn spawn(&mut self, i: usize) {
        let node = &self.nodes[i - 1];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("the node log opens");
        let mut cmd = self.command(i);
        cmd.arg("server")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log handle clones"))
            .stderr(log);
        if self.single_node {
            cmd.args(["--single-node", "--default-access-key"])
                .env("GARAGE_DEFAULT_ACCESS_KEY", KEY_ID)
                .env("GARAGE_DEFAULT_SECRET_KEY", SECRET);
        }
        let child = cmd.spawn().expect("garage server starts");
        self.nodes[i - 1].child = Some(child);
    }

    /// `garage -c <node i's config>` with no inherited `GARAGE_*` variable (they override the
    /// config file).
    fn command(&self, i: usize) -> Command {
        let mut cmd = Command::new(&self.binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GARAGE_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("NO_COLOR", "1").arg("-c").arg(&self.node(i).config);
        cmd
    }

    fn try_cli(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(i)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the garage CLI runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    fn cli(&self, i: usize, args: &[&str]) -> String {
        self.try_cli(i, args).unwrap_or_else(|e| {
            self.fail(&format!(
                "`garage {}` on node {i} failed: {e}",
                args.join(" ")
            ))
        })
    }

    /// Until every running node sees all running nodes up as storage nodes, with a layout.
    fn wait_connected(&self) {
        let running = self.running();
        for &i in &running {
            self.poll(&format!("node {i} connected"), |g| {
                let health = g.try_cli(i, &["health"])?;
                let up = health_field(&health, "Storage nodes up:");
                let status = health_field(&health, "Cluster health:");
                if up == Some(running.len().to_string()) && status.as_deref() != Some("UNAVAILABLE")
                {
                    Ok(())
                } else {
                    Err(health)
                }
            });
        }
    }

    /// Until every running node answers ListBuckets with the test key.
    fn wait_s3(&self) {
        for i in self.running() {
            self.poll(&format!("S3 on node {i}"), |g| {
                match g.s3(i).request("GET", "", "", &[], None) {
                    Ok(r) if r.status == 200 => Ok(()),
                    Ok(r) => Err(format!("HTTP {}: {}", r.status, r.text())),
                    Err(e) => Err(e),
                }
            });
        }
    }

    /// Calls `attempt` every 100 ms until it succeeds; fails with the node logs after 30 s or
    /// when a node exited.
    fn poll<T>(&self, what: &str, mut attempt: impl FnMut(&Garage) -> Result<T, String>) -> T {
        let start = Instant::now();
        loop {
            let error = match attempt(self) {
                Ok(value) => return value,
                Err(e) => e,
            };
            if let Some(i) = self.exited_node() {
                self.fail(&format!("{what}: node {i} exited; last answer: {error}"));
            }
            if start.elapsed() >= READY_WITHIN {
                self.fail(&format!(
                    "{what}: not ready after 30 s; last answer: {error}"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    fn fail(&self, problem: &str) -> ! {
        let mut message = format!("Garage fixture: {problem}\n");
        for i in 1..=self.nodes.len() {
            let log = self.log_of(i);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            message += &format!("--- node {i} log (last 40 lines) ---\n");
            for line in tail.iter().rev() {
                message += line;
                message.push('\n');
            }
        }
        panic!("{message}");
    }

    /// A node whose server exited by itself (a zombie, not yet reaped).
    fn exited_node(&self) -> Option<usize> {
        self.running().into_iter().find(|&i| {
            let pid = self.nodes[i - 1].child.as_ref().map_or(0, Child::id);
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit_once(')')
                        .map(|(_, s)| s.trim_start().starts_with('Z'))
                })
                .unwrap_or(true)
        })
    }

    fn node(&self, i: usize) -> &Node {
        assert!(
            (1..=self.nodes.len()).contains(&i),
            "no node {i} (nodes are 1..={})",
            self.nodes.len()
        );
        &self.nodes[i - 1]
    }

    fn first_running(&self) -> usize {
        let running = self.running();
        *running.first().expect("a running Garage node")
    }

    fn running(&self) -> Vec<usize> {
        (1..=self.nodes.len())
            .filter(|&i| self.nodes[i - 1].child.is_some())
            .collect()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 1..=self.nodes.len() {
            self.reap(i);
        }
    }
}

fn node_config(home: &Path, replication: usize, secret: &str, rpc: u16, s3: u16) -> String {
    let home = home.display();
    format!(
        r#"metadata_dir = "{home}/meta"
data_dir = "{home}/data"
db_engine = "sqlite"
replication_factor = {replication}
compression_level = "none"
rpc_secret = "{secret}"
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"

[s3_api]
api_bind_addr = "127.0.0.1:{s3}"
s3_region = "{REGION}"
"#
    )
}

/// The value after `label` in the CLI's `health` table.
fn health_field(health: &str, label: &str) -> Option<String> {
    health
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_string())
}

/// `count` distinct ports free on 127.0.0.1 (all bound at once, then released).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("random bytes from /dev/urandom");
    hex::encode(buf)
}
