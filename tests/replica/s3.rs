//! Signed path-style S3 calls made with curl (`--aws-sigv4`), independent of cablekeep: what the
//! replica tests look at or damage objects with, behind cablekeep's back. Listings are read from
//! the XML by plain string scanning, enough for S3's answers.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// The region Garage signs with (`s3_region` in the fixture's configuration).
pub const REGION: &str = "garage";

/// One object of a listing. `etag` is without its quotes (the hex MD5 of a single-part upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

/// An HTTP answer: status, headers (names lower-case) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Signed path-style S3 calls made by curl (`--aws-sigv4`), independent of cablekeep.
#[derive(Debug, Clone)]
pub struct S3 {
    endpoint: String,
    key_id: String,
    secret: String,
}

impl S3 {
    /// A client for `endpoint` (`http://127.0.0.1:port`) with these credentials.
    pub fn new(endpoint: &str, key_id: &str, secret: &str) -> S3 {
        S3 {
            endpoint: endpoint.to_string(),
            key_id: key_id.to_string(),
            secret: secret.to_string(),
        }
    }

    /// One signed request to `/bucket/key?query`; Err (curl's message) when no HTTP answer came.
    /// `bucket` empty is the service (ListBuckets); `key` empty is the bucket.
    pub fn request(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, String> {
        let url = self.url(bucket, key, query);
        let payload = body.unwrap_or_default();
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "30", "-D", "/dev/stderr"])
            .args(["--aws-sigv4", &format!("aws:amz:{REGION}:s3")])
            .args(["--user", &format!("{}:{}", self.key_id, self.secret)])
            .arg("-H")
            .arg(format!(
                "x-amz-content-sha256: {}",
                hex::encode(Sha256::digest(payload))
            ));
        match method {
            "HEAD" => cmd.arg("-I"),
            other => cmd.args(["-X", other]),
        };
        if body.is_some() {
            cmd.args(["--data-binary", "@-"])
                .args(["-H", "Content-Type: application/octet-stream"]);
        }
        let mut child = cmd
            .arg(&url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl runs");
        let mut stdin = child.stdin.take().expect("curl's stdin");
        let payload = payload.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&payload));
        let out = child.wait_with_output().expect("curl's output");
        let _ = writer.join();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(format!("curl {method} {url}: {}", stderr.trim()));
        }
        let (status, headers) = parse_headers(&stderr)
            .ok_or_else(|| format!("curl {method} {url}: no status line in {stderr:?}"))?;
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            out.stdout
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// PUTs `bytes`; panics unless 200.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let r = self.expect("PUT", bucket, key, &[], Some(bytes));
        self.check(&r, &[200], "PUT", bucket, key);
    }

    /// The object's bytes, None on 404.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let r = self.expect("GET", bucket, key, &[], None);
        self.check(&r, &[200, 404], "GET", bucket, key);
        (r.status == 200).then_some(r.body)
    }

    /// Deletes the object; panics unless 204 (S3 answers 204 for a missing key too).
    pub fn delete(&self, bucket: &str, key: &str) {
        let r = self.expect("DELETE", bucket, key, &[], None);
        self.check(&r, &[200, 204], "DELETE", bucket, key);
    }

    /// (size, etag without quotes), None on 404.
    pub fn head(&self, bucket: &str, key: &str) -> Option<(u64, String)> {
        let r = self.expect("HEAD", bucket, key, &[], None);
        self.check(&r, &[200, 404], "HEAD", bucket, key);
        if r.status == 404 {
            return None;
        }
        let size = r
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("HEAD answers a Content-Length");
        let etag = r.header("etag").expect("HEAD answers an ETag");
        Some((size, etag.trim_matches('"').to_string()))
    }

    /// Every object under `prefix`, in key order (ListObjectsV2, 1000 keys a page).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<Object> {
        self.list_paged(bucket, prefix, 1000)
    }

    /// As [`S3::list`], `page` keys a request, following the continuation tokens.
    pub fn list_paged(&self, bucket: &str, prefix: &str, page: usize) -> Vec<Object> {
        let page = page.to_string();
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("max-keys", page.as_str())];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            query.push(("prefix", prefix));
            let r = self.expect("GET", bucket, "", &query, None);
            self.check(&r, &[200], "LIST", bucket, prefix);
            let xml = r.text();
            for entry in elements(&xml, "Contents") {
                let field = |name| elements(entry, name).first().map(|v| unescape(v));
                objects.push(Object {
                    key: field("Key").expect("a listed key"),
                    size: field("Size").and_then(|s| s.parse().ok()).expect("a size"),
                    etag: field("ETag").unwrap_or_default().trim_matches('"').into(),
                    last_modified: field("LastModified").unwrap_or_default(),
                });
            }
            token = (elements(&xml, "IsTruncated").first() == Some(&"true"))
                .then(|| {
                    elements(&xml, "NextContinuationToken")
                        .first()
                        .map(|t| unescape(t))
                })
                .flatten();
            if token.is_none() {
                return objects;
            }
        }
    }

    fn expect(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        self.request(method, bucket, key, query, body)
            .unwrap_or_else(|e| panic!("S3 {method} {bucket}/{key} got no answer: {e}"))
    }

    fn check(&self, r: &Response, ok: &[u16], method: &str, bucket: &str, key: &str) {
        assert!(
            ok.contains(&r.status),
            "S3 {method} {bucket}/{key} on {} answered HTTP {}: {}",
            self.endpoint,
            r.status,
            r.text()
        );
    }

    fn url(&self, bucket: &str, key: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}/{}", self.endpoint, uri_encode(bucket, true));
        if !key.is_empty() {
            url = url + "/" + &uri_encode(key, false);
        }
        // Sorted and encoded as SigV4's canonical query string: what curl signs is what is sent.
        let mut query = query.to_vec();
        query.sort();
        for (n, (name, value)) in query.iter().enumerate() {
            url.push(if n == 0 { '?' } else { '&' });
            url += &format!("{}={}", uri_encode(name, true), uri_encode(value, true));
        }
        url
    }
}

/// SigV4's URI encoding: every byte but `A-Za-z0-9-_.~` (and `/` in a path) as `%XX`.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (b == b'/' && !encode_slash) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// The last response's status and headers in curl's `-D` output (after any `100 Continue`).
fn parse_headers(dump: &str) -> Option<(u16, Vec<(String, String)>)> {
    let block = dump
        .split("\r\n\r\n")
        .filter(|b| b.starts_with("HTTP/"))
        .last()?;
    let mut lines = block.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers))
}

/// The contents of every `<name>…</name>` in `xml`, outermost first (enough for S3 listings).
fn elements<'x>(xml: &'x str, name: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out += &rest[..amp];
        let Some(semi) = rest[amp..].find(';') else {
            out += &rest[amp..];
            return out;
        };
        let entity = &rest[amp + 1..amp + semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[amp + semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[amp + 1..];
            }
        }
    }
    out + rest
}

#[test]
fn helpers_encode_and_read_what_s3_sends() {
    assert_eq!(uri_encode("a b/c+d~_.-é", false), "a%20b/c%2Bd~_.-%C3%A9");
    assert_eq!(uri_encode("p/q=", true), "p%2Fq%3D");
    assert_eq!(
        unescape("&quot;x&quot; &amp;&#38;&#x41; & ;"),
        "\"x\" &&A & ;"
    );
    assert_eq!(unescape("tail &amp"), "tail &amp");
    let xml = "<L><Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents></L>";
    assert_eq!(elements(xml, "Key"), ["a", "b"]);
    let dump = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nETag: \"e\"\r\n\r\n";
    let (status, headers) = parse_headers(dump).expect("a status line");
    assert_eq!(status, 404);
    assert_eq!(headers, [("etag".to_string(), "\"e\"".to_string())]);
}
