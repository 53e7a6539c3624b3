//! The stage of a collection: inputs added with `cablekeep add` and not yet committed, their
//! bytes kept in the stage's blob folder under their SHA-256.

use super::Store;
use super::name::validate_collection_name;
use crate::cable::provenance::SourceHints;
use crate::error::{Error, IoContext, Result};
use crate::finding::Finding;
use crate::fsutil::{self, StoreLock};
use crate::hash;
use crate::input::{Input, InputItem, InputSource};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// The stage of a collection: inputs added and not yet committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Always `cablekeep-stage/1` ([`STAGE_FORMAT`]).
    pub format: String,
    /// The collection the inputs are staged for.
    pub collection: String,
    /// The inputs added and not yet committed, one per input name, sorted by name.
    pub items: Vec<StagedItem>,
}

/// One staged input. Its bytes are kept in the stage's blob folder under their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedItem {
    /// The input's name as given to `add` (FORMAT.md section 6).
    pub input: String,
    /// SHA-256 of the input's bytes, lower-case hex: the name of its blob in
    /// `.cablekeep/stage/blobs/`.
    pub sha256: String,
    /// Size of the input's bytes, in bytes.
    pub bytes: u64,
    /// The cable the page names, when a reader understood it.
    pub cable: Option<String>,
    /// The reader chosen with `--format`; None detects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<crate::cable::Format>,
    /// The provenance flags given with `add` (`--publisher`, `--source-url`, `--released`,
    /// `--retrieved`).
    pub hints: SourceHints,
    /// When the input was added (RFC 3339, UTC).
    pub added: String,
}

/// The `format` value of stage files.
pub const STAGE_FORMAT: &str = "cablekeep-stage/1";

/// The most a stage file is read: ~600 bytes per staged input.
const MAX_STAGE_BYTES: u64 = 1 << 30;

impl Store {
    /// Reads the stage of a collection (empty when there is none).
    pub fn stage(&self, collection: &str) -> Result<Stage> {
        let path = self.stage_path(collection);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(Stage {
                format: STAGE_FORMAT.into(),
                collection: collection.into(),
                items: Vec::new(),
            });
        }
        let bytes = fsutil::read_regular_file(&path, MAX_STAGE_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path,
            message: format!("not a stage file: {e}"),
        })
    }

    /// Collections that have something staged.
    pub fn staged_collections(&self) -> Result<Vec<String>> {
        let dir = self.state_dir().join("stage");
        let mut names = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(names);
        };
        for entry in entries {
            let name = entry.at(&dir)?.file_name().to_string_lossy().into_owned();
            if let Some(c) = name.strip_suffix(".json")
                && validate_collection_name(c).is_ok()
            {
                names.push(c.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Adds inputs to a collection's stage: their bytes are copied into the stage, and the stage
    /// file is replaced atomically. Returns the findings of reading the pages.
    pub fn stage_add(
        &self,
        _lock: &StoreLock,
        collection: &str,
        inputs: &[InputItem],
        hints: &SourceHints,
    ) -> Result<(Stage, Vec<Finding>)> {
        self.require_local("stage inputs for it")?;
        validate_collection_name(collection)?;
        let mut stage = self.stage(collection)?;
        let mut findings = Vec::new();
        let blob_dir = self.blob_dir();
        let staged: Vec<Result<(StagedItem, Vec<Finding>)>> = inputs
            .par_iter()
            .map(|item| {
                let bytes = item.load()?;
                let sha256 = hash::sha256_hex(&bytes);
                let blob = blob_dir.join(&sha256);
                // A blob already there is reused only while it still holds these bytes.
                let intact = fsutil::read_regular_file(&blob, bytes.len() as u64)
                    .is_ok_and(|b| hash::sha256_hex(&b) == sha256);
                if !intact {
                    fsutil::atomic_write(&blob, &bytes)?;
                }
                let outcome = crate::cable::parse_as(&bytes, &item.name, hints, item.format);
                let staged = StagedItem {
                    input: item.name.clone(),
                    sha256,
                    bytes: bytes.len() as u64,
                    cable: outcome.record.map(|r| r.id),
                    format: item.format,
                    hints: hints.clone(),
                    added: crate::time::rfc3339(crate::time::now()),
                };
                Ok((staged, outcome.findings))
            })
            .collect();
        let mut added = Vec::with_capacity(staged.len());
        for result in staged {
            let (item, mut item_findings) = result?;
            findings.append(&mut item_findings);
            added.push(item);
        }
        // Adding an input name again replaces what an earlier `add` staged under it. Inputs of
        // one `add` that share a name (`a/x.html` and `b/x.html` are both `x.html`) are all
        // kept, unless they are the same bytes.
        let names: HashSet<&str> = added.iter().map(|i| i.input.as_str()).collect();
        stage.items.retain(|s| !names.contains(s.input.as_str()));
        let mut seen = HashSet::new();
        added.retain(|i| seen.insert((i.input.clone(), i.sha256.clone())));
        stage.items.extend(added);
        // Stable: inputs of the same name keep the order they were given in.
        stage.items.sort_by(|a, b| a.input.cmp(&b.input));
        let mut bytes = serde_json::to_vec_pretty(&stage).expect("stage serializes");
        bytes.push(b'\n');
        fsutil::atomic_write(&self.stage_path(collection), &bytes)?;
        Ok((stage, findings))
    }

    /// The staged inputs of a collection as inputs for [`Store::write_version`].
    pub fn staged_inputs(&self, stage: &Stage) -> Vec<(Input, Arc<SourceHints>)> {
        stage
            .items
            .iter()
            .map(|s| {
                let item = InputItem {
                    name: s.input.clone(),
                    source: InputSource::Staged {
                        path: self.blob_dir().join(&s.sha256),
                        sha256: s.sha256.clone(),
                        len: s.bytes,
                    },
                    format: s.format,
                };
                (item.into(), Arc::new(s.hints.clone()))
            })
            .collect()
    }

    /// Empties a collection's stage after its commit, and removes blobs no stage still needs.
    pub fn stage_clear(&self, _lock: &StoreLock, collection: &str) -> Result<()> {
        self.require_local("clear its stage")?;
        let path = self.stage_path(collection);
        if path.exists() {
            std::fs::remove_file(&path).at(&path)?;
            fsutil::fsync_parent(&path)?;
        }
        let mut needed = std::collections::HashSet::new();
        for c in self.staged_collections()? {
            needed.extend(self.stage(&c)?.items.into_iter().map(|i| i.sha256));
        }
        let dir = self.blob_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries {
            let entry = entry.at(&dir)?;
            if !needed.contains(&*entry.file_name().to_string_lossy()) {
                std::fs::remove_file(entry.path()).at(entry.path())?;
            }
        }
        Ok(())
    }
}
