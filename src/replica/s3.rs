//! A store's files in an S3 bucket under a prefix: the only module that knows `object_store`
//! (and through it reqwest, rustls and the S3 API). Everything here is synchronous to its
//! callers: each call runs to completion on [`super::runtime`].
//!
//! Keys are `<prefix>/<store-relative path>`, so `s3://bucket/p` holds `p/archives/...` and
//! `p/manifests/...` as a local store holds `archives/` and `manifests/`.

use super::credentials::Settings;
use super::runtime::block_on;
use super::{Digest, Listed};
use crate::error::{Error, Result};
use crate::progress::Progress;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
    WriteMultipart,
};
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// Files up to this size go up in one PUT; larger ones in parts of [`PART_BYTES`].
const SINGLE_PUT_LIMIT: u64 = 64 * 1024 * 1024;
/// The part size of multipart uploads, fixed so the same bytes always make the same parts.
const PART_BYTES: usize = 16 * 1024 * 1024;
/// Parts (and ranged reads) in flight at once: bounds memory at about 4 × 16 MiB.
const IN_FLIGHT: usize = 4;
/// Whole objects are read in ranges of this size, each its own request (a retry repeats one
/// range, never the whole object).
const RANGE_BYTES: u64 = 16 * 1024 * 1024;

/// What lies directly in a folder of the store: files (names and sizes) and folders.
#[derive(Debug, Default)]
pub struct Folder {
    /// Files by name, with their sizes.
    pub files: Vec<(String, u64)>,
    /// Folder names.
    pub folders: Vec<String>,
}

/// A bucket and prefix, reached with the settings of the environment.
#[derive(Debug)]
pub struct Bucket {
    client: AmazonS3,
    /// The prefix without slashes at either end; empty for the bucket's root.
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    url: String,
    /// Which key was used, shortened (never the secret).
    key_hint: String,
    endpoint: String,
}

impl Bucket {
    /// A client for `s3://bucket/prefix`. Nothing is sent yet; a refused key or an unreachable
    /// endpoint shows at the first request, named by [`Bucket::check_access`].
    /// `profile` is only named in the bucket's URL (`?profile=NAME`), which reports use.
    pub fn connect(
        bucket: &str,
        prefix: &str,
        profile: Option<&str>,
        settings: &Settings,
    ) -> Result<Bucket> {
        let prefix = prefix.trim_matches('/').to_string();
        let mut url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        if let Some(profile) = profile {
            url.push_str(&format!("?profile={profile}"));
        }
        let (Some(key_id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key)
        else {
            return Err(Error::Invalid(format!(
                "{url}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a \
                 profile in ~/.aws/credentials (AWS_PROFILE picks one)"
            )));
        };
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| "AWS".to_string());
        if endpoint.starts_with("http://") && !settings.allow_http {
            return Err(Error::Invalid(format!(
                "{url}: the endpoint {endpoint} is plain http; set AWS_ALLOW_HTTP=true to allow it"
            )));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(settings.region.as_deref().unwrap_or("us-east-1"))
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(settings.virtual_hosted_style)
            .with_client_options(client_options(settings.allow_http))
            .with_retry(retry_config());
        if let Some(token) = &settings.session_token {
            builder = builder.with_token(token);
        }
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        install_crypto_provider();
        let client = builder
            .build()
            .map_err(|e| Error::Invalid(format!("{url}: {e}")))?;
        Ok(Bucket {
            client,
            prefix,
            url,
            key_hint: settings.key_hint(),
            endpoint,
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a store-relative file, for messages and findings.
    pub fn url_of(&self, rel: &str) -> String {
        let base = self.url.split('?').next().unwrap_or(&self.url);
        format!("{base}/{rel}")
    }

    fn key(&self, rel: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// The store-relative path of a key under the prefix.
    fn rel_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }

    /// Turns a client error into a "could not run" error that names the object and, for a
    /// refusal, the key used (never its secret).
    fn fail(&self, rel: &str, e: object_store::Error) -> Error {
        let place = if rel.is_empty() {
            self.url.clone()
        } else {
            self.url_of(rel)
        };
        let message = match &e {
            _ if is_refusal(&e) => format!(
                "the server refused the credentials ({}{}); check the key, its secret and its \
                 rights on the bucket",
                self.key_hint,
                server_message(&e)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            object_store::Error::Generic { .. } if is_unreachable(&e) => format!(
                "cannot reach the endpoint {} ({})",
                self.endpoint,
                error_chain(&e)
            ),
            _ => error_chain(&e),
        };
        Error::Remote { place, message }
    }

    /// Lists the prefix once: a refused key or an unreachable endpoint is an error before
    /// anything is written.
    pub fn check_access(&self) -> Result<()> {
        let prefix = self.key("");
        let mut listing = self.client.list(Some(&prefix));
        block_on(async {
            match listing.next().await {
                Some(Err(e)) => Err(self.fail("", e)),
                _ => Ok(()),
            }
        })?
    }

    /// Every object whose store-relative path starts with `rel_prefix` ("" for all).
    pub fn list(&self, rel_prefix: &str) -> Result<Vec<Listed>> {
        let listing = self
            .client
            .list(Some(&self.key(rel_prefix.trim_end_matches('/'))));
        let metas: Vec<object_store::ObjectMeta> = block_on(listing.try_collect())
            .and_then(|r| r.map_err(|e| self.fail(rel_prefix, e)))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let rel = self.rel_of(m.location.as_ref())?.to_string();
                Some(Listed {
                    rel,
                    bytes: m.size,
                    etag: m.e_tag,
                })
            })
            .collect())
    }

    /// The files (names and sizes) and folders directly under a store-relative folder.
    pub fn list_folder(&self, dir: &str) -> Result<Folder> {
        let dir = dir.trim_matches('/');
        let prefix = if dir.is_empty() {
            self.key("")
        } else {
            self.key(dir)
        };
        let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
        let listed = block_on(self.client.list_with_delimiter(prefix.as_ref()))?
            .map_err(|e| self.fail(dir, e))?;
        let name = |p: &Key| p.filename().map(str::to_string);
        let files = listed
            .objects
            .iter()
            .filter_map(|m| Some((name(&m.location)?, m.size)))
            .collect();
        let folders = listed.common_prefixes.iter().filter_map(name).collect();
        Ok(Folder { files, folders })
    }

    /// The size and ETag of one object, or None when there is none.
    pub fn head(&self, rel: &str) -> Result<Option<Listed>> {
        let key = self.key(rel);
        match block_on(self.client.head(&key))? {
            Ok(m) => Ok(Some(Listed {
                rel: rel.to_string(),
                bytes: m.size,
                etag: m.e_tag,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(rel, e)),
        }
    }

    /// A small object read whole: None when absent, an error when larger than `max`.
    pub fn read_small(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let Some(meta) = self.head(rel)? else {
            return Ok(None);
        };
        if meta.bytes > max {
            return Err(Error::Remote {
                place: self.url_of(rel),
                message: format!("is {} bytes, more than the limit of {max}", meta.bytes),
            });
        }
        if meta.bytes == 0 {
            return Ok(Some(Vec::new()));
        }
        let bytes = self.read_range(rel, 0..meta.bytes, meta.etag.as_deref())?;
        Ok(Some(bytes.to_vec()))
    }

    /// Bytes `range` of an object. With `etag`, an object replaced since it was listed is an
    /// error, never a mix of two objects' bytes.
    pub fn read_range(
        &self,
        rel: &str,
        range: std::ops::Range<u64>,
        etag: Option<&str>,
    ) -> Result<Bytes> {
        let key = self.key(rel);
        block_on(fetch_range(&self.client, &key, range, etag))?.map_err(|e| self.fail(rel, e))
    }

    /// Reads a whole object by ranges and hashes it: None when it is absent.
    pub fn hash(&self, rel: &str, progress: &dyn Progress) -> Result<Option<Digest>> {
        self.read_whole(rel, None, &mut |chunk| {
            progress.inc(chunk.len() as u64);
            Ok(())
        })
    }

    /// Hashes the first `len` bytes of an object (None when it is absent or shorter).
    pub fn hash_prefix(&self, rel: &str, len: u64) -> Result<Option<Digest>> {
        let digest = self.read_whole(rel, Some(len), &mut |_| Ok(()))?;
        Ok(digest.filter(|d| d.bytes == len))
    }

    /// Copies a whole object into `file` and returns its digest.
    pub fn download(&self, rel: &str, file: &mut std::fs::File, path: &Path) -> Result<Digest> {
        use std::io::Write;
        let digest = self.read_whole(rel, None, &mut |chunk| {
            file.write_all(chunk).map_err(|e| Error::io(path, e))
        })?;
        digest.ok_or_else(|| Error::Remote {
            place: self.url_of(rel),
            message: "is not there".to_string(),
        })
    }

    /// Reads a whole object in order, by ranges (a few in flight), handing each chunk to
    /// `each` and hashing it. With the entity tag of the first look, an object replaced while
    /// it is read is an error, never a mix of two objects' bytes.
    fn read_whole(
        &self,
        rel: &str,
        limit: Option<u64>,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Option<Digest>> {
        let Some(meta) = self.head(rel)? else {
            return Ok(None);
        };
        let key = self.key(rel);
        let etag = meta.etag.clone();
        let wanted = limit.map_or(meta.bytes, |l| l.min(meta.bytes));
        let ranges = ranges_of(wanted);
        let client = &self.client;
        let digest = block_on(async {
            let mut chunks = futures::stream::iter(ranges)
                .map(|r| fetch_range(client, &key, r, etag.as_deref()))
                .buffered(IN_FLIGHT);
            let mut hasher = Sha256::new();
            let mut bytes = 0u64;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| self.fail(rel, e))?;
                hasher.update(&chunk);
                bytes += chunk.len() as u64;
                each(&chunk)?;
            }
            Ok::<_, Error>(Digest {
                bytes,
                sha256: hex::encode(hasher.finalize()),
            })
        })??;
        if digest.bytes != wanted {
            return Err(Error::Remote {
                place: self.url_of(rel),
                message: format!(
                    "read {} bytes of an object of {} (it changed while it was read)",
                    digest.bytes, meta.bytes
                ),
            });
        }
        Ok(Some(digest))
    }

    /// Uploads the local file `source` to `rel` (one PUT, or parts of 16 MiB when large) and
    /// returns the digest of the bytes sent. An upload that fails is aborted, leaving no parts.
    pub fn upload(&self, rel: &str, source: &Path, progress: &dyn Progress) -> Result<Digest> {
        let mut file = std::fs::File::open(source).map_err(|e| Error::io(source, e))?;
        let size = file.metadata().map_err(|e| Error::io(source, e))?.len();
        let key = self.key(rel);
        if size <= SINGLE_PUT_LIMIT {
            let mut bytes = Vec::with_capacity(size as usize);
            (&mut file)
                .take(SINGLE_PUT_LIMIT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(source, e))?;
            let digest = Digest::of(&bytes);
            let len = bytes.len() as u64;
            block_on(self.client.put(&key, bytes.into()))?.map_err(|e| self.fail(rel, e))?;
            progress.inc(len);
            return Ok(digest);
        }
        self.upload_parts(rel, &key, file, source, progress)
    }

    fn upload_parts(
        &self,
        rel: &str,
        key: &Key,
        mut file: std::fs::File,
        source: &Path,
        progress: &dyn Progress,
    ) -> Result<Digest> {
        block_on(async {
            let upload = self
                .client
                .put_multipart(key)
                .await
                .map_err(|e| self.fail(rel, e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut hasher = Sha256::new();
            let mut bytes = 0u64;
            let mut buf = vec![0u8; PART_BYTES];
            let sent: Result<()> = async {
                loop {
                    let n = crate::hash::read_full(&mut file, &mut buf)
                        .map_err(|e| Error::io(source, e))?;
                    if n == 0 {
                        return Ok(());
                    }
                    hasher.update(&buf[..n]);
                    bytes += n as u64;
                    writer
                        .wait_for_capacity(IN_FLIGHT)
                        .await
                        .map_err(|e| self.fail(rel, e))?;
                    writer.write(&buf[..n]);
                    progress.inc(n as u64);
                }
            }
            .await;
            match sent {
                Ok(()) => {
                    writer.finish().await.map_err(|e| self.fail(rel, e))?;
                    Ok(Digest {
                        bytes,
                        sha256: hex::encode(hasher.finalize()),
                    })
                }
                Err(e) => {
                    // Best effort: a failed abort leaves parts that the bucket's lifecycle
                    // rule for incomplete uploads removes.
                    let _ = writer.abort().await;
                    Err(e)
                }
            }
        })?
    }

    /// Writes a small object (cablekeep's own state under `.cablekeep/`).
    pub fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let key = self.key(rel);
        block_on(self.client.put(&key, bytes.into()))?.map_err(|e| self.fail(rel, e))?;
        Ok(())
    }

    /// A server-side copy of `from` to `to` (no bytes pass through cablekeep).
    pub fn copy(&self, from: &str, to: &str) -> Result<()> {
        let (a, b) = (self.key(from), self.key(to));
        block_on(self.client.copy(&a, &b))?.map_err(|e| self.fail(to, e))
    }

    /// Deletes an object; an absent one is no error.
    pub fn delete(&self, rel: &str) -> Result<()> {
        let key = self.key(rel);
        match block_on(self.client.delete(&key))? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail(rel, e)),
        }
    }
}

async fn fetch_range(
    client: &AmazonS3,
    key: &Key,
    range: std::ops::Range<u64>,
    etag: Option<&str>,
) -> object_store::Result<Bytes> {
    let options = GetOptions {
        range: Some(GetRange::Bounded(range)),
        if_match: etag.map(str::to_string),
        ..GetOptions::default()
    };
    client.get_opts(key, options).await?.bytes().await
}

/// The ranges that read an object of `size` bytes in order.
fn ranges_of(size: u64) -> Vec<std::ops::Range<u64>> {
    (0..size.div_ceil(RANGE_BYTES))
        .map(|i| i * RANGE_BYTES..((i + 1) * RANGE_BYTES).min(size))
        .collect()
}

/// A connection attempt gives up after 5 s and a request after 2 minutes, so an unreachable
/// endpoint is reported in seconds, not after the client's default of minutes of retries.
fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120))
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(15),
    }
}

/// reqwest is built without a TLS provider of its own (no second crypto library): the process
/// gets rustls's ring provider, once; "already installed" is fine.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The error's text with its causes (the transport's reason is in a cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// A 401 or 403 answer: object_store names some of them, and reports the others (a listing's)
/// as generic errors whose text holds the status and the S3 error code.
fn is_refusal(e: &object_store::Error) -> bool {
    if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) {
        return true;
    }
    let text = error_chain(e);
    [
        "403 Forbidden",
        "401 Unauthorized",
        "<Code>AccessDenied</Code>",
        "<Code>InvalidAccessKeyId</Code>",
        "<Code>SignatureDoesNotMatch</Code>",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// The `<Message>` of an S3 error answer, when the error's text holds one.
fn server_message(e: &object_store::Error) -> Option<String> {
    let text = error_chain(e);
    let start = text.find("<Message>")? + "<Message>".len();
    let end = start + text[start..].find("</Message>")?;
    Some(text[start..end].chars().take(200).collect())
}

fn is_unreachable(e: &object_store::Error) -> bool {
    let text = error_chain(e).to_ascii_lowercase();
    [
        "connect",
        "connection refused",
        "dns",
        "timed out",
        "unreachable",
    ]
    .iter()
    .any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_an_object_in_order() {
        assert!(ranges_of(0).is_empty());
        assert_eq!(ranges_of(5), vec![0..5]);
        let r = ranges_of(RANGE_BYTES * 2 + 1);
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], RANGE_BYTES * 2..RANGE_BYTES * 2 + 1);
    }

    #[test]
    fn plain_http_needs_allow_http_and_credentials_are_required() {
        let settings = Settings {
            access_key_id: Some("GKtest".into()),
            secret_access_key: Some("secret-secret-secret".into()),
            endpoint: Some("http://127.0.0.1:9".into()),
            ..Settings::default()
        };
        let e = Bucket::connect("b", "p", None, &settings)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS_ALLOW_HTTP"), "{e}");
        let e = Bucket::connect("b", "p", None, &Settings::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no credentials"), "{e}");
        let ok = Bucket::connect(
            "b",
            "/p/q/",
            None,
            &Settings {
                allow_http: true,
                ..settings
            },
        )
        .unwrap();
        assert_eq!(ok.url(), "s3://b/p/q");
        assert_eq!(ok.key("archives/x").as_ref(), "p/q/archives/x");
        assert_eq!(ok.rel_of("p/q/archives/x"), Some("archives/x"));
    }
}
