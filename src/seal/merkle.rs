//! The Merkle tree of RFC 9162 section 2.1 (the tree of Certificate Transparency, RFC 6962):
//! SHA-256, leaf hash `SHA-256(0x00 || data)`, node hash `SHA-256(0x01 || left || right)`, a
//! tree of n leaves split at the largest power of two below n. The 0x00/0x01 prefixes keep a
//! leaf from passing for a node (second preimages).
//!
//! The root is computed from the leaf hashes in one pass with a stack of complete subtrees
//! (at most 64 hashes besides the leaves); an audit path for one leaf walks the subtrees
//! beside the leaf's path once, so both cost one hash per node of the tree at most.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, a node hash or a root.
pub type Hash = [u8; 32];

/// The most hashes an audit path can have (a tree of at most 2^64 leaves).
pub const MAX_PATH: usize = 64;

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: the SHA-256 of nothing (RFC 9162 section 2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// Builds the root from leaf hashes added one at a time, keeping only the roots of the complete
/// subtrees seen so far (one per set bit of the count).
#[derive(Debug, Default, Clone)]
pub struct RootBuilder {
    /// Roots of complete subtrees, largest first, with their sizes (powers of two).
    stack: Vec<(Hash, u64)>,
    count: u64,
}

impl RootBuilder {
    /// A builder holding no leaves: its root is the empty tree's, `SHA-256("")`.
    pub fn new() -> RootBuilder {
        RootBuilder::default()
    }

    /// Adds the next leaf's data.
    pub fn push_data(&mut self, data: &[u8]) {
        self.push_leaf_hash(leaf_hash(data));
    }

    /// Adds the next leaf's hash.
    pub fn push_leaf_hash(&mut self, hash: Hash) {
        let mut hash = hash;
        let mut size = 1u64;
        while let Some(&(left, left_size)) = self.stack.last() {
            if left_size != size {
                break;
            }
            self.stack.pop();
            hash = node_hash(&left, &hash);
            size *= 2;
        }
        self.stack.push((hash, size));
        self.count += 1;
    }

    /// The number of leaves added.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True when no leaf was added (the root is then the empty tree's).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The root of the tree of the leaves added: the complete subtrees joined from the right,
    /// which is the split at the largest power of two at every level.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.stack.iter().rev();
        let Some(&(mut hash, _)) = subtrees.next() else {
            return empty_root();
        };
        for (left, _) in subtrees {
            hash = node_hash(left, &hash);
        }
        hash
    }
}

/// The leaf hashes of many leaves, on all cores.
pub fn leaf_hashes(leaves: &[&[u8]]) -> Vec<Hash> {
    use rayon::prelude::*;
    leaves.par_iter().map(|data| leaf_hash(data)).collect()
}

/// The root of the tree over `leaves` (leaf hashes).
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut builder = RootBuilder::new();
    for leaf in leaves {
        builder.push_leaf_hash(*leaf);
    }
    builder.root()
}

/// The largest power of two smaller than `n` (n >= 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
    if k == n { k / 2 } else { k }
}

/// The audit path of leaf `index` in the tree over `leaves` (leaf hashes), from the leaf's
/// sibling up to the root's child (RFC 9162 section 2.1.3.1). None when `index` is not a leaf.
pub fn audit_path(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    let (mut lo, mut hi, mut m) = (0usize, leaves.len(), index);
    // Walk down from the root, keeping the subtree beside the leaf's branch at each level.
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            path.push(root_of(&leaves[lo + k..hi]));
            hi = lo + k;
        } else {
            path.push(root_of(&leaves[lo..lo + k]));
            lo += k;
            m -= k;
        }
    }
    path.reverse();
    Some(path)
}

/// A whole tree kept in memory, level by level (about twice the leaf hashes), for many audit
/// paths of one tree: each path is then read, not computed. Bottom-up pairing with the last
/// node of an odd level carried up unchanged is the same tree as the recursive split.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[0]` are the leaf hashes; the last level holds the root alone.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over these leaf hashes, in order (FORMAT.md section 9.1), with every level kept so
    /// that audit paths are read, not computed.
    pub fn new(leaves: Vec<Hash>) -> Tree {
        use rayon::prelude::*;
        let mut levels = vec![leaves];
        while let Some(level) = levels.last().filter(|l| l.len() > 1) {
            let next = level
                .par_chunks(2)
                .map(|pair| match pair.get(1) {
                    Some(right) => node_hash(&pair[0], right),
                    None => pair[0],
                })
                .collect();
            levels.push(next);
        }
        Tree { levels }
    }

    /// The number of leaves.
    pub fn size(&self) -> usize {
        self.levels[0].len()
    }

    /// The tree's root; for no leaves, `SHA-256("")`.
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|l| l.first()) {
            Some(root) if self.size() > 0 => *root,
            _ => empty_root(),
        }
    }

    /// Node `index` of level `level` (level 0: the leaf hashes); None when there is none.
    pub fn node(&self, level: usize, index: usize) -> Option<Hash> {
        self.levels.get(level).and_then(|l| l.get(index)).copied()
    }

    /// The audit path of leaf `index`, leaf to root; None when it is not a leaf.
    pub fn audit_path(&self, index: usize) -> Option<Vec<Hash>> {
        if index >= self.size() {
            return None;
        }
        let mut path = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(i ^ 1) {
                path.push(*sibling);
            }
            i >>= 1;
        }
        Some(path)
    }
}

impl Tree {
    /// The hashes that prove the leaves at `indices` (sorted, distinct) together: for each
    /// level from the leaves up, left to right, the sibling of each node known so far that is
    /// not itself known. One leaf's is its audit path; two neighbours share most of theirs.
    /// None when an index is not a leaf or the indices are not sorted and distinct.
    pub fn multi_path(&self, indices: &[usize]) -> Option<Vec<Hash>> {
        multi_path_with(self.size(), indices, |level, i| self.node(level, i))
    }
}

/// The number of nodes of each level of a tree of `size` leaves, from the leaves up to the root
/// (levels pair bottom-up, the last node of an odd level carried up).
pub fn level_lengths(size: usize) -> Vec<usize> {
    let mut lengths = vec![size];
    let mut n = size;
    while n > 1 {
        n = n.div_ceil(2);
        lengths.push(n);
    }
    lengths
}

/// [`Tree::multi_path`] for a tree of `size` leaves whose nodes are read through `node(level,
/// index)` (level 0: the leaf hashes), so that a caller can keep only the parts it needs. The
/// siblings read are those of the proven leaves' branches. None when an index is not a leaf,
/// the indices are not sorted and distinct, or `node` has no node the path needs.
pub fn multi_path_with(
    size: usize,
    indices: &[usize],
    node: impl Fn(usize, usize) -> Option<Hash>,
) -> Option<Vec<Hash>> {
    let sorted = indices.windows(2).all(|w| w[0] < w[1]);
    if !sorted || indices.last().is_some_and(|&i| i >= size) {
        return None;
    }
    let lengths = level_lengths(size);
    let mut path = Vec::new();
    let mut known: Vec<usize> = indices.to_vec();
    for (level, &width) in lengths[..lengths.len() - 1].iter().enumerate() {
        let mut next = Vec::new();
        let mut j = 0;
        while j < known.len() {
            let i = known[j];
            let pair_known = i.is_multiple_of(2) && known.get(j + 1) == Some(&(i + 1));
            if pair_known {
                j += 1;
            } else if (i ^ 1) < width {
                path.push(node(level, i ^ 1)?);
            }
            next.push(i / 2);
            j += 1;
        }
        known = next;
    }
    Some(path)
}

/// The root that `path` ([`Tree::multi_path`]) leads to from the leaf hashes `leaves`, given
/// with their indices, in a tree of `size` leaves.
pub fn root_from_multi_path(
    size: u64,
    leaves: &[(u64, Hash)],
    path: &[Hash],
) -> Result<Hash, ProofError> {
    let mut known: Vec<(u64, Hash)> = leaves.to_vec();
    known.sort_by_key(|(i, _)| *i);
    if let Some(&(index, _)) = known.iter().find(|(i, _)| *i >= size) {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if let Some(w) = known.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ProofError::Duplicate { index: w[0].0 });
    }
    let mut hashes = path.iter();
    let mut take = || hashes.next().copied().ok_or(ProofError::TooShort);
    let mut width = size;
    while width > 1 {
        let mut next = Vec::with_capacity(known.len());
        let mut j = 0;
        while j < known.len() {
            let (i, h) = known[j];
            let parent = if i % 2 == 1 {
                node_hash(&take()?, &h)
            } else if i + 1 >= width {
                // The last node of an odd level is carried up.
                h
            } else if let Some(&(_, right)) = known.get(j + 1).filter(|(k, _)| *k == i + 1) {
                j += 1;
                node_hash(&h, &right)
            } else {
                node_hash(&h, &take()?)
            };
            next.push((i / 2, parent));
            j += 1;
        }
        known = next;
        width = width.div_ceil(2);
    }
    let left_over = hashes.len();
    if left_over > 0 {
        return Err(ProofError::TooLong { left_over });
    }
    match known.as_slice() {
        [(0, root)] => Ok(*root),
        _ => Err(ProofError::TooShort),
    }
}

/// Why an inclusion proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// A proven leaf's index is not below the tree's size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// The leaf's index, from 0.
        index: u64,
        /// The number of leaves of the tree.
        size: u64,
    },
    /// The audit path's length is not the one leaf `index` of a tree of `size` leaves needs.
    #[error("the audit path has {given} hashes; leaf {index} of a tree of {size} needs {needed}")]
    WrongLength {
        /// The leaf's index, from 0.
        index: u64,
        /// The number of leaves of the tree.
        size: u64,
        /// Hashes the path holds.
        given: usize,
        /// Hashes the path must hold.
        needed: usize,
    },
    /// Two proven files name the same leaf.
    #[error("leaf index {index} is given twice")]
    Duplicate {
        /// The leaf's index, from 0.
        index: u64,
    },
    /// The path ran out before the proven leaves reached the root.
    #[error("the audit path has too few hashes")]
    TooShort,
    /// Hashes were left over when the proven leaves reached the root.
    #[error("the audit path has {left_over} hashes too many")]
    TooLong {
        /// Hashes of the path not used.
        left_over: usize,
    },
    /// The path leads to another root than the checkpoint's: a file or a hash is not the one
    /// sealed.
    #[error("the audit path leads to root {computed}, not to the root {expected}")]
    RootMismatch {
        /// The root the path leads to, lower-case hex.
        computed: String,
        /// The root expected (the checkpoint's), lower-case hex.
        expected: String,
    },
}

/// The number of hashes in the audit path of leaf `index` of a tree of `size` leaves: the
/// steps of the verification below, one per level where the leaf's branch has a sibling.
pub fn path_length(index: u64, size: u64) -> usize {
    let (mut fn_, mut sn, mut len) = (index, size.saturating_sub(1), 0usize);
    while sn > 0 {
        len += 1;
        // On the right edge, the branch rises without a sibling until it is a right child.
        while fn_ & 1 == 0 && fn_ == sn && fn_ != 0 {
            fn_ >>= 1;
            sn >>= 1;
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    len
}

/// The root that an audit path leads to from leaf hash `leaf` at `index` in a tree of `size`
/// leaves (RFC 9162 section 2.1.3.2).
pub fn root_from_path(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let needed = path_length(index, size);
    if path.len() != needed {
        return Err(ProofError::WrongLength {
            index,
            size,
            given: path.len(),
            needed,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    Ok(r)
}

/// Checks that `path` proves leaf hash `leaf` at `index` in the tree of `size` leaves whose
/// root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_path(index, size, leaf, path)?;
    if &computed == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            computed: hex::encode(computed),
            expected: hex::encode(root),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The eight leaves of the Certificate Transparency reference tree and the roots of its first
    /// 1..8 leaves, with two inclusion proofs: from google/certificate-transparency-go,
    /// `merkle/log_verifier_test.go` (the vectors Trillian and RFC 6962 implementations share;
    /// there the leaf numbers are 1-based).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    /// (leaf index, tree size, audit path)
    const PROOFS: [(usize, usize, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn reference_leaves() -> Vec<Hash> {
        LEAVES
            .iter()
            .map(|h| leaf_hash(&hex::decode(h).unwrap()))
            .collect()
    }

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// The tree as RFC 9162 defines it, recursively, for comparison.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n);
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    fn naive_path(leaves: &[Hash], m: usize) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n);
        if m < k {
            let mut p = naive_path(&leaves[..k], m);
            p.push(naive_root(&leaves[k..]));
            p
        } else {
            let mut p = naive_path(&leaves[k..], m - k);
            p.push(naive_root(&leaves[..k]));
            p
        }
    }

    #[test]
    fn roots_match_the_certificate_transparency_vectors() {
        let leaves = reference_leaves();
        for (size, root) in ROOTS.iter().enumerate() {
            assert_eq!(
                hex::encode(root_of(&leaves[..size + 1])),
                *root,
                "size {}",
                size + 1
            );
        }
        assert_eq!(
            hex::encode(root_of(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn audit_paths_match_the_certificate_transparency_vectors() {
        let leaves = reference_leaves();
        for (index, size, expected) in PROOFS {
            let path = audit_path(&leaves[..size], index).unwrap();
            let hexes: Vec<String> = path.iter().map(hex::encode).collect();
            assert_eq!(hexes, expected, "leaf {index} of {size}");
            let root = h(ROOTS[size - 1]);
            verify_inclusion(index as u64, size as u64, &leaves[index], &path, &root).unwrap();
        }
    }

    #[test]
    fn altered_proofs_fail() {
        let leaves = reference_leaves();
        let root = h(ROOTS[7]);
        let path = audit_path(&leaves, 5).unwrap();
        assert!(verify_inclusion(5, 8, &leaves[5], &path, &root).is_ok());
        assert!(verify_inclusion(4, 8, &leaves[5], &path, &root).is_err());
        assert!(verify_inclusion(6, 8, &leaves[5], &path, &root).is_err());
        assert!(verify_inclusion(5, 16, &leaves[5], &path, &root).is_err());
        assert!(verify_inclusion(5, 4, &leaves[5], &path, &root).is_err());
        assert!(verify_inclusion(8, 8, &leaves[5], &path, &root).is_err());
        assert!(verify_inclusion(5, 8, &leaves[4], &path, &root).is_err());
        let mut swapped = path.clone();
        swapped.swap(0, 1);
        assert!(verify_inclusion(5, 8, &leaves[5], &swapped, &root).is_err());
        let mut longer = path.clone();
        longer.push(root);
        assert!(verify_inclusion(5, 8, &leaves[5], &longer, &root).is_err());
        assert!(verify_inclusion(5, 8, &leaves[5], &path[..2], &root).is_err());
    }

    proptest! {
        #[test]
        fn root_and_paths_agree_with_the_recursive_definition(n in 0usize..70, pick in 0usize..70) {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let root = root_of(&leaves);
            prop_assert_eq!(root, naive_root(&leaves));
            if n > 0 {
                let m = pick % n;
                let path = audit_path(&leaves, m).unwrap();
                prop_assert_eq!(&path, &naive_path(&leaves, m));
                let tree = Tree::new(leaves.clone());
                prop_assert_eq!(tree.root(), root);
                prop_assert_eq!(&tree.audit_path(m).unwrap(), &path);
                prop_assert_eq!(path.len(), path_length(m as u64, n as u64));
                prop_assert!(verify_inclusion(m as u64, n as u64, &leaves[m], &path, &root).is_ok());
                let multi = tree.multi_path(&[m]).unwrap();
                prop_assert_eq!(&multi, &path);
                // Any set of leaves proven together.
                let set: Vec<usize> = (0..n).filter(|i| (i * 7 + pick) % 3 == 0 || *i == m).collect();
                let multi = tree.multi_path(&set).unwrap();
                let given: Vec<(u64, Hash)> = set.iter().map(|&i| (i as u64, leaves[i])).collect();
                prop_assert_eq!(root_from_multi_path(n as u64, &given, &multi), Ok(root));
                if !multi.is_empty() {
                    prop_assert!(root_from_multi_path(n as u64, &given, &multi[1..]).is_err());
                    let mut longer = multi.clone();
                    longer.push(root);
                    prop_assert!(root_from_multi_path(n as u64, &given, &longer).is_err());
                }
                if n > 1 {
                    let other = (m + 1) % n;
                    prop_assert!(verify_inclusion(other as u64, n as u64, &leaves[m], &path, &root).is_err());
                }
            }
        }
    }
}
