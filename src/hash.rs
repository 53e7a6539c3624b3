//! Fixity digests: SHA-256 and SHA-512 of the same bytes, computed in one pass.

use crate::error::{IoContext, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use std::io::Read;
use std::path::Path;

/// The two digests cablekeep records for every file, in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digests {
    pub sha256: String,
    pub sha512: String,
}

/// Feeds bytes to SHA-256 and SHA-512 at once and counts them.
#[derive(Clone, Default)]
pub struct Hasher {
    sha256: Sha256,
    sha512: Sha512,
    bytes: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        self.sha512.update(data);
        self.bytes += data.len() as u64;
    }

    /// How many bytes were added.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The digests of everything added.
    pub fn finish(self) -> Digests {
        Digests {
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        }
    }
}

/// Both digests of a byte slice.
pub fn digests(data: &[u8]) -> Digests {
    let mut h = Hasher::new();
    h.update(data);
    h.finish()
}

/// SHA-256 of a byte slice, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Both digests of a file, streamed, and its length.
pub fn digest_file(path: &Path) -> Result<(Digests, u64)> {
    let mut file = std::fs::File::open(path).at(path)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let len = h.len();
    Ok((h.finish(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_vectors() {
        let d = digests(b"abc");
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(d.sha512.starts_with("ddaf35a193617aba"));
    }
}
