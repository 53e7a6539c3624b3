//! Committing the stage: the staged pages become the collection's next version, and only then
//! is the stage emptied (a commit that fails leaves the stage as it was, to commit again).

use crate::error::{Error, Result};
use crate::fsutil::StoreLock;
use crate::progress::Progress;
use crate::store::{Store, WriteOutcome, WriteRequest};

impl Store {
    /// The collection whose stage is committed: `given`, or else the only collection that has
    /// staged pages.
    pub fn collection_to_commit(&self, given: Option<&str>) -> Result<String> {
        if let Some(c) = given {
            return Ok(c.to_string());
        }
        match self.staged_collections()?.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::NotFound(
                "nothing staged (use `cablekeep add`)".to_string(),
            )),
            many => Err(Error::Invalid(format!(
                "several collections have staged pages ({}); choose one with --collection",
                many.join(", ")
            ))),
        }
    }

    /// Writes `collection`'s staged pages as its next version (with `message`), then empties
    /// its stage. A stage that holds nothing is an error: there is nothing to commit.
    pub fn commit_stage(
        &self,
        lock: &StoreLock,
        collection: &str,
        message: &str,
        progress: &dyn Progress,
    ) -> Result<WriteOutcome> {
        self.require_local("commit to it")?;
        let stage = self.stage(collection)?;
        if stage.items.is_empty() {
            return Err(Error::NotFound(format!(
                "nothing staged for {collection} (use `cablekeep add`)"
            )));
        }
        let outcome = self.write_version(
            lock,
            WriteRequest {
                collection,
                inputs: self.staged_inputs(&stage),
                replace: false,
                message,
                progress,
                archive_format: Default::default(),
            },
        )?;
        // The version is committed (or already held everything): only now is the stage emptied.
        self.stage_clear(lock, collection)?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cable::provenance::SourceHints;
    use crate::input::InputItem;
    use crate::progress::NoProgress;

    fn page() -> InputItem {
        InputItem::bytes(
            "10EXAMPLE202.html",
            include_bytes!("../../examples/10EXAMPLE202.html").to_vec(),
        )
    }

    #[test]
    fn committing_the_stage_writes_the_next_version_and_empties_the_stage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
        store
            .stage_add(&lock, "dev", &[page()], &SourceHints::default())
            .unwrap();
        assert_eq!(store.collection_to_commit(None).unwrap(), "dev");
        let outcome = store
            .commit_stage(&lock, "dev", "first", &NoProgress)
            .unwrap();
        let manifest = outcome.manifest.expect("a version is written");
        assert_eq!(manifest.identifier, "dev@v1");
        assert_eq!(manifest.message, "first");
        assert!(store.stage("dev").unwrap().items.is_empty());
        assert!(store.staged_collections().unwrap().is_empty());
    }

    #[test]
    fn an_empty_stage_is_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
        let none = store.collection_to_commit(None).unwrap_err();
        assert_eq!(none.to_string(), "nothing staged (use `cablekeep add`)");
        let empty = store
            .commit_stage(&lock, "dev", "", &NoProgress)
            .unwrap_err();
        assert_eq!(
            empty.to_string(),
            "nothing staged for dev (use `cablekeep add`)"
        );
        assert_eq!(store.versions("dev").unwrap_or_default(), Vec::<u32>::new());
    }

    #[test]
    fn with_several_stages_the_collection_must_be_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
        for c in ["a", "b"] {
            store
                .stage_add(&lock, c, &[page()], &SourceHints::default())
                .unwrap();
        }
        let many = store.collection_to_commit(None).unwrap_err();
        assert!(many.to_string().contains("(a, b)"), "{many}");
        assert_eq!(store.collection_to_commit(Some("b")).unwrap(), "b");
    }
}
