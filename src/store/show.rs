//! Showing one cable as archived: find it in a version's index, then read its capture's record
//! or raw bytes, and nothing else, from the version's zip.

use crate::bag::capture::{CaptureRef, IndexLine, StoredRecord};
use crate::bag::record::{RecordProblem, is_compact_record, read_record};
use crate::bag::{OpenArchive, Reading};
use crate::error::{Error, Result};
use crate::store::{Store, VersionId, VersionNum};

/// Which cable to show, and where to look for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShowRequest<'a> {
    /// The published or the canonical reference id.
    pub id: &'a str,
    /// The collection (default: the only collection that holds the cable).
    pub collection: Option<&'a str>,
    /// The version (default: the latest).
    pub version: Option<VersionNum>,
    /// The capture's name (default: the cable's current capture).
    pub capture: Option<&'a str>,
}

/// A cable found in a version, with the zip opened for its chosen capture's two entries.
pub struct Shown {
    /// The collection the cable was found in.
    pub collection: String,
    /// The version shown (the latest unless one was asked for).
    pub version: u32,
    /// The cable's line of the version's cable index (every capture of it).
    pub line: IndexLine,
    /// The capture shown.
    pub capture: CaptureRef,
    archive: OpenArchive,
}

/// Finds the cable of `request` and opens its version's zip for the capture's raw bytes and
/// record only (a third of the zip's entries would be read for all captures).
pub fn show_cable(store: &Store, request: &ShowRequest) -> Result<Shown> {
    let (found, opened) = crate::query::select::locate_cable_opened(
        store,
        request.collection,
        request.version.map(VersionNum::get),
        request.id,
    )?;
    let capture = choose_capture(&found.line, request.capture)?.clone();
    let kept = |path: &str| opened.entry(path).is_some();
    let archive = if kept(&capture.raw) && kept(&capture.record) {
        opened
    } else {
        let wanted = |path: &str| path == capture.raw || path == capture.record;
        opened.reopen(Reading::Selected(&wanted))?
    };
    Ok(Shown {
        collection: found.collection,
        version: found.version,
        line: found.line,
        capture,
        archive,
    })
}

/// The capture named `name`, or the cable's current capture.
fn choose_capture<'l>(line: &'l IndexLine, name: Option<&str>) -> Result<&'l CaptureRef> {
    let id = &line.id;
    match name {
        Some(name) => line
            .captures
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::NotFound(format!("cable {id} has no capture {name}"))),
        None => line
            .current()
            .ok_or_else(|| Error::NotFound(format!("cable {id} has no capture"))),
    }
}

impl Shown {
    /// `<collection>@v<N>` of the version the cable was found in.
    pub fn version_id(&self) -> VersionId<'_> {
        VersionId::new(&self.collection, self.version)
    }

    /// The capture's raw bytes exactly as archived.
    pub fn raw_bytes(&self) -> Result<Vec<u8>> {
        self.archive.read_required(&self.capture.raw)
    }

    /// The capture's stored record (JSON) exactly as archived.
    pub fn record_bytes(&self) -> Result<Vec<u8>> {
        self.archive.read_required(&self.capture.record)
    }

    /// The capture's stored record, read: of either archive format, the record/1 it stands for.
    pub fn record(&self) -> Result<StoredRecord> {
        let bytes = self.record_bytes()?;
        read_record(&bytes, || self.raw_bytes()).map_err(|e| match e {
            RecordProblem::Raw(e) => e,
            // Named by its path in the bag, as the zip's findings name entries.
            other => Error::Corrupt {
                path: self.capture.record.clone().into(),
                message: other.to_string(),
            },
        })
    }

    /// The capture's record as format 1 writes it (pretty-printed `cablekeep-record/1`, text
    /// included), whichever format archived it: the record as archived when it is that already.
    pub fn record_json(&self) -> Result<Vec<u8>> {
        let bytes = self.record_bytes()?;
        if !is_compact_record(&bytes) {
            return Ok(bytes);
        }
        let mut json = serde_json::to_vec_pretty(&self.record()?).map_err(|e| Error::Corrupt {
            path: self.capture.record.clone().into(),
            message: e.to_string(),
        })?;
        json.push(b'\n');
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use crate::store::demo;

    fn sample_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
        demo::write_samples(&store, &lock, &NoProgress).unwrap();
        (dir, store)
    }

    #[test]
    fn a_cable_is_shown_from_its_current_capture() {
        let (_dir, store) = sample_store();
        let shown = show_cable(
            &store,
            &ShowRequest {
                id: "10EXAMPLE202",
                ..ShowRequest::default()
            },
        )
        .unwrap();
        assert_eq!(shown.version_id().to_string(), "examples@v1");
        assert_eq!(shown.line.id, "10EXAMPLE202");
        let record = shown.record().unwrap();
        assert_eq!(record.record.id, "10EXAMPLE202");
        assert_eq!(record.capture.name, shown.capture.name);
        let raw = shown.raw_bytes().unwrap();
        assert_eq!(raw, include_bytes!("../../examples/10EXAMPLE202.html"));
        assert_eq!(
            serde_json::from_slice::<StoredRecord>(&shown.record_bytes().unwrap())
                .unwrap()
                .record
                .id,
            "10EXAMPLE202"
        );
    }

    #[test]
    fn an_unknown_capture_version_or_cable_is_named_in_the_error() {
        let (_dir, store) = sample_store();
        let ask = |id, capture, version| {
            show_cable(
                &store,
                &ShowRequest {
                    id,
                    collection: Some("examples"),
                    version,
                    capture,
                },
            )
            .err()
            .expect("an error")
            .to_string()
        };
        assert_eq!(
            ask("10EXAMPLE202", Some("nope"), None),
            "cable 10EXAMPLE202 has no capture nope"
        );
        assert!(ask("99NOPE1", None, None).contains("has no cable 99NOPE1"));
        let v2 = VersionNum::new(2).unwrap();
        assert!(ask("10EXAMPLE202", None, Some(v2)).contains("v2"));
    }
}
