//! [`HashedBlocks`]: a remote zip read in blocks that are kept for a while and hashed in file
//! order as they arrive, so that `verify` checks the bag and hashes the whole zip in one reading
//! of it (two readers, the bag's checks and the whole-file digest, would fetch every byte twice
//! from the remote store).

use crate::bag::ReadAt;
use crate::hash::{Digests, StreamDigests};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

/// Bytes a block holds (the last one fewer).
const BLOCK: u64 = 1 << 20;
/// Blocks kept at most: a bound on memory (64 MiB), whatever the zip's size.
const KEPT: usize = 64;

/// A [`ReadAt`] over a remote zip that fetches it a block at a time, keeps the last blocks
/// read, and hands each block to the digests once every block before it has been (the bag's
/// checks read the zip front to back, the central directory apart); [`HashedBlocks::finish`]
/// fetches what was not hashed on the way (a block dropped before its turn, the part never read)
/// and gives the digests of the whole.
pub(super) struct HashedBlocks {
    source: Arc<dyn ReadAt>,
    len: u64,
    state: Mutex<State>,
    /// Signalled when a block that readers wait for has been fetched (or failed).
    fetched: Condvar,
}

struct State {
    /// Blocks being fetched now: a reader that needs one waits for it instead of fetching it
    /// again (the checks read neighbouring entries on several threads at once).
    fetching: HashSet<u64>,
    blocks: HashMap<u64, Arc<Vec<u8>>>,
    /// Block numbers, least recently read first.
    order: VecDeque<u64>,
    /// The next block to hash.
    next: u64,
    digests: Option<StreamDigests>,
}

impl HashedBlocks {
    pub(super) fn new(source: Arc<dyn ReadAt>) -> std::io::Result<HashedBlocks> {
        Ok(HashedBlocks {
            len: source.len()?,
            source,
            fetched: Condvar::new(),
            state: Mutex::new(State {
                fetching: HashSet::new(),
                blocks: HashMap::new(),
                order: VecDeque::new(),
                next: 0,
                digests: Some(StreamDigests::start()),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A reader that panicked left the blocks as they were: still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn blocks(&self) -> u64 {
        self.len.div_ceil(BLOCK)
    }

    /// Block `index` from the source, whole.
    fn fetch(&self, index: u64) -> std::io::Result<Arc<Vec<u8>>> {
        let start = index * BLOCK;
        let mut bytes = vec![0; (self.len - start).min(BLOCK) as usize];
        crate::bag::zip_read::read_exact_at(&*self.source, &mut bytes, start)?;
        Ok(Arc::new(bytes))
    }

    /// Block `index`, kept or fetched (outside the lock: readers fetch different blocks in
    /// parallel, and wait for one another's fetch of the same block).
    fn block(&self, index: u64) -> std::io::Result<Arc<Vec<u8>>> {
        let mut state = self.lock();
        loop {
            if let Some(block) = state.blocks.get(&index).cloned() {
                state.touch(index);
                return Ok(block);
            }
            if !state.fetching.contains(&index) {
                break;
            }
            state = self.fetched.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.fetching.insert(index);
        drop(state);
        let fetched = self.fetch(index);
        let mut state = self.lock();
        state.fetching.remove(&index);
        let block = fetched.map(|block| {
            let block = state.blocks.entry(index).or_insert(block).clone();
            state.touch(index);
            state.hash_in_order();
            state.evict();
            block
        });
        drop(state);
        self.fetched.notify_all();
        block
    }

    /// The digests of the whole zip and its length: the blocks not hashed yet are read (again,
    /// when one was dropped before its turn) and hashed in order.
    pub(super) fn finish(&self) -> std::io::Result<(Digests, u64)> {
        let mut state = self.lock();
        while state.next < self.blocks() {
            let index = state.next;
            let block = match state.blocks.get(&index) {
                Some(block) => block.clone(),
                None => self.fetch(index)?,
            };
            if let Some(d) = state.digests.as_mut() {
                d.update_shared(block);
            }
            state.next += 1;
        }
        let digests = state
            .digests
            .take()
            .ok_or_else(|| std::io::Error::other("the zip's digests were already taken"))?;
        Ok(digests.finish())
    }
}

impl State {
    fn touch(&mut self, index: u64) {
        if let Some(at) = self.order.iter().position(|&i| i == index) {
            self.order.remove(at);
        }
        self.order.push_back(index);
    }

    /// Hands over every kept block whose turn it is.
    fn hash_in_order(&mut self) {
        while let Some(block) = self.blocks.get(&self.next).cloned() {
            if let Some(d) = self.digests.as_mut() {
                d.update_shared(block);
            }
            self.next += 1;
        }
    }

    /// Drops blocks beyond the bound, least recently read first: hashed ones, unless the blocks
    /// waiting for their turn (the central directory, read alongside the entries) hold more
    /// than half the room, which the blocks in use need (those dropped are read again by
    /// [`HashedBlocks::finish`]).
    fn evict(&mut self) {
        while self.blocks.len() > KEPT {
            let next = self.next;
            let waiting = self.order.iter().filter(|&&i| i >= next).count();
            let droppable = |i: u64| (i >= next) == (waiting > KEPT / 2);
            let at = self.order.iter().position(|&i| droppable(i)).unwrap_or(0);
            if let Some(index) = self.order.remove(at) {
                self.blocks.remove(&index);
            }
        }
    }
}

impl ReadAt for HashedBlocks {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let index = offset / BLOCK;
        let block = self.block(index)?;
        let start = (offset - index * BLOCK) as usize;
        let n = buf.len().min(block.len() - start);
        buf[..n].copy_from_slice(&block[start..start + n]);
        Ok(n)
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Bytes read at offsets, counting them.
    struct Counted(Vec<u8>, AtomicU64);

    impl ReadAt for Counted {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            let n = self.0.read_at(buf, offset)?;
            self.1.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
        fn len(&self) -> std::io::Result<u64> {
            Ok(self.0.len() as u64)
        }
    }

    #[test]
    fn the_digests_are_the_wholes_whatever_was_read_and_in_what_order() {
        let bytes: Vec<u8> = (0..(5 * BLOCK + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let expected = crate::hash::digest_source(&bytes, std::path::Path::new("t")).unwrap();
        let patterns: [&[u64]; 4] = [&[], &[0, 1, 2, 3, 4, 5], &[5, 4, 0, 2, 1, 3], &[3, 3, 5, 0]];
        for pattern in patterns {
            let source = Arc::new(Counted(bytes.clone(), AtomicU64::new(0)));
            let blocks = HashedBlocks::new(source.clone()).unwrap();
            for &b in pattern {
                let mut buf = vec![0; 1000];
                let n = blocks.read_at(&mut buf, b * BLOCK + 17).unwrap();
                let at = (b * BLOCK + 17) as usize;
                assert_eq!(&buf[..n], &bytes[at..at + n]);
            }
            assert_eq!(blocks.finish().unwrap(), expected, "{pattern:?}");
            // Each byte fetched once: the blocks read were kept until hashed.
            assert_eq!(source.1.load(Ordering::Relaxed), bytes.len() as u64);
        }
    }

    #[test]
    fn readers_on_many_threads_fetch_each_block_once() {
        let bytes: Vec<u8> = (0..(8 * BLOCK)).map(|i| (i % 101) as u8).collect();
        let expected = crate::hash::digest_source(&bytes, std::path::Path::new("t")).unwrap();
        let source = Arc::new(Counted(bytes.clone(), AtomicU64::new(0)));
        let blocks = HashedBlocks::new(source.clone()).unwrap();
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let blocks = &blocks;
                let bytes = &bytes;
                s.spawn(move || {
                    let mut buf = vec![0; 4096];
                    for at in (t * 4096..8 * BLOCK).step_by(8 * 4096) {
                        let n = blocks.read_at(&mut buf, at).unwrap();
                        assert_eq!(&buf[..n], &bytes[at as usize..at as usize + n]);
                    }
                });
            }
        });
        assert_eq!(blocks.finish().unwrap(), expected);
        assert_eq!(source.1.load(Ordering::Relaxed), bytes.len() as u64);
    }

    #[test]
    fn memory_stays_bounded_and_a_dropped_block_is_read_again() {
        let n = KEPT as u64 + 10;
        let bytes: Vec<u8> = (0..n * BLOCK).map(|i| (i % 13) as u8).collect();
        let expected = crate::hash::digest_source(&bytes, std::path::Path::new("t")).unwrap();
        let source = Arc::new(Counted(bytes.clone(), AtomicU64::new(0)));
        let blocks = HashedBlocks::new(source.clone()).unwrap();
        let mut buf = [0u8; 10];
        // Every block but the first, back to front: none can be hashed before the first.
        for b in (1..n).rev() {
            blocks.read_at(&mut buf, b * BLOCK).unwrap();
            assert!(blocks.lock().blocks.len() <= KEPT);
        }
        assert_eq!(blocks.finish().unwrap(), expected);
        let fetched = source.1.load(Ordering::Relaxed);
        assert!(
            fetched > bytes.len() as u64,
            "the dropped blocks were read again"
        );
        assert!(fetched < 2 * bytes.len() as u64);
    }
}
