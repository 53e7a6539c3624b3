//! The content of the version being written: its cables, captures and unparsed inputs, and
//! where each capture's bytes come from (the spill or the previous version).

use super::base::Base;
use super::ingest::Spilled;
use super::journal::{LineJournal, Slot};
use crate::bag::capture::{self, Ingested, UnparsedLine};
use crate::bag::{SpillRef, Spool, Spooled};
use crate::error::Result;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// A capture's raw path, as a 128-bit key (the first half of its SHA-256): the sets of
/// captures held and seen keep these instead of the paths. Bytes rather than a `u128`, whose
/// 16-byte alignment would pad a map entry with an 8-byte value to 32 bytes.
pub(super) type PathKey = [u8; 16];

pub(super) fn path_key(path: &str) -> PathKey {
    let digest = Sha256::digest(path.as_bytes());
    digest[..16].try_into().expect("16 bytes")
}

/// Where a capture's bytes come from when the version is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Read from an input: its raw bytes in the spill, followed there by its record (for a
    /// parsed page; see [`Spill::add_together`]). One reference rather than two keeps an entry
    /// of [`Snapshot::origins`] small.
    Input { raw: SpillRef },
    /// The previous version's archive.
    Previous,
}

/// An [`Origin`] in 8 bytes, as [`Snapshot::origins`] keeps it (the enum takes 16): the spill
/// position, or `u64::MAX`, which no spill reaches, for the previous version. With the 16-byte
/// key an entry is 24 bytes, where the enum would pad it to 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PackedOrigin(u64);

impl PackedOrigin {
    const PREVIOUS: u64 = u64::MAX;

    pub(super) fn pack(origin: Origin) -> PackedOrigin {
        match origin {
            Origin::Input { raw } => PackedOrigin(raw.0),
            Origin::Previous => PackedOrigin(Self::PREVIOUS),
        }
    }

    pub(super) fn unpack(self) -> Origin {
        if self.0 == Self::PREVIOUS {
            Origin::Previous
        } else {
            Origin::Input {
                raw: SpillRef(self.0),
            }
        }
    }
}

/// The content of the version being written: cables (their lines in the journal) and
/// unparsed inputs.
#[derive(Default)]
pub(super) struct Snapshot<'b> {
    pub(super) cables: BTreeMap<Box<str>, Slot>,
    pub(super) captures: u64,
    pub(super) unparsed: BTreeMap<String, UnparsedLine>,
    /// Where each capture's bytes (by raw path) come from, but for those of `kept`.
    pub(super) origins: HashMap<PathKey, PackedOrigin>,
    /// The previous version's captures (by raw path), when the version builds on it: it holds
    /// them all, and each comes from the previous version's archive. They are looked up here
    /// rather than copied into `origins`, which a second version's inputs would then make
    /// double in size.
    pub(super) kept: Option<&'b HashSet<PathKey>>,
}

impl<'b> Snapshot<'b> {
    /// The snapshot a write starts from: the previous version's captures, when `lines` (its
    /// index lines, taken from `base`) are kept, else none, with room for `input_count` inputs.
    pub(super) fn starting(
        base: Option<&'b Base>,
        lines: Option<BTreeMap<Box<str>, Slot>>,
        input_count: usize,
    ) -> Snapshot<'b> {
        let mut snapshot = match (base, lines) {
            (Some(b), Some(lines)) => Snapshot::building_on(lines, b),
            _ => Snapshot::default(),
        };
        if snapshot.kept.is_none() {
            // Sized once for a first version, whose inputs are all new: growing doubles the
            // table at the end of a large bundle, the old and the new table both held for a
            // moment (6 and 13 MB for the whole corpus). A later version's inputs are mostly
            // the captures it keeps, which are not in this table.
            snapshot.origins.reserve(input_count);
        }
        snapshot
    }

    /// The previous version's captures, its lines moved out of `base` rather than copied (a
    /// copy grows with the corpus; only `--replace`, which starts from no captures, reads them
    /// again).
    fn building_on(lines: BTreeMap<Box<str>, Slot>, base: &'b Base) -> Snapshot<'b> {
        let mut s = Snapshot {
            cables: lines,
            captures: base.captures,
            kept: Some(&base.raw_keys),
            ..Snapshot::default()
        };
        for u in &base.unparsed {
            s.unparsed.insert(u.raw.clone(), u.clone());
        }
        s
    }

    /// Where the bytes of the capture with raw path `key` come from; None when the version
    /// does not hold it.
    pub(super) fn origin(&self, key: &PathKey) -> Option<Origin> {
        if let Some(o) = self.origins.get(key) {
            return Some(o.unpack());
        }
        self.kept
            .filter(|kept| kept.contains(key))
            .map(|_| Origin::Previous)
    }

    /// With `--replace`, captures that the previous version already had are copied from it
    /// rather than re-read, so their records stay exactly as they were.
    pub(super) fn reuse_from(&mut self, journal: &mut LineJournal, base: &Base) -> Result<()> {
        for (key, origin) in self.origins.iter_mut() {
            if base.raw_keys.contains(key) {
                *origin = PackedOrigin::pack(Origin::Previous);
            }
        }
        for (id, base_slot) in &base.lines {
            let Some(slot) = self.cables.get_mut(id) else {
                continue;
            };
            let mut mine = journal.read(*slot)?;
            let old = journal.read(*base_slot)?;
            let mut changed = false;
            for c in mine.captures.iter_mut() {
                if let Some(o) = old.captures.iter().find(|o| o.raw == c.raw)
                    && o != c
                {
                    *c = o.clone();
                    changed = true;
                }
            }
            if changed {
                *slot = journal.append(&mine)?;
            }
        }
        Ok(())
    }

    /// Adds an ingested input; false when its bytes are already there.
    pub(super) fn add(&mut self, journal: &mut LineJournal, item: Spilled) -> Result<bool> {
        let origin = match item.raw {
            Some(raw) => Origin::Input { raw },
            // Bytes the previous version holds were not spilled: with --replace they are
            // copied from it (see `reuse_from`); otherwise they are a duplicate (below).
            None => Origin::Previous,
        };
        match item.ingested {
            Ingested::Cable { line, .. } => {
                let key = path_key(&line.captures[0].raw);
                if self.origin(&key).is_some() {
                    return Ok(false);
                }
                let added = match self.cables.get(line.id.as_str()).copied() {
                    Some(slot) => {
                        let mut existing = journal.read(slot)?;
                        let merged = capture::merge_capture(&mut existing, line);
                        if merged {
                            let slot = journal.append(&existing)?;
                            self.cables.insert(existing.id.into_boxed_str(), slot);
                        }
                        merged
                    }
                    None => {
                        let slot = journal.append(&line)?;
                        self.cables.insert(line.id.into_boxed_str(), slot);
                        true
                    }
                };
                if added {
                    self.origins.insert(key, PackedOrigin::pack(origin));
                    self.captures += 1;
                }
                Ok(added)
            }
            Ingested::Unparsed(u) => {
                let key = path_key(&u.raw);
                if self.origin(&key).is_some() {
                    return Ok(false);
                }
                self.origins.insert(key, PackedOrigin::pack(origin));
                self.unparsed.insert(u.raw.clone(), u);
                Ok(true)
            }
        }
    }

    /// True when this snapshot holds exactly the captures of the base version.
    pub(super) fn same_as(&self, base: &Base) -> bool {
        let held = self.origins.len() + self.kept.map_or(0, HashSet::len);
        self.origins
            .values()
            .all(|o| o.unpack() == Origin::Previous)
            && held as u64 == base.captures + base.unparsed.len() as u64
    }

    /// How many payload files the version has: a raw file and a record per capture, and each
    /// unparsed input.
    pub(super) fn payload_files(&self) -> u64 {
        2 * self.captures + self.unparsed.len() as u64
    }

    /// The cable index, one line per cable sorted by id, spooled from the journal.
    pub(super) fn spool_index(&self, journal: &mut LineJournal, scratch: &Path) -> Result<Spooled> {
        let mut spool = Spool::create(scratch)?;
        let mut buf = Vec::new();
        for slot in self.cables.values() {
            journal.bytes(*slot, &mut buf)?;
            buf.push(b'\n');
            spool.write(&buf)?;
        }
        spool.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bag::SpillRef;

    #[test]
    fn a_capture_costs_the_snapshot_24_bytes_of_origins() {
        // Every new capture of a version has an entry (251,287 for the whole corpus).
        assert_eq!(std::mem::size_of::<(PathKey, PackedOrigin)>(), 24);
    }

    #[test]
    fn origins_pack_into_8_bytes_and_back() {
        for origin in [
            Origin::Previous,
            Origin::Input { raw: SpillRef(0) },
            Origin::Input {
                raw: SpillRef(u64::MAX - 1),
            },
        ] {
            assert_eq!(PackedOrigin::pack(origin).unpack(), origin);
        }
    }
}
