//! The checkpoint of a version: a small text in the C2SP `tlog-checkpoint` body format (origin,
//! tree size, root in base64, extension lines) that a signature covers. Its extension lines tie
//! the tree to the version's zip, tag manifest and the previous version's checkpoint, so one
//! signature vouches for all of them.
//!
//! ```text
//! cablekeep/dev
//! 872
//! 3q2+7w...=
//! cablekeep-version 2
//! zip-sha256 <hex>
//! zip-sha512 <hex>
//! tagmanifest-sha512 <hex>
//! previous-checkpoint-sha256 <hex>
//! ```
//!
//! The previous checkpoint's line is absent in version 1's checkpoint. With a store identity
//! (a schema-less URL such as `archive.example.org`) the origin is `<identity>/cablekeep/<c>`.

use base64ct::{Base64, Encoding};

use super::merkle::Hash;

/// A checkpoint is never larger than this (a real one is under 500 bytes).
pub const MAX_CHECKPOINT_BYTES: usize = 4096;
/// The part of every origin after the store identity.
const ORIGIN_PREFIX: &str = "cablekeep/";

/// What a checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The store identity, when the origin has one.
    pub store: Option<String>,
    /// The collection sealed, from the origin line `[<identity>/]cablekeep/<collection>`.
    pub collection: String,
    /// The version sealed (the `cablekeep-version` line).
    pub version: u32,
    /// The number of leaves: the lines of `manifest-sha256.txt`.
    pub size: u64,
    /// The Merkle root over the lines of `manifest-sha256.txt` (FORMAT.md section 9.1).
    pub root: Hash,
    /// SHA-256 of the version's zip, lower-case hex, as in the sidecar's `archive` object.
    pub zip_sha256: String,
    /// SHA-512 of the version's zip, lower-case hex.
    pub zip_sha512: String,
    /// SHA-512 of the bag's `tagmanifest-sha512.txt`, lower-case hex.
    pub tagmanifest_sha512: String,
    /// SHA-256 (hex) of the previous version's checkpoint file; None for version 1.
    pub previous: Option<String>,
}

/// Why a checkpoint text cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is over 4 KiB, more than any checkpoint (FORMAT.md section 9.2).
    #[error("the checkpoint is larger than {MAX_CHECKPOINT_BYTES} bytes")]
    TooLarge,
    /// The bytes are not valid UTF-8.
    #[error("the checkpoint is not UTF-8 text")]
    NotText,
    /// The last line has no LF: every line of a checkpoint ends with one.
    #[error("the checkpoint does not end with a line feed")]
    NoFinalNewline,
    /// A line does not read as FORMAT.md section 9.2 requires.
    #[error("line {line}: {problem}")]
    Line {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A required line is missing; names which (e.g. `tree size`).
    #[error("the checkpoint has no {0} line")]
    Missing(&'static str),
}

fn line_error(line: usize, problem: impl Into<String>) -> ParseError {
    ParseError::Line {
        line,
        problem: problem.into(),
    }
}

impl Checkpoint {
    /// The origin line.
    pub fn origin(&self) -> String {
        match &self.store {
            Some(store) => format!("{store}/{ORIGIN_PREFIX}{}", self.collection),
            None => format!("{ORIGIN_PREFIX}{}", self.collection),
        }
    }

    /// The checkpoint's exact bytes, every line ended by a line feed.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\ncablekeep-version {}\nzip-sha256 {}\nzip-sha512 {}\ntagmanifest-sha512 {}\n",
            self.origin(),
            self.size,
            Base64::encode_string(&self.root),
            self.version,
            self.zip_sha256,
            self.zip_sha512,
            self.tagmanifest_sha512,
        );
        if let Some(previous) = &self.previous {
            text.push_str(&format!("previous-checkpoint-sha256 {previous}\n"));
        }
        text
    }

    /// Reads a checkpoint, strictly: exactly the lines [`Checkpoint::to_text`] writes, in its
    /// order, so that one checkpoint has one text.
    pub fn parse(bytes: &[u8]) -> Result<Checkpoint, ParseError> {
        if bytes.len() > MAX_CHECKPOINT_BYTES {
            return Err(ParseError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotText)?;
        let body = text.strip_suffix('\n').ok_or(ParseError::NoFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        if let Some((i, _)) = lines
            .iter()
            .enumerate()
            .find(|(_, l)| l.is_empty() || l.contains('\r'))
        {
            return Err(line_error(i + 1, "empty line or carriage return"));
        }
        let origin = lines.first().ok_or(ParseError::Missing("origin"))?;
        let (store, collection) = parse_origin(origin).ok_or_else(|| {
            line_error(
                1,
                format!("origin {origin:?} is not [<store>/]cablekeep/<collection>"),
            )
        })?;
        let size = lines.get(1).ok_or(ParseError::Missing("tree size"))?;
        let size = parse_decimal(size)
            .ok_or_else(|| line_error(2, "tree size is not a decimal number"))?;
        let root = lines.get(2).ok_or(ParseError::Missing("root hash"))?;
        let root =
            decode_hash(root).ok_or_else(|| line_error(3, "root is not 32 bytes in base64"))?;
        let version = extension(&lines, 3, "cablekeep-version")?;
        let version = parse_decimal(version)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| line_error(4, "version is not a number from 1"))?;
        let zip_sha256 = hex_field(&lines, 4, "zip-sha256", 64)?;
        let zip_sha512 = hex_field(&lines, 5, "zip-sha512", 128)?;
        let tagmanifest_sha512 = hex_field(&lines, 6, "tagmanifest-sha512", 128)?;
        let previous = match lines.len() {
            7 => None,
            8 => Some(hex_field(&lines, 7, "previous-checkpoint-sha256", 64)?),
            n => return Err(line_error(n, "more lines than a checkpoint has")),
        };
        if (version == 1) != previous.is_none() {
            return Err(line_error(
                lines.len(),
                "the previous checkpoint's digest is given exactly from version 2 on",
            ));
        }
        Ok(Checkpoint {
            store,
            collection,
            version,
            size,
            root,
            zip_sha256,
            zip_sha512,
            tagmanifest_sha512,
            previous,
        })
    }
}

/// `[<store>/]cablekeep/<collection>` into the store identity and the collection.
fn parse_origin(origin: &str) -> Option<(Option<String>, String)> {
    let (store, collection) = match origin.strip_prefix(ORIGIN_PREFIX) {
        Some(c) => (None, c),
        None => {
            let at = origin.rfind(&format!("/{ORIGIN_PREFIX}"))?;
            let store = &origin[..at];
            check_store_identity(store).ok()?;
            (
                Some(store.to_string()),
                &origin[at + 1 + ORIGIN_PREFIX.len()..],
            )
        }
    };
    crate::store::validate_collection_name(collection).ok()?;
    Some((store, collection.to_string()))
}

/// A store identity that an origin can carry: printable ASCII without spaces or `+` (C2SP
/// recommends a schema-less URL).
pub fn check_store_identity(store: &str) -> crate::Result<()> {
    let ok = !store.is_empty()
        && store.len() <= 200
        && store.chars().all(|c| c.is_ascii_graphic() && c != '+');
    if ok {
        Ok(())
    } else {
        Err(crate::Error::Invalid(format!(
            "store identity {store:?}: use up to 200 printable ASCII characters without spaces or '+' (e.g. archive.example.org)"
        )))
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

fn decode_hash(s: &str) -> Option<Hash> {
    let bytes = Base64::decode_vec(s).ok()?;
    let hash: Hash = bytes.try_into().ok()?;
    // One text per hash: the canonical, padded encoding only.
    (Base64::encode_string(&hash) == s).then_some(hash)
}

fn extension<'a>(lines: &[&'a str], at: usize, key: &'static str) -> Result<&'a str, ParseError> {
    let line = lines.get(at).ok_or(ParseError::Missing(key))?;
    line.strip_prefix(key)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| line_error(at + 1, format!("expected `{key} <value>`")))
}

fn hex_field(
    lines: &[&str],
    at: usize,
    key: &'static str,
    len: usize,
) -> Result<String, ParseError> {
    let value = extension(lines, at, key)?;
    let ok = value.len() == len
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(line_error(
            at + 1,
            format!("{key} is not {len} lower-case hex digits"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: u32) -> Checkpoint {
        Checkpoint {
            store: None,
            collection: "dev".into(),
            version,
            size: 872,
            root: [7u8; 32],
            zip_sha256: "a".repeat(64),
            zip_sha512: "b".repeat(128),
            tagmanifest_sha512: "c".repeat(128),
            previous: (version > 1).then(|| "d".repeat(64)),
        }
    }

    #[test]
    fn round_trips_and_rejects_every_variation() {
        for v in [1, 2] {
            let c = sample(v);
            let text = c.to_text();
            assert_eq!(Checkpoint::parse(text.as_bytes()).unwrap(), c);
        }
        let mut with_store = sample(2);
        with_store.store = Some("archive.example.org/keep".into());
        let text = with_store.to_text();
        assert!(text.starts_with("archive.example.org/keep/cablekeep/dev\n872\n"));
        assert_eq!(Checkpoint::parse(text.as_bytes()).unwrap(), with_store);

        let good = sample(2).to_text();
        let bad = [
            good.trim_end().to_string(),
            good.replace("872", "0872"),
            good.replace("cablekeep-version 2", "cablekeep-version 1"),
            good.replace("zip-sha256 a", "zip-sha256 A"),
            good.replace("\n", "\r\n"),
            format!("{good}extra line\n"),
            good.replace("cablekeep/dev", "cablekeep/Dev"),
            good.replace("cablekeep/dev", "other/dev"),
        ];
        for b in bad {
            assert!(Checkpoint::parse(b.as_bytes()).is_err(), "{b:?}");
        }
        assert_eq!(
            Checkpoint::parse(&vec![b'a'; MAX_CHECKPOINT_BYTES + 1]),
            Err(ParseError::TooLarge)
        );
    }
}
