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

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, Null, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence, Tag, Tagged};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

use crate::error::Error;
use crate::finding::{Code, Finding};
use crate::http;

/// A token file larger than this is refused unread (a real one is 2-8 KB, a few certificates).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The HTTP content type of a request (RFC 3161 section 3.4).
const QUERY_TYPE: &str = "application/timestamp-query";

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA_1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA_384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA_512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// id-kp-timeStamping (1.3.6.1.5.5.7.3.8), the contents octets of the OID as webpki wants them.
const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    TooLarge { size: usize },
    /// The bytes are not a well-formed timestamp response; says which part.
    Malformed(String),
    /// The TSA did not grant the request (the status, its text and failure bits).
    NotGranted(String),
    /// The token is genuine but stamps other bytes than the ones given.
    OtherBytes {
        algorithm: &'static str,
        expected: String,
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
        .map_err(|f| fail(format!("no answer ({}): {}", f.kind.label(), f.message)))?;
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
    Ok(TimestampFacts {
        gen_time: gen_time.rfc3339,
        tsa_name: token.tst_info.tsa.as_ref().map(general_name),
        signer_subject: signer.parsed.tbs_certificate.subject.to_string(),
        serial: hex::encode(token.tst_info.serial_number.as_bytes()),
        policy: token.tst_info.policy.to_string(),
        imprint_algorithm,
    })
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

/// `TSTInfo` (RFC 3161 section 2.4.2). Its own type rather than x509-tsp's: `genTime` may carry
/// a fraction of a second (many TSAs write one), which der's `GeneralizedTime` refuses.
#[derive(Clone, Debug, Sequence)]
struct TstInfo {
    version: TspVersion,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<x509_cert::ext::Extensions>,
}

/// ESS `SigningCertificateV2` (RFC 5035): the digest of the signer certificate, signed.
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    /// Absent means SHA-256 (its DEFAULT).
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// ESS `SigningCertificate` (RFC 2634): the same with SHA-1.
#[derive(Clone, Debug, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// A parsed, granted timestamp response.
struct Token {
    signer_info: SignerInfo,
    /// The `TSTInfo` as signed (the eContent's octets).
    tst_info_der: Vec<u8>,
    tst_info: TstInfo,
    certificates: Vec<Cert>,
}

/// A certificate, parsed and as DER.
struct Cert {
    der: Vec<u8>,
    parsed: Certificate,
}

fn malformed(what: &str) -> impl Fn(der::Error) -> TimestampProblem + '_ {
    move |e| TimestampProblem::Malformed(format!("{what}: {e}"))
}

impl Token {
    fn parse(tsr: &[u8]) -> Result<Token, TimestampProblem> {
        if tsr.len() > MAX_TOKEN_BYTES {
            return Err(TimestampProblem::TooLarge { size: tsr.len() });
        }
        let response = TimeStampResp::from_der(tsr).map_err(malformed("TimeStampResp"))?;
        check_status(&response)?;
        let token: ContentInfo = response
            .time_stamp_token
            .ok_or_else(|| TimestampProblem::Malformed("granted, but no token".into()))?;
        if token.content_type != ID_SIGNED_DATA {
            return Err(TimestampProblem::Malformed(format!(
                "the token is {}, not CMS SignedData",
                token.content_type
            )));
        }
        let signed: SignedData = token.content.decode_as().map_err(malformed("SignedData"))?;
        if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
            return Err(TimestampProblem::Malformed(format!(
                "the signed content is {}, not TSTInfo",
                signed.encap_content_info.econtent_type
            )));
        }
        let econtent = signed
            .encap_content_info
            .econtent
            .as_ref()
            .ok_or_else(|| TimestampProblem::Malformed("the TSTInfo is missing".into()))?;
        let tst_info_der = econtent
            .decode_as::<OctetString>()
            .map_err(malformed("TSTInfo octets"))?
            .into_bytes();
        let tst_info = TstInfo::from_der(&tst_info_der).map_err(malformed("TSTInfo"))?;
        let mut signers = signed.signer_infos.0.into_vec();
        if signers.len() != 1 {
            return Err(TimestampProblem::Malformed(format!(
                "{} signers, where a token has exactly one",
                signers.len()
            )));
        }
        let signer_info = signers.remove(0);
        let certificates = signed
            .certificates
            .map(|set| set.0.into_vec())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|choice| match choice {
                CertificateChoices::Certificate(parsed) => Some(parsed),
                CertificateChoices::Other(_) => None,
            })
            .map(|parsed| {
                let der = parsed.to_der().map_err(malformed("certificate"))?;
                Ok(Cert { der, parsed })
            })
            .collect::<Result<Vec<_>, TimestampProblem>>()?;
        Ok(Token {
            signer_info,
            tst_info_der,
            tst_info,
            certificates,
        })
    }

    /// The certificate the signer info names, bound by an ESS signing-certificate attribute.
    fn signer_certificate(&self) -> Result<&Cert, TimestampProblem> {
        let cert = self
            .certificates
            .iter()
            .find(|c| names_signer(&self.signer_info.sid, &c.parsed))
            .ok_or_else(|| {
                TimestampProblem::SignerCertificate(
                    "the token does not carry the certificate of its signer".into(),
                )
            })?;
        self.check_ess_binding(cert)?;
        Ok(cert)
    }

    /// RFC 3161 and RFC 5816: the signed attributes name the signer certificate by digest, so
    /// no other certificate with the same key or name can stand in for it.
    fn check_ess_binding(&self, cert: &Cert) -> Result<(), TimestampProblem> {
        let unbound = |what: &str| TimestampProblem::SignerCertificate(what.to_string());
        if let Some(value) = self.signed_attribute(ID_AA_SIGNING_CERTIFICATE_V2)? {
            let ess: SigningCertificateV2 = value
                .decode_as()
                .map_err(malformed("SigningCertificateV2"))?;
            let first = ess
                .certs
                .first()
                .ok_or_else(|| unbound("the signing-certificate attribute is empty"))?;
            let algorithm = first.hash_algorithm.as_ref().map_or(ID_SHA_256, |a| a.oid);
            let digest =
                digest_of(&algorithm, &cert.der).ok_or_else(|| unsupported_digest(&algorithm))?;
            return if digest == first.cert_hash.as_bytes() {
                Ok(())
            } else {
                Err(unbound(
                    "the signing-certificate attribute names another certificate",
                ))
            };
        }
        if let Some(value) = self.signed_attribute(ID_AA_SIGNING_CERTIFICATE)? {
            let ess: SigningCertificate =
                value.decode_as().map_err(malformed("SigningCertificate"))?;
            let first = ess
                .certs
                .first()
                .ok_or_else(|| unbound("the signing-certificate attribute is empty"))?;
            let digest = digest_of(&ID_SHA_1, &cert.der).unwrap_or_default();
            return if digest == first.cert_hash.as_bytes() {
                Ok(())
            } else {
                Err(unbound(
                    "the signing-certificate attribute names another certificate",
                ))
            };
        }
        Err(unbound("no signing-certificate attribute names the signer"))
    }

    /// The single value of a signed attribute, if the attribute is there.
    fn signed_attribute(&self, oid: ObjectIdentifier) -> Result<Option<&Any>, TimestampProblem> {
        let Some(attrs) = &self.signer_info.signed_attrs else {
            return Ok(None);
        };
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        let Some(attr) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() || attr.values.len() != 1 {
            return Err(TimestampProblem::Malformed(format!(
                "signed attribute {oid} must occur once with one value"
            )));
        }
        Ok(attr.values.get(0))
    }

    /// The signed attributes say TSTInfo and its digest, and the signature over them verifies.
    fn check_signature(&self, signer: &Cert) -> Result<(), TimestampProblem> {
        let attrs = self.signer_info.signed_attrs.as_ref().ok_or_else(|| {
            TimestampProblem::Malformed("the signer info has no signed attributes".into())
        })?;
        let content_type = self
            .signed_attribute(ID_CONTENT_TYPE)?
            .ok_or_else(|| TimestampProblem::Malformed("no content-type attribute".into()))?
            .decode_as::<ObjectIdentifier>()
            .map_err(malformed("content-type attribute"))?;
        if content_type != ID_CT_TST_INFO {
            return Err(TimestampProblem::BadSignature(format!(
                "the signed content type is {content_type}, not TSTInfo"
            )));
        }
        let digest_oid = self.signer_info.digest_alg.oid;
        let content_digest = digest_of(&digest_oid, &self.tst_info_der)
            .ok_or_else(|| unsupported_digest(&digest_oid))?;
        let signed_digest = self
            .signed_attribute(ID_MESSAGE_DIGEST)?
            .ok_or_else(|| TimestampProblem::Malformed("no message-digest attribute".into()))?
            .decode_as::<OctetString>()
            .map_err(malformed("message-digest attribute"))?;
        if signed_digest.as_bytes() != content_digest.as_slice() {
            return Err(TimestampProblem::BadSignature(
                "the TSTInfo is not the one signed (its digest differs from the message-digest attribute)"
                    .into(),
            ));
        }
        // The signature covers the DER of the attributes as a SET OF (RFC 5652 section 5.4).
        let message = attrs.to_der().map_err(malformed("signed attributes"))?;
        let signature = self.signer_info.signature.as_bytes();
        verify_signature(
            signer,
            &self.signer_info.signature_algorithm.oid,
            &digest_oid,
            &message,
            signature,
        )
    }
}

/// Whether the signer identifier names `cert`.
fn names_signer(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == cert.tbs_certificate.issuer
                && id.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_identifier(cert).is_some_and(|own| own == ski.0.as_bytes())
        }
    }
}

fn subject_key_identifier(cert: &Certificate) -> Option<Vec<u8>> {
    const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.5.29.14");
    let ext = cert
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    OctetString::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(OctetString::into_bytes)
}

fn check_status(response: &TimeStampResp<'_>) -> Result<(), TimestampProblem> {
    use cmpv2::status::PkiStatus;
    let status = &response.status;
    if matches!(
        status.status,
        PkiStatus::Accepted | PkiStatus::GrantedWithMods
    ) {
        return Ok(());
    }
    let mut said = format!("{:?}", status.status).to_lowercase();
    if let Some(texts) = &status.status_string {
        for text in texts.iter() {
            said.push_str(&format!(", \"{}\"", text.as_str()));
        }
    }
    if let Some(bits) = &status.fail_info {
        // The RFC's names: badAlg, badRequest, badDataFormat, timeNotAvailable, ...
        let names: Vec<String> = bits
            .into_iter()
            .map(|bit| {
                let name = format!("{bit:?}");
                let mut chars = name.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_lowercase().chain(chars).collect()
                })
            })
            .collect();
        said.push_str(&format!(", failure {}", names.join(", ")));
    }
    Err(TimestampProblem::NotGranted(said))
}

/// Checks that the imprint is a digest of `data`; returns the algorithm's name.
fn check_imprint(imprint: &MessageImprint, data: &[u8]) -> Result<&'static str, TimestampProblem> {
    let oid = imprint.hash_algorithm.oid;
    let name = digest_name(&oid).ok_or_else(|| unsupported_digest(&oid))?;
    let expected = digest_of(&oid, data).ok_or_else(|| unsupported_digest(&oid))?;
    let stamped = imprint.hashed_message.as_bytes();
    if stamped != expected.as_slice() {
        return Err(TimestampProblem::OtherBytes {
            algorithm: name,
            expected: hex::encode(expected),
            stamped: hex::encode(stamped),
        });
    }
    Ok(name)
}

fn digest_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    match *oid {
        ID_SHA_256 => Some("sha256"),
        ID_SHA_384 => Some("sha384"),
        ID_SHA_512 => Some("sha512"),
        _ => None,
    }
}

/// The digest of `bytes` with the algorithm `oid` (SHA-1 only for ESS certificate ids).
fn digest_of(oid: &ObjectIdentifier, bytes: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match *oid {
        ID_SHA_1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ID_SHA_256 => &ring::digest::SHA256,
        ID_SHA_384 => &ring::digest::SHA384,
        ID_SHA_512 => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(algorithm, bytes).as_ref().to_vec())
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn unsupported_digest(oid: &ObjectIdentifier) -> TimestampProblem {
    TimestampProblem::UnsupportedAlgorithm(format!("digest {oid}"))
}

/// Verifies a CMS signature with the signer certificate's key. The key type comes from the
/// certificate and the hash from the signer info's digest algorithm (OpenSSL writes
/// `rsaEncryption` as the signature algorithm); RSA PKCS#1 v1.5, ECDSA P-256/P-384 and Ed25519.
fn verify_signature(
    signer: &Cert,
    signature_oid: &ObjectIdentifier,
    digest_oid: &ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TimestampProblem> {
    use webpki::ring as algs;
    if *signature_oid == ID_RSASSA_PSS {
        return Err(TimestampProblem::UnsupportedAlgorithm(
            "RSASSA-PSS signatures".into(),
        ));
    }
    let candidates: &[&dyn SignatureVerificationAlgorithm] = if *signature_oid == ID_ED25519 {
        &[algs::ED25519]
    } else {
        match *digest_oid {
            ID_SHA_256 => &[
                algs::RSA_PKCS1_2048_8192_SHA256,
                algs::ECDSA_P256_SHA256,
                algs::ECDSA_P384_SHA256,
            ],
            ID_SHA_384 => &[
                algs::RSA_PKCS1_2048_8192_SHA384,
                algs::ECDSA_P384_SHA384,
                algs::ECDSA_P256_SHA384,
            ],
            ID_SHA_512 => &[algs::RSA_PKCS1_2048_8192_SHA512],
            _ => return Err(unsupported_digest(digest_oid)),
        }
    };
    let der = CertificateDer::from(signer.der.as_slice());
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|e| {
        TimestampProblem::SignerCertificate(format!("the signer certificate cannot be read: {e}"))
    })?;
    for algorithm in candidates {
        match cert.verify_signature(*algorithm, message, signature) {
            Ok(()) => return Ok(()),
            Err(e) if is_key_mismatch(&e) => continue,
            Err(e) => return Err(TimestampProblem::BadSignature(signature_error(&e))),
        }
    }
    Err(TimestampProblem::UnsupportedAlgorithm(format!(
        "signature {signature_oid} with digest {digest_oid} for this key"
    )))
}

#[allow(deprecated)]
fn is_key_mismatch(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::UnsupportedSignatureAlgorithmForPublicKey
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
    )
}

fn signature_error(e: &webpki::Error) -> String {
    match e {
        webpki::Error::InvalidSignatureForPublicKey => {
            "the signature does not match the signed attributes and the signer's key".into()
        }
        other => format!("{other:?}"),
    }
}

/// `genTime` as text and as a time for path validation.
struct GenTime {
    rfc3339: String,
    unix: Duration,
}

impl GenTime {
    /// Parses `YYYYMMDDhhmmss[.f+]Z` (RFC 3161 section 2.4.2: UTC, optional fraction).
    fn parse(any: &Any) -> Result<GenTime, TimestampProblem> {
        let bad = || TimestampProblem::Malformed("genTime is not a UTC GeneralizedTime".into());
        if any.tag() != Tag::GeneralizedTime {
            return Err(bad());
        }
        let text = std::str::from_utf8(any.value()).map_err(|_| bad())?;
        let body = text.strip_suffix('Z').ok_or_else(bad)?;
        let (whole, fraction) = match body.split_once('.') {
            Some((w, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (w, Some(f)),
            Some(_) => return Err(bad()),
            None => (body, None),
        };
        if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let field = |from: usize, to: usize| whole[from..to].parse::<u16>().map_err(|_| bad());
        let year = field(0, 4)?;
        let small = |from: usize| field(from, from + 2).map(|v| v as u8);
        let moment = der::DateTime::new(
            year,
            small(4)?,
            small(6)?,
            small(8)?,
            small(10)?,
            small(12)?,
        )
        .map_err(|_| bad())?;
        let mut rfc3339 = format!(
            "{}-{}-{}T{}:{}:{}",
            &whole[0..4],
            &whole[4..6],
            &whole[6..8],
            &whole[8..10],
            &whole[10..12],
            &whole[12..14]
        );
        if let Some(f) = fraction {
            rfc3339.push('.');
            rfc3339.push_str(f);
        }
        rfc3339.push('Z');
        Ok(GenTime {
            rfc3339,
            unix: moment.unix_duration(),
        })
    }
}

/// The signer certificate chains to a trusted one, every certificate valid at `time` (webpki
/// checks each signature on the path). An extended key usage on the path must allow
/// timeStamping; that the signer's own is there, critical and alone is checked after
/// ([`check_time_stamping_usage`]): webpki's "required" would demand it of intermediate CAs too.
fn check_chain(
    signer: &Cert,
    carried: &[Cert],
    trusted: &[Vec<u8>],
    time: &GenTime,
) -> Result<(), TimestampProblem> {
    let trusted_ders: Vec<CertificateDer<'_>> = trusted
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let anchors = trusted_ders
        .iter()
        .map(webpki::anchor_from_trusted_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            TimestampProblem::NoTrustedCertificate(format!(
                "a certificate of the CA file cannot be read: {e}"
            ))
        })?;
    let intermediates: Vec<CertificateDer<'_>> = carried
        .iter()
        .filter(|c| c.der != signer.der)
        .map(|c| CertificateDer::from(c.der.as_slice()))
        .collect();
    let signer_der = CertificateDer::from(signer.der.as_slice());
    let end_entity = webpki::EndEntityCert::try_from(&signer_der).map_err(|e| {
        TimestampProblem::SignerCertificate(format!("the signer certificate cannot be read: {e}"))
    })?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            UnixTime::since_unix_epoch(time.unix),
            webpki::KeyUsage::required_if_present(EKU_TIME_STAMPING),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| chain_problem(&e, &time.rfc3339))
}

#[allow(deprecated)]
fn chain_problem(e: &webpki::Error, time: &str) -> TimestampProblem {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } | E::CertNotValidYet { .. } | E::InvalidCertValidity => {
            TimestampProblem::NotValidAtTime(format!("{time}: {e}"))
        }
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            TimestampProblem::NotForTimestamping(
                "its extended key usage does not include timeStamping".into(),
            )
        }
        E::UnknownIssuer => TimestampProblem::UntrustedSigner(
            "its certificate does not chain to a certificate of the CA file".into(),
        ),
        other => TimestampProblem::UntrustedSigner(format!("{other}")),
    }
}

/// RFC 3161 section 2.3: the signer's extended key usage is critical and is timeStamping only.
fn check_time_stamping_usage(cert: &Certificate) -> Result<(), TimestampProblem> {
    let not_for = |what: &str| TimestampProblem::NotForTimestamping(what.to_string());
    let eku = cert
        .tbs_certificate
        .extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE))
        .ok_or_else(|| not_for("it has no extended key usage"))?;
    if !eku.critical {
        return Err(not_for("its extended key usage is not marked critical"));
    }
    let purposes = Vec::<ObjectIdentifier>::from_der(eku.extn_value.as_bytes())
        .map_err(|_| not_for("its extended key usage cannot be read"))?;
    let time_stamping = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
    if purposes != [time_stamping] {
        return Err(not_for("its extended key usage is not timeStamping alone"));
    }
    Ok(())
}

fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DirectoryName(n) => n.to_string(),
        GeneralName::DnsName(n) => n.to_string(),
        GeneralName::UniformResourceIdentifier(n) => n.to_string(),
        GeneralName::Rfc822Name(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
