//! A real time-stamping authority for the tests, and the tests of RFC 3161 timestamps.
//!
//! [`start_tsa`] makes, in a temporary folder, a test CA, a TSA certificate with
//! `extendedKeyUsage=critical,timeStamping` and an OpenSSL config with a `[tsa]` section, and
//! serves `openssl ts -reply` over HTTP on 127.0.0.1 until the returned [`Tsa`] is dropped. Each
//! TSA has its own CA, so a second one is an untrusted TSA for the first one's CA file. Other test
//! modules use it as `crate::tsa::{start_tsa, Tsa}`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::record_skip;

/// The key type of a test CA and its TSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa2048,
    P256,
    P384,
}

impl KeyKind {
    fn newkey_args(self) -> Vec<&'static str> {
        match self {
            KeyKind::Rsa2048 => vec!["-newkey", "rsa:2048"],
            KeyKind::P256 => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            KeyKind::P384 => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        }
    }
}

/// How the server answers the next requests.
#[derive(Debug, Clone)]
pub enum Answer {
    /// What `openssl ts -reply` answers, as `application/timestamp-reply`.
    Reply,
    /// This HTTP status with a short text body.
    Status(u16),
    /// A `301 Moved Permanently` to this location.
    Redirect(String),
    /// Reads the request and never answers (the connection stays open until the TSA is dropped).
    Hang,
    /// These bytes, as a `200 application/timestamp-reply`.
    Bytes(Vec<u8>),
}

/// What a TSA is made with.
#[derive(Debug, Clone)]
pub struct TsaOptions {
    pub key: KeyKind,
    /// The `digests` the TSA accepts (OpenSSL rejects a request with another one).
    pub digests: &'static str,
}

impl Default for TsaOptions {
    fn default() -> Self {
        TsaOptions {
            key: KeyKind::Rsa2048,
            digests: "sha256, sha384, sha512",
        }
    }
}

/// A running test TSA; the server stops when it is dropped.
pub struct Tsa {
    /// `http://127.0.0.1:PORT/tsa`
    pub url: String,
    /// The test CA's certificate: the trusted certificate for this TSA's tokens.
    pub ca_pem: PathBuf,
    pub ca_key: PathBuf,
    /// The TSA's signing certificate and key.
    pub tsa_pem: PathBuf,
    pub tsa_key: PathBuf,
    /// The OpenSSL config with the `[tsa]` section.
    pub config: PathBuf,
    pub options: TsaOptions,
    pub dir: tempfile::TempDir,
    answer: Arc<Mutex<Answer>>,
    /// Requests received so far.
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

/// Whether `openssl` runs here; when it does not, says so loudly and records the skip.
pub fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "\n!!! SKIPPED: openssl is not installed (scripts/setup-peers.sh installs it) !!!\n"
        );
        record_skip(Path::new("openssl"));
    }
    ok
}

/// A TSA with an RSA key that accepts SHA-256, -384 and -512 requests, or None (the skip
/// recorded) when openssl is missing.
pub fn start_tsa() -> Option<Tsa> {
    start_tsa_with(TsaOptions::default())
}

/// A TSA made with `options`, or None when openssl is missing.
pub fn start_tsa_with(options: TsaOptions) -> Option<Tsa> {
    if !have_openssl() {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    make_ca(d, options.key);
    issue_certificate(d, options.key, "tsa", "cablekeep test TSA", "tsa_ext");
    let config = d.join("tsa.cnf");
    std::fs::write(&config, tsa_config(d, options.digests)).unwrap();
    std::fs::write(d.join("serial"), "01\n").unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(Mutex::new(Answer::Reply));
    let requests = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (answer, requests, stop) = (answer.clone(), requests.clone(), stop.clone());
        let (dir, config) = (d.to_path_buf(), config.clone());
        std::thread::spawn(move || serve(listener, &dir, &config, &answer, &requests, &stop))
    };
    Some(Tsa {
        url: format!("http://{addr}/tsa"),
        ca_pem: d.join("ca.pem"),
        ca_key: d.join("ca.key"),
        tsa_pem: d.join("tsa.pem"),
        tsa_key: d.join("tsa.key"),
        config,
        options,
        dir,
        answer,
        requests,
        stop,
        addr,
        server: Some(server),
    })
}

impl Tsa {
    /// Changes how the server answers from now on.
    pub fn set_answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// How many requests the server has received.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The CA certificate's PEM bytes.
    pub fn ca_pem_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.ca_pem).unwrap()
    }

    /// What `openssl ts -reply` answers to `query` (DER), without HTTP.
    pub fn reply_to(&self, query: &[u8]) -> Vec<u8> {
        reply(self.dir.path(), &self.config, query).expect("openssl ts -reply answers")
    }

    /// Issues, under this TSA's CA, another certificate (key `<name>.key`, certificate
    /// `<name>.pem`) with the extensions of `section` in `ext.cnf` (`tsa_ext`, `no_eku_ext`,
    /// `soft_eku_ext`). Returns (certificate, key).
    pub fn issue(&self, name: &str, section: &str) -> (PathBuf, PathBuf) {
        issue_certificate(self.dir.path(), self.options.key, name, name, section)
    }

    /// Signs `token`'s TSTInfo again, unchanged, with another certificate and key (through
    /// `openssl cms -sign -cades`, so the ESS signing-certificate attribute names it), and returns
    /// a granted TimeStampResp holding the new token: a token that differs from a real one only
    /// in its signer.
    pub fn resign(&self, tsr: &[u8], cert: &Path, key: &Path) -> Vec<u8> {
        self.resign_with(tsr, cert, key, true)
    }

    /// [`Tsa::resign`], with the ESS signing-certificate attribute only when `cades`.
    pub fn resign_with(&self, tsr: &[u8], cert: &Path, key: &Path, cades: bool) -> Vec<u8> {
        let d = self.dir.path();
        let tst_info = tst_info_of(tsr);
        let input = d.join("tstinfo.der");
        let output = d.join("resigned.der");
        std::fs::write(&input, tst_info).unwrap();
        let mut args = vec!["cms", "-sign", "-binary", "-nodetach"];
        if cades {
            args.push("-cades");
        }
        args.extend([
            "-md",
            "sha256",
            "-econtent_type",
            "id-smime-ct-TSTInfo",
            "-signer",
            path(cert),
            "-inkey",
            path(key),
            "-in",
            path(&input),
            "-outform",
            "DER",
            "-out",
            path(&output),
        ]);
        openssl(d, &args);
        granted_response(&std::fs::read(&output).unwrap())
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// Runs openssl in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const EXTENSIONS: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = cablekeep test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[tsa_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[no_eku_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[soft_eku_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

fn make_ca(d: &Path, key: KeyKind) {
    std::fs::write(d.join("ext.cnf"), EXTENSIONS).unwrap();
    let mut args = vec!["req", "-x509", "-new", "-nodes"];
    args.extend(key.newkey_args());
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3650",
        "-config",
        "ext.cnf",
        "-extensions",
        "ca_ext",
        "-subj",
        "/O=cablekeep tests/CN=cablekeep test CA",
    ]);
    openssl(d, &args);
}

fn issue_certificate(
    d: &Path,
    key: KeyKind,
    name: &str,
    common_name: &str,
    section: &str,
) -> (PathBuf, PathBuf) {
    let (key_file, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    let subject = format!("/O=cablekeep tests/CN={common_name}");
    let mut args = vec!["req", "-new", "-nodes"];
    args.extend(key.newkey_args());
    args.extend([
        "-keyout", &key_file, "-out", &csr, "-config", "ext.cnf", "-subj", &subject,
    ]);
    openssl(d, &args);
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            section,
            "-out",
            &pem,
        ],
    );
    (d.join(pem), d.join(key_file))
}

fn tsa_config(d: &Path, digests: &str) -> String {
    format!(
        "\
[tsa]
default_tsa = tsa_config
[tsa_config]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = {digests}
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 0
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
",
        dir = d.display()
    )
}

/// `openssl ts -reply` for one query; None when openssl fails.
fn reply(d: &Path, config: &Path, query: &[u8]) -> Option<Vec<u8>> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let (q, r) = (d.join(format!("q{n}.tsq")), d.join(format!("r{n}.tsr")));
    std::fs::write(&q, query).ok()?;
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-config", path(config), "-queryfile"])
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "openssl ts -reply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    std::fs::read(&r).ok()
}

/// The accept loop: one connection at a time (the TSA's serial file is updated by each reply).
fn serve(
    listener: TcpListener,
    dir: &Path,
    config: &Path,
    answer: &Mutex<Answer>,
    requests: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut held = Vec::new();
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Some(body) = read_request(&mut stream) else {
            continue;
        };
        requests.fetch_add(1, Ordering::SeqCst);
        let now = answer.lock().unwrap().clone();
        match now {
            Answer::Reply => match reply(dir, config, &body) {
                Some(tsr) => respond(&mut stream, 200, "application/timestamp-reply", &tsr),
                None => respond(&mut stream, 500, "text/plain", b"openssl failed\n"),
            },
            Answer::Status(code) => respond(&mut stream, code, "text/plain", b"no\n"),
            Answer::Hang => held.push(stream),
            Answer::Redirect(to) => {
                let head = format!(
                    "HTTP/1.1 301 Moved\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes());
            }
            Answer::Bytes(bytes) => {
                let content_type = if bytes.starts_with(b"<") {
                    "text/html"
                } else {
                    "application/timestamp-reply"
                };
                respond(&mut stream, 200, content_type, &bytes)
            }
        }
    }
}

/// The body of one HTTP/1.1 POST with a Content-Length (at most 1 MiB).
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if data.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if length > 1024 * 1024 {
        return None;
    }
    while data.len() < header_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    Some(data[header_end..header_end + length].to_vec())
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// The TSTInfo octets (eContent) of a response's token.
fn tst_info_of(tsr: &[u8]) -> Vec<u8> {
    use der::Decode;
    let response = x509_tsp::TimeStampResp::from_der(tsr).unwrap();
    let signed: cms::signed_data::SignedData = response
        .time_stamp_token
        .unwrap()
        .content
        .decode_as()
        .unwrap();
    signed
        .encap_content_info
        .econtent
        .unwrap()
        .decode_as::<der::asn1::OctetString>()
        .unwrap()
        .into_bytes()
}

/// The signature octets of a response's single signer.
fn signature_of(tsr: &[u8]) -> Vec<u8> {
    use der::Decode;
    let response = x509_tsp::TimeStampResp::from_der(tsr).unwrap();
    let signed: cms::signed_data::SignedData = response
        .time_stamp_token
        .unwrap()
        .content
        .decode_as()
        .unwrap();
    signed
        .signer_infos
        .0
        .get(0)
        .unwrap()
        .signature
        .as_bytes()
        .to_vec()
}

/// A granted TimeStampResp around a token (a CMS ContentInfo, DER).
fn granted_response(token_der: &[u8]) -> Vec<u8> {
    use der::{Decode, Encode};
    let response = x509_tsp::TimeStampResp {
        status: cmpv2::status::PkiStatusInfo {
            status: cmpv2::status::PkiStatus::Accepted,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: Some(cms::content_info::ContentInfo::from_der(token_der).unwrap()),
    };
    response.to_der().unwrap()
}

mod tests {
    use super::*;
    use cablekeep::Code;
    use cablekeep::seal::timestamp::{self, TimestampProblem, finding_for};

    const CHECKPOINT: &[u8] = b"cablekeep/demo\n3\nq3VOxh+SzHcYYZ2E7ZNJWsHKRfYjwuDmXzSBRQ9aYh8=\n\
version 3\n";
    const TIMEOUT: Duration = Duration::from_secs(20);

    /// Fetches a token over `data` and writes data and token to files in the TSA's folder.
    fn fetch_to_files(tsa: &Tsa, data: &[u8]) -> (Vec<u8>, PathBuf, PathBuf) {
        let tsr = timestamp::fetch(&tsa.url, data, TIMEOUT).expect("a token");
        let (data_file, tsr_file) = (
            tsa.dir.path().join("demo-v3.checkpoint"),
            tsa.dir.path().join("demo-v3.checkpoint.tsr"),
        );
        std::fs::write(&data_file, data).unwrap();
        std::fs::write(&tsr_file, &tsr).unwrap();
        (tsr, data_file, tsr_file)
    }

    /// `openssl ts -verify -data F -in R -CAfile CA`: (accepted, what it said).
    fn openssl_verify(data_file: &Path, tsr: &[u8], dir: &Path, ca: &Path) -> (bool, String) {
        let tsr_file = dir.join("to-verify.tsr");
        std::fs::write(&tsr_file, tsr).unwrap();
        let out = Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(data_file)
            .arg("-in")
            .arg(&tsr_file)
            .arg("-CAfile")
            .arg(ca)
            .output()
            .expect("openssl runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.success() && said.contains("Verification: OK"),
            said,
        )
    }

    #[test]
    fn a_token_from_a_real_tsa_verifies_with_cablekeep_and_with_openssl() {
        for key in [KeyKind::Rsa2048, KeyKind::P256, KeyKind::P384] {
            let Some(tsa) = start_tsa_with(TsaOptions {
                key,
                ..TsaOptions::default()
            }) else {
                return;
            };
            let started = Instant::now();
            let (tsr, data_file, tsr_file) = fetch_to_files(&tsa, CHECKPOINT);
            let fetched = started.elapsed();
            let started = Instant::now();
            let facts = timestamp::verify(&tsr, CHECKPOINT, &tsa.ca_pem_bytes())
                .unwrap_or_else(|p| panic!("{key:?}: {p}"));
            let verified = started.elapsed();
            eprintln!(
                "{key:?}: token {} bytes, fetch {fetched:?}, verify {verified:?}",
                tsr.len()
            );
            assert!(tsr.len() < timestamp::MAX_TOKEN_BYTES);
            assert!(
                facts.signer_subject.contains("CN=cablekeep test TSA"),
                "{facts:?}"
            );
            assert!(
                facts
                    .tsa_name
                    .as_deref()
                    .unwrap_or("")
                    .contains("cablekeep test TSA"),
                "{facts:?}"
            );
            assert_eq!(facts.policy, "1.2.3.4.1");
            assert_eq!(facts.imprint_algorithm, "sha256");
            assert!(
                !facts.serial.is_empty() && facts.serial.bytes().all(|b| b.is_ascii_hexdigit()),
                "{facts:?}"
            );
            let now = cablekeep::time::rfc3339(cablekeep::time::now());
            assert_eq!(facts.gen_time.len(), "2026-12-05T06:14:37Z".len());
            assert_eq!(facts.gen_time[..13], now[..13], "genTime is now: {facts:?}");

            let (ok, said) = openssl_verify(&data_file, &tsr, tsa.dir.path(), &tsa.ca_pem);
            assert!(ok, "{key:?}: openssl ts -verify refused: {said}");
            // The file written is the one checked (the .tsr as stored), and openssl reads out
            // the same time as FORMAT.md says.
            assert_eq!(std::fs::read(&tsr_file).unwrap(), tsr);
            let shown = openssl(
                tsa.dir.path(),
                &["ts", "-reply", "-in", path(&tsr_file), "-text"],
            );
            let shown = String::from_utf8_lossy(&shown.stdout);
            assert!(shown.contains("Status: Granted."), "{shown}");
            assert!(
                shown.contains("Time stamp: ") && shown.contains(" GMT"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_token_over_other_bytes_is_reported_as_such() {
        let Some(tsa) = start_tsa() else { return };
        let (tsr, _, _) = fetch_to_files(&tsa, CHECKPOINT);
        let mut other = CHECKPOINT.to_vec();
        other[20] ^= 1;
        let problem = timestamp::verify(&tsr, &other, &tsa.ca_pem_bytes()).unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::OtherBytes { .. }),
            "{problem:?}"
        );
        assert!(
            problem.to_string().contains("covers other bytes"),
            "{problem}"
        );
        let finding = finding_for(&problem, "manifests/demo/demo-v3.checkpoint.tsr");
        assert_eq!(finding.code, Code::TimestampOtherBytes);
        assert_eq!(finding.code.as_str(), "S021");
        assert!(finding.is_error());

        let other_file = tsa.dir.path().join("other.checkpoint");
        std::fs::write(&other_file, &other).unwrap();
        let (ok, said) = openssl_verify(&other_file, &tsr, tsa.dir.path(), &tsa.ca_pem);
        assert!(!ok, "openssl accepted a token over other bytes: {said}");
    }

    #[test]
    fn a_token_from_an_untrusted_tsa_is_refused() {
        let Some(trusted) = start_tsa() else { return };
        let Some(stranger) = start_tsa_with(TsaOptions {
            key: KeyKind::P256,
            ..TsaOptions::default()
        }) else {
            return;
        };
        let (tsr, data_file, _) = fetch_to_files(&stranger, CHECKPOINT);
        // Genuine for its own CA.
        assert!(timestamp::verify(&tsr, CHECKPOINT, &stranger.ca_pem_bytes()).is_ok());
        let problem = timestamp::verify(&tsr, CHECKPOINT, &trusted.ca_pem_bytes()).unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::UntrustedSigner(_)),
            "{problem:?}"
        );
        assert!(problem.to_string().contains("not trusted"), "{problem}");
        assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S023");
        let (ok, said) = openssl_verify(&data_file, &tsr, trusted.dir.path(), &trusted.ca_pem);
        assert!(!ok, "openssl accepted an untrusted TSA: {said}");

        // A CA file that holds no certificate cannot vouch for anything.
        let problem = timestamp::verify(&tsr, CHECKPOINT, b"not pem\n").unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::NoTrustedCertificate(_)),
            "{problem:?}"
        );
        assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S025");
    }

    #[test]
    fn a_signer_certificate_unfit_for_time_stamping_is_refused() {
        let Some(tsa) = start_tsa() else { return };
        // Issued before the token, so that they were valid at its time.
        let weak = [
            ("no_eku_ext", "has no extended key usage"),
            ("soft_eku_ext", "not marked critical"),
        ]
        .map(|(section, why)| (section, why, tsa.issue(section, section)));
        let (tsr, data_file, _) = fetch_to_files(&tsa, CHECKPOINT);
        let ca = tsa.ca_pem_bytes();

        // The re-signing path itself yields a token both checkers accept with a proper certificate.
        let again = tsa.resign(&tsr, &tsa.tsa_pem, &tsa.tsa_key);
        timestamp::verify(&again, CHECKPOINT, &ca).expect("re-signed by the TSA certificate");
        let (ok, said) = openssl_verify(&data_file, &again, tsa.dir.path(), &tsa.ca_pem);
        assert!(ok, "{said}");

        for (section, why, (cert, key)) in weak {
            let forged = tsa.resign(&tsr, &cert, &key);
            let problem = timestamp::verify(&forged, CHECKPOINT, &ca).unwrap_err();
            assert!(
                matches!(problem, TimestampProblem::NotForTimestamping(_)),
                "{section}: {problem:?}"
            );
            assert!(problem.to_string().contains(why), "{section}: {problem}");
            assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S024");
            let (ok, said) = openssl_verify(&data_file, &forged, tsa.dir.path(), &tsa.ca_pem);
            assert!(!ok, "{section}: openssl accepted it: {said}");
        }

        // A proper certificate, but no signed attribute binds it to the signature.
        let unbound = tsa.resign_with(&tsr, &tsa.tsa_pem, &tsa.tsa_key, false);
        let problem = timestamp::verify(&unbound, CHECKPOINT, &ca).unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::SignerCertificate(_)),
            "{problem:?}"
        );
        assert!(
            problem.to_string().contains("signing-certificate"),
            "{problem}"
        );
        assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S023");
        let (ok, said) = openssl_verify(&data_file, &unbound, tsa.dir.path(), &tsa.ca_pem);
        assert!(
            !ok,
            "openssl accepted a token without ESS signing certificate: {said}"
        );

        // A proper certificate, but issued after the token's time.
        std::thread::sleep(Duration::from_millis(1100));
        let (cert, key) = tsa.issue("late", "tsa_ext");
        let late = tsa.resign(&tsr, &cert, &key);
        let problem = timestamp::verify(&late, CHECKPOINT, &ca).unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::NotValidAtTime(_)),
            "{problem:?}"
        );
        assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S023");
        let (ok, said) = openssl_verify(&data_file, &late, tsa.dir.path(), &tsa.ca_pem);
        assert!(
            !ok,
            "openssl accepted a signer certificate younger than the token: {said}"
        );
    }

    #[test]
    fn a_flipped_byte_in_the_signature_or_the_content_is_a_bad_signature() {
        let Some(tsa) = start_tsa() else { return };
        let (tsr, data_file, _) = fetch_to_files(&tsa, CHECKPOINT);
        let ca = tsa.ca_pem_bytes();
        let signature = signature_of(&tsr);
        let at = tsr
            .windows(signature.len())
            .position(|w| w == signature.as_slice())
            .unwrap();
        let content = tst_info_of(&tsr);
        let content_at = tsr
            .windows(content.len())
            .position(|w| w == content.as_slice())
            .unwrap();
        // A byte in the middle of the signature, and the last byte of the TSTInfo (the
        // TSA name's last letter).
        for index in [at + signature.len() / 2, content_at + content.len() - 1] {
            let mut bad = tsr.clone();
            bad[index] ^= 0x01;
            let problem = timestamp::verify(&bad, CHECKPOINT, &ca).unwrap_err();
            assert!(
                matches!(problem, TimestampProblem::BadSignature(_)),
                "byte {index}: {problem:?}"
            );
            assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S022");
            let (ok, said) = openssl_verify(&data_file, &bad, tsa.dir.path(), &tsa.ca_pem);
            assert!(!ok, "byte {index}: openssl accepted it: {said}");
        }
    }

    #[test]
    fn truncated_and_bit_flipped_tokens_never_panic_and_never_change_the_facts() {
        let Some(tsa) = start_tsa_with(TsaOptions {
            key: KeyKind::P256,
            ..TsaOptions::default()
        }) else {
            return;
        };
        let (tsr, _, _) = fetch_to_files(&tsa, CHECKPOINT);
        let ca = tsa.ca_pem_bytes();
        let facts = timestamp::verify(&tsr, CHECKPOINT, &ca).unwrap();
        for len in 0..tsr.len() {
            let problem = timestamp::verify(&tsr[..len], CHECKPOINT, &ca).unwrap_err();
            assert_eq!(
                finding_for(&problem, "x.tsr").code.as_str(),
                "S020",
                "cut at {len}: {problem}"
            );
        }
        let mut accepted = 0;
        for index in 0..tsr.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = tsr.clone();
                bad[index] ^= bit;
                // Some bytes are not signed (the status, the signature algorithm's name that
                // the key type overrides, the CA certificate the token carries): a flip there
                // may still verify, but never to other facts.
                if let Ok(other) = timestamp::verify(&bad, CHECKPOINT, &ca) {
                    assert_eq!(other, facts, "byte {index} bit {bit:#x}");
                    accepted += 1;
                }
            }
        }
        eprintln!(
            "{accepted} of {} single-bit flips still verify",
            2 * tsr.len()
        );
        assert!(accepted < tsr.len(), "{accepted} flips accepted");
        let mut long = tsr.clone();
        long.push(0);
        assert!(timestamp::verify(&long, CHECKPOINT, &ca).is_err());
        let huge = vec![0x30u8; timestamp::MAX_TOKEN_BYTES + 1];
        let problem = timestamp::verify(&huge, CHECKPOINT, &ca).unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::TooLarge { .. }),
            "{problem:?}"
        );
    }

    #[test]
    fn a_tsa_that_does_not_grant_the_request_is_an_error_naming_it() {
        // OpenSSL's TSA rejects a digest it is not configured for (failure info badAlg).
        let Some(tsa) = start_tsa_with(TsaOptions {
            digests: "sha512",
            ..TsaOptions::default()
        }) else {
            return;
        };
        let error = timestamp::fetch(&tsa.url, CHECKPOINT, TIMEOUT).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&tsa.url), "{text}");
        assert!(
            text.contains("not granted") && text.contains("rejection"),
            "{text}"
        );

        let rejected = tsa.reply_to(&timestamp::request_der(CHECKPOINT, 7).unwrap());
        let problem = timestamp::verify(&rejected, CHECKPOINT, &tsa.ca_pem_bytes()).unwrap_err();
        assert!(
            matches!(problem, TimestampProblem::NotGranted(_)),
            "{problem:?}"
        );
        assert_eq!(finding_for(&problem, "x.tsr").code.as_str(), "S020");
    }

    /// Runs `fetch` on another thread and fails the test if it does not return within `limit`.
    fn fetch_within(url: &str, limit: Duration) -> (Result<Vec<u8>, String>, Duration) {
        let (sender, receiver) = std::sync::mpsc::channel();
        let url = url.to_string();
        let started = Instant::now();
        std::thread::spawn(move || {
            let result = timestamp::fetch(&url, CHECKPOINT, Duration::from_secs(2))
                .map_err(|e| e.to_string());
            let _ = sender.send(result);
        });
        let result = receiver
            .recv_timeout(limit)
            .expect("fetch returned within the limit (no hang)");
        (result, started.elapsed())
    }

    #[test]
    fn http_errors_time_outs_and_foreign_answers_are_clear_errors() {
        let Some(tsa) = start_tsa() else { return };

        tsa.set_answer(Answer::Status(503));
        let (result, _) = fetch_within(&tsa.url, Duration::from_secs(30));
        let text = result.unwrap_err();
        assert!(
            text.contains(&tsa.url) && text.contains("HTTP status 503"),
            "{text}"
        );

        tsa.set_answer(Answer::Redirect("https://tsa.example/".into()));
        let (result, _) = fetch_within(&tsa.url, Duration::from_secs(30));
        let text = result.unwrap_err();
        assert!(
            text.contains("HTTP status 301") && text.contains("redirect to https://tsa.example/"),
            "{text}"
        );

        tsa.set_answer(Answer::Hang);
        let (result, took) = fetch_within(&tsa.url, Duration::from_secs(30));
        let text = result.unwrap_err();
        assert!(
            text.contains(&tsa.url) && text.contains("time-out"),
            "{text}"
        );
        assert!(took < Duration::from_secs(10), "took {took:?}");

        // An old answer replayed: another nonce.
        tsa.set_answer(Answer::Reply);
        let (old, _) = fetch_within(&tsa.url, Duration::from_secs(30));
        let old = old.unwrap();
        tsa.set_answer(Answer::Bytes(old.clone()));
        let (result, _) = fetch_within(&tsa.url, Duration::from_secs(30));
        let text = result.unwrap_err();
        assert!(text.contains(&tsa.url) && text.contains("nonce"), "{text}");

        // A token whose signature is broken is refused before it is stored.
        let signature = signature_of(&old);
        let at = old
            .windows(signature.len())
            .position(|w| w == signature.as_slice())
            .unwrap();
        let mut broken = old.clone();
        broken[at + 5] ^= 0x20;
        tsa.set_answer(Answer::Bytes(broken));
        let (result, _) = fetch_within(&tsa.url, Duration::from_secs(30));
        let text = result.unwrap_err();
        assert!(text.contains("signature does not verify"), "{text}");

        for (bytes, said) in [
            (b"<html>hello</html>".to_vec(), "not a well-formed"),
            (b"<html>hello</html>".to_vec(), "content type is text/html"),
            (vec![0x30; 200_000], "larger than 65536 bytes"),
        ] {
            tsa.set_answer(Answer::Bytes(bytes));
            let (result, _) = fetch_within(&tsa.url, Duration::from_secs(30));
            let text = result.unwrap_err();
            assert!(text.contains(&tsa.url) && text.contains(said), "{text}");
        }

        // Nobody listening.
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let url = format!("http://{closed}/tsa");
        let (result, _) = fetch_within(&url, Duration::from_secs(30));
        let text = result.unwrap_err();
        assert!(text.contains(&url) && text.contains("no answer"), "{text}");
    }
}
