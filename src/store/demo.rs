//! The sample store: the sample cables compiled into cablekeep, written as the collection
//! [`DEMO_COLLECTION`] (what `cablekeep demo` bundles and then verifies).

use crate::error::Result;
use crate::fsutil::StoreLock;
use crate::input::InputItem;
use crate::progress::Progress;
use crate::store::{Store, WriteOutcome, WriteRequest};

/// The collection the samples are written to.
pub const DEMO_COLLECTION: &str = "examples";

/// The message of the versions the samples are written as.
const DEMO_MESSAGE: &str = "Sample cables shipped with cablekeep";

/// The sample cables, by the names they are ingested under.
pub const SAMPLES: &[(&str, &[u8])] = &[
    (
        "examples/09EXAMPLE101.html",
        include_bytes!("../../examples/09EXAMPLE101.html"),
    ),
    (
        "examples/10EXAMPLE202.html",
        include_bytes!("../../examples/10EXAMPLE202.html"),
    ),
    (
        "examples/06EXAMPLE303.txt",
        include_bytes!("../../examples/06EXAMPLE303.txt"),
    ),
];

/// Writes the samples as the next version of [`DEMO_COLLECTION`] (nothing is written when its
/// latest version holds them already).
pub fn write_samples(
    store: &Store,
    lock: &StoreLock,
    progress: &dyn Progress,
) -> Result<WriteOutcome> {
    let inputs = SAMPLES
        .iter()
        .map(|(name, bytes)| {
            let item = InputItem::bytes(*name, bytes.to_vec());
            (item.into(), Default::default())
        })
        .collect();
    store.write_version(
        lock,
        WriteRequest {
            collection: DEMO_COLLECTION,
            inputs,
            replace: false,
            message: DEMO_MESSAGE,
            progress,
            archive_format: Default::default(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use crate::store::verify::{self, Selection};

    #[test]
    fn the_samples_make_a_clean_version_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
        let first = write_samples(&store, &lock, &NoProgress).unwrap();
        let manifest = first.manifest.expect("the first run writes v1");
        assert_eq!(manifest.identifier, "examples@v1");
        assert_eq!(manifest.counts.cables, SAMPLES.len() as u64);
        assert!(first.findings.is_empty(), "{:?}", first.findings);
        let again = write_samples(&store, &lock, &NoProgress).unwrap();
        assert!(again.manifest.is_none());
        assert_eq!(again.duplicate_captures, SAMPLES.len() as u64);
        let reports = verify::verify_collection(
            &store,
            DEMO_COLLECTION,
            Selection::All,
            Default::default(),
            &NoProgress,
        )
        .unwrap();
        assert!(reports.iter().all(|r| r.is_clean()));
    }
}
