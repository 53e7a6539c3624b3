//! A bucket prefix as a store for the read-only commands (`--store s3://bucket/prefix`): the
//! store's [`RemoteFiles`] over a [`Bucket`], and [`RemoteObject`], a zip read by ranged
//! requests through a small cache of blocks, never downloaded whole unless every byte is asked
//! for.

use super::s3::Bucket;
use crate::bag::ReadAt;
use crate::error::{Error, Result};
use crate::store::RemoteFiles;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The unit of the block cache.
const BLOCK: u64 = 1024 * 1024;
/// Blocks fetched at once when the reads go front to back (a whole-file hash, a directory).
const READ_AHEAD_BLOCKS: u64 = 8;
/// Blocks kept: 64 MiB at most per open object.
const MAX_BLOCKS: usize = 64;

/// A store's files in a bucket under a prefix.
#[derive(Debug)]
pub(super) struct BucketFiles {
    bucket: Arc<Bucket>,
    label: String,
}

impl BucketFiles {
    /// The store at the bucket's prefix.
    pub(super) fn new(bucket: Bucket) -> BucketFiles {
        let label = bucket.url_of("").trim_end_matches('/').to_string();
        BucketFiles {
            bucket: Arc::new(bucket),
            label,
        }
    }
}

impl RemoteFiles for BucketFiles {
    fn label(&self) -> &str {
        &self.label
    }

    fn list(&self, dir: &str) -> Result<Vec<(String, u64)>> {
        Ok(self.bucket.list_folder(dir)?.files)
    }

    fn subdirs(&self, dir: &str) -> Result<Vec<String>> {
        Ok(self.bucket.list_folder(dir)?.folders)
    }

    fn read_small(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
        self.bucket.read_small(rel, max)
    }

    fn size(&self, rel: &str) -> Result<Option<u64>> {
        Ok(self.bucket.head(rel)?.map(|l| l.bytes))
    }

    fn open(&self, rel: &str) -> Result<Arc<dyn ReadAt>> {
        let meta = self.bucket.head(rel)?.ok_or_else(|| Error::Remote {
            place: self.bucket.url_of(rel),
            message: "is not there".to_string(),
        })?;
        Ok(Arc::new(RemoteObject {
            bucket: Arc::clone(&self.bucket),
            rel: rel.to_string(),
            len: meta.bytes,
            etag: meta.etag,
            cache: Mutex::new(Blocks::default()),
        }))
    }
}

/// An object read at offsets by ranged GETs, each sent with the entity tag of the opening, so
/// that an object replaced meanwhile is an error, never a mix of two objects' bytes.
pub(super) struct RemoteObject {
    bucket: Arc<Bucket>,
    rel: String,
    len: u64,
    etag: Option<String>,
    cache: Mutex<Blocks>,
}

/// Blocks of [`BLOCK`] bytes by number, the oldest dropped first.
#[derive(Default)]
struct Blocks {
    held: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
    /// The block after the last one fetched: a miss there means the reads go front to back.
    next_in_order: u64,
}

impl Blocks {
    fn insert(&mut self, number: u64, block: Bytes) {
        if self.held.insert(number, block).is_none() {
            self.order.push_back(number);
        }
        while self.order.len() > MAX_BLOCKS {
            if let Some(old) = self.order.pop_front() {
                self.held.remove(&old);
            }
        }
    }
}

impl RemoteObject {
    /// The block `number`, from the cache or fetched (with the ones after it when the reads
    /// go in order). The lock is not held while fetching: two threads may fetch one block.
    fn block(&self, number: u64) -> std::io::Result<Bytes> {
        let count = {
            let cache = self.lock()?;
            if let Some(b) = cache.held.get(&number) {
                return Ok(b.clone());
            }
            if number == cache.next_in_order {
                READ_AHEAD_BLOCKS
            } else {
                1
            }
        };
        let start = number * BLOCK;
        let end = (start + count * BLOCK).min(self.len);
        let bytes = self
            .bucket
            .read_range(&self.rel, start..end, self.etag.as_deref())
            .map_err(std::io::Error::other)?;
        if bytes.len() as u64 != end - start {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: the server sent a short range",
                    self.bucket.url_of(&self.rel)
                ),
            ));
        }
        let mut cache = self.lock()?;
        let mut first = Bytes::new();
        for i in 0..count {
            let from = (i * BLOCK) as usize;
            if from >= bytes.len() {
                break;
            }
            let to = (from + BLOCK as usize).min(bytes.len());
            let block = bytes.slice(from..to);
            if i == 0 {
                first = block.clone();
            }
            cache.insert(number + i, block);
        }
        cache.next_in_order = number + count;
        Ok(first)
    }

    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, Blocks>> {
        self.cache
            .lock()
            .map_err(|_| std::io::Error::other("a reader of this object panicked"))
    }
}

impl ReadAt for RemoteObject {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let number = offset / BLOCK;
        let block = self.block(number)?;
        let within = (offset - number * BLOCK) as usize;
        let n = buf.len().min(block.len().saturating_sub(within));
        buf[..n].copy_from_slice(&block[within..within + n]);
        Ok(n)
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(self.len)
    }
}
