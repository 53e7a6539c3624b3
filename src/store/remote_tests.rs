//! A local store served through [`RemoteFiles`] (the only way in: the remote store's paths are
//! no local paths, so a read that went to the disk would find nothing), counting the bytes read:
//! the read-only commands give on it what they give on the local store, and read a zip by
//! ranges.

use super::remote::RemoteFiles;
use super::*;
use crate::bag::ReadAt;
use crate::error::{Error, IoContext, Result};
use crate::progress::NoProgress;
use crate::store::verify::{self, Selection};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The label the test backend's store goes by: no local folder has this path.
pub(crate) const LABEL: &str = "s3://test-bucket/replica";

/// A local store folder served as a remote store, with a count of the bytes read through it.
#[derive(Debug)]
pub(crate) struct FolderFiles {
    root: PathBuf,
    pub(crate) bytes_read: Arc<AtomicU64>,
    /// Bytes read through [`RemoteFiles::open`] (zips), apart from the small files.
    pub(crate) ranged_bytes: Arc<AtomicU64>,
}

impl FolderFiles {
    pub(crate) fn new(root: &Path) -> Arc<FolderFiles> {
        Arc::new(FolderFiles {
            root: root.to_path_buf(),
            bytes_read: Arc::default(),
            ranged_bytes: Arc::default(),
        })
    }

    fn local(&self, rel: &str) -> PathBuf {
        assert!(
            !rel.split('/').any(|p| p == ".." || p == "."),
            "a store-relative name: {rel}"
        );
        self.root.join(rel)
    }

    fn entries(&self, dir: &str) -> Result<Vec<std::fs::DirEntry>> {
        let path = self.local(dir);
        match std::fs::read_dir(&path) {
            Ok(entries) => entries.map(|e| e.at(&path)).collect(),
            Err(_) => Ok(Vec::new()),
        }
    }
}

/// A local file read by ranges, counting the bytes.
struct CountedFile {
    file: std::fs::File,
    counters: [Arc<AtomicU64>; 2],
}

impl ReadAt for CountedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, offset)?;
        for c in &self.counters {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }

    fn len(&self) -> std::io::Result<u64> {
        ReadAt::len(&self.file)
    }
}

impl RemoteFiles for FolderFiles {
    fn label(&self) -> &str {
        LABEL
    }

    fn list(&self, dir: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for e in self.entries(dir)? {
            let meta = e.metadata().at(e.path())?;
            if meta.is_file() {
                out.push((e.file_name().to_string_lossy().into_owned(), meta.len()));
            }
        }
        Ok(out)
    }

    fn subdirs(&self, dir: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for e in self.entries(dir)? {
            if e.metadata().at(e.path())?.is_dir() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }

    fn read_small(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let Some(size) = self.size(rel)? else {
            return Ok(None);
        };
        if size > max {
            return Err(Error::Invalid(format!(
                "{LABEL}/{rel}: larger than {max} bytes"
            )));
        }
        let bytes = std::fs::read(self.local(rel)).at(self.local(rel))?;
        self.bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(Some(bytes))
    }

    fn size(&self, rel: &str) -> Result<Option<u64>> {
        Ok(std::fs::metadata(self.local(rel))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len()))
    }

    fn open(&self, rel: &str) -> Result<Arc<dyn ReadAt>> {
        let path = self.local(rel);
        Ok(Arc::new(CountedFile {
            file: std::fs::File::open(&path).at(&path)?,
            counters: [self.bytes_read.clone(), self.ranged_bytes.clone()],
        }))
    }
}

/// A store with the samples written twice over (v1, then v2 with more cables), and the same
/// store read as a remote one.
pub(crate) fn sample_stores(
    extra_cables: usize,
) -> (tempfile::TempDir, Store, Store, Arc<FolderFiles>) {
    let dir = tempfile::tempdir().unwrap();
    let local = Store::new(dir.path());
    let lock = local.lock(LockWait::FailAtOnce).unwrap();
    demo::write_samples(&local, &lock, &NoProgress).unwrap();
    let inputs = (0..extra_cables)
        .map(|i| {
            let id = format!("06EXAMPLE{}", 400 + i);
            let text = String::from_utf8(demo::SAMPLES[2].1.to_vec())
                .unwrap()
                .replace("06EXAMPLE303", &id);
            let item = crate::input::InputItem::bytes(format!("more/{id}.txt"), text.into_bytes());
            (item.into(), Default::default())
        })
        .chain(std::iter::once({
            // A second capture of a cable of v1, which `diff` compares with the first.
            let text = String::from_utf8(demo::SAMPLES[2].1.to_vec())
                .unwrap()
                .replace("This invented cable", "This imagined cable");
            let item = crate::input::InputItem::bytes("more/06EXAMPLE303.txt", text.into_bytes());
            (item.into(), Default::default())
        }))
        .collect();
    local
        .write_version(
            &lock,
            WriteRequest {
                collection: demo::DEMO_COLLECTION,
                inputs,
                replace: false,
                message: "more",
                progress: &NoProgress,
                archive_format: Default::default(),
            },
        )
        .unwrap();
    drop(lock);
    let files = FolderFiles::new(dir.path());
    let remote = Store::remote(files.clone());
    (dir, local, remote, files)
}

/// The reports of `store` with the local root's name replaced by the remote label.
/// Per report: the archive's name and its findings (code, file, message).
type Verified = Vec<(String, Vec<(String, String, String)>)>;

fn verified(store: &Store, root: &Path) -> Verified {
    let reports = verify::verify_collection(
        store,
        demo::DEMO_COLLECTION,
        Selection::All,
        Default::default(),
        &NoProgress,
    )
    .unwrap();
    let root = root.display().to_string();
    let named = |s: &str| s.replace(&root, LABEL);
    reports
        .iter()
        .map(|r| {
            let findings = r
                .findings
                .iter()
                .map(|f| (f.code.to_string(), named(&f.file), named(&f.message)))
                .collect();
            (named(&r.archive.display().to_string()), findings)
        })
        .collect()
}

fn codes(reports: &Verified) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = reports
        .iter()
        .flat_map(|(_, f)| f.iter().map(|(c, file, _)| (c.clone(), file.clone())))
        .collect();
    out.sort();
    out
}

#[test]
fn a_remote_store_lists_what_the_local_one_holds() {
    let (_dir, local, remote, _files) = sample_stores(3);
    assert_eq!(remote.collections().unwrap(), local.collections().unwrap());
    assert_eq!(remote.versions("examples").unwrap(), vec![1, 2]);
    assert_eq!(
        remote.read_manifest("examples", 2).unwrap().1,
        local.read_manifest("examples", 2).unwrap().1
    );
    assert_eq!(
        remote.zip_path("examples", 1).display().to_string(),
        format!("{LABEL}/archives/examples/examples-v1.zip")
    );
}

#[test]
fn verify_of_a_remote_store_finds_what_it_finds_locally() {
    let (dir, local, remote, files) = sample_stores(3);
    let on_remote = verified(&remote, dir.path());
    assert_eq!(on_remote, verified(&local, dir.path()));
    assert!(on_remote.iter().all(|(_, f)| f.is_empty()), "{on_remote:?}");
    let zips: u64 = [1, 2]
        .iter()
        .map(|&v| {
            std::fs::metadata(local.zip_path("examples", v))
                .unwrap()
                .len()
        })
        .sum();
    // Every byte of both zips is hashed and checked, in one reading of each.
    assert_eq!(files.ranged_bytes.load(Ordering::Relaxed), zips);
}

#[test]
fn verify_of_a_damaged_remote_store_names_the_remote_files() {
    let (dir, local, remote, _files) = sample_stores(3);
    let zip = local.zip_path("examples", 2);
    let mut bytes = std::fs::read(&zip).unwrap();
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0x01;
    std::fs::write(&zip, &bytes).unwrap();
    let checksum = local.checksum_path("examples", 1);
    std::fs::write(&checksum, "0000  examples-v1.zip\n").unwrap();
    let on_remote = verified(&remote, dir.path());
    let on_local = verified(&local, dir.path());
    assert_eq!(codes(&on_remote), codes(&on_local));
    let found = codes(&on_remote);
    assert!(
        found.contains(&(
            "M004".to_string(),
            format!("{LABEL}/archives/examples/examples-v1.zip.sha256")
        )),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(_, file)| file == &format!("{LABEL}/archives/examples/examples-v2.zip")),
        "{found:?}"
    );
    // Labels name the remote files, never the local folder they happen to be served from.
    let root = dir.path().display().to_string();
    let raw = verify::verify_collection(
        &remote,
        "examples",
        Selection::All,
        Default::default(),
        &NoProgress,
    )
    .unwrap();
    for f in raw.iter().flat_map(|r| &r.findings) {
        assert!(
            f.file.starts_with(LABEL) && !f.message.contains(&root),
            "{f:?}"
        );
    }
}

#[test]
fn writers_refuse_a_remote_store_and_write_nothing() {
    let (dir, _local, remote, _files) = sample_stores(0);
    let before = tree(dir.path());
    let Err(err) = remote.lock(LockWait::FailAtOnce) else {
        panic!("a remote store was locked for writing");
    };
    assert_eq!(
        err.to_string(),
        format!(
            "{LABEL} is read-only here: cannot write to it; use `cablekeep replicate` to copy a local store to it"
        )
    );
    // Writers handed a lock of another (local) store refuse all the same, before writing.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Store::new(elsewhere.path());
    let lock = other.lock(LockWait::FailAtOnce).unwrap();
    let refusals = [
        remote
            .write_version(
                &lock,
                WriteRequest {
                    collection: demo::DEMO_COLLECTION,
                    inputs: Vec::new(),
                    replace: false,
                    message: "m",
                    progress: &NoProgress,
                    archive_format: Default::default(),
                },
            )
            .err(),
        rebuild::rebuild_manifest(&remote, &lock, "examples", 1, &NoProgress).err(),
        crate::seal::seal_version(&remote, &lock, "examples", 1, None, None).err(),
        remote.recover(&lock).err(),
        crate::linkcheck::check(
            &remote,
            "examples",
            None,
            &crate::linkcheck::Options::default(),
            &NoProgress,
        )
        .err(),
    ];
    for refused in refusals {
        let message = refused.expect("refused").to_string();
        assert!(
            message.starts_with(&format!("{LABEL} is read-only here: cannot ")),
            "{message}"
        );
    }
    assert_eq!(tree(dir.path()), before);
    assert!(
        !Path::new("s3:").exists(),
        "nothing is made under the label"
    );
}

/// Every file under `root` with its bytes.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn show_of_one_cable_reads_a_small_part_of_a_remote_zip() {
    let (_dir, local, remote, files) = sample_stores(300);
    let request = show::ShowRequest {
        id: "06EXAMPLE555",
        ..Default::default()
    };
    let here = show::show_cable(&local, &request).unwrap();
    let before = files.bytes_read.load(Ordering::Relaxed);
    let there = show::show_cable(&remote, &request).unwrap();
    assert_eq!(there.version_id().to_string(), "examples@v2");
    assert_eq!(there.line, here.line);
    assert_eq!(there.raw_bytes().unwrap(), here.raw_bytes().unwrap());
    assert_eq!(there.record_json().unwrap(), here.record_json().unwrap());
    let read = files.bytes_read.load(Ordering::Relaxed) - before;
    let zip = std::fs::metadata(local.zip_path("examples", 2))
        .unwrap()
        .len();
    // The sidecars, the end records, the central directory once, the index and the cable's two
    // entries, out of a zip of 300 cables (about 200 KB of 750 KB).
    assert!(read * 3 < zip, "{read} bytes read of a zip of {zip}");
    let shown_log: Vec<_> = remote
        .versions("examples")
        .unwrap()
        .iter()
        .map(|&v| remote.read_manifest("examples", v).unwrap().0.message)
        .collect();
    assert_eq!(
        shown_log,
        vec!["Sample cables shipped with cablekeep", "more"]
    );
}

#[test]
fn diff_of_a_remote_store_is_the_local_diff() {
    let (_dir, local, remote, _files) = sample_stores(5);
    let here = diff::diff(&local, "examples", 1, 2).unwrap();
    let there = diff::diff(&remote, "examples", 1, 2).unwrap();
    assert_eq!(
        serde_json::to_value(&there).unwrap(),
        serde_json::to_value(&here).unwrap()
    );
    assert_eq!(there.added.len(), 5);
    assert_eq!(there.changed.len(), 1, "{there:?}");
}

#[test]
fn export_from_a_remote_store_writes_the_local_export() {
    use crate::export::{self, Format, Request};
    let (dir, local, remote, _files) = sample_stores(5);
    let out = tempfile::tempdir().unwrap();
    let filter = crate::query::select::Filter::default().validated().unwrap();
    for (format, name) in [
        (Format::Csv, "csv"),
        (Format::Jsonl, "jsonl"),
        (Format::Sqlite, "sqlite"),
        (Format::Bag, "bag"),
        (Format::Zip, "zip"),
    ] {
        let run = |store: &Store, side: &str| {
            let target = out.path().join(format!("{name}-{side}"));
            let outcome = export::export(
                store,
                Request {
                    collection: "examples",
                    version: None,
                    filter: &filter,
                    format,
                    out: &target,
                    excel_safe: false,
                    proofs: false,
                    progress: &NoProgress,
                },
            )
            .unwrap();
            assert_eq!(outcome.cables, 8, "{name}");
            if target.is_dir() {
                tree(&target)
                    .into_iter()
                    .map(|(p, b)| (p.strip_prefix(&target).unwrap().to_path_buf(), b))
                    .collect()
            } else {
                vec![(PathBuf::new(), std::fs::read(&target).unwrap())]
            }
        };
        let here = run(&local, "local");
        let there = run(&remote, "remote");
        let names =
            |t: &Vec<(PathBuf, Vec<u8>)>| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert_eq!(names(&there), names(&here), "{name}");
        for ((path, a), (_, b)) in there.iter().zip(&here) {
            let root = dir.path().display().to_string();
            let a = String::from_utf8_lossy(a).replace(LABEL, &root);
            assert!(
                a == String::from_utf8_lossy(b),
                "{name}: {} differs",
                path.display()
            );
        }
    }
}

#[test]
fn search_of_a_remote_store_keeps_its_index_in_the_cache_folder() {
    use crate::query::search::{SearchIndex, Upkeep};
    let (_dir, local, remote, _files) = sample_stores(5);
    let cache = tempfile::tempdir().unwrap();
    let remote = remote.with_cache_dir(cache.path().join("replica"));
    let filter = crate::query::select::Filter::default();
    let (index, upkeep) = SearchIndex::open(&remote, &NoProgress).unwrap();
    assert!(
        matches!(upkeep, Upkeep::Built { cables: 8, .. }),
        "{upkeep:?}"
    );
    assert!(
        index.path().starts_with(cache.path()),
        "{}",
        index.path().display()
    );
    let there = index
        .search("imagined OR mirror", None, &filter, 20)
        .unwrap();
    let (local_index, _) = SearchIndex::open(&local, &NoProgress).unwrap();
    let here = local_index
        .search("imagined OR mirror", None, &filter, 20)
        .unwrap();
    assert_eq!(there, here);
    assert!(!there.is_empty());
    drop(index);
    let (_, again) = SearchIndex::open(&remote, &NoProgress).unwrap();
    assert_eq!(again, Upkeep::Current);
    // A new version on the remote store makes the cached index stale: it is brought up to date.
    let lock = local.lock(LockWait::FailAtOnce).unwrap();
    let text = String::from_utf8(demo::SAMPLES[2].1.to_vec())
        .unwrap()
        .replace("06EXAMPLE303", "06EXAMPLE999");
    let item = crate::input::InputItem::bytes("third/06EXAMPLE999.txt", text.into_bytes());
    local
        .write_version(
            &lock,
            WriteRequest {
                collection: demo::DEMO_COLLECTION,
                inputs: vec![(item.into(), Default::default())],
                replace: false,
                message: "third",
                progress: &NoProgress,
                archive_format: Default::default(),
            },
        )
        .unwrap();
    let (index, third) = SearchIndex::open(&remote, &NoProgress).unwrap();
    assert!(matches!(third, Upkeep::Updated { .. }), "{third:?}");
    assert_eq!(index.cables(), 9);
    assert!(
        !Path::new("s3:").exists(),
        "nothing is made under the label"
    );
}

#[test]
fn the_seal_checks_of_verify_read_a_remote_store_alike() {
    use crate::seal::{self, CheckOptions, sshsig::SigningKey};
    let (dir, local, remote, _files) = sample_stores(3);
    let keypair = ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]);
    let pem = ssh_key::PrivateKey::from(keypair)
        .to_openssh(ssh_key::LineEnding::LF)
        .unwrap();
    let key_file = dir.path().join("signing-key");
    std::fs::write(&key_file, pem.as_bytes()).unwrap();
    let key = SigningKey::read(&key_file).unwrap();
    let lock = local.lock(LockWait::FailAtOnce).unwrap();
    for v in [1, 2] {
        seal::seal_version(&local, &lock, "examples", v, Some(&key), None).unwrap();
    }
    drop(lock);
    let checked = |store: &Store| {
        let root = dir.path().display().to_string();
        let mut found: Vec<(String, String)> =
            seal::check_seals(store, "examples", &[1, 2], None, &CheckOptions::default())
                .unwrap()
                .into_iter()
                .map(|f| (f.code.to_string(), f.file.replace(&root, LABEL)))
                .collect();
        found.sort();
        found
    };
    // A proof from the remote store is the local one; its tree cache goes to the cache folder.
    let cache = tempfile::tempdir().unwrap();
    let cached = remote.clone().with_cache_dir(cache.path());
    let there = seal::prove(&cached, None, Some(2), "06EXAMPLE401").unwrap();
    assert_eq!(
        there,
        seal::prove(&local, None, Some(2), "06EXAMPLE401").unwrap()
    );
    assert!(cache.path().join("cache/trees/examples-v2.tree").is_file());
    assert_eq!(
        seal::prove(&cached, None, Some(2), "06EXAMPLE401").unwrap(),
        there,
        "and again from the cache"
    );
    let clean = checked(&remote);
    assert_eq!(clean, checked(&local));
    assert_eq!(clean.len(), 1, "only S005, no allowed signers: {clean:?}");
    // A damaged signature, and a timestamp token that is not one.
    let (_, sig) = &seal::signature_files(&local, "examples", 2).unwrap()[0];
    let mut bytes = std::fs::read(sig).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(sig, bytes).unwrap();
    std::fs::write(seal::timestamp_path(&local, "examples", 1), b"not a token").unwrap();
    let damaged = checked(&remote);
    assert_eq!(damaged, checked(&local));
    let sig_name = format!(
        "{LABEL}/manifests/examples/{}",
        sig.file_name().unwrap().to_string_lossy()
    );
    assert!(
        damaged.iter().any(|(_, file)| *file == sig_name),
        "{damaged:?}"
    );
    assert!(
        damaged
            .iter()
            .any(|(_, file)| file.ends_with("examples-v1.checkpoint.tsr")),
        "{damaged:?}"
    );
    assert!(damaged.len() > clean.len(), "{damaged:?}");
}
