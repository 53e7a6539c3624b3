//! `cablekeep serve`: the same bytes as the static edition, search and the JSON API from the
//! store, and a server that refuses what it must (traversal, methods, bodies, oversized
//! requests) and stays within bounds under 50 clients. Each test starts its own server on a
//! free port of 127.0.0.1 (read from its first line), killed when the test ends, also when it
//! fails.

use super::browser::{chromium, dump_dom, screenshot, screenshot_dir};
use super::{DevEdition, dev_edition, files_of};
use crate::util::{cablekeep, run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `cablekeep serve`, killed when dropped.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    addr: String,
    stderr: tempfile::NamedTempFile,
}

impl Server {
    /// `cablekeep serve --addr 127.0.0.1:0 -c dev` on the dev edition's store, with `extra`
    /// arguments; returns once it said where it listens.
    fn start(ed: &DevEdition, extra: &[&str]) -> Server {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = cablekeep(&ed.store)
            .args(["serve", "--addr", "127.0.0.1:0", "-c", "dev"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .expect("cablekeep serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let mut server = Server {
            child,
            base: String::new(),
            addr: String::new(),
            stderr,
        };
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("first line {first:?}; stderr: {}", server.stderr_text()));
        server.addr = addr.to_string();
        server.base = format!("http://{addr}");
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    /// `Threads` and `VmRSS` (kB) from the server's /proc status.
    fn threads_and_rss_kb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap()
        };
        (field("Threads:"), field("VmRSS:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that reads 4xx and 5xx answers as answers.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// GET `url`: status, `Content-Type`, body.
fn get(agent: &ureq::Agent, url: &str) -> (u16, String, Vec<u8>) {
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (r.status().as_u16(), content_type, body)
}

fn get_json(agent: &ureq::Agent, url: &str) -> (u16, serde_json::Value) {
    let (status, content_type, body) = get(agent, url);
    assert_eq!(content_type, "application/json", "{url}");
    (status, serde_json::from_slice(&body).unwrap())
}

/// Every `step`-th file of the edition under `prefix` with `suffix`.
fn some_files(site: &Path, prefix: &str, suffix: &str, step: usize) -> Vec<String> {
    files_of(site)
        .into_iter()
        .filter(|p| p.starts_with(prefix) && p.ends_with(suffix))
        .step_by(step)
        .collect()
}

#[test]
fn served_pages_are_the_static_editions_bytes() {
    let Some(ed) = dev_edition() else { return };
    let server = Server::start(ed, &[]);
    let agent = agent();
    let mut paths = some_files(&ed.site, "cable/", ".html", 20);
    assert!(paths.len() >= 20, "{paths:?}");
    paths.extend(some_files(&ed.site, "cable/", ".proof.json", 40));
    paths.extend(some_files(&ed.site, "seal/", "", 1));
    // Lists, home, about and the style sheet, as far as the edition has them.
    for folder in [
        "date/",
        "reldate/",
        "origin/",
        "tag/",
        "classification/",
        "redaction/",
    ] {
        paths.extend(some_files(&ed.site, folder, ".html", 7));
    }
    paths.extend(["index.html", "about.html", "style.css"].map(String::from));
    let mut compared = 0;
    for path in &paths {
        let Ok(file) = std::fs::read(ed.site.join(path)) else {
            continue;
        };
        let (status, _, body) = get(&agent, &server.url(path));
        assert_eq!(status, 200, "{path}");
        assert!(
            body == file,
            "{path}: the served bytes differ from the file's"
        );
        compared += 1;
    }
    assert!(compared >= 25, "only {compared} files compared");
    // `/` is the home page; HEAD gives the length and no body; every answer carries the
    // security headers.
    let (_, _, home) = get(&agent, &format!("{}/", server.base));
    assert_eq!(home, std::fs::read(ed.site.join("index.html")).unwrap());
    let page = &paths[0];
    let r = agent.head(server.url(page)).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        header("content-length"),
        std::fs::metadata(ed.site.join(page))
            .unwrap()
            .len()
            .to_string()
    );
    assert_eq!(header("content-security-policy"), "default-src 'self'");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let (status, _, _) = get(&agent, &server.url("cable/2009/07/NOSUCHCABLE.html"));
    assert_eq!(status, 404);
}

/// The ids of `cablekeep search QUERY -c dev --json --limit N`.
fn cli_search_ids(ed: &DevEdition, query: &str, limit: usize) -> Vec<String> {
    let out = crate::util::run_ok(
        cablekeep(&ed.store).args([
            "search",
            query,
            "-c",
            "dev",
            "--json",
            "--limit",
            &limit.to_string(),
        ]),
        0,
    );
    crate::util::json_lines(&out)
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

fn api_ids(v: &serde_json::Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_search_api_answers_as_cablekeep_search() {
    let Some(ed) = dev_edition() else { return };
    let server = Server::start(ed, &[]);
    let agent = agent();
    for (query, encoded) in [
        ("libya", "libya"),
        ("oil AND gas", "oil+AND+gas"),
        ("embass*", "embass*"),
        ("\"human rights\"", "%22human%20rights%22"),
        ("origin:tripoli NOT oil", "origin%3Atripoli+NOT+oil"),
    ] {
        let cli = cli_search_ids(ed, query, 100);
        assert!(!cli.is_empty(), "{query}: no hits");
        let (status, v) = get_json(
            &agent,
            &server.url(&format!("api/search?q={encoded}&limit=100")),
        );
        assert_eq!(status, 200, "{query}: {v}");
        assert_eq!(api_ids(&v), cli, "{query}");
        for hit in v["hits"].as_array().unwrap() {
            let page = hit["page"].as_str().unwrap();
            assert!(ed.site.join(page).is_file(), "{page}");
            assert!(hit["snippet"].is_string() && hit["score"].is_number());
        }
    }
    // The default limit is 20; at most 100 are given.
    let (_, v) = get_json(&agent, &server.url("api/search?q=embass*"));
    assert_eq!(api_ids(&v), cli_search_ids(ed, "embass*", 20));
    for bad in [
        "limit=101&q=oil",
        "limit=0&q=oil",
        "limit=x&q=oil",
        "q=",
        "x=1",
    ] {
        let (status, v) = get_json(&agent, &server.url(&format!("api/search?{bad}")));
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["error"].is_string());
    }
    // A malformed query: 400 with the parser's message, as `cablekeep search` says it.
    let (status, v) = get_json(&agent, &server.url("api/search?q=%28libya"));
    assert_eq!(status, 400);
    let message = v["error"].as_str().unwrap();
    assert!(message.contains("never closed"), "{message}");
    let cli = run(cablekeep(&ed.store).args(["search", "(libya", "-c", "dev"]));
    assert_eq!(cli.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&cli.stderr).contains(message));
    let (status, _, page) = get(&agent, &server.url("search.html?q=%28libya"));
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&page).contains("never closed"));
}

#[test]
fn the_cable_api_gives_the_line_record_and_captures() {
    let Some(ed) = dev_edition() else { return };
    let server = Server::start(ed, &[]);
    let agent = agent();
    let (status, v) = get_json(&agent, &server.url("api/cables/09TRIPOLI583"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], "09TRIPOLI583");
    assert_eq!(v["version"], "dev@v2");
    assert_eq!(v["line"]["id"], "09TRIPOLI583");
    // The page under the id the cable was published under (and alias pages under its others).
    let page = v["page"].as_str().unwrap();
    assert!(page.starts_with("cable/2009/07/"), "{page}");
    assert!(ed.site.join(page).is_file(), "{page}");
    // The proof beside the page, served as the edition has it.
    let proof = v["proof"].as_str().unwrap();
    assert_eq!(proof, page.replace(".html", ".proof.json"));
    if let Ok(file) = std::fs::read(ed.site.join(proof)) {
        assert_eq!(get(&agent, &server.url(proof)).2, file);
    }
    let text = v["record"]["text"].as_str().unwrap();
    assert!(text.len() > 500, "{text}");
    let site_page = std::fs::read_to_string(ed.site.join(page)).unwrap();
    let subject = v["record"]["subject"].as_str().unwrap();
    assert!(
        site_page.contains(&subject.replace('\'', "&#39;")),
        "{subject}"
    );
    let captures = v["captures"].as_array().unwrap();
    assert_eq!(
        captures.len(),
        v["line"]["captures"].as_array().unwrap().len()
    );
    for c in captures {
        assert!(c["source"]["publisher"].is_string(), "{c}");
        assert!(c["sha256"].as_str().unwrap().len() == 64, "{c}");
    }
    // A cable with two captures (v1's and v2's) lists both, with their sources.
    let two = files_of(&ed.site)
        .into_iter()
        .filter(|p| p.starts_with("cable/") && p.ends_with(".html"))
        .find_map(|p| {
            let id = p.rsplit('/').next().unwrap().trim_end_matches(".html");
            let (_, v) = get_json(&agent, &server.url(&format!("api/cables/{id}")));
            (v["captures"].as_array().map_or(0, Vec::len) > 1).then_some(v)
        })
        .expect("a cable with two captures");
    for c in two["captures"].as_array().unwrap() {
        assert!(c["source"].is_object(), "{c}");
    }
    // Ids are looked up as `show` looks them up: lower case works, unknown ids are 404.
    let (status, v) = get_json(&agent, &server.url("api/cables/09tripoli583"));
    assert_eq!((status, v["id"].as_str()), (200, Some("09TRIPOLI583")));
    let (status, v) = get_json(&agent, &server.url("api/cables/99NOWHERE1"));
    assert_eq!(status, 404);
    assert!(v["error"].as_str().unwrap().contains("99NOWHERE1"));
}

#[test]
fn chromium_shows_served_pages_and_server_side_search() {
    let Some(ed) = dev_edition() else { return };
    let Some(chromium) = chromium() else { return };
    let server = Server::start(ed, &[]);
    let (_, v) = get_json(&agent(), &server.url("api/search?q=libya&limit=50"));
    let ids = api_ids(&v);
    let first = &v["hits"][0];
    let dom = dump_dom(&chromium, &server.url(first["page"].as_str().unwrap()));
    assert!(dom.contains(first["id"].as_str().unwrap()), "{dom}");
    assert!(dom.contains("<pre"), "{dom}");
    let search = server.url("search.html?q=libya");
    let dom = dump_dom(&chromium, &search);
    let shown: Vec<String> = dom
        .split("<li data-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(shown, ids, "{dom}");
    assert!(dom.contains("<mark>"), "{dom}");
    screenshot(
        &chromium,
        &search,
        &screenshot_dir().join("serve-search.png"),
    );
}

/// Sends `request` over a new connection and returns what came back (a refused connection
/// may be closed before all of it is sent: that is not an error here).
fn raw(server: &Server, request: &[u8]) -> String {
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(request);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> Option<u16> {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
}

#[test]
fn traversal_methods_bodies_and_oversized_requests_are_refused() {
    let Some(ed) = dev_edition() else { return };
    let server = Server::start(ed, &[]);
    for path in [
        "/../../etc/passwd",
        "/cable/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/cable/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/cable%5c..%5c..%5cetc%5cpasswd",
        "/cable/2009/07/09TRIPOLI583.html%00.txt",
        "/style.css/../../../etc/passwd",
        "/seal/../../etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
        "/Cargo.toml",
        "/../Cargo.toml",
    ] {
        let answer = raw(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let status = status_of(&answer);
        assert!(matches!(status, Some(400 | 404)), "{path}: {answer}");
        assert!(!answer.contains("root:"), "{path}: {answer}");
        assert!(!answer.contains("[package]"), "{path}: {answer}");
    }
    // Only GET and HEAD; no bodies.
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"] {
        let answer = raw(
            &server,
            format!("{method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(status_of(&answer), Some(405), "{method}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("allow: get, head"));
    }
    for body in [
        "Content-Length: 5\r\n\r\nhello",
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let answer = raw(
            &server,
            format!("GET / HTTP/1.1\r\nHost: x\r\n{body}").as_bytes(),
        );
        assert_eq!(status_of(&answer), Some(413), "{body}: {answer}");
    }
    // A 100 KB target and a 1 MB header are refused (or the connection closed), never read.
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw(&server, long.as_bytes());
    assert!(
        matches!(status_of(&answer), None | Some(414 | 431)),
        "{}",
        &answer[..answer.len().min(200)]
    );
    let target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9 * 1024));
    assert_eq!(status_of(&raw(&server, target.as_bytes())), Some(414));
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    let answer = raw(&server, big.as_bytes());
    assert!(
        matches!(status_of(&answer), None | Some(431)),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // Still serving.
    let (status, _, body) = get(&agent(), &server.url("index.html"));
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(ed.site.join("index.html")).unwrap());
}

#[test]
fn fifty_clients_are_served_within_bounds() {
    let Some(ed) = dev_edition() else { return };
    let server = Server::start(ed, &[]);
    let mut paths = some_files(&ed.site, "cable/", ".html", 3);
    paths.push("index.html".into());
    paths.push("api/search?q=libya".into());
    paths.push("api/cables/09TRIPOLI583".into());
    paths.push("search.html?q=oil".into());
    let (threads_before, _) = server.threads_and_rss_kb();
    let mut peak = (threads_before, 0);
    let answered = std::thread::scope(|s| {
        let clients: Vec<_> = (0..50)
            .map(|c| {
                let (paths, server) = (&paths, &server);
                s.spawn(move || {
                    // One agent per client: its requests share a kept-alive connection.
                    let agent = agent();
                    (0..20)
                        .filter(|r| {
                            let path = &paths[(c * 20 + r) % paths.len()];
                            get(&agent, &server.url(path)).0 == 200
                        })
                        .count()
                })
            })
            .collect();
        while clients.iter().any(|c| !c.is_finished()) {
            let (threads, rss) = server.threads_and_rss_kb();
            peak = (peak.0.max(threads), peak.1.max(rss));
            std::thread::sleep(Duration::from_millis(20));
        }
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(answered, 50 * 20);
    // The main thread, the I/O threads, at most 8 render threads, rayon's pool (snippets).
    assert!(peak.0 <= 16, "{} threads", peak.0);
    assert!(peak.1 < 256 * 1024, "VmRSS {} kB", peak.1);
    eprintln!(
        "serve under 50 clients: at most {} threads, VmRSS at most {} kB",
        peak.0, peak.1
    );
    let (status, _, _) = get(&agent(), &server.url("index.html"));
    assert_eq!(status, 200);
}

#[test]
fn idle_connections_are_closed_after_the_header_timeout() {
    let Some(ed) = dev_edition() else { return };
    let server = Server::start(ed, &["--header-timeout", "1"]);
    // Every place taken by a connection that sends nothing...
    let idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // ...is given back when the timeout ends it: a new client is then served.
    let started = Instant::now();
    let (status, _, _) = get(&agent(), &server.url("index.html"));
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(idle);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let Some(ed) = dev_edition() else { return };
    let mut server = Server::start(ed, &[]);
    let (status, _, _) = get(&agent(), &server.url("index.html"));
    assert_eq!(status, 200);
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let code = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0), "{}", server.stderr_text());
    assert!(server.stderr_text().contains("stopped"));
}

#[test]
fn serve_says_why_it_cannot_start() {
    let Some(ed) = dev_edition() else { return };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--addr", &addr], "cannot listen on"),
        (&["--addr", "0.0.0.0:0"], "--public"),
        (&["--addr", "192.0.2.1:80"], "not a loopback address"),
        (&["--addr", "127.0.0.1:0", "--version", "9"], "9"),
    ];
    for (args, said) in cases {
        let out = run(cablekeep(&ed.store).args(["serve", "-c", "dev"]).args(args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let missing = tempfile::tempdir().unwrap();
    let out = run(cablekeep(missing.path()).args(["serve", "-c", "dev", "--addr", "127.0.0.1:0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dev"));
}

/// The time `serve` takes to answer a cable page with 20 clients in parallel (by hand, not
/// in the suite): against the server at `$CABLEKEEP_SERVE_URL` (a release build, say), else
/// one started on the dev edition. Prints the median and the 90th and 99th percentiles.
///
/// `CABLEKEEP_SERVE_URL=http://127.0.0.1:PORT cargo test --test tests web::serve::page_latency -- --ignored --nocapture`
#[test]
#[ignore]
fn page_latency_with_20_clients() {
    let started;
    let base = match std::env::var("CABLEKEEP_SERVE_URL") {
        Ok(url) => {
            started = None;
            url.trim_end_matches('/').to_string()
        }
        Err(_) => {
            let Some(ed) = dev_edition() else { return };
            let server = Server::start(ed, &[]);
            let base = server.base.clone();
            started = Some(server);
            base
        }
    };
    // The pages of the best hits of a few common words: cables all over the collection.
    let mut pages = Vec::new();
    for word in ["the", "embassy", "government", "minister"] {
        let (_, v) = get_json(&agent(), &format!("{base}/api/search?q={word}&limit=100"));
        pages.extend(
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|h| h["page"].as_str().map(String::from)),
        );
    }
    pages.sort();
    pages.dedup();
    assert!(!pages.is_empty());
    let per_client = 200;
    let mut times: Vec<Duration> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..20)
            .map(|c| {
                let (pages, base) = (&pages, &base);
                s.spawn(move || {
                    let agent = agent();
                    (0..per_client)
                        .map(|r| {
                            let page = &pages[(c * 37 + r * 11) % pages.len()];
                            let t = Instant::now();
                            let (status, _, _) = get(&agent, &format!("{base}/{page}"));
                            assert_eq!(status, 200, "{page}");
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    eprintln!(
        "{} cable pages ({} distinct) by 20 clients: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        times.len(),
        pages.len(),
        at(0.5),
        at(0.9),
        at(0.99)
    );
    drop(started);
}
