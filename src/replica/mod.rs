//! Replicas: copies of a store in other places (another folder, an S3 bucket under a prefix),
//! written once and never overwritten ([`replicate`]), compared with each other so that a
//! majority decides which copy of each file is good ([`audit`]), and mended from the copies the
//! majority agrees on ([`repair`]).
//!
//! A replica holds the store's own layout (`archives/<c>/...`, `manifests/<c>/...`, FORMAT.md
//! section 1) and, under `.cablekeep/replica/`, the state of the replication: temporaries of
//! uploads under way, the receipts of what was verified on arrival, and files a repair moved
//! aside. Only the `s3` module knows the object storage client.

pub mod audit;
mod credentials;
mod files;
mod local;
mod place;
pub mod repair;
pub mod replicate;
mod runtime;
mod s3;
mod store_files;

pub use credentials::Settings;
pub use files::{FileKind, StoreFile};
pub use place::Replica;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Where a replica is: a local folder, or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaUrl {
    /// A folder on this machine (a store's root).
    Local(std::path::PathBuf),
    /// A bucket and a prefix (possibly empty) in object storage.
    S3 {
        /// The bucket's name.
        bucket: String,
        /// The prefix the store's folders lie under, without slashes at either end.
        prefix: String,
        /// The profile of `~/.aws/credentials` and `~/.aws/config` that reaches it
        /// (`s3://bucket/prefix?profile=NAME`), instead of the environment's settings: so that
        /// one audit can compare buckets of different owners, endpoints or regions.
        profile: Option<String>,
    },
}

impl ReplicaUrl {
    /// Reads `s3://bucket/prefix` or a folder path.
    pub fn parse(text: &str) -> crate::error::Result<ReplicaUrl> {
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.contains("://") {
                return Err(crate::error::Error::Invalid(format!(
                    "{text}: a replica is a folder or s3://bucket/prefix; no other scheme is known"
                )));
            }
            return Ok(ReplicaUrl::Local(text.into()));
        };
        let (rest, profile) = match rest.split_once('?') {
            None => (rest, None),
            Some((rest, query)) => (rest, Some(profile_of(text, query)?)),
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        let prefix_ok = prefix
            .split('/')
            .all(|part| part != "." && part != ".." && !part.chars().any(char::is_control))
            && !prefix.contains("//");
        if !bucket_ok || !prefix_ok {
            return Err(crate::error::Error::Invalid(format!(
                "{text}: not a usable s3:// URL (a bucket of 3-63 lower-case letters, digits, \
                 dots and dashes, then an optional prefix without empty, . or .. parts)"
            )));
        }
        Ok(ReplicaUrl::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            profile,
        })
    }
}

/// The profile named by a URL's query, `profile=NAME` (its only parameter).
fn profile_of(url: &str, query: &str) -> crate::error::Result<String> {
    let name = query.strip_prefix("profile=").unwrap_or_default();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(name.to_string())
    } else {
        Err(crate::error::Error::Invalid(format!(
            "{url}: the only query an s3:// URL takes is ?profile=NAME (letters, digits, - _ .)"
        )))
    }
}

/// One object or file as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The store-relative path (`archives/c/c-v1.zip`).
    pub rel: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The object storage's entity tag (none for local files).
    pub etag: Option<String>,
}

/// The size and SHA-256 of a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Digest {
    /// The number of bytes.
    pub bytes: u64,
    /// SHA-256 in lower-case hex.
    pub sha256: String,
}

impl Digest {
    /// The digest of bytes in memory.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

/// The store at `text` for the read-only commands: a local folder, or `s3://bucket/prefix`
/// read through the object storage (writers refuse it).
pub fn open_store(text: &std::path::Path) -> crate::error::Result<crate::store::Store> {
    let Some(url) = text.to_str().filter(|t| t.starts_with("s3://")) else {
        return Ok(crate::store::Store::new(text));
    };
    let ReplicaUrl::S3 {
        bucket,
        prefix,
        profile,
    } = ReplicaUrl::parse(url)?
    else {
        return Ok(crate::store::Store::new(text));
    };
    let settings = match &profile {
        None => Settings::from_environment()?,
        Some(name) => Settings::from_profile(name)?,
    };
    let bucket = s3::Bucket::connect(&bucket, &prefix, profile.as_deref(), &settings)?;
    let files = store_files::BucketFiles::new(bucket);
    Ok(crate::store::Store::remote(std::sync::Arc::new(files)))
}

/// Where in a replica cablekeep keeps the replication's own state (never archive data).
pub(crate) const STATE_DIR: &str = ".cablekeep/replica";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_urls() {
        assert_eq!(
            ReplicaUrl::parse("s3://bucket-a/p/q/").unwrap(),
            ReplicaUrl::S3 {
                bucket: "bucket-a".into(),
                prefix: "p/q".into(),
                profile: None
            }
        );
        assert_eq!(
            ReplicaUrl::parse("s3://bucket-a?profile=partner").unwrap(),
            ReplicaUrl::S3 {
                bucket: "bucket-a".into(),
                prefix: String::new(),
                profile: Some("partner".into())
            }
        );
        assert_eq!(
            ReplicaUrl::parse("some/folder").unwrap(),
            ReplicaUrl::Local("some/folder".into())
        );
        for bad in [
            "s3://",
            "s3://A/p",
            "s3://b/../x",
            "s3://bb/a//b",
            "gs://x/y",
            "s3://ab",
        ] {
            assert!(ReplicaUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
