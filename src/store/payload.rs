//! Writing the payload of the version: every file in path order, new ones from the spill and
//! kept ones copied from the previous version's zip after checking them against its manifests.

use super::base::{Base, ManifestCursors, PreviousFiles};
use super::journal::{LineJournal, Slot};
use super::snapshot::{Origin, Snapshot, path_key};
use crate::bag::capture::IndexLine;
use crate::bag::{BagWriter, Entry, SpillReader};
use crate::error::{Error, Result};
use crate::hash::DigestBytes;
use crate::progress::Progress;

impl Snapshot<'_> {
    /// Writes every payload file into `bag` in path order: cables in the order of their
    /// folders (`data/cables/<ID>/`), each cable's files sorted, then the unparsed inputs. New
    /// files are copied raw from the spill; files the previous version holds are checked
    /// against its manifests (a batch at a time, on all cores) and copied raw from its zip.
    pub(super) fn write_payload(
        &self,
        journal: &mut LineJournal,
        spill: &SpillReader,
        base: Option<&Base>,
        bag: &mut BagWriter,
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut cursors = base.map(|b| b.manifests(bag.scratch())).transpose()?;
        let mut previous = base.map(PreviousFiles::new).transpose()?;
        let mut ids = FolderOrder::new(self.cables.iter().map(|(id, s)| (&**id, *s)));
        let mut batch = Vec::with_capacity(COPY_BATCH);
        let mut files: Vec<PlannedFile> = Vec::new();
        loop {
            batch.clear();
            batch.extend(ids.by_ref().take(COPY_BATCH));
            if batch.is_empty() {
                break;
            }
            files.clear();
            for (id, slot) in &batch {
                let line = journal.read(*slot)?;
                self.plan_cable(id, line, &mut files)?;
            }
            let from = previous.as_mut().zip(cursors.as_mut());
            self.write_batch(&mut files, spill, from, bag, progress)?;
        }
        files.clear();
        for u in self.unparsed.values() {
            files.push(PlannedFile {
                path: u.raw.clone(),
                origin: self.origin_of(&u.raw)?,
                part: CapturePart::Raw,
            });
        }
        let from = previous.as_mut().zip(cursors.as_mut());
        self.write_batch(&mut files, spill, from, bag, progress)
    }

    /// Where the bytes of the capture with raw path `raw` come from.
    fn origin_of(&self, raw: &str) -> Result<Origin> {
        self.origin(&path_key(raw)).ok_or_else(|| {
            Error::Invalid(format!(
                "{raw}: a capture without an origin (internal error)"
            ))
        })
    }

    /// A cable's payload files, sorted by path.
    fn plan_cable(&self, id: &str, line: IndexLine, files: &mut Vec<PlannedFile>) -> Result<()> {
        let first = files.len();
        let folder = format!("data/cables/{id}/");
        for c in line.captures {
            let origin = self.origin_of(&c.raw)?;
            for (path, part) in [(c.raw, CapturePart::Raw), (c.record, CapturePart::Record)] {
                if !path.starts_with(&folder) {
                    return Err(Error::Invalid(format!(
                        "{path}: not in its cable's folder {folder} (the index is damaged)"
                    )));
                }
                files.push(PlannedFile { path, origin, part });
            }
        }
        files[first..].sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }

    /// Writes a batch of planned files: from the spill, or copied from the previous version
    /// (`previous`: where its files are, and its manifests), checked first.
    fn write_batch(
        &self,
        files: &mut [PlannedFile],
        spill: &SpillReader,
        previous: Option<(&mut PreviousFiles<'_>, &mut ManifestCursors)>,
        bag: &mut BagWriter,
        progress: &dyn Progress,
    ) -> Result<()> {
        let (base, copied) = match previous {
            Some((previous, manifests)) => {
                let copied = previous_files(files, previous, manifests)?;
                previous.base.check_copied(&copied)?;
                (Some(previous.base), copied)
            }
            None => (None, Vec::new()),
        };
        let mut copied = copied.into_iter();
        for f in files.iter() {
            match f.origin {
                Origin::Input { raw } => {
                    let at = match f.part {
                        CapturePart::Raw => raw,
                        // The record follows the raw bytes in the spill.
                        CapturePart::Record => spill.after(raw)?,
                    };
                    bag.add_spilled(&f.path, spill, at)?;
                }
                Origin::Previous => {
                    let (Some(base), Some((entry, digests))) = (base, copied.next()) else {
                        return Err(Error::Invalid(format!(
                            "{}: from a previous version, but there is none (internal error)",
                            f.path
                        )));
                    };
                    bag.add_from_archive(&f.path, &base.archive, &entry, &digests)?;
                }
            }
            progress.inc(1);
        }
        Ok(())
    }
}

/// Cables in the order of their folders' paths (`<ID>/`) from cables in the order of their
/// ids, without sorting a copy of them all again (a copy grows with the corpus). The
/// orders differ only where an id starts with another and goes on with a character that sorts
/// before `/` (`X-1/` comes before `X/`); such ids follow the shorter one in id order, with only
/// ids that start with it in between. So each run of ids that start with the run's first id is
/// sorted again; any other id is passed on as it comes.
struct FolderOrder<'a, I: Iterator<Item = (&'a str, Slot)>> {
    ids: std::iter::Peekable<I>,
    run: std::vec::IntoIter<(&'a str, Slot)>,
}

impl<'a, I: Iterator<Item = (&'a str, Slot)>> FolderOrder<'a, I> {
    fn new(ids: I) -> Self {
        FolderOrder {
            ids: ids.peekable(),
            run: Vec::new().into_iter(),
        }
    }
}

impl<'a, I: Iterator<Item = (&'a str, Slot)>> Iterator for FolderOrder<'a, I> {
    type Item = (&'a str, Slot);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(next) = self.run.next() {
            return Some(next);
        }
        let first = self.ids.next()?;
        let starts_run = |(id, _): &(&str, Slot)| id.starts_with(first.0);
        if !self.ids.peek().is_some_and(starts_run) {
            return Some(first);
        }
        let mut run = vec![first];
        while let Some(next) = self.ids.next_if(starts_run) {
            run.push(next);
        }
        run.sort_by(|a, b| folder_path_order(a.0, b.0));
        self.run = run.into_iter();
        self.run.next()
    }
}

/// The order of two cables' folders, `<ID>/`.
fn folder_path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().chain(*b"/").cmp(b.bytes().chain(*b"/"))
}

/// How many cables' files are planned, checked and written at a time: enough to keep both
/// cores busy checking copied files, few enough that the batch's paths take little memory.
const COPY_BATCH: usize = 4096;

/// A payload file of the version being written.
struct PlannedFile {
    path: String,
    origin: Origin,
    part: CapturePart,
}

/// Which of a capture's files a payload file is (an unparsed input has only its raw bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CapturePart {
    Raw,
    Record,
}

/// The entries and manifest digests of the files of a batch that come from the previous
/// version, in order.
fn previous_files(
    files: &[PlannedFile],
    previous: &mut PreviousFiles<'_>,
    (sha256, sha512): &mut ManifestCursors,
) -> Result<Vec<(Entry, DigestBytes)>> {
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.origin == Origin::Previous) {
        let entry = previous.find(&f.path)?;
        let digests = DigestBytes {
            sha256: sha256.find(&f.path)?,
            sha512: sha512.find(&f.path)?,
        };
        out.push((entry, digests));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cables_come_in_the_order_of_their_folders() {
        // Ids that start with others, going on with characters before and after `/`.
        let mut ids = vec![
            "X",
            "X-1",
            "X-1-2",
            "X-1.",
            "X-10",
            "X.2",
            "X 3",
            "X0",
            "XA",
            "X-",
            "Y",
            "Y-1",
            "Y-1-1",
            "Z",
            "08MADRID1",
            "08MADRID1-",
            "08MADRID10",
            "08MADRID1.5",
        ];
        ids.sort();
        let slots = (0..ids.len() as u64).map(|i| Slot { offset: i, len: 1 });
        let streamed: Vec<&str> = FolderOrder::new(ids.iter().copied().zip(slots))
            .map(|(id, _)| id)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_by(|a, b| folder_path_order(a, b));
        assert_ne!(sorted, ids, "the two orders differ for these ids");
        assert_eq!(streamed, sorted);
    }
}
