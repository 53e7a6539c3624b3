//! Fixity digests: SHA-256 and SHA-512 of the same bytes, computed in one pass.

use crate::error::{IoContext, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// SHA-512 behind `sha2`'s `Digest` interface, computed by `ring` (OpenSSL's assembly).
///
/// `sha2` has no SHA-512 instructions to use on today's x86 CPUs (SHA-NI covers SHA-256 only),
/// and its AVX2 code is slower than `ring`'s on the same buffers (`docs/PERFORMANCE.md`).
/// SHA-512 is a large share of `bundle`'s and `verify`'s CPU, so cablekeep takes `ring`'s.
/// Everything else uses the `Digest` trait as it would with `sha2::Sha512`; a test checks that
/// the two give the same digests for every length up to several blocks and for input fed in
/// pieces.
#[derive(Clone)]
pub(crate) struct Sha512(ring::digest::Context);

impl Default for Sha512 {
    fn default() -> Self {
        Sha512(ring::digest::Context::new(&ring::digest::SHA512))
    }
}

impl sha2::digest::HashMarker for Sha512 {}

impl sha2::digest::OutputSizeUser for Sha512 {
    type OutputSize = <sha2::Sha512 as sha2::digest::OutputSizeUser>::OutputSize;
}

impl sha2::digest::Update for Sha512 {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

impl sha2::digest::FixedOutput for Sha512 {
    fn finalize_into(self, out: &mut sha2::digest::Output<Self>) {
        out.copy_from_slice(self.0.finish().as_ref());
    }
}

/// The two digests cablekeep records for every file, in lower-case hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digests {
    pub sha256: String,
    pub sha512: String,
}

/// Feeds bytes to SHA-256 and SHA-512 at once and counts them.
#[derive(Clone, Default)]
pub(crate) struct Hasher {
    sha256: Sha256,
    sha512: Sha512,
    bytes: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        self.sha512.update(data);
        self.bytes += data.len() as u64;
    }

    /// How many bytes were added.
    pub(crate) fn len(&self) -> u64 {
        self.bytes
    }

    /// The digests of everything added.
    pub(crate) fn finish(self) -> Digests {
        let (sha256, sha512) = self.finish_bytes();
        Digests {
            sha256: hex::encode(sha256),
            sha512: hex::encode(sha512),
        }
    }

    /// The digests of everything added, as bytes (cheaper to compare than hex).
    pub(crate) fn finish_bytes(self) -> (Sha256Bytes, Sha512Bytes) {
        (self.sha256.finalize().into(), self.sha512.finalize().into())
    }
}

/// Both digests of one file as bytes: what a payload file carries from where it was hashed to
/// the manifests that list it (a quarter of the memory of the hex strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestBytes {
    pub sha256: Sha256Bytes,
    pub sha512: Sha512Bytes,
}

impl DigestBytes {
    /// Both digests of `data` (on two threads when it is large).
    pub fn of(data: &[u8]) -> DigestBytes {
        if data.len() < PARALLEL_FROM {
            let mut h = Hasher::new();
            h.update(data);
            let (sha256, sha512) = h.finish_bytes();
            return DigestBytes { sha256, sha512 };
        }
        let (sha256, sha512) = rayon::join(|| Sha256::digest(data), || Sha512::digest(data));
        DigestBytes {
            sha256: sha256.into(),
            sha512: sha512.into(),
        }
    }

    /// From hex digests; None when either is not a digest of its length.
    pub fn from_hex(digests: &Digests) -> Option<DigestBytes> {
        Some(DigestBytes {
            sha256: hex_to_bytes(&digests.sha256)?,
            sha512: hex_to_bytes(&digests.sha512)?,
        })
    }
}

/// A SHA-256 digest as bytes.
pub(crate) type Sha256Bytes = [u8; 32];
/// A SHA-512 digest as bytes.
pub(crate) type Sha512Bytes = [u8; 64];

/// Decodes `N` bytes from `2 * N` hex digits (either case); None for anything else. Table-driven
/// with one check at the end: verify decodes a million manifest digests this way, and a
/// digit-by-digit check took most of the time of reading a manifest.
pub(crate) fn hex_to_bytes<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (high, low) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0F);
    }
    (invalid & 0xF0 == 0).then_some(out)
}

/// The value of each byte as a hex digit, or 0xFF.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// One of the two algorithms, fed on its own: a large stream is hashed with SHA-256 on one
/// thread and SHA-512 on another.
#[derive(Clone)]
pub(crate) enum OneHasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl OneHasher {
    /// A fresh SHA-256.
    pub(crate) fn sha256() -> Self {
        OneHasher::Sha256(Sha256::new())
    }

    /// A fresh SHA-512.
    pub(crate) fn sha512() -> Self {
        OneHasher::Sha512(Sha512::new())
    }

    /// Adds bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            OneHasher::Sha256(h) => h.update(data),
            OneHasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything added, in lower-case hex.
    pub(crate) fn finish_hex(self) -> String {
        match self {
            OneHasher::Sha256(h) => hex::encode(h.finalize()),
            OneHasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Both digests of a byte slice. Large slices are hashed with both algorithms side by side.
pub(crate) fn digests(data: &[u8]) -> Digests {
    if data.len() < PARALLEL_FROM {
        let mut h = Hasher::new();
        h.update(data);
        return h.finish();
    }
    let (sha256, sha512) = rayon::join(|| Sha256::digest(data), || Sha512::digest(data));
    Digests {
        sha256: hex::encode(sha256),
        sha512: hex::encode(sha512),
    }
}

/// From this size on, the two digests are computed on two threads (below it, handing the work
/// over costs more than it saves).
const PARALLEL_FROM: usize = 1 << 20;

/// SHA-256 of a byte slice, in hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Both digests of a file, streamed, and its length. The two algorithms run side by side on
/// two cores (SHA-512 alone takes about as long as reading a large archive).
pub(crate) fn digest_file(path: &Path) -> Result<(Digests, u64)> {
    let file = std::fs::File::open(path).at(path)?;
    digest_source(&file, path)
}

/// [`digest_file`] of bytes read at offsets from `source` (a local file or a remote object),
/// front to back in large reads; `path` names it in errors.
pub(crate) fn digest_source(
    source: &dyn crate::bag::ReadAt,
    path: &Path,
) -> Result<(Digests, u64)> {
    let (mut sha256, mut sha512) = (Sha256::new(), Sha512::new());
    let mut len = 0u64;
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = read_full_at(source, &mut buf, len).at(path)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        rayon::join(|| sha256.update(chunk), || sha512.update(chunk));
        len += n as u64;
    }
    let digests = Digests {
        sha256: hex::encode(sha256.finalize()),
        sha512: hex::encode(sha512.finalize()),
    };
    Ok((digests, len))
}

/// Fills `buf` from `offset` as far as the source goes: fewer bytes only at its end.
fn read_full_at(
    source: &dyn crate::bag::ReadAt,
    buf: &mut [u8],
    offset: u64,
) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match source.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// SHA-256 and SHA-512 of a byte stream that is being written elsewhere, computed on two
/// background threads (one per algorithm) as the stream's chunks are handed over. Reading a
/// large archive back to hash it after writing it would cost time at the end, with one core
/// idle; hashed as it is written, the digests are ready when the last byte is.
pub(crate) struct StreamDigests {
    sha256: Worker<Sha256>,
    sha512: Worker<Sha512>,
    bytes: u64,
}

/// A thread that feeds the chunks it receives to one digest.
struct Worker<D> {
    chunks: std::sync::mpsc::SyncSender<std::sync::Arc<Vec<u8>>>,
    thread: std::thread::JoinHandle<D>,
}

/// How many chunks may wait for a hashing thread before the writer waits for it.
const CHUNKS_IN_FLIGHT: usize = 4;

impl<D: Digest + Send + 'static> Worker<D> {
    fn start() -> Self {
        let (chunks, received) =
            std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<u8>>>(CHUNKS_IN_FLIGHT);
        let thread = std::thread::spawn(move || {
            let mut digest = D::new();
            for chunk in received {
                digest.update(&chunk[..]);
            }
            digest
        });
        Worker { chunks, thread }
    }

    fn finish(self) -> D {
        drop(self.chunks);
        match self.thread.join() {
            Ok(digest) => digest,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl StreamDigests {
    /// Starts the two hashing threads.
    pub(crate) fn start() -> Self {
        StreamDigests {
            sha256: Worker::start(),
            sha512: Worker::start(),
            bytes: 0,
        }
    }

    /// Hands the next chunk of the stream over; waits when the threads are behind.
    pub(crate) fn update(&mut self, chunk: Vec<u8>) {
        self.bytes += chunk.len() as u64;
        let chunk = std::sync::Arc::new(chunk);
        // A thread only stops early by panicking, which `finish` passes on.
        let _ = self.sha256.chunks.send(chunk.clone());
        let _ = self.sha512.chunks.send(chunk);
    }

    /// [`Self::update`] with a chunk shared with its owner (no copy).
    pub(crate) fn update_shared(&mut self, chunk: std::sync::Arc<Vec<u8>>) {
        self.bytes += chunk.len() as u64;
        let _ = self.sha256.chunks.send(chunk.clone());
        let _ = self.sha512.chunks.send(chunk);
    }

    /// The digests of every chunk handed over, in order, and how many bytes they were.
    pub(crate) fn finish(self) -> (Digests, u64) {
        let sha256 = self.sha256.finish().finalize();
        let sha512 = self.sha512.finish().finalize();
        let digests = Digests {
            sha256: hex::encode(sha256),
            sha512: hex::encode(sha512),
        };
        (digests, self.bytes)
    }
}

/// Reads until `buf` is full or the end of the file; returns how much was read.
pub(crate) fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_handed_over_in_chunks_gets_the_digests_of_its_bytes() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut stream = StreamDigests::start();
        for chunk in data.chunks(1 << 20).chain(std::iter::once(&[][..])) {
            stream.update(chunk.to_vec());
        }
        assert_eq!(stream.finish(), (digests(&data), data.len() as u64));
        assert_eq!(StreamDigests::start().finish(), (digests(b""), 0));
    }

    #[test]
    fn a_file_gets_the_digests_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(
            digest_file(&path).unwrap(),
            (digests(&data), data.len() as u64)
        );
    }

    #[test]
    fn hex_is_decoded_in_either_case_and_checked() {
        assert_eq!(hex_to_bytes::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(hex_to_bytes::<2>("0aF"), None);
        assert_eq!(hex_to_bytes::<2>("0aFg"), None);
        assert_eq!(hex_to_bytes::<2>("0a F"), None);
        assert_eq!(hex_to_bytes::<1>("é"), None);
        let d = digests(b"abc");
        let bytes: [u8; 32] = hex_to_bytes(&d.sha256).unwrap();
        assert_eq!(hex::encode(bytes), d.sha256);
    }

    #[test]
    fn sha512_gives_the_digests_of_sha2s_sha512() {
        let data: Vec<u8> = (0..4099u32).map(|i| (i * 31 % 253) as u8).collect();
        for len in (0..=300).chain([1023, 1024, 1025, 4099]) {
            let ours = Sha512::digest(&data[..len]);
            let theirs = sha2::Sha512::digest(&data[..len]);
            assert_eq!(ours[..], theirs[..], "{len} bytes");
        }
        // Fed in pieces, cloned halfway: the same as all at once.
        let mut pieces = Sha512::new();
        for piece in data.chunks(97) {
            Digest::update(&mut pieces, piece);
        }
        let copy = pieces.clone();
        assert_eq!(pieces.finalize()[..], sha2::Sha512::digest(&data)[..]);
        assert_eq!(copy.finalize()[..], sha2::Sha512::digest(&data)[..]);
    }

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
