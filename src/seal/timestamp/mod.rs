//! Trusted timestamps (RFC 3161): asking a time-stamping authority (TSA) for a token over a
//! checkpoint, and checking such a token offline against the TSA certificates one trusts.
//!
//! A `.tsr` file holds the TSA's whole `TimeStampResp` (DER), as `openssl ts -reply` writes it and
//! `openssl ts -verify -in` reads it, so `openssl ts -verify -data <checkpoint> -in <tsr> -CAfile
//! <ca>` checks it without cablekeep.
//!
//! Checking a token ([`verify`]) means: the response is granted and well formed; the CMS
//! signature over the signed attributes verifies with the signer certificate, whose
//! `messageDigest` attribute is the digest of the `TSTInfo` and whose ESS signing-certificate
//! attribute names that certificate; the `TSTInfo`'s message imprint is the digest of the data;
//! the signer certificate chains to a trusted certificate (signatures checked, every certificate
//! valid at the token's time) and carries the critical extended key usage `timeStamping`.

use std::fmt;
use std::time::Duration;

use der::asn1::{Int, Null, ObjectIdentifier, OctetString};
use der::{Any, Encode};
use rustls_pki_types::CertificateDer;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

use crate::error::Error;
use crate::finding::{Code, Finding};
use crate::http;

mod checks;
mod token;

use checks::*;
use token::*;

/// A token file larger than this is refused unread (a real one is 2-8 KB, a few certificates).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// How long a TSA gets to answer one request (connection, headers and body together) unless
/// `--tsa-timeout` says otherwise: a public TSA answers in well under a second.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP content type of a request (RFC 3161 section 3.4).
pub(super) const QUERY_TYPE: &str = "application/timestamp-query";

pub(super) const ID_SIGNED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub(super) const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
pub(super) const ID_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub(super) const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub(super) const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
pub(super) const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub(super) const ID_SHA_1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub(super) const ID_SHA_256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub(super) const ID_SHA_384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub(super) const ID_SHA_512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
pub(super) const ID_RSASSA_PSS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub(super) const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
pub(super) const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// id-kp-timeStamping (1.3.6.1.5.5.7.3.8), the contents octets of the OID as webpki wants them.
pub(super) const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimestampFacts {
    /// When the TSA says the data existed: the token's `genTime` in RFC 3339 UTC
    /// (`2026-12-05T06:14:37Z`, with a fraction of a second when the token has one).
    pub gen_time: String,
    /// The TSA's name from the token (`tsa` field), when it names itself.
    pub tsa_name: Option<String>,
    /// The subject of the certificate that signed the token (RFC 4514 form).
    pub signer_subject: String,
    /// The token's serial number, lower-case hex.
    pub serial: String,
    /// The TSA policy under which the token was issued (dotted OID).
    pub policy: String,
    /// The digest algorithm of the message imprint: `sha256`, `sha384` or `sha512`.
    pub imprint_algorithm: &'static str,
}

/// Why a token does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampProblem {
    /// The file is larger than [`MAX_TOKEN_BYTES`].
    TooLarge {
        /// The file's size, in bytes.
        size: usize,
    },
    /// The bytes are not a well-formed timestamp response; says which part.
    Malformed(String),
    /// The TSA did not grant the request (the status, its text and failure bits).
    NotGranted(String),
    /// The token is genuine but stamps other bytes than the ones given.
    OtherBytes {
        /// The imprint's digest algorithm: `sha256`, `sha384` or `sha512`.
        algorithm: &'static str,
        /// The digest of the bytes given (the checkpoint), lower-case hex.
        expected: String,
        /// The digest the token stamps, lower-case hex.
        stamped: String,
    },
    /// A digest or signature algorithm cablekeep does not check.
    UnsupportedAlgorithm(String),
    /// The signature, or the digest of the signed content, does not verify.
    BadSignature(String),
    /// The token carries no certificate for its signer, or no attribute binding it.
    SignerCertificate(String),
    /// The signer certificate does not chain to a trusted certificate.
    UntrustedSigner(String),
    /// A certificate of the chain was not valid at the token's time.
    NotValidAtTime(String),
    /// The signer certificate lacks the critical extended key usage timeStamping.
    NotForTimestamping(String),
    /// No trusted TSA certificate was given, or the given file holds none.
    NoTrustedCertificate(String),
}

impl fmt::Display for TimestampProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampProblem::TooLarge { size } => write!(
                f,
                "timestamp token is {size} bytes, more than the {MAX_TOKEN_BYTES} a token can need"
            ),
            TimestampProblem::Malformed(what) => {
                write!(
                    f,
                    "timestamp token is not a well-formed RFC 3161 response: {what}"
                )
            }
            TimestampProblem::NotGranted(status) => {
                write!(f, "timestamp response was not granted: {status}")
            }
            TimestampProblem::OtherBytes {
                algorithm,
                expected,
                stamped,
            } => write!(
                f,
                "timestamp covers other bytes: it stamps {algorithm} {stamped}, the file's is {expected}"
            ),
            TimestampProblem::UnsupportedAlgorithm(what) => {
                write!(
                    f,
                    "timestamp uses an algorithm cablekeep does not check: {what}"
                )
            }
            TimestampProblem::BadSignature(what) => {
                write!(f, "timestamp signature does not verify: {what}")
            }
            TimestampProblem::SignerCertificate(what) => {
                write!(
                    f,
                    "timestamp signer certificate cannot be established: {what}"
                )
            }
            TimestampProblem::UntrustedSigner(what) => {
                write!(f, "timestamp signer is not trusted: {what}")
            }
            TimestampProblem::NotValidAtTime(what) => write!(
                f,
                "timestamp signer certificate was not valid at the stamped time: {what}"
            ),
            TimestampProblem::NotForTimestamping(what) => write!(
                f,
                "timestamp signer certificate is not a time-stamping certificate: {what}"
            ),
            TimestampProblem::NoTrustedCertificate(what) => {
                write!(
                    f,
                    "timestamp not checked: no trusted TSA certificate ({what})"
                )
            }
        }
    }
}

impl std::error::Error for TimestampProblem {}

/// The finding that reports `problem` with the token file `file`.
pub fn finding_for(problem: &TimestampProblem, file: &str) -> Finding {
    let code = match problem {
        TimestampProblem::TooLarge { .. }
        | TimestampProblem::Malformed(_)
        | TimestampProblem::NotGranted(_) => Code::TimestampMalformed,
        TimestampProblem::OtherBytes { .. } => Code::TimestampOtherBytes,
        TimestampProblem::UnsupportedAlgorithm(_) | TimestampProblem::BadSignature(_) => {
            Code::TimestampBadSignature
        }
        TimestampProblem::SignerCertificate(_)
        | TimestampProblem::UntrustedSigner(_)
        | TimestampProblem::NotValidAtTime(_) => Code::TimestampUntrusted,
        TimestampProblem::NotForTimestamping(_) => Code::TimestampNotForTimestamping,
        TimestampProblem::NoTrustedCertificate(_) => Code::TimestampUnchecked,
    };
    Finding::new(code, file, problem.to_string())
}

/// A `TimeStampReq` (DER) for a SHA-256 imprint of `data`, with `nonce`, asking the TSA to
/// include its certificate.
pub fn request_der(data: &[u8], nonce: u64) -> Result<Vec<u8>, Error> {
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA_256,
                parameters: Some(Any::from(Null)),
            },
            hashed_message: OctetString::new(sha256(data)).map_err(encoding_error)?,
        },
        req_policy: None,
        nonce: Some(int_of_u64(nonce)?),
        cert_req: true,
        extensions: None,
    };
    request.to_der().map_err(encoding_error)
}

fn encoding_error(e: der::Error) -> Error {
    Error::Invalid(format!("cannot encode a timestamp request: {e}"))
}

/// A DER INTEGER holding `n` (positive: a leading zero byte when the top bit is set).
fn int_of_u64(n: u64) -> Result<Int, Error> {
    let bytes = n.to_be_bytes();
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut minimal = Vec::with_capacity(9);
    if bytes[first] & 0x80 != 0 {
        minimal.push(0);
    }
    minimal.extend_from_slice(&bytes[first..]);
    Int::new(&minimal).map_err(encoding_error)
}

/// Asks the TSA at `url` for a token over `data` (SHA-256 imprint, a fresh nonce) and returns
/// its whole `TimeStampResp`, the bytes to store as the `.tsr` file. The answer must be granted,
/// echo the nonce and stamp `data`; each request and its answer get at most `timeout`.
/// Whether the TSA is trusted is for [`verify`] to say.
pub fn fetch(url: &str, data: &[u8], timeout: Duration) -> Result<Vec<u8>, Error> {
    let fail = |message: String| Error::Timestamp {
        url: url.to_string(),
        message,
    };
    let nonce = random_nonce().ok_or_else(|| fail("no random nonce available".into()))?;
    let query = request_der(data, nonce)?;
    let client = http::Client::new(
        &format!("cablekeep/{}", crate::TOOL_VERSION),
        timeout,
        MAX_TOKEN_BYTES as u64,
    );
    let response = client
        .post(url, QUERY_TYPE, &query, timeout)
        .map_err(|f| match f.kind {
            http::FailureKind::Timeout => fail(format!(
                "no answer within the time-out of {} s (--tsa-timeout)",
                timeout.as_secs_f64()
            )),
            _ => fail(format!("no answer ({}): {}", f.kind.label(), f.message)),
        })?;
    if response.status != 200 {
        let redirect = match response.header("location") {
            Some(to) if (300..400).contains(&response.status) => {
                format!(" (a redirect to {to}: give that URL)")
            }
            _ => String::new(),
        };
        return Err(fail(format!(
            "answered HTTP status {}{redirect}",
            response.status
        )));
    }
    if response.truncated {
        return Err(fail(format!(
            "the answer is larger than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    let token = Token::parse(&response.body).map_err(|problem| {
        let content_type = response.header("content-type").unwrap_or("none");
        if content_type.starts_with("application/timestamp-reply") {
            fail(problem.to_string())
        } else {
            fail(format!(
                "{problem} (the answer's content type is {content_type})"
            ))
        }
    })?;
    // A token that could never verify is refused now rather than stored; whether its signer is
    // trusted is for the reader to say, with the certificates they trust.
    let signer = token
        .signer_certificate()
        .map_err(|p| fail(p.to_string()))?;
    token
        .check_signature(signer)
        .map_err(|p| fail(p.to_string()))?;
    if token.tst_info.nonce.as_ref() != Some(&int_of_u64(nonce)?) {
        return Err(fail(
            "the answer does not echo the request's nonce (a replayed or foreign answer)".into(),
        ));
    }
    check_imprint(&token.tst_info.message_imprint, data).map_err(|p| fail(p.to_string()))?;
    Ok(response.body)
}

fn random_nonce() -> Option<u64> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Checks the token `tsr` (a whole `TimeStampResp`) over `data` against the TSA or CA
/// certificates in `trusted_ca_pem` (PEM, one or more), and says what it stamps.
pub fn verify(
    tsr: &[u8],
    data: &[u8],
    trusted_ca_pem: &[u8],
) -> Result<TimestampFacts, TimestampProblem> {
    let trusted = trusted_certificates(trusted_ca_pem)?;
    let token = Token::parse(tsr)?;
    let signer = token.signer_certificate()?;
    token.check_signature(signer)?;
    let imprint_algorithm = check_imprint(&token.tst_info.message_imprint, data)?;
    let gen_time = GenTime::parse(&token.tst_info.gen_time)?;
    check_chain(signer, &token.certificates, &trusted, &gen_time)?;
    check_time_stamping_usage(&signer.parsed)?;
    Ok(facts_of(&token, signer, gen_time, imprint_algorithm))
}

/// Checks what can be checked of the token `tsr` over `data` without trusted certificates: that
/// it is granted and well formed, that its signature verifies with the certificate it carries and
/// that it stamps `data`. Whether its signer is a TSA anyone trusts is not checked: the caller
/// says so (finding `S025`).
pub fn inspect(tsr: &[u8], data: &[u8]) -> Result<TimestampFacts, TimestampProblem> {
    let token = Token::parse(tsr)?;
    let signer = token.signer_certificate()?;
    token.check_signature(signer)?;
    let imprint_algorithm = check_imprint(&token.tst_info.message_imprint, data)?;
    let gen_time = GenTime::parse(&token.tst_info.gen_time)?;
    Ok(facts_of(&token, signer, gen_time, imprint_algorithm))
}

fn facts_of(
    token: &Token,
    signer: &Cert,
    gen_time: GenTime,
    imprint_algorithm: &'static str,
) -> TimestampFacts {
    TimestampFacts {
        gen_time: gen_time.rfc3339,
        tsa_name: token.tst_info.tsa.as_ref().map(general_name),
        signer_subject: signer.parsed.tbs_certificate.subject.to_string(),
        serial: hex::encode(token.tst_info.serial_number.as_bytes()),
        policy: token.tst_info.policy.to_string(),
        imprint_algorithm,
    }
}

/// Refuses, before anything is written, a TSA URL that no request could be sent to.
pub fn check_url(url: &str) -> Result<(), Error> {
    let invalid = |why: &str| {
        Error::Invalid(format!(
            "--tsa {}: {why} (give the TSA's http:// or https:// URL)",
            crate::finding::terminal_safe(url)
        ))
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("not an http or https URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("the URL names no host"));
    }
    Ok(())
}

/// Whether `pem` holds a certificate to trust; the problem (`S025`) when it holds none.
pub fn check_trusted_pem(pem: &[u8]) -> Result<(), TimestampProblem> {
    trusted_certificates(pem).map(|_| ())
}

/// The DER certificates of a PEM file (other PEM sections are passed over).
fn trusted_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, TimestampProblem> {
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|der| der.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            TimestampProblem::NoTrustedCertificate(format!("the CA file is not PEM: {e}"))
        })?;
    if certs.is_empty() {
        return Err(TimestampProblem::NoTrustedCertificate(
            "the CA file holds no certificate".into(),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Tag};

    #[test]
    fn a_request_is_der_with_the_imprint_and_the_nonce() {
        let der = request_der(b"abc", 0x8000_0000_0000_0001).unwrap();
        let request = TimeStampReq::from_der(&der).unwrap();
        assert_eq!(request.message_imprint.hash_algorithm.oid, ID_SHA_256);
        assert_eq!(
            hex::encode(request.message_imprint.hashed_message.as_bytes()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(request.cert_req);
        assert_eq!(
            request.nonce.unwrap().as_bytes(),
            &[0, 0x80, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(int_of_u64(0).unwrap().as_bytes(), &[0]);
        assert_eq!(int_of_u64(0x7f).unwrap().as_bytes(), &[0x7f]);
    }

    fn gen_time(text: &str) -> Result<GenTime, TimestampProblem> {
        let any = Any::new(Tag::GeneralizedTime, text.as_bytes()).unwrap();
        GenTime::parse(&any)
    }

    #[test]
    fn gen_time_takes_fractions_and_refuses_zones() {
        let t = gen_time("20261205061437Z").unwrap();
        assert_eq!(t.rfc3339, "2026-12-05T06:14:37Z");
        assert_eq!(t.unix.as_secs(), 1_796_451_277);
        let t = gen_time("20261205061437.125Z").unwrap();
        assert_eq!(t.rfc3339, "2026-12-05T06:14:37.125Z");
        for bad in [
            "20261205061437",
            "20261205061437+0100",
            "20261305061437Z",
            "2026120506143Z",
            "20261205061437.Z",
            "20261205061437.1aZ",
            "２０261205061437Z",
        ] {
            assert!(gen_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tsa_url_must_be_http_or_https_with_a_host() {
        for good in ["http://127.0.0.1:8080/tsa", "https://tsa.example.org/tsr"] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "tsa.example.org",
            "ftp://example.org/tsa",
            "http://",
            "http:///x",
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.starts_with("--tsa "), "{bad}: {e}");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\x30", b"\x30\x03\x02\x01\x00", &[0xff; 100]] {
            assert!(matches!(
                verify(bytes, b"x", b""),
                Err(TimestampProblem::NoTrustedCertificate(_))
            ));
            assert!(matches!(
                Token::parse(bytes),
                Err(TimestampProblem::Malformed(_))
            ));
        }
        let big = vec![0u8; MAX_TOKEN_BYTES + 1];
        assert!(matches!(
            Token::parse(&big),
            Err(TimestampProblem::TooLarge { .. })
        ));
    }
}
