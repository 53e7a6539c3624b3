//! Progress of long work: the library counts, the CLI draws.

/// Reports progress of long work; the CLI draws it, the library only counts.
pub trait Progress: Sync {
    /// A new phase with `total` units (bytes or items).
    fn start(&self, phase: &str, total: u64);
    /// `n` more units done.
    fn inc(&self, n: u64);
    /// The phase is over.
    fn finish(&self);
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}
