//! A per-version cache of a sealed version's tree, so that `prove` need not inflate and hash the
//! whole `manifest-sha256.txt` for every proof (`.cablekeep/cache/trees/<c>-v<N>.tree`).
//!
//! The manifest's lines are cut into blocks of [`BLOCK_LINES`] lines (aligned with the tree: a
//! block is one subtree), each block deflated alone, with the root of each block's subtree.
//! Opening the cache rebuilds the tree above the blocks and compares its root with the
//! checkpoint's; every block read is hashed again and compared with its subtree root. So a
//! proof made from the cache is checked against the checkpoint before it is given out, a
//! damaged or stale cache is noticed ([`Damaged`]) and rebuilt from the archive, and nothing
//! but `prove` reads it (`verify` never does). Deleting the folder is always safe.
//!
//! A cable's files are found by binary search over the blocks' first lines, which needs the
//! manifest's lines in path order (as cablekeep writes them); a version whose manifest is in
//! another order gets no cache. The file is about the size of the deflated manifest.
//!
//! Layout (integers little-endian): the magic [`MAGIC`], tree size (u64), root (32 bytes),
//! block count (u64), each block's subtree root (32 bytes each), each block's offset from the
//! end of this table and length (u64, u32), then the deflated blocks (lines joined by LF).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use rayon::prelude::*;

use super::merkle::{self, Hash, Tree};
use crate::error::{Error, Result};
use crate::store::Store;

/// Lines per block, as a power of two.
const BLOCK_BITS: usize = 8;
/// Lines per block: a block is a complete subtree of 2^BLOCK_BITS leaves (the last may be
/// smaller).
pub const BLOCK_LINES: usize = 1 << BLOCK_BITS;
/// The first bytes of a cache file (the format's version is its last byte).
pub const MAGIC: &[u8; 8] = b"CKTREE\x00\x01";
const HEADER_BYTES: u64 = 8 + 8 + 32 + 8;
/// A table entry: a block's root, offset and length.
const ENTRY_BYTES: u64 = 32 + 8 + 4;
/// A deflated block is read up to this size, and inflated up to this size.
const MAX_BLOCK_BYTES: u64 = 64 * 1024 * 1024;

/// Where a version's tree cache is: in the store's `.cablekeep/cache/trees/`, or for a remote
/// store in the user's cache folder ([`Store::remote_cache_dir`]); None when it has none.
pub fn cache_path(store: &Store, collection: &str, version: u32) -> Option<PathBuf> {
    let base = if store.is_remote() {
        // A remote store's caches are kept in the user's cache folder.
        store.remote_cache_dir()?
    } else {
        store.root().join(".cablekeep")
    };
    Some(
        base.join("cache/trees")
            .join(format!("{collection}-v{version}.tree")),
    )
}

/// Why a cache cannot be used: it is rebuilt from the archive.
#[derive(Debug, thiserror::Error)]
#[error("the tree cache {path} is damaged or stale: {why}")]
pub struct Damaged {
    /// The cache file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub why: String,
}

/// The path a manifest line names (after `<64 hex digits>` and two spaces); empty when it is
/// not a manifest line.
pub fn path_of(line: &[u8]) -> &[u8] {
    match line.get(64..66) {
        Some(b"  ") => &line[66..],
        _ => &[],
    }
}

/// Writes the cache of a version whose payload manifest is `manifest` (its lines at `spans`),
/// atomically, when the tree over those lines has `root`. Returns false, writing nothing, when
/// the lines are not in path order (the cache could not find a cable's files) or the tree is
/// not `root`.
pub fn write(path: &Path, manifest: &[u8], spans: &[(usize, usize)], root: &Hash) -> Result<bool> {
    let sorted = spans
        .windows(2)
        .all(|w| path_of(&manifest[w[0].0..w[0].1]) <= path_of(&manifest[w[1].0..w[1].1]));
    if !sorted {
        return Ok(false);
    }
    let blocks: Vec<(Hash, Vec<u8>)> = spans
        .par_chunks(BLOCK_LINES)
        .map(|chunk| {
            let lines: Vec<&[u8]> = chunk.iter().map(|&(s, e)| &manifest[s..e]).collect();
            let leaves: Vec<Hash> = lines.iter().map(|l| merkle::leaf_hash(l)).collect();
            let root = merkle::root_of(&leaves);
            deflate(&lines.join(&b'\n')).map(|d| (root, d))
        })
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io(path, e))?;
    let roots: Vec<Hash> = blocks.iter().map(|(r, _)| *r).collect();
    if root_above(&roots, spans.len()) != *root {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = crate::fsutil::temp_file_in(dir)?;
    // Written as it goes: a copy of the whole file in memory would be as large as the blocks.
    let mut out = std::io::BufWriter::new(tmp.as_file_mut());
    let written = write_parts(&mut out, spans.len(), root, &blocks).and_then(|()| out.flush());
    drop(out);
    written.map_err(|e| Error::io(tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    crate::fsutil::fsync_parent(path)?;
    Ok(true)
}

/// The header, the table and the blocks, in the layout of the module's documentation.
fn write_parts(
    out: &mut impl Write,
    size: usize,
    root: &Hash,
    blocks: &[(Hash, Vec<u8>)],
) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&(size as u64).to_le_bytes())?;
    out.write_all(root)?;
    out.write_all(&(blocks.len() as u64).to_le_bytes())?;
    for (r, _) in blocks {
        out.write_all(r)?;
    }
    let mut offset = 0u64;
    for (_, d) in blocks {
        out.write_all(&offset.to_le_bytes())?;
        out.write_all(&(d.len() as u32).to_le_bytes())?;
        offset += d.len() as u64;
    }
    for (_, d) in blocks {
        out.write_all(d)?;
    }
    Ok(())
}

fn deflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes)?;
    enc.finish()
}

/// The root of a tree of `size` leaves from the roots of its blocks.
fn root_above(block_roots: &[Hash], size: usize) -> Hash {
    if size == 0 {
        return merkle::empty_root();
    }
    // Blocks are complete subtrees but the last, so the levels above pair them bottom-up.
    Tree::new(block_roots.to_vec()).root()
}

/// One block read back and checked: its lines and its subtree.
struct Block {
    lines: Vec<Vec<u8>>,
    tree: Tree,
}

/// An opened cache whose blocks' roots lead to the checkpoint's root.
pub struct TreeCache {
    path: PathBuf,
    file: File,
    size: usize,
    /// The tree above the blocks: level 0 are the blocks' subtree roots.
    upper: Tree,
    /// Each block's offset (from `data_start`) and length.
    table: Vec<(u64, u32)>,
    data_start: u64,
    blocks: HashMap<usize, Block>,
}

impl TreeCache {
    /// Opens the cache at `path` for the tree of `size` leaves and root `root` (the
    /// checkpoint's). Ok(None) when there is none; Err when it is damaged or of another tree.
    pub fn open(
        path: &Path,
        size: u64,
        root: &Hash,
    ) -> std::result::Result<Option<TreeCache>, Damaged> {
        let damaged = |why: String| Damaged {
            path: path.to_path_buf(),
            why,
        };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(damaged(e.to_string())),
        };
        let meta = file.metadata().map_err(|e| damaged(e.to_string()))?;
        if !meta.is_file() {
            return Err(damaged("not a regular file".into()));
        }
        let mut header = [0u8; HEADER_BYTES as usize];
        file.read_exact(&mut header)
            .map_err(|e| damaged(format!("header: {e}")))?;
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let count = size.div_ceil(BLOCK_LINES as u64);
        if &header[..8] != MAGIC
            || u64_at(8) != size
            || header[16..48] != root[..]
            || u64_at(48) != count
        {
            return Err(damaged(
                "it is not the cache of this checkpoint's tree".into(),
            ));
        }
        let data_start = HEADER_BYTES + count * ENTRY_BYTES;
        if meta.len() < data_start {
            return Err(damaged("it is cut short".into()));
        }
        let mut table_bytes = vec![0u8; (count * ENTRY_BYTES) as usize];
        file.read_exact(&mut table_bytes)
            .map_err(|e| damaged(format!("table: {e}")))?;
        let (roots, entries) = table_bytes.split_at(count as usize * 32);
        let roots: Vec<Hash> = roots
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        let table: Vec<(u64, u32)> = entries
            .chunks_exact(12)
            .map(|e| {
                let mut o = [0u8; 8];
                o.copy_from_slice(&e[..8]);
                let mut l = [0u8; 4];
                l.copy_from_slice(&e[8..]);
                (u64::from_le_bytes(o), u32::from_le_bytes(l))
            })
            .collect();
        if root_above(&roots, size as usize) != *root {
            return Err(damaged(
                "its blocks do not lead to the checkpoint's root".into(),
            ));
        }
        Ok(Some(TreeCache {
            path: path.to_path_buf(),
            file,
            size: size as usize,
            upper: Tree::new(roots),
            table,
            data_start,
            blocks: HashMap::new(),
        }))
    }

    fn damaged(&self, why: String) -> Damaged {
        Damaged {
            path: self.path.clone(),
            why,
        }
    }

    /// Reads block `b`, checks it against its subtree root and keeps it.
    fn load(&mut self, b: usize) -> std::result::Result<&Block, Damaged> {
        if !self.blocks.contains_key(&b) {
            let block = self.read_block(b)?;
            self.blocks.insert(b, block);
        }
        self.blocks
            .get(&b)
            .ok_or_else(|| self.damaged(format!("block {b}")))
    }

    fn read_block(&mut self, b: usize) -> std::result::Result<Block, Damaged> {
        let &(offset, len) = self
            .table
            .get(b)
            .ok_or_else(|| self.damaged(format!("no block {b}")))?;
        let mut deflated = vec![0u8; (len as u64).min(MAX_BLOCK_BYTES) as usize];
        let read = self
            .file
            .seek(SeekFrom::Start(self.data_start + offset))
            .and_then(|_| self.file.read_exact(&mut deflated));
        read.map_err(|e| self.damaged(format!("block {b}: {e}")))?;
        let mut bytes = Vec::new();
        DeflateDecoder::new(&deflated[..])
            .take(MAX_BLOCK_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| self.damaged(format!("block {b}: {e}")))?;
        let expected = BLOCK_LINES.min(self.size - b * BLOCK_LINES);
        let lines: Vec<Vec<u8>> = bytes.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
        let leaves: Vec<Hash> = lines.iter().map(|l| merkle::leaf_hash(l)).collect();
        let tree = Tree::new(leaves);
        if lines.len() != expected || Some(tree.root()) != self.upper.node(0, b) {
            return Err(self.damaged(format!("block {b} is not the tree's")));
        }
        Ok(Block { lines, tree })
    }

    fn blocks_count(&self) -> usize {
        self.table.len()
    }

    /// The path of the first line of block `b`.
    fn first_path(&mut self, b: usize) -> std::result::Result<Vec<u8>, Damaged> {
        let block = self.load(b)?;
        Ok(block
            .lines
            .first()
            .map(|l| path_of(l).to_vec())
            .unwrap_or_default())
    }

    /// The lines (with their leaf index) whose path starts with `prefix`, in order.
    pub fn lines_under(
        &mut self,
        prefix: &[u8],
    ) -> std::result::Result<Vec<(usize, Vec<u8>)>, Damaged> {
        // The first block whose first path is at or after the prefix; the lines may start in
        // the block before it.
        let (mut lo, mut hi) = (0, self.blocks_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.first_path(mid)?.as_slice() < prefix {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut found = Vec::new();
        let mut b = lo.saturating_sub(1);
        while b < self.blocks_count() {
            let block = self.load(b)?;
            for (j, line) in block.lines.iter().enumerate() {
                let path = path_of(line);
                if path.starts_with(prefix) {
                    found.push((b * BLOCK_LINES + j, line.clone()));
                } else if path > prefix {
                    return Ok(found);
                }
            }
            b += 1;
        }
        Ok(found)
    }

    /// The hashes that prove the leaves at `indices` together ([`Tree::multi_path`]); their
    /// blocks must have been read.
    pub fn multi_path(&self, indices: &[usize]) -> std::result::Result<Vec<Hash>, Damaged> {
        merkle::multi_path_with(self.size, indices, |level, i| {
            if level < BLOCK_BITS {
                let b = i >> (BLOCK_BITS - level);
                let local = i - (b << (BLOCK_BITS - level));
                self.blocks.get(&b)?.tree.node(level, local)
            } else {
                self.upper.node(level - BLOCK_BITS, i)
            }
        })
        .ok_or_else(|| self.damaged("a node of the audit path is missing".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(n: usize) -> Vec<u8> {
        let mut m = Vec::new();
        for i in 0..n {
            m.extend_from_slice(
                format!("{:064x}  data/cables/C{:06}/{}\n", i, i / 3, i % 3).as_bytes(),
            );
        }
        m
    }

    #[test]
    fn cached_paths_are_the_full_trees_paths_and_damage_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        for n in [1usize, 2, 255, 256, 257, 700, 1025] {
            let m = manifest(n);
            let spans = super::super::manifest_line_spans(&m);
            let lines: Vec<&[u8]> = spans.iter().map(|&(s, e)| &m[s..e]).collect();
            let tree = Tree::new(merkle::leaf_hashes(&lines));
            let path = dir.path().join(format!("t{n}.tree"));
            assert!(write(&path, &m, &spans, &tree.root()).unwrap());
            let mut cache = TreeCache::open(&path, n as u64, &tree.root())
                .unwrap()
                .unwrap();
            for cable in [0, (n - 1) / 3, n / 6] {
                let prefix = format!("data/cables/C{cable:06}/");
                let found = cache.lines_under(prefix.as_bytes()).unwrap();
                let expected: Vec<usize> = (0..n).filter(|i| i / 3 == cable).collect();
                let indices: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
                assert_eq!(indices, expected, "n {n} cable {cable}");
                for (i, line) in &found {
                    assert_eq!(line.as_slice(), lines[*i]);
                }
                assert_eq!(
                    cache.multi_path(&indices).unwrap(),
                    tree.multi_path(&indices).unwrap()
                );
            }
            assert!(
                cache.lines_under(b"data/cables/X/").unwrap().is_empty(),
                "n {n}"
            );
            // Another tree's root: refused.
            let other = merkle::leaf_hash(b"other");
            assert!(TreeCache::open(&path, n as u64, &other).is_err());
            // A flipped byte in the blocks: noticed when the block is read.
            let mut bytes = std::fs::read(&path).unwrap();
            let last = bytes.len() - 2;
            bytes[last] ^= 0x55;
            std::fs::write(&path, &bytes).unwrap();
            let opened = TreeCache::open(&path, n as u64, &tree.root());
            if let Ok(Some(mut cache)) = opened {
                let last_cable = (n - 1) / 3;
                let prefix = format!("data/cables/C{last_cable:06}/");
                assert!(cache.lines_under(prefix.as_bytes()).is_err(), "n {n}");
            }
        }
    }

    #[test]
    fn a_manifest_out_of_path_order_gets_no_cache() {
        let m = b"0000000000000000000000000000000000000000000000000000000000000000  data/b\n\
0000000000000000000000000000000000000000000000000000000000000000  data/a\n";
        let spans = super::super::manifest_line_spans(m);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tree");
        assert!(!write(&path, m, &spans, &[0; 32]).unwrap());
        assert!(!path.exists());
    }
}
