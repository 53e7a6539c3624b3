//! The token's structure: the ASN.1 types RFC 3161 and RFC 5035 define that the crates lack, and
//! reading a `TimeStampResp` into its signer, signed attributes and `TSTInfo`.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_tsp::{Accuracy, MessageImprint, TimeStampResp, TspVersion};

use super::*;

/// `TSTInfo` (RFC 3161 section 2.4.2). Its own type rather than x509-tsp's: `genTime` may carry
/// a fraction of a second (many TSAs write one), which der's `GeneralizedTime` refuses.
#[derive(Clone, Debug, Sequence)]
pub(super) struct TstInfo {
    pub(super) version: TspVersion,
    pub(super) policy: ObjectIdentifier,
    pub(super) message_imprint: MessageImprint,
    pub(super) serial_number: Int,
    pub(super) gen_time: Any,
    #[asn1(optional = "true")]
    pub(super) accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub(super) ordering: bool,
    #[asn1(optional = "true")]
    pub(super) nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(super) tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub(super) extensions: Option<x509_cert::ext::Extensions>,
}

/// ESS `SigningCertificateV2` (RFC 5035): the digest of the signer certificate, signed.
#[derive(Clone, Debug, Sequence)]
pub(super) struct SigningCertificateV2 {
    pub(super) certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub(super) policies: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
pub(super) struct EssCertIdV2 {
    /// Absent means SHA-256 (its DEFAULT).
    #[asn1(optional = "true")]
    pub(super) hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub(super) cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub(super) issuer_serial: Option<Any>,
}

/// ESS `SigningCertificate` (RFC 2634): the same with SHA-1.
#[derive(Clone, Debug, Sequence)]
pub(super) struct SigningCertificate {
    pub(super) certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub(super) policies: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
pub(super) struct EssCertId {
    pub(super) cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub(super) issuer_serial: Option<Any>,
}

/// A parsed, granted timestamp response.
pub(super) struct Token {
    pub(super) signer_info: SignerInfo,
    /// The `TSTInfo` as signed (the eContent's octets).
    pub(super) tst_info_der: Vec<u8>,
    pub(super) tst_info: TstInfo,
    pub(super) certificates: Vec<Cert>,
}

/// A certificate, parsed and as DER.
pub(super) struct Cert {
    pub(super) der: Vec<u8>,
    pub(super) parsed: Certificate,
}

pub(super) fn malformed(what: &str) -> impl Fn(der::Error) -> TimestampProblem + '_ {
    move |e| TimestampProblem::Malformed(format!("{what}: {e}"))
}

impl Token {
    pub(super) fn parse(tsr: &[u8]) -> Result<Token, TimestampProblem> {
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
    pub(super) fn signer_certificate(&self) -> Result<&Cert, TimestampProblem> {
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
    pub(super) fn check_ess_binding(&self, cert: &Cert) -> Result<(), TimestampProblem> {
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
    pub(super) fn signed_attribute(
        &self,
        oid: ObjectIdentifier,
    ) -> Result<Option<&Any>, TimestampProblem> {
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
    pub(super) fn check_signature(&self, signer: &Cert) -> Result<(), TimestampProblem> {
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
pub(super) fn names_signer(sid: &SignerIdentifier, cert: &Certificate) -> bool {
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

pub(super) fn subject_key_identifier(cert: &Certificate) -> Option<Vec<u8>> {
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
