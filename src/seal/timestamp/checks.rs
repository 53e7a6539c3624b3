//! The checks of a token: status, imprint, digests, the CMS signature, the certificate path at the
//! token's time, and the time-stamping key usage.

use std::time::Duration;

use der::asn1::ObjectIdentifier;
use der::{Any, Decode, Tag, Tagged};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{MessageImprint, TimeStampResp};

use super::*;

pub(super) fn check_status(response: &TimeStampResp<'_>) -> Result<(), TimestampProblem> {
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
pub(super) fn check_imprint(
    imprint: &MessageImprint,
    data: &[u8],
) -> Result<&'static str, TimestampProblem> {
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

pub(super) fn digest_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    match *oid {
        ID_SHA_256 => Some("sha256"),
        ID_SHA_384 => Some("sha384"),
        ID_SHA_512 => Some("sha512"),
        _ => None,
    }
}

/// The digest of `bytes` with the algorithm `oid` (SHA-1 only for ESS certificate ids).
pub(super) fn digest_of(oid: &ObjectIdentifier, bytes: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match *oid {
        ID_SHA_1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ID_SHA_256 => &ring::digest::SHA256,
        ID_SHA_384 => &ring::digest::SHA384,
        ID_SHA_512 => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(algorithm, bytes).as_ref().to_vec())
}

pub(super) fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

pub(super) fn unsupported_digest(oid: &ObjectIdentifier) -> TimestampProblem {
    TimestampProblem::UnsupportedAlgorithm(format!("digest {oid}"))
}

/// Verifies a CMS signature with the signer certificate's key. The key type comes from the
/// certificate and the hash from the signer info's digest algorithm (OpenSSL writes
/// `rsaEncryption` as the signature algorithm); RSA PKCS#1 v1.5, ECDSA P-256/P-384 and Ed25519.
pub(super) fn verify_signature(
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
pub(super) fn is_key_mismatch(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::UnsupportedSignatureAlgorithmForPublicKey
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
    )
}

pub(super) fn signature_error(e: &webpki::Error) -> String {
    match e {
        webpki::Error::InvalidSignatureForPublicKey => {
            "the signature does not match the signed attributes and the signer's key".into()
        }
        other => format!("{other:?}"),
    }
}

/// `genTime` as text and as a time for path validation.
pub(super) struct GenTime {
    pub(super) rfc3339: String,
    pub(super) unix: Duration,
}

impl GenTime {
    /// Parses `YYYYMMDDhhmmss[.f+]Z` (RFC 3161 section 2.4.2: UTC, optional fraction).
    pub(super) fn parse(any: &Any) -> Result<GenTime, TimestampProblem> {
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
pub(super) fn check_chain(
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
pub(super) fn chain_problem(e: &webpki::Error, time: &str) -> TimestampProblem {
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
pub(super) fn check_time_stamping_usage(cert: &Certificate) -> Result<(), TimestampProblem> {
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

pub(super) fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DirectoryName(n) => n.to_string(),
        GeneralName::DnsName(n) => n.to_string(),
        GeneralName::UniformResourceIdentifier(n) => n.to_string(),
        GeneralName::Rfc822Name(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}
