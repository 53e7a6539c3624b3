//! `links check`, `links report`, `links history` and `verify --links` against real HTTP servers
//! on 127.0.0.1 that each test starts and stops itself (several ports stand for several hosts).
//! Nothing here touches the internet.

use crate::need_shared;
use crate::util::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request as the test server saw it.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
}

type Handler = dyn Fn(&Request, &mut TcpStream, &Shared) + Send + Sync;

/// What a server's handlers share: a stop flag, hit counts, concurrency counts.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    hits: Mutex<HashMap<String, usize>>,
    requests: Mutex<Vec<Request>>,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

impl Shared {
    /// The number of earlier requests of this path.
    fn seen(&self, path: &str) -> usize {
        let mut hits = self.hits.lock().unwrap();
        let n = hits.entry(path.to_string()).or_default();
        *n += 1;
        *n - 1
    }
}

/// An HTTP/1.1 server on 127.0.0.1, one thread per connection, stopped when dropped.
struct Server {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    fn start(
        handler: impl Fn(&Request, &mut TcpStream, &Shared) + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (s, handler) = (s.clone(), handler.clone());
                        std::thread::spawn(move || serve(stream, &*handler, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            shared,
            accept: Some(accept),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

fn serve(mut stream: TcpStream, handler: &Handler, shared: &Shared) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Request { path, headers };
    shared.requests.lock().unwrap().push(request.clone());
    handler(&request, &mut stream, shared);
    let _ = stream.flush();
}

/// Writes a whole response and closes the connection.
fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(body);
}

fn page(id: &str) -> Vec<u8> {
    std::fs::read_to_string(examples().join("09EXAMPLE101.html"))
        .unwrap()
        .replace("09EXAMPLE101", id)
        .into_bytes()
}

fn url_path(id: &str) -> String {
    format!("/cable/2009/05/{id}.html")
}

/// Bundles `pages` (name, bytes) into collection `c` of a fresh store.
fn store_with(pages: &[(String, Vec<u8>)]) -> tempfile::TempDir {
    let store = temp_store();
    let input = store.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    for (name, bytes) in pages {
        std::fs::write(input.join(name), bytes).unwrap();
    }
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "c", "-m", "pages"])
            .arg(&input),
        0,
    );
    store
}

fn check(store: &Path, extra: &[String]) -> (i32, Vec<serde_json::Value>, String) {
    let out = run(cablekeep(store)
        .args(["links", "check", "-c", "c", "--json"])
        .args(extra));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), json_lines(&stdout), stderr)
}

fn by_cable(results: &[serde_json::Value]) -> HashMap<String, serde_json::Value> {
    results
        .iter()
        .map(|r| (r["cable"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn common_flags(wikileaks: &Server, timegate: Option<&Server>) -> Vec<String> {
    let mut flags = vec![
        "--remap".to_string(),
        format!("https://wikileaks.org/ {}/", wikileaks.base()),
        "--timeout".into(),
        "2".into(),
        "--host-interval-ms".into(),
        "0".into(),
        "--backoff-ms".into(),
        "100".into(),
        "--max-body-bytes".into(),
        "1048576".into(),
    ];
    match timegate {
        Some(t) => flags.extend(["--timegate".to_string(), format!("{}/tg/", t.base())]),
        None => flags.push("--no-archive-lookup".into()),
    }
    flags
}

fn id(n: u32) -> String {
    format!("09EXAMPLE1{n:02}")
}

#[test]
fn links_check_gives_every_case_its_state_and_logs_a_chain_verify_checks() {
    let cases = 10..=27;
    let pages: Vec<(String, Vec<u8>)> = cases
        .clone()
        .map(|n| (format!("{}.html", id(n)), page(&id(n))))
        .collect();
    let store = store_with(&pages);
    let archived: HashMap<String, Vec<u8>> = pages
        .iter()
        .map(|(name, b)| (url_path(name.trim_end_matches(".html")), b.clone()))
        .collect();

    // Host B: the end of a redirect chain, and a loop.
    let intact_14 = archived[&url_path(&id(14))].clone();
    let b = Server::start(move |req, s, _| match req.path.as_str() {
        "/hop" => respond(s, 302, &[("Location", "/final")], b""),
        "/final" => respond(s, 200, &[], &intact_14),
        "/loop-b" => respond(s, 307, &[("Location", "/loop-a-on-b")], b""),
        "/loop-a-on-b" => respond(s, 307, &[("Location", "/loop-b")], b""),
        _ => respond(s, 404, &[], b""),
    });
    let b_base = b.base();
    // Host A: the pages, each path one case.
    let another_cable = std::fs::read(examples().join("10EXAMPLE202.html")).unwrap();
    let a = Server::start(move |req, s, shared| {
        let p = req.path.as_str();
        let n: u32 = p
            .strip_prefix("/cable/2009/05/09EXAMPLE1")
            .and_then(|r| r.strip_suffix(".html"))
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let body = archived.get(p).cloned().unwrap_or_default();
        match (p, n) {
            ("/robots.txt", _) => respond(
                s,
                200,
                &[],
                b"User-agent: *\nDisallow: /cable/2009/05/09EXAMPLE125\n",
            ),
            (_, 10) => respond(s, 200, &[], &body),
            (_, 11) => {
                let restyled = String::from_utf8(body)
                    .unwrap()
                    .replace("<head>", "<head>\n<!-- re-styled -->\n\n\n");
                respond(s, 200, &[], restyled.as_bytes())
            }
            (_, 12) => respond(s, 404, &[], b"not here"),
            (_, 13) => respond(s, 410, &[], b"gone"),
            (_, 14) => respond(s, 301, &[("Location", &format!("{b_base}/hop"))], b""),
            (_, 15) => respond(s, 302, &[("Location", &format!("{b_base}/loop-b"))], b""),
            (_, 16) => {
                std::thread::sleep(Duration::from_secs(6));
                respond(s, 200, &[], &body)
            }
            (_, 17) if shared.seen(p) == 0 => respond(s, 429, &[("Retry-After", "1")], b""),
            (_, 18) if shared.seen(p) == 0 => respond(s, 500, &[], b"oops"),
            (_, 17 | 18) => respond(s, 200, &[], &body),
            (_, 19) => respond(s, 200, &[], b"<html><body>Page not found</body></html>"),
            (_, 20) => respond(s, 200, &[], &another_cable),
            (_, 21) => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let chunk = vec![b'x'; 64 * 1024];
                while !shared.stop.load(Ordering::SeqCst) {
                    if s.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
            (_, 22) => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
                while !shared.stop.load(Ordering::SeqCst) && s.write_all(b"X").is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            (_, 23) => respond(s, 403, &[], b"forbidden"),
            (_, 26) => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
                while !shared.stop.load(Ordering::SeqCst) && s.write_all(b"<").is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            (_, 24) => respond(s, 503, &[], b"down"),
            _ => respond(s, 404, &[], b""),
        }
    });
    // The TimeGate: a memento for 09EXAMPLE112 only.
    let tg = Server::start(|req, s, _| {
        if req.path.contains("09EXAMPLE112") && req.headers.contains_key("accept-datetime") {
            respond(
                s,
                302,
                &[
                    ("Location", "http://archive.invalid/web/20110412000000/x"),
                    (
                        "Link",
                        "<https://wikileaks.org/x>; rel=\"original\", <http://archive.invalid/web/20110412000000/x>; rel=\"memento\"; datetime=\"Tue, 12 Apr 2011 00:00:00 GMT\"",
                    ),
                ],
                b"",
            )
        } else {
            respond(s, 404, &[], b"no memento")
        }
    });

    // 09EXAMPLE127 points at a port nobody listens on (the first matching remap wins).
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut flags = vec![
        "--remap".to_string(),
        format!("https://wikileaks.org/cable/2009/05/09EXAMPLE127 http://127.0.0.1:{closed}/x"),
    ];
    flags.extend(common_flags(&a, Some(&tg)));
    let started = Instant::now();
    let (code, results, stderr) = check(store.path(), &flags);
    let elapsed = started.elapsed();
    assert_eq!(code, 1, "{stderr}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert_eq!(results.len(), 18, "{results:#?}");
    let r = by_cable(&results);
    let state = |n: u32| r[&id(n)]["state"].as_str().unwrap().to_string();
    for key in [
        "cable",
        "url",
        "state",
        "http_status",
        "final_url",
        "memento",
    ] {
        assert!(
            r[&id(10)].get(key).is_some(),
            "no {key} in {:?}",
            r[&id(10)]
        );
    }
    assert_eq!(state(10), "intact");
    assert_eq!(r[&id(10)]["memento"], serde_json::Value::Null);
    assert_eq!(state(11), "equivalent");
    assert_eq!(state(12), "gone");
    assert_eq!(r[&id(12)]["http_status"], 404);
    assert_eq!(
        r[&id(12)]["memento"]["url"],
        "http://archive.invalid/web/20110412000000/x"
    );
    assert_eq!(
        r[&id(12)]["memento"]["datetime"],
        "Tue, 12 Apr 2011 00:00:00 GMT"
    );
    assert_eq!(state(13), "gone");
    assert_eq!(r[&id(13)]["http_status"], 410);
    assert_eq!(r[&id(13)]["memento"], serde_json::Value::Null);
    assert_eq!(state(14), "moved");
    assert_eq!(r[&id(14)]["target_state"], "intact");
    assert_eq!(r[&id(14)]["hops"].as_array().unwrap().len(), 3);
    assert_eq!(r[&id(14)]["final_url"], format!("{}/final", b.base()));
    assert_eq!(state(15), "unreachable");
    assert!(r[&id(15)]["error"].as_str().unwrap().contains("loop"));
    assert_eq!(state(16), "unreachable");
    assert!(r[&id(16)]["error"].as_str().unwrap().contains("time-out"));
    assert_eq!(state(17), "intact", "429 then 200");
    assert_eq!(r[&id(17)]["hops"][0]["attempts"], 2);
    assert_eq!(state(18), "intact", "500 then 200");
    assert_eq!(r[&id(18)]["hops"][0]["attempts"], 2);
    assert_eq!(state(19), "soft-404");
    assert_eq!(state(20), "soft-404");
    assert!(
        r[&id(20)]["error"]
            .as_str()
            .unwrap()
            .contains("10EXAMPLE202")
    );
    assert_eq!(state(21), "unreachable", "a body that never ends");
    assert!(
        r[&id(21)]["error"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
    assert_eq!(state(22), "unreachable", "headers that trickle forever");
    assert_eq!(state(23), "blocked");
    assert_eq!(state(24), "server-error");
    assert_eq!(r[&id(24)]["hops"][0]["attempts"], 3);
    assert_eq!(state(25), "blocked");
    assert!(r[&id(25)]["error"].as_str().unwrap().contains("robots.txt"));
    assert_eq!(state(26), "unreachable", "a body that trickles");
    assert!(r[&id(26)]["error"].as_str().unwrap().contains("time-out"));
    assert_eq!(state(27), "unreachable", "connection refused");
    assert_eq!(r[&id(27)]["http_status"], serde_json::Value::Null);

    // Every request named us; robots.txt was asked for once.
    let requests = a.shared.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|q| q.headers["user-agent"].starts_with("cablekeep/")
                && q.headers["user-agent"].ends_with("(+link check)"))
    );
    assert_eq!(
        requests.iter().filter(|q| q.path == "/robots.txt").count(),
        1
    );
    let gate = tg.shared.requests.lock().unwrap().clone();
    assert!(
        gate.iter()
            .filter_map(|q| q.headers.get("accept-datetime"))
            .all(|d| d == "Mon, 11 Apr 2011 12:00:00 GMT"),
        "{gate:?}"
    );

    // The log holds every result, chained; verify checks the chain.
    let log = store.path().join("manifests/c/links.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 18);
    for field in [
        "prev",
        "cable",
        "url",
        "time",
        "state",
        "http_status",
        "final_url",
        "body_sha256",
        "memento",
        "hops",
    ] {
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert!(first.get(field).is_some(), "log line lacks {field}");
    }
    run_ok(cablekeep(store.path()).args(["verify", "-c", "c"]), 0);

    // Report and history read the log.
    let report = run_ok(
        cablekeep(store.path()).args(["links", "report", "--json"]),
        0,
    );
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["counts"]["intact"], 3);
    assert_eq!(report["counts"]["unreachable"], 6);
    assert_eq!(report["counts"]["soft-404"], 2);
    let csv = run_ok(
        cablekeep(store.path()).args(["links", "report", "--csv"]),
        0,
    );
    assert_eq!(csv.lines().count(), 19);
    let md = run_ok(
        cablekeep(store.path()).args(["links", "report", "--markdown"]),
        0,
    );
    assert!(md.contains("| 09EXAMPLE112 |"));
    let history = run_ok(
        cablekeep(store.path()).args(["links", "history", &id(12)]),
        0,
    );
    assert!(
        history.contains("gone") && history.contains("first check"),
        "{history}"
    );

    // Tampering with a logged line breaks the chain at the next line: verify exits 1 with L001.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen("\"state\":\"", "\"state\":\"x", 1);
    lines[9] = lines[9].replacen("\"time\":\"", "\"time\":\"1", 1);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = run_ok(
        cablekeep(store.path()).args(["verify", "-c", "c", "--json"]),
        1,
    );
    let codes = finding_codes(&out);
    assert_eq!(
        codes.iter().filter(|c| *c == "L001").count(),
        2,
        "every broken link is reported: {out}"
    );
}

#[test]
fn links_check_reports_redactions_added_and_removed() {
    let versions = need_shared!("cables/versions");
    let madrid = versions.join("06MADRID76");
    let algiers = versions.join("07ALGIERS45");
    let read = |dir: &Path, prefix: &str| -> Vec<u8> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .collect();
        names.sort();
        std::fs::read(&names[0]).unwrap()
    };
    let store = store_with(&[
        ("06MADRID76.html".into(), read(&madrid, "v1")),
        ("07ALGIERS45.html".into(), read(&algiers, "v1")),
    ]);
    let (madrid_v2, algiers_v2) = (read(&madrid, "v2"), read(&algiers, "v2"));
    let a = Server::start(move |req, s, _| match req.path.as_str() {
        "/cable/2006/01/06MADRID76.html" => respond(s, 200, &[], &madrid_v2),
        "/cable/2007/01/07ALGIERS45.html" => respond(s, 200, &[], &algiers_v2),
        _ => respond(s, 404, &[], b""),
    });
    let (code, results, stderr) = check(store.path(), &common_flags(&a, None));
    assert_eq!(code, 1, "{stderr}");
    let r = by_cable(&results);
    assert_eq!(r["06MADRID76"]["state"], "drifted");
    assert_eq!(r["06MADRID76"]["drift"]["redactions"], "removed");
    assert_eq!(r["06MADRID76"]["drift"]["redaction_runs_archived"], 1);
    assert_eq!(r["06MADRID76"]["drift"]["redaction_runs_live"], 0);
    assert_eq!(r["07ALGIERS45"]["state"], "drifted");
    assert_eq!(r["07ALGIERS45"]["drift"]["redactions"], "added");
    assert_eq!(r["07ALGIERS45"]["drift"]["redaction_runs_live"], 7);
    assert_eq!(r["07ALGIERS45"]["drift"]["text_changed"], true);
    assert!(
        !r["07ALGIERS45"]["drift"]["sample"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The text form says it in words.
    let text = run_ok(
        cablekeep(store.path())
            .args(["links", "check", "-c", "c"])
            .args(common_flags(&a, None)),
        1,
    );
    assert!(text.contains("redactions added (0 -> 7 runs)"), "{text}");
    assert!(text.contains("redactions removed (1 -> 0 runs)"), "{text}");
}

#[test]
fn verify_links_exits_0_when_every_link_is_intact_and_1_when_not() {
    let pages = vec![
        ("09EXAMPLE101.html".to_string(), page("09EXAMPLE101")),
        ("09EXAMPLE102.html".to_string(), page("09EXAMPLE102")),
    ];
    let store = store_with(&pages);
    let served: HashMap<String, Vec<u8>> = pages
        .iter()
        .map(|(n, b)| (url_path(n.trim_end_matches(".html")), b.clone()))
        .collect();
    let broken = Arc::new(AtomicBool::new(false));
    let flag = broken.clone();
    let a = Server::start(move |req, s, _| match served.get(&req.path) {
        Some(b) if !flag.load(Ordering::SeqCst) => respond(s, 200, &[], b),
        _ => respond(s, 404, &[], b""),
    });
    let flags = common_flags(&a, None);
    let out = run_ok(
        cablekeep(store.path())
            .args(["verify", "--links"])
            .args(&flags),
        0,
    );
    assert!(out.contains("2 links: 2 intact"), "{out}");
    broken.store(true, Ordering::SeqCst);
    let out = run_ok(
        cablekeep(store.path())
            .args(["verify", "--links"])
            .args(&flags),
        1,
    );
    assert!(out.contains("2 gone"), "{out}");
    // Markdown form, and history across the two runs.
    let md = run_ok(
        cablekeep(store.path())
            .args(["links", "check", "--markdown"])
            .args(&flags),
        1,
    );
    assert!(md.contains("| cable | url | state |"), "{md}");
    let history = run_ok(
        cablekeep(store.path()).args(["links", "history", "09EXAMPLE101"]),
        0,
    );
    assert!(history.contains("was intact"), "{history}");
    // A store that cannot be checked: exit 2.
    let empty = temp_store();
    run_ok(
        cablekeep(empty.path()).args(["links", "check", "-c", "none"]),
        2,
    );
}

#[test]
fn links_check_keeps_the_per_host_limit_over_many_hosts() {
    const HOSTS: usize = 20;
    const PER_HOST: usize = 50;
    let mut pages = Vec::new();
    for h in 0..HOSTS {
        for n in 0..PER_HOST {
            let id = format!("09EXAMPLE5{h:02}{n:02}");
            pages.push((format!("{id}.html"), page(&id)));
        }
    }
    let store = store_with(&pages);
    let served: Arc<HashMap<String, Vec<u8>>> = Arc::new(
        pages
            .iter()
            .map(|(n, b)| (url_path(n.trim_end_matches(".html")), b.clone()))
            .collect(),
    );
    let global = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let servers: Vec<Server> = (0..HOSTS)
        .map(|_| {
            let (served, global) = (served.clone(), global.clone());
            Server::start(move |req, s, shared| {
                let now = shared.active.fetch_add(1, Ordering::SeqCst) + 1;
                shared.max_active.fetch_max(now, Ordering::SeqCst);
                let all = global.0.fetch_add(1, Ordering::SeqCst) + 1;
                global.1.fetch_max(all, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                // Counted down before answering, so the client can never see a slot free early.
                global.0.fetch_sub(1, Ordering::SeqCst);
                shared.active.fetch_sub(1, Ordering::SeqCst);
                match served.get(&req.path) {
                    Some(b) => respond(s, 200, &[], b),
                    None => respond(s, 404, &[], b""),
                }
            })
        })
        .collect();
    let mut flags = vec![
        "--no-archive-lookup".to_string(),
        "--host-interval-ms".into(),
        "0".into(),
        "--concurrency".into(),
        "8".into(),
        "--per-host".into(),
        "2".into(),
    ];
    for (h, server) in servers.iter().enumerate() {
        let prefix = format!("https://wikileaks.org/cable/2009/05/09EXAMPLE5{h:02}");
        flags.push("--remap".into());
        flags.push(format!(
            "{prefix} {}/cable/2009/05/09EXAMPLE5{h:02}",
            server.base()
        ));
    }
    let started = Instant::now();
    let (code, results, stderr) = check(store.path(), &flags);
    assert_eq!(code, 0, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(results.len(), HOSTS * PER_HOST);
    assert!(results.iter().all(|r| r["state"] == "intact"));
    for server in &servers {
        let max = server.shared.max_active.load(Ordering::SeqCst);
        assert!(max <= 2, "a host saw {max} requests at once");
        // robots.txt once, then every page.
        assert_eq!(server.shared.requests.lock().unwrap().len(), PER_HOST + 1);
    }
    let max = global.1.load(Ordering::SeqCst);
    assert!(max <= 8, "{max} requests at once over all hosts");
    assert!(max >= 2, "requests ran in parallel");
    // The run reports its own throughput; shown here with --nocapture.
    let throughput = stderr
        .lines()
        .find(|l| l.contains("URLs/s"))
        .expect("a throughput line");
    eprintln!(
        "1,000 URLs over 20 local hosts (per host 2, overall 8, 10 ms per answer): {throughput}"
    );
}

#[test]
fn a_killed_link_check_leaves_a_log_that_verifies() {
    // Answers take 300 ms, so the run is still going when it is killed.
    let pages: Vec<(String, Vec<u8>)> = (40..=59)
        .map(|n| (format!("{}.html", id(n)), page(&id(n))))
        .collect();
    let store = store_with(&pages);
    let served: Arc<HashMap<String, Vec<u8>>> = Arc::new(
        pages
            .iter()
            .map(|(n, b)| (url_path(n.trim_end_matches(".html")), b.clone()))
            .collect(),
    );
    let server = Server::start(move |req, s, _| {
        std::thread::sleep(Duration::from_millis(300));
        match served.get(&req.path) {
            Some(b) => respond(s, 200, &[], b),
            None => respond(s, 404, &[], b""),
        }
    });
    let log_path = store.path().join("manifests/c/links.jsonl");
    let mut logged_before = 0;
    for round in 0..4u64 {
        let mut child = cablekeep(store.path())
            .args(["links", "check", "-c", "c", "--json", "--concurrency", "4"])
            .args(common_flags(&server, None))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700 + 250 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        // Nothing recorded before is lost, and no line is half-written.
        assert!(
            log.ends_with('\n') || log.is_empty(),
            "a half-written last line"
        );
        let lines = log.lines().count();
        assert!(lines >= logged_before, "recorded events were lost");
        logged_before = lines;
        for line in log.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .expect("every logged line is whole JSON");
        }
        run_ok(cablekeep(store.path()).args(["verify", "-c", "c"]), 0);
    }
    assert!(logged_before > 0, "the killed runs logged something");
}

#[test]
fn links_check_keeps_to_the_run_time_limit() {
    let pages: Vec<(String, Vec<u8>)> = (30..=33)
        .map(|n| (format!("{}.html", id(n)), page(&id(n))))
        .collect();
    let store = store_with(&pages);
    let a = Server::start(|req, s, shared| {
        if req.path == "/robots.txt" {
            return respond(s, 404, &[], b"");
        }
        while !shared.stop.load(Ordering::SeqCst) && s.write_all(b"").is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut flags = common_flags(&a, None);
    let at = flags.iter().position(|f| f == "--timeout").unwrap();
    flags.drain(at..at + 2);
    flags.extend(
        [
            "--timeout",
            "30",
            "--max-run-time",
            "2",
            "--concurrency",
            "1",
        ]
        .map(String::from),
    );
    let started = Instant::now();
    let (code, results, stderr) = check(store.path(), &flags);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(results.len(), 4);
    assert!(
        results.iter().all(|r| r["state"] == "unreachable"),
        "{results:#?}"
    );
    // Links never reached are reported but not logged as checked.
    let not_checked = results
        .iter()
        .filter(|r| r["error"].as_str().unwrap_or("").starts_with("not checked"))
        .count();
    assert!(not_checked >= 2, "{results:#?}");
    let log =
        std::fs::read_to_string(store.path().join("manifests/c/links.jsonl")).unwrap_or_default();
    assert_eq!(log.lines().count(), 4 - not_checked);
}

#[test]
fn link_option_values_out_of_range_are_usage_errors_never_panics() {
    let store = store_with(&[(format!("{}.html", id(40)), page(&id(40)))]);
    let huge = u64::MAX.to_string();
    let cases: Vec<(&str, &str)> = vec![
        ("--max-run-time", &huge),
        ("--max-run-time", "0"),
        ("--host-interval-ms", &huge),
        ("--backoff-ms", &huge),
        ("--timeout", &huge),
        ("--timeout", "0"),
        ("--concurrency", "0"),
        ("--concurrency", &huge),
        ("--per-host", "0"),
        ("--retries", &huge),
        ("--max-body-bytes", &huge),
        ("--max-body-bytes", "0"),
        ("--max-redirects", &huge),
        ("--timegate", "not a url"),
        ("--timegate", "file:///tmp/x"),
        ("--timegate", "javascript:alert(1)"),
        ("--timegate", "http:///no-host"),
        ("--remap", "https://wikileaks.org/ javascript:alert(1)"),
        ("--remap", "https://wikileaks.org/"),
    ];
    for (flag, value) in cases {
        for command in [&["links", "check"][..], &["verify", "--links"][..]] {
            let out = run(cablekeep(store.path()).args(command).args([
                "--no-archive-lookup",
                flag,
                value,
            ]));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command:?} {flag} {value}: {stderr}"
            );
            assert!(
                stderr.contains(flag) && !stderr.contains("panicked"),
                "{command:?} {flag} {value}: {stderr}"
            );
        }
    }
}

#[test]
fn a_retry_after_beyond_any_clock_ends_the_retries_without_a_panic() {
    let store = store_with(&[(format!("{}.html", id(41)), page(&id(41)))]);
    let a = Server::start(|req, s, _| match req.path.as_str() {
        "/robots.txt" => respond(s, 404, &[], b""),
        _ => respond(s, 503, &[("Retry-After", "18446744073709551615")], b"busy"),
    });
    let (code, results, stderr) = check(store.path(), &common_flags(&a, None));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["state"], "server-error", "{results:#?}");
    assert_eq!(results[0]["hops"][0]["attempts"], 1);
}

#[test]
fn failure_messages_name_their_kind_once() {
    let pages = [41, 42].map(|n| (format!("{}.html", id(n)), page(&id(n))));
    let store = store_with(&pages);
    // Host A speaks no HTTP; host B never answers.
    let a = Server::start(|_, s, _| {
        let _ = s.write_all(b"SPEAKS NO HTTP\r\n\r\n");
    });
    let b = Server::start(|_, _, shared| {
        while !shared.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut flags = vec![
        "--remap".to_string(),
        format!(
            "https://wikileaks.org/cable/2009/05/{} {}/x",
            id(42),
            b.base()
        ),
    ];
    flags.extend(common_flags(&a, None));
    let at = flags.iter().position(|f| f == "--timeout").unwrap();
    flags[at + 1] = "1".into();
    let (code, results, stderr) = check(store.path(), &flags);
    assert_eq!(code, 1, "{stderr}");
    let r = by_cable(&results);
    let protocol = r[&id(41)]["error"].as_str().unwrap();
    assert!(protocol.starts_with("protocol: "), "{protocol}");
    assert!(!protocol.contains("protocol: protocol"), "{protocol}");
    let timeout = r[&id(42)]["error"].as_str().unwrap();
    assert!(timeout.starts_with("time-out: "), "{timeout}");
    assert!(!timeout.contains("timeout: "), "{timeout}");
}

#[test]
fn a_timegate_redirect_is_followed_to_the_memento_and_its_date() {
    let pages = [43, 44, 45].map(|n| (format!("{}.html", id(n)), page(&id(n))));
    let store = store_with(&pages);
    let a = Server::start(|_, s, _| respond(s, 404, &[], b""));
    // RFC 7089 pattern 2.2, as the Wayback Machine answers: the TimeGate redirects to the
    // memento without a date; the memento (after one more redirect for 09EXAMPLE144) says its
    // Memento-Datetime. 09EXAMPLE145's redirect ends at a 404: no memento.
    let tg = Server::start(|req, s, _| {
        let p = req.path.as_str();
        let n = [43, 44, 45].into_iter().find(|n| p.contains(&id(*n)));
        match (p.starts_with("/tg/"), n) {
            (true, Some(n)) => {
                let location = format!("/web/20110412000000/{}", id(n));
                respond(s, 302, &[("Location", location.as_str())], b"")
            }
            (false, Some(44)) if p.starts_with("/web/2011") => {
                respond(s, 302, &[("Location", "/web/20101208000000/moved")], b"")
            }
            (false, Some(43)) => respond(
                s,
                200,
                &[("Memento-Datetime", "Tue, 12 Apr 2011 00:00:00 GMT")],
                b"the memento",
            ),
            (false, None) if p == "/web/20101208000000/moved" => respond(
                s,
                200,
                &[("Memento-Datetime", "Wed, 08 Dec 2010 00:00:00 GMT")],
                b"the memento",
            ),
            _ => respond(s, 404, &[], b""),
        }
    });
    let (code, results, stderr) = check(store.path(), &common_flags(&a, Some(&tg)));
    assert_eq!(code, 1, "{stderr}");
    let r = by_cable(&results);
    assert_eq!(
        r[&id(43)]["memento"],
        serde_json::json!({
            "url": format!("{}/web/20110412000000/{}", tg.base(), id(43)),
            "datetime": "Tue, 12 Apr 2011 00:00:00 GMT",
        })
    );
    assert_eq!(
        r[&id(44)]["memento"],
        serde_json::json!({
            "url": format!("{}/web/20101208000000/moved", tg.base()),
            "datetime": "Wed, 08 Dec 2010 00:00:00 GMT",
        })
    );
    assert_eq!(
        r[&id(45)]["memento"],
        serde_json::Value::Null,
        "{:#?}",
        r[&id(45)]
    );
}

#[test]
fn text_from_a_server_cannot_drive_the_terminal_or_forge_lines() {
    let store = store_with(&[(format!("{}.html", id(46)), page(&id(46)))]);
    let live = String::from_utf8(page(&id(46)))
        .unwrap()
        .replace("This cable is invented.", "\u{1b}[2J\u{1b}[31mok: forged")
        .into_bytes();
    let a = Server::start(move |req, s, _| match req.path.as_str() {
        "/robots.txt" => respond(s, 404, &[], b""),
        _ => respond(s, 200, &[], &live),
    });
    for form in [None, Some("--markdown")] {
        let out = run(cablekeep(store.path())
            .args(["links", "check", "-c", "c"])
            .args(form)
            .args(common_flags(&a, None)));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("drifted"), "{stdout}");
        assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
        if form.is_none() {
            assert!(stdout.contains("\\u{1b}[2J"), "{stdout}");
        }
    }
}

#[test]
fn links_report_says_how_many_log_lines_it_left_out() {
    let store = store_with(&[(format!("{}.html", id(47)), page(&id(47)))]);
    let a = Server::start(|_, s, _| respond(s, 404, &[], b""));
    let (code, _, stderr) = check(store.path(), &common_flags(&a, None));
    assert_eq!(code, 1, "{stderr}");
    let log = store.path().join("manifests/c/links.jsonl");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(b"not an event\n");
    std::fs::write(&log, bytes).unwrap();
    for command in [
        &["links", "report", "-c", "c"][..],
        &["links", "history", "-c", "c", &id(47)],
    ] {
        let out = run(cablekeep(store.path()).args(command));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {stderr}");
        assert!(
            stderr.contains("1 lines of the link log of c could not be read"),
            "{stderr}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&id(47)));
    }
}
