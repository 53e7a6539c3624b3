//! A replica, wherever it is: the operations replicate, audit and repair need, the same for a
//! local folder and for a bucket, with the write-once protocol that makes a server which ignores
//! `If-None-Match` (as some do) no risk.

use super::local::{self, Folder};
use super::s3::Bucket;
use super::{Digest, Listed, ReplicaUrl, STATE_DIR, Settings};
use crate::error::{Error, Result};
use crate::fsutil::StoreLock;
use crate::progress::{NoProgress, Progress};
use crate::store::{LockWait, Store};
use std::path::Path;

/// A replica to read and write.
#[derive(Debug)]
pub enum Replica {
    /// A folder on this machine.
    Local(Folder),
    /// A bucket and prefix.
    S3(Bucket),
}

/// A file placed on a replica: its digest and, on object storage, the entity tag of the final
/// object (recorded as its receipt).
#[derive(Debug, Clone)]
pub struct Placed {
    /// What was verified on arrival.
    pub digest: Digest,
    /// The final object's entity tag, where the replica has them.
    pub etag: Option<String>,
}

impl Replica {
    /// The replica `url` names, with the environment's credentials for `s3://`.
    pub fn open(url: &ReplicaUrl) -> Result<Replica> {
        match url {
            ReplicaUrl::Local(path) => Ok(Replica::Local(Folder::new(path.clone()))),
            ReplicaUrl::S3 {
                bucket,
                prefix,
                profile,
            } => {
                let settings = match profile {
                    None => Settings::from_environment()?,
                    Some(name) => Settings::from_profile(name)?,
                };
                Ok(Replica::S3(Bucket::connect(
                    bucket,
                    prefix,
                    profile.as_deref(),
                    &settings,
                )?))
            }
        }
    }

    /// How the replica is named in reports: its folder or `s3://bucket/prefix`.
    pub fn label(&self) -> String {
        match self {
            Replica::Local(f) => f.root().display().to_string(),
            Replica::S3(b) => b.url().to_string(),
        }
    }

    /// Whether a finding's file is this replica or one of its files.
    pub fn names(&self, file: &str) -> bool {
        let label = self.label();
        let base = label.split('?').next().unwrap_or(&label);
        file == label || file == base || file.starts_with(&format!("{base}/"))
    }

    /// The name of one of its files in reports.
    pub fn label_of(&self, rel: &str) -> String {
        match self {
            Replica::Local(f) => f.path_of(rel).display().to_string(),
            Replica::S3(b) => b.url_of(rel),
        }
    }

    /// Whether it is on object storage (which gives entity tags).
    pub fn is_remote(&self) -> bool {
        matches!(self, Replica::S3(_))
    }

    /// Reaches the replica once: a missing folder, a refused key or an unreachable endpoint is
    /// an error here, before anything is written.
    pub fn check_access(&self) -> Result<()> {
        match self {
            Replica::Local(f) => f.check_access(),
            Replica::S3(b) => b.check_access(),
        }
    }

    /// Creates a local replica's folder (a bucket must exist already) and takes its writers'
    /// lock, so that a local replica is never written by two processes at once.
    pub fn prepare_for_writing(&self) -> Result<Option<StoreLock>> {
        match self {
            Replica::Local(f) => {
                std::fs::create_dir_all(f.root()).map_err(|e| Error::io(f.root(), e))?;
                Ok(Some(Store::new(f.root()).lock(LockWait::FailAtOnce)?))
            }
            Replica::S3(b) => {
                b.check_access()?;
                Ok(None)
            }
        }
    }

    /// Every file of the store's folders and of the replication's state.
    pub fn list(&self) -> Result<Vec<Listed>> {
        match self {
            Replica::Local(f) => f.list(),
            Replica::S3(b) => {
                let mut all = b.list("archives/")?;
                all.extend(b.list("manifests/")?);
                all.extend(b.list(&format!("{STATE_DIR}/"))?);
                all.sort_by(|a, b| a.rel.cmp(&b.rel));
                Ok(all)
            }
        }
    }

    /// One file's size (and entity tag), or None when absent.
    pub fn head(&self, rel: &str) -> Result<Option<Listed>> {
        match self {
            Replica::Local(f) => f.head(rel),
            Replica::S3(b) => b.head(rel),
        }
    }

    /// A small file read whole (None when absent; an error when larger than `max`).
    pub fn read_small(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
        match self {
            Replica::Local(f) => f.read_small(rel, max),
            Replica::S3(b) => b.read_small(rel, max),
        }
    }

    /// Reads a whole file and hashes it (None when absent).
    pub fn hash(&self, rel: &str, progress: &dyn Progress) -> Result<Option<Digest>> {
        match self {
            Replica::Local(f) => f.hash(rel, progress),
            Replica::S3(b) => b.hash(rel, progress),
        }
    }

    /// Hashes the first `len` bytes of a file: None when it is absent or shorter.
    pub fn hash_prefix(&self, rel: &str, len: u64) -> Result<Option<Digest>> {
        match self {
            Replica::Local(f) => {
                if f.head(rel)?.is_none() {
                    return Ok(None);
                }
                let d = local::hash_file_prefix(&f.path_of(rel), len, &NoProgress)?;
                Ok(Some(d).filter(|d| d.bytes == len))
            }
            Replica::S3(b) => b.hash_prefix(rel, len),
        }
    }

    /// Places the local file `source`, whose bytes must be `expected`, at `rel`: written
    /// under a temporary name, read back and checked, and given the final name only if
    /// nothing has it. With `replacing`, the file that has the name is first moved to the
    /// quarantine folder `replacing` names (repair of a damaged file, the one overwrite).
    pub fn write_once(
        &self,
        rel: &str,
        source: &Path,
        expected: &Digest,
        run: &str,
        replacing: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Placed> {
        match self {
            Replica::Local(f) => {
                let digest = f.write_once(rel, source, expected, replacing, progress)?;
                Ok(Placed { digest, etag: None })
            }
            Replica::S3(b) => upload_once(b, rel, source, expected, run, replacing, progress),
        }
    }

    /// Writes a file of the replication's own state under `.cablekeep/replica/` (replaced,
    /// never archive data).
    pub fn put_state(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        debug_assert!(rel.starts_with(STATE_DIR));
        match self {
            Replica::Local(f) => f.put_state(rel, &bytes),
            Replica::S3(b) => b.put_bytes(rel, bytes),
        }
    }

    /// Removes the temporaries of uploads under way or left by killed runs: all of them, or
    /// only those of `run`. Local replicas write their temporaries beside the final name and
    /// remove them themselves.
    pub fn remove_temporaries(&self, run: Option<&str>) -> Result<usize> {
        let Replica::S3(b) = self else {
            return Ok(0);
        };
        let folder = match run {
            None => format!("{STATE_DIR}/tmp/"),
            Some(run) => format!("{STATE_DIR}/tmp/{run}/"),
        };
        let temps = b.list(&folder)?;
        for t in &temps {
            b.delete(&t.rel)?;
        }
        Ok(temps.len())
    }

    /// Copies a file of this replica to a local temporary file, checking it is `expected`
    /// (a repair's source). A local replica's file is used where it lies, after the check.
    pub fn fetch(&self, rel: &str, expected: &Digest, scratch: &Path) -> Result<Fetched> {
        match self {
            Replica::Local(f) => {
                let path = f.path_of(rel);
                let got = local::hash_file(&path, &NoProgress)?;
                local::check_digest(&got, expected, &self.label_of(rel))?;
                Ok(Fetched::InPlace(path))
            }
            Replica::S3(b) => {
                let mut tmp = crate::fsutil::temp_file_in(scratch)?;
                let path = tmp.path().to_path_buf();
                let got = b.download(rel, tmp.as_file_mut(), &path)?;
                local::check_digest(&got, expected, &self.label_of(rel))?;
                Ok(Fetched::Copied(tmp))
            }
        }
    }
}

/// A repair's source file on this machine.
pub enum Fetched {
    /// The file of a local replica, where it lies.
    InPlace(std::path::PathBuf),
    /// A downloaded copy, removed when dropped.
    Copied(tempfile::NamedTempFile),
}

impl Fetched {
    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        match self {
            Fetched::InPlace(p) => p,
            Fetched::Copied(t) => t.path(),
        }
    }
}

/// The write-once protocol on object storage:
/// 1. upload to `.cablekeep/replica/tmp/<run>/<rel>` (the bytes sent are hashed on the way);
/// 2. read the temporary back and hash it: both must be `expected`;
/// 3. look at the final key: it must be absent (or, repairing, is copied to the quarantine);
/// 4. copy the temporary to the final key on the server, check its size and entity tag;
/// 5. delete the temporary.
///
/// A kill at any step leaves at most a temporary (removed by the next run) or a final object
/// that is verified bytes; never a final key with other bytes.
fn upload_once(
    bucket: &Bucket,
    rel: &str,
    source: &Path,
    expected: &Digest,
    run: &str,
    replacing: Option<&str>,
    progress: &dyn Progress,
) -> Result<Placed> {
    let temp = format!("{STATE_DIR}/tmp/{run}/{rel}");
    let outcome =
        upload_verified(bucket, &temp, source, expected, progress).and_then(|temp_meta| {
            match (bucket.head(rel)?, replacing) {
                (None, _) => {}
                (Some(_), Some(quarantine)) => bucket.copy(rel, &format!("{quarantine}/{rel}"))?,
                (Some(_), None) => {
                    return Err(Error::Remote {
                        place: bucket.url_of(rel),
                        message: "already holds an object; cablekeep never overwrites one (run \
                              `cablekeep audit` to compare it with the other copies)"
                            .to_string(),
                    });
                }
            }
            bucket.copy(&temp, rel)?;
            let final_meta = bucket.head(rel)?;
            let same = final_meta.as_ref().is_some_and(|m| {
                m.bytes == expected.bytes && (m.etag.is_none() || m.etag == temp_meta.etag)
            });
            if !same {
                return Err(Error::Remote {
                    place: bucket.url_of(rel),
                    message: "the server-side copy does not hold the verified object (size or \
                          entity tag differ)"
                        .to_string(),
                });
            }
            Ok(Placed {
                digest: expected.clone(),
                etag: final_meta.and_then(|m| m.etag),
            })
        });
    // The temporary goes whatever happened; a failure to delete it is reported by the next
    // audit (R005), not here over the outcome.
    let _ = bucket.delete(&temp);
    outcome
}

/// Steps 1 and 2: upload and read back.
fn upload_verified(
    bucket: &Bucket,
    temp: &str,
    source: &Path,
    expected: &Digest,
    progress: &dyn Progress,
) -> Result<Listed> {
    let sent = bucket.upload(temp, source, progress)?;
    local::check_digest(&sent, expected, &source.display().to_string())?;
    let back = bucket
        .hash(temp, &NoProgress)?
        .ok_or_else(|| Error::Remote {
            place: bucket.url_of(temp),
            message: "the uploaded object is not there when read back".to_string(),
        })?;
    local::check_digest(&back, expected, &bucket.url_of(temp))?;
    bucket.head(temp)?.ok_or_else(|| Error::Remote {
        place: bucket.url_of(temp),
        message: "the uploaded object vanished after it was read back".to_string(),
    })
}
