//! The crate's HTTP client (the link checker's GETs, the timestamp requests' POSTs): the only
//! module that imports the HTTP crate (ureq).
//!
//! One call is one request: redirects are never followed here (the checker follows them itself to
//! record every hop), statuses are never errors, and the body is read up to a limit.

use std::io::Read;
use std::time::Duration;

/// What the server answered.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, at most the limit.
    pub body: Vec<u8>,
    /// True when the body was longer than the limit and reading stopped there.
    pub truncated: bool,
}

impl Response {
    /// The first header of that (lower-case) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    Dns,
    Connect,
    Tls,
    Timeout,
    /// The URL cannot be requested (bad syntax, unsupported scheme).
    BadUrl,
    /// The connection broke or the server spoke no valid HTTP.
    Protocol,
}

impl FailureKind {
    /// A word for people: `dns`, `connection`, `tls`, `time-out`, `bad url`, `protocol`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            FailureKind::Dns => "dns",
            FailureKind::Connect => "connection",
            FailureKind::Tls => "tls",
            FailureKind::Timeout => "time-out",
            FailureKind::BadUrl => "bad url",
            FailureKind::Protocol => "protocol",
        }
    }
}

/// A request that got no answer, and why.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// A client with the checker's settings.
pub(crate) struct Client {
    agent: ureq::Agent,
    max_body: u64,
}

impl Client {
    /// A client that identifies itself as `user_agent`, gives each request at most `timeout`
    /// (connection, headers and body together) and reads at most `max_body` bytes of a body.
    pub(crate) fn new(user_agent: &str, timeout: Duration, max_body: u64) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(user_agent)
            .timeout_global(Some(timeout))
            .max_idle_connections_per_host(2)
            .build();
        Client {
            agent: config.into(),
            max_body,
        }
    }

    /// One GET with extra request headers; never follows a redirect.
    pub(crate) fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let mut request = self.agent.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map_err(failure)?;
        self.read_response(response)
    }

    /// One POST of `body` as `content_type`; never follows a redirect.
    pub(crate) fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let response = self
            .agent
            .post(url)
            .header("Content-Type", content_type)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .send(body)
            .map_err(failure)?;
        self.read_response(response)
    }

    /// Status, headers and the body up to the limit.
    fn read_response(
        &self,
        response: ureq::http::Response<ureq::Body>,
    ) -> Result<Response, Failure> {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let (body, truncated) = read_limited(response.into_body().into_reader(), self.max_body)?;
        Ok(Response {
            status,
            headers,
            body,
            truncated,
        })
    }
}

/// Reads a body up to `max_body` bytes, a chunk at a time: the bytes, and whether there were
/// more (reading stopped there, so a huge body costs no more than the limit).
fn read_limited(mut reader: impl Read, max_body: u64) -> Result<(Vec<u8>, bool), Failure> {
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok((body, false)),
            Ok(n) => {
                body.extend_from_slice(&chunk[..n]);
                if body.len() as u64 > max_body {
                    body.truncate(max_body as usize);
                    return Ok((body, true));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_failure(&e)),
        }
    }
}

/// The failure of a ureq error. The message leaves out the word with which ureq's own text
/// starts (`timeout: `, `protocol: `, `io: `): the kind's label is printed before it.
fn failure(e: ureq::Error) -> Failure {
    let (kind, message) = match &e {
        ureq::Error::Timeout(t) => (FailureKind::Timeout, format!("{t} limit")),
        ureq::Error::HostNotFound => (FailureKind::Dns, e.to_string()),
        ureq::Error::ConnectionFailed => (FailureKind::Connect, e.to_string()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => {
            (FailureKind::Tls, e.to_string())
        }
        ureq::Error::BadUri(v) => (FailureKind::BadUrl, v.clone()),
        ureq::Error::Http(v) => (FailureKind::BadUrl, v.to_string()),
        ureq::Error::Io(io) => return io_failure(io),
        ureq::Error::Protocol(p) => (FailureKind::Protocol, p.to_string()),
        _ => (FailureKind::Protocol, e.to_string()),
    };
    Failure { kind, message }
}

fn io_failure(e: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    let message = e.to_string();
    let lower = message.to_ascii_lowercase();
    let kind = match e.kind() {
        K::TimedOut | K::WouldBlock => FailureKind::Timeout,
        K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted | K::NotConnected => {
            FailureKind::Connect
        }
        _ if lower.contains("timeout") || lower.contains("timed out") => FailureKind::Timeout,
        _ => FailureKind::Protocol,
    };
    Failure { kind, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_read_up_to_the_limit_and_said_to_be_cut() {
        let bytes = vec![7u8; 200_000];
        let (body, truncated) = read_limited(&bytes[..], 100_000).expect("read");
        assert_eq!((body.len(), truncated), (100_000, true));
        let (body, truncated) = read_limited(&bytes[..], 200_000).expect("read");
        assert_eq!((body.len(), truncated), (200_000, false));
    }
}
