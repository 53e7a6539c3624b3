//! SSH signatures (OpenSSH `SSHSIG`, see OpenSSH's PROTOCOL.sshsig) over checkpoints, in the
//! namespace `cablekeep-checkpoint`, and the OpenSSH `allowed_signers` file that says whose
//! keys are trusted. A signature made here verifies with
//! `ssh-keygen -Y verify -f allowed_signers -I <principal> -n cablekeep-checkpoint -s <sig>`,
//! and one made by `ssh-keygen -Y sign` verifies here.

use std::path::Path;

use sha2::{Digest, Sha256};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig, public::KeyData};

use crate::error::{Error, Result};

/// The SSHSIG namespace of checkpoint signatures: a signature made for another purpose (git,
/// file signing) never passes for a seal.
pub const NAMESPACE: &str = "cablekeep-checkpoint";
/// A signature file is never larger than this (an Ed25519 one is about 300 bytes; RSA 4096
/// about 1.6 KB).
pub const MAX_SIGNATURE_BYTES: u64 = 16 * 1024;
/// An allowed_signers file is read up to this size.
pub const MAX_ALLOWED_SIGNERS_BYTES: u64 = 1024 * 1024;
/// A private key file is read up to this size.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// The key id of a public key: the first 16 hex digits of the SHA-256 of its blob (the key in
/// SSH wire encoding, what the base64 of a `.pub` file holds). Names signature files.
pub fn key_id(key: &KeyData) -> String {
    let blob = PublicKey::from(key.clone()).to_bytes().unwrap_or_default();
    hex::encode(&Sha256::digest(&blob)[..8])
}

/// A private key ready to sign.
pub struct SigningKey {
    key: PrivateKey,
    /// The key's id, which names the signature files it writes (`<checkpoint>.<keyid>.sig`).
    pub key_id: String,
}

impl SigningKey {
    /// Reads an OpenSSH private key file (`ssh-keygen -t ed25519`). An encrypted key is refused
    /// with a clear error: cablekeep does not ask for passphrases.
    pub fn read(path: &Path) -> Result<SigningKey> {
        let bytes = crate::fsutil::read_regular_file(path, MAX_KEY_BYTES)?;
        let key = PrivateKey::from_openssh(&bytes).map_err(|e| {
            Error::Invalid(format!(
                "{}: not an OpenSSH private key ({e}); give the private key file (e.g. ~/.ssh/id_ed25519), not the .pub",
                path.display()
            ))
        })?;
        if key.is_encrypted() {
            return Err(Error::Invalid(format!(
                "{}: the private key is encrypted with a passphrase; cablekeep does not ask for passphrases: sign with a key without one (kept offline), or sign the checkpoint with `ssh-keygen -Y sign -n {NAMESPACE}` and put the signature beside it",
                path.display()
            )));
        }
        if !key.public_key().key_data().is_ed25519() {
            return Err(Error::Invalid(format!(
                "{}: a {} key; cablekeep signs with Ed25519 keys (ssh-keygen -t ed25519)",
                path.display(),
                key.algorithm()
            )));
        }
        let key_id = key_id(key.public_key().key_data());
        Ok(SigningKey { key, key_id })
    }

    /// The armoured signature (`-----BEGIN SSH SIGNATURE-----`) of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<String> {
        let sig = self
            .key
            .sign(NAMESPACE, HashAlg::Sha512, message)
            .map_err(|e| Error::Invalid(format!("signing failed: {e}")))?;
        sig.to_pem(LineEnding::LF)
            .map_err(|e| Error::Invalid(format!("signature encoding failed: {e}")))
    }

    /// The public key in `.pub` form (`ssh-ed25519 AAAA...`).
    pub fn public_openssh(&self) -> String {
        self.key.public_key().to_openssh().unwrap_or_default()
    }
}

/// One line of an allowed_signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// The principals the line names (comma-separated in the file; patterns are not expanded).
    pub principals: Vec<String>,
    /// The namespaces the key may sign in (None: any).
    pub namespaces: Option<Vec<String>>,
    /// The start of the key's validity (`valid-after`) as 14 digits `YYYYMMDDHHMMSS`, read as
    /// UTC; None when the line sets none.
    pub valid_after: Option<String>,
    /// The end of the key's validity, in the same form; None when the line sets none.
    pub valid_before: Option<String>,
    /// The public key the line trusts.
    pub key: KeyData,
    /// The line number, for messages.
    pub line: usize,
}

/// The trusted keys: an OpenSSH `allowed_signers` file.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// The lines that trust a key, in file order.
    pub signers: Vec<AllowedSigner>,
    /// Lines that cablekeep does not use (certificate authorities), for a notice.
    pub skipped: Vec<String>,
}

impl AllowedSigners {
    /// Reads and parses an allowed_signers file (bounded).
    pub fn read(path: &Path) -> Result<AllowedSigners> {
        let bytes = crate::fsutil::read_regular_file(path, MAX_ALLOWED_SIGNERS_BYTES)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Error::Invalid(format!(
                "{}: allowed signers file is not UTF-8 text",
                path.display()
            ))
        })?;
        AllowedSigners::parse(text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// Parses allowed_signers text (`man ssh-keygen`, ALLOWED SIGNERS): per line
    /// `principals [options] keytype base64-key [comment]`; `#` comments and blank lines.
    pub fn parse(text: &str) -> std::result::Result<AllowedSigners, AllowedSignersError> {
        let mut out = AllowedSigners::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |problem: String| AllowedSignersError {
                line: i + 1,
                problem,
            };
            match parse_signer_line(line).map_err(at)? {
                Some(mut signer) => {
                    signer.line = i + 1;
                    out.signers.push(signer);
                }
                None => out.skipped.push(format!("line {}: cert-authority", i + 1)),
            }
        }
        Ok(out)
    }

    /// The first principal that may sign checkpoints with `key` now, if any.
    pub fn principal_for(&self, key: &KeyData) -> Option<&str> {
        let now = digits_of_now();
        self.signers
            .iter()
            .filter(|s| &s.key == key)
            .filter(|s| {
                s.namespaces
                    .as_ref()
                    .is_none_or(|ns| ns.iter().any(|n| n == NAMESPACE || n == "*"))
            })
            .filter(|s| s.valid_after.as_ref().is_none_or(|a| now >= *a))
            .filter(|s| s.valid_before.as_ref().is_none_or(|b| now < *b))
            .find_map(|s| s.principals.first().map(String::as_str))
    }
}

/// A line of an allowed_signers file that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("allowed signers line {line}: {problem}")]
pub struct AllowedSignersError {
    /// The line's number in the file, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

/// The current UTC time as `YYYYMMDDHHMMSS`.
fn digits_of_now() -> String {
    crate::time::rfc3339(crate::time::now())
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// Splits a line into fields at spaces and tabs outside double quotes.
fn fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ' ' | '\t' if !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if quoted {
        return Err("a double quote is not closed".into());
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// Splits an options field at commas outside double quotes.
fn options(field: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in field.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&field[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&field[start..]);
    out
}

fn looks_like_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

/// One signer line; None for a certificate-authority line (not used by cablekeep).
fn parse_signer_line(line: &str) -> std::result::Result<Option<AllowedSigner>, String> {
    let fields = fields(line)?;
    let principals_field = fields.first().ok_or("no principals")?;
    let principals: Vec<String> = unquote(principals_field)
        .split(',')
        .map(str::to_string)
        .collect();
    if principals.iter().any(String::is_empty) {
        return Err("an empty principal".into());
    }
    let mut rest = &fields[1..];
    let mut signer_options = (None, None, None);
    if let Some(first) = rest.first()
        && !looks_like_key_type(first)
    {
        for option in options(first) {
            let (name, value) = match option.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(unquote(v))),
                None => (option.to_ascii_lowercase(), None),
            };
            match (name.as_str(), value) {
                ("cert-authority", None) => return Ok(None),
                ("namespaces", Some(v)) => {
                    signer_options.0 = Some(v.split(',').map(str::to_string).collect())
                }
                ("valid-after", Some(v)) => signer_options.1 = Some(time_digits(v)?),
                ("valid-before", Some(v)) => signer_options.2 = Some(time_digits(v)?),
                _ => return Err(format!("unknown option {option:?}")),
            }
        }
        rest = &rest[1..];
    }
    let [key_type, key_b64, ..] = rest else {
        return Err("expected a key type and a base64 key after the principals".into());
    };
    let key = PublicKey::from_openssh(&format!("{key_type} {key_b64}"))
        .map_err(|e| format!("the key cannot be read ({e})"))?;
    Ok(Some(AllowedSigner {
        principals,
        namespaces: signer_options.0,
        valid_after: signer_options.1,
        valid_before: signer_options.2,
        key: key.key_data().clone(),
        line: 0,
    }))
}

/// `YYYYMMDD[HHMM[SS]][Z]` as 14 digits (times are taken as UTC).
fn time_digits(v: &str) -> std::result::Result<String, String> {
    let digits = v.strip_suffix('Z').unwrap_or(v);
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("time {v:?} is not YYYYMMDD[HHMM[SS]][Z]"));
    }
    Ok(format!("{digits:0<14}"))
}

/// What a signature file says about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The signature verifies and its key is allowed: `principal` signed.
    Trusted {
        /// The first principal of the first allowed-signers line that lets the key sign
        /// checkpoints now.
        principal: String,
        /// The signing key's id (first 16 hex digits of the SHA-256 of its public key blob).
        key_id: String,
    },
    /// The signature verifies, but its key is not in the allowed signers (or not for this
    /// namespace or time).
    NotAllowed {
        /// The signing key's id (first 16 hex digits of the SHA-256 of its public key blob).
        key_id: String,
    },
    /// The signature verifies; no allowed signers were given to say whose key it is.
    Unchecked {
        /// The signing key's id (first 16 hex digits of the SHA-256 of its public key blob).
        key_id: String,
    },
    /// The signature is malformed, for another namespace, or over other bytes.
    Bad {
        /// What is wrong, in words.
        problem: String,
    },
}

/// Checks an armoured SSH signature over `message`.
pub fn check(signature: &[u8], message: &[u8], allowed: Option<&AllowedSigners>) -> Verdict {
    let bad = |problem: String| Verdict::Bad { problem };
    let sig = match SshSig::from_pem(signature) {
        Ok(sig) => sig,
        Err(e) => return bad(format!("not an SSH signature ({e})")),
    };
    if sig.namespace() != NAMESPACE {
        return bad(format!(
            "signed in namespace {:?}, not {NAMESPACE:?}",
            crate::finding::terminal_safe(sig.namespace())
        ));
    }
    let key = sig.public_key().clone();
    let key_id = key_id(&key);
    if let Err(e) = PublicKey::from(key.clone()).verify(NAMESPACE, message, &sig) {
        return bad(format!(
            "the signature by key {key_id} does not verify over these bytes ({e})"
        ));
    }
    match allowed {
        None => Verdict::Unchecked { key_id },
        Some(list) => match list.principal_for(&key) {
            Some(p) => Verdict::Trusted {
                principal: p.to_string(),
                key_id,
            },
            None => Verdict::NotAllowed { key_id },
        },
    }
}

/// The key id a signature names (its embedded public key), when it can be read.
pub fn signature_key_id(signature: &[u8]) -> Option<String> {
    SshSig::from_pem(signature)
        .ok()
        .map(|s| key_id(s.public_key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOgP0gWdSmxTbmQ0Qg0bm8gTd9pA8F3n1a3tcqzZ2gN5";

    #[test]
    fn allowed_signers_lines_are_read_as_openssh_reads_them() {
        let text = format!(
            "# archivists\n\
             alice@example.org {KEY} alice's laptop\n\
             \"bob,carol\" namespaces=\"git,cablekeep-checkpoint\",valid-after=20200101 {KEY}\n\
             dave namespaces=\"git\" {KEY}\n\
             *.example.org cert-authority {KEY}\n"
        );
        let list = AllowedSigners::parse(&text).unwrap();
        assert_eq!(list.signers.len(), 3);
        assert_eq!(list.signers[1].principals, ["bob", "carol"]);
        assert_eq!(
            list.signers[1].valid_after.as_deref(),
            Some("20200101000000")
        );
        assert_eq!(list.skipped.len(), 1);
        let key = list.signers[0].key.clone();
        assert_eq!(list.principal_for(&key), Some("alice@example.org"));
        let only_git = AllowedSigners {
            signers: vec![list.signers[2].clone()],
            skipped: vec![],
        };
        assert_eq!(only_git.principal_for(&key), None);

        for bad in [
            "alice",
            "alice ssh-ed25519",
            "alice ssh-ed25519 !!!",
            "alice bogus=1 ssh-ed25519 AAAA",
            "\"alice ssh-ed25519 AAAA",
        ] {
            assert!(AllowedSigners::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_signatures_are_bad_not_panics() {
        for sig in [
            &b""[..],
            b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n",
        ] {
            assert!(matches!(check(sig, b"x", None), Verdict::Bad { .. }));
        }
    }
}
