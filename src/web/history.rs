//! Each cable's history across its collection's versions: the version it entered, the versions
//! where its captures changed, and where it was absent. Built from the indexes of every version
//! up to the edition's, read one after the other (each in id order, merged with the edition's
//! table of cables). What is kept stays small at full scale: a version number per cable, the
//! capture set of each cable in the version last read (one `u64` a capture, see [`CaptureKey`]),
//! and events only for the cables that have any.

use super::edition::CableFacts;
use crate::bag::capture::IndexLine;
use crate::error::Result;
use crate::progress::Progress;
use crate::query::select::{self, VersionRef};
use crate::store::Store;

/// The histories of an edition's cables, by the edition's index of the cable.
#[derive(Debug, Default)]
pub struct History {
    /// The version each cable entered the collection (0 for none read).
    entered: Vec<u32>,
    /// Cable `i`'s events are `events[starts[i]..starts[i + 1]]`; empty when no cable has any.
    starts: Vec<u32>,
    /// Every cable's events, by cable, then version.
    events: Vec<Event>,
}

/// Something that happened to a cable in a version after it entered the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The version (`N` of `v<N>`).
    pub version: u32,
    /// What happened.
    pub change: Change,
}

/// What happened to a cable in a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The version does not hold the cable.
    Absent,
    /// The cable is back after versions without it.
    Returned,
    /// Its captures differ from those of the version that last held it.
    Captures {
        /// Names of the captures added.
        added: Vec<String>,
        /// Names of the captures gone (a name that cannot be packed into a [`CaptureKey`] is
        /// counted but not named: it is given as `a capture`).
        removed: Vec<String>,
    },
}

/// One cable's history.
#[derive(Debug, Clone, Copy)]
pub struct CableHistory<'a> {
    /// The version the cable entered the collection; None when no version was read.
    pub entered: Option<u32>,
    /// What happened to it later, oldest first.
    pub events: &'a [Event],
}

impl History {
    /// Reads the indexes of the collection's versions up to `version` for the `cables` (the
    /// edition's, in id order).
    pub fn build(
        store: &Store,
        version: &VersionRef,
        cables: &[CableFacts],
        _progress: &dyn Progress,
    ) -> Result<History> {
        let mut builder = Builder::new(cables.len());
        for v in store.versions(&version.collection)? {
            if v > version.version {
                break;
            }
            let archive = store.open_zip(&version.collection, v, crate::bag::Reading::Index)?;
            builder.start_version(v);
            let mut at = 0;
            select::for_each_line(&archive, |line| {
                if let Some(i) = position(cables, &mut at, &line.id) {
                    builder.line(i, line);
                }
            })?;
            builder.end_version();
        }
        Ok(builder.finish())
    }

    /// The history of the edition's cable number `index`.
    pub fn of(&self, index: usize) -> CableHistory<'_> {
        let entered = self.entered.get(index).copied().filter(|&v| v > 0);
        let events = match (self.starts.get(index), self.starts.get(index + 1)) {
            (Some(&a), Some(&b)) => &self.events[a as usize..b as usize],
            _ => &[],
        };
        CableHistory { entered, events }
    }

    /// The version capture `name` of cable `index` was added in: the version of the last event
    /// that added it, else the version the cable entered.
    pub fn capture_added_in(&self, index: usize, name: &str) -> Option<u32> {
        let h = self.of(index);
        h.events
            .iter()
            .rev()
            .find(|e| matches!(&e.change, Change::Captures { added, .. } if added.iter().any(|a| a == name)))
            .map(|e| e.version)
            .or(h.entered)
    }
}

/// The index of `id` in `cables`, looked for from `at` onwards (the index lists cables in the
/// same order), else by binary search (an index out of order); None when the edition lacks it.
fn position(cables: &[CableFacts], at: &mut usize, id: &str) -> Option<usize> {
    while *at < cables.len() && &*cables[*at].id < id {
        *at += 1;
    }
    if cables.get(*at).is_some_and(|c| &*c.id == id) {
        return Some(*at);
    }
    cables.binary_search_by(|c| (*c.id).cmp(id)).ok()
}

/// A capture's name in a `u64`: the 48 bits of its 12 hex digits and a 16-bit day number of its
/// release date (0 for `undated`), so a name is kept without a string and given back exactly.
/// A name of another shape (never written by cablekeep) is kept as a hash with the day number
/// `u16::MAX`, and named `a capture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct CaptureKey(u64);

const NOT_PACKED: u64 = 0xFFFF;

impl CaptureKey {
    fn of(name: &str) -> CaptureKey {
        Self::pack(name).unwrap_or_else(|| {
            let digest = crate::hash::sha256_hex(name.as_bytes());
            let low = u64::from_str_radix(&digest[..12], 16).unwrap_or(0);
            CaptureKey(NOT_PACKED << 48 | low)
        })
    }

    fn pack(name: &str) -> Option<CaptureKey> {
        let (date, hex) = name.split_once('_')?;
        if hex.len() != 12
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        let low = u64::from_str_radix(hex, 16).ok()?;
        let day = if date == "undated" {
            0
        } else {
            let number = |r: std::ops::Range<usize>| -> Option<u64> {
                let s = date.get(r)?;
                s.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| s.parse().ok())?
            };
            let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
            let shaped = date.len() == 10 && &date[4..5] == "-" && &date[7..8] == "-";
            if !shaped
                || !(1970..2130).contains(&y)
                || !(1..=12).contains(&m)
                || !(1..=31).contains(&d)
            {
                return None;
            }
            1 + (y - 1970) * 372 + (m - 1) * 31 + (d - 1)
        };
        Some(CaptureKey(day << 48 | low))
    }

    fn name(self) -> String {
        let day = self.0 >> 48;
        let hex = self.0 & ((1 << 48) - 1);
        match day {
            NOT_PACKED => "a capture".to_string(),
            0 => format!("undated_{hex:012x}"),
            d => {
                let d = d - 1;
                let (y, m, dd) = (1970 + d / 372, d % 372 / 31 + 1, d % 31 + 1);
                format!("{y:04}-{m:02}-{dd:02}_{hex:012x}")
            }
        }
    }
}

/// The history as the versions are read.
struct Builder {
    entered: Vec<u32>,
    /// The version that last held each cable (0: none yet).
    last_seen: Vec<u32>,
    /// Each cable's captures in the version that last held it: `keys[starts[i]..starts[i+1]]`,
    /// sorted.
    keys: Vec<CaptureKey>,
    key_starts: Vec<u32>,
    /// The same for the version being read, filled in cable order.
    next_keys: Vec<CaptureKey>,
    next_starts: Vec<u32>,
    version: u32,
    events: Vec<(u32, Event)>,
}

impl Builder {
    fn new(cables: usize) -> Builder {
        Builder {
            entered: vec![0; cables],
            last_seen: vec![0; cables],
            keys: Vec::new(),
            key_starts: vec![0; cables + 1],
            next_keys: Vec::new(),
            next_starts: Vec::with_capacity(cables + 1),
            version: 0,
            events: Vec::new(),
        }
    }

    fn start_version(&mut self, v: u32) {
        self.version = v;
        self.next_keys.clear();
        self.next_starts.clear();
        self.next_starts.push(0);
    }

    /// Carries the capture sets of the cables before `upto` that this version does not hold.
    fn carry_to(&mut self, upto: usize) {
        for i in self.next_starts.len() - 1..upto {
            let (a, b) = (self.key_starts[i] as usize, self.key_starts[i + 1] as usize);
            self.next_keys.extend_from_slice(&self.keys[a..b]);
            self.next_starts.push(self.next_keys.len() as u32);
        }
    }

    fn line(&mut self, i: usize, line: &IndexLine) {
        if i + 1 < self.next_starts.len() {
            return; // a repeated id: the first line stands
        }
        self.carry_to(i);
        let from = self.next_keys.len();
        self.next_keys
            .extend(line.captures.iter().map(|c| CaptureKey::of(&c.name)));
        self.next_keys[from..].sort_unstable();
        self.next_starts.push(self.next_keys.len() as u32);
        let v = self.version;
        let last = self.last_seen[i];
        self.last_seen[i] = v;
        if self.entered[i] == 0 {
            self.entered[i] = v;
            return;
        }
        if last + 1 < v {
            // Absent from the versions between (each said so by `end_version`).
            self.events.push((
                i as u32,
                Event {
                    version: v,
                    change: Change::Returned,
                },
            ));
        }
        let before = &self.keys[self.key_starts[i] as usize..self.key_starts[i + 1] as usize];
        let now = &self.next_keys[from..];
        if before != now {
            let added = now
                .iter()
                .filter(|k| !before.contains(k))
                .map(|k| k.name())
                .collect();
            let removed = before
                .iter()
                .filter(|k| !now.contains(k))
                .map(|k| k.name())
                .collect();
            self.events.push((
                i as u32,
                Event {
                    version: v,
                    change: Change::Captures { added, removed },
                },
            ));
        }
    }

    fn end_version(&mut self) {
        let n = self.entered.len();
        self.carry_to(n);
        let v = self.version;
        for i in 0..n {
            // Held by an earlier version, not by this one.
            if self.entered[i] > 0 && self.last_seen[i] < v {
                self.events.push((
                    i as u32,
                    Event {
                        version: v,
                        change: Change::Absent,
                    },
                ));
            }
        }
        std::mem::swap(&mut self.keys, &mut self.next_keys);
        std::mem::swap(&mut self.key_starts, &mut self.next_starts);
    }

    fn finish(self) -> History {
        let mut events = self.events;
        events.sort_by_key(|(cable, e)| (*cable, e.version));
        if events.is_empty() {
            return History {
                entered: self.entered,
                starts: Vec::new(),
                events: Vec::new(),
            };
        }
        let n = self.entered.len();
        let mut starts = Vec::with_capacity(n + 1);
        let mut at = 0;
        for i in 0..=n {
            while at < events.len() && (events[at].0 as usize) < i {
                at += 1;
            }
            starts.push(at as u32);
        }
        History {
            entered: self.entered,
            starts,
            events: events.into_iter().map(|(_, e)| e).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_pack_into_a_u64_and_come_back() {
        for name in [
            "2010-12-07_fbe16c06e192",
            "undated_000000000000",
            "1970-01-01_ffffffffffff",
            "2129-12-31_0123456789ab",
        ] {
            assert_eq!(CaptureKey::of(name).name(), name);
        }
        for odd in [
            "2010-12-07_FBE16C06E192",
            "x_fbe16c06e192",
            "2010-13-07_fbe16c06e192",
            "plain",
        ] {
            assert_eq!(CaptureKey::of(odd).name(), "a capture", "{odd}");
        }
        assert_ne!(CaptureKey::of("plain"), CaptureKey::of("other"));
    }

    fn line(id: &str, captures: &[&str]) -> IndexLine {
        let captures: Vec<serde_json::Value> = captures
            .iter()
            .map(|name| {
                serde_json::json!({"name": name, "raw": "r", "record": "j", "input": "i",
                    "bytes": 1, "sha256": "01", "sha512": "01", "text_sha256": "01",
                    "format": "f", "released": null,
                    "redaction": {"status": "not-redacted", "runs": 0, "partial_extract": false}})
            })
            .collect();
        serde_json::from_value(
            serde_json::json!({"id": id, "created": null, "released": null,
            "classification": null, "origin": null, "subject": null, "tags": [],
            "redaction": {"status": "not-redacted", "runs": 0, "partial_extract": false},
            "captures": captures}),
        )
        .unwrap()
    }

    #[test]
    fn versions_give_entries_changes_absences_and_returns() {
        let (a, b) = ("2010-12-07_aaaaaaaaaaaa", "2010-12-08_bbbbbbbbbbbb");
        let versions: Vec<Vec<IndexLine>> = vec![
            vec![line("A", &[a]), line("B", &[a])],
            vec![line("A", &[a, b]), line("C", &[a])],
            vec![line("A", &[b]), line("B", &[a, b]), line("C", &[a])],
        ];
        let ids = ["A", "B", "C"];
        let mut builder = Builder::new(ids.len());
        for (v, lines) in versions.iter().enumerate() {
            builder.start_version(v as u32 + 1);
            for l in lines {
                let i = ids.iter().position(|id| *id == l.id).unwrap();
                builder.line(i, l);
            }
            builder.end_version();
        }
        let h = builder.finish();
        let captures = |added: &[&str], removed: &[&str]| Change::Captures {
            added: added.iter().map(|s| s.to_string()).collect(),
            removed: removed.iter().map(|s| s.to_string()).collect(),
        };
        let events = |i: usize| -> Vec<(u32, Change)> {
            h.of(i)
                .events
                .iter()
                .map(|e| (e.version, e.change.clone()))
                .collect()
        };
        assert_eq!(h.of(0).entered, Some(1));
        assert_eq!(
            events(0),
            vec![(2, captures(&[b], &[])), (3, captures(&[], &[a]))]
        );
        assert_eq!(
            events(1),
            vec![
                (2, Change::Absent),
                (3, Change::Returned),
                (3, captures(&[b], &[]))
            ]
        );
        assert_eq!((h.of(2).entered, events(2)), (Some(2), vec![]));
        assert_eq!(h.capture_added_in(0, b), Some(2));
        assert_eq!(h.capture_added_in(0, a), Some(1));
        assert_eq!(h.of(7).entered, None);
    }
}
