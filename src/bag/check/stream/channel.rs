//! The channels between a tag file's reader and the merge: sorted paths with their values, in
//! batches.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A reason to give up on streaming (the archive is in an order the merge cannot follow).
pub(super) struct Unstreamable;

/// Items a tag file's reader hands to the merge at a time.
const BATCH: usize = 1024;

/// Batches in flight between a reader and the merge.
const IN_FLIGHT: usize = 8;

/// What a tag file's reader hands to the merge: paths in sorted order with what it says of
/// each, or word that the file is not sorted (the merge then gives up).
enum Message<T> {
    Items(Batch<T>),
    Unsorted,
}

/// Paths and their values, the paths packed into one string (no allocation per path: the
/// manifests and the index of the whole corpus name a million and a half).
struct Batch<T> {
    pub(super) paths: String,
    /// Where each path lies in `paths`, and its value.
    items: VecDeque<(u32, u32, T)>,
}

impl<T> Batch<T> {
    pub(super) fn new() -> Self {
        Batch {
            paths: String::with_capacity(BATCH * 64),
            items: VecDeque::with_capacity(BATCH),
        }
    }

    pub(super) fn push(&mut self, path: &str, value: T) {
        let start = self.paths.len() as u32;
        self.paths.push_str(path);
        self.items
            .push_back((start, self.paths.len() as u32, value));
    }

    fn front_path(&self) -> Option<&str> {
        let (start, end, _) = self.items.front()?;
        Some(&self.paths[*start as usize..*end as usize])
    }
}

/// The sending end of a reader's stream, in batches.
pub(super) struct Outgoing<T> {
    tx: Option<SyncSender<Message<T>>>,
    rx: Option<Receiver<Message<T>>>,
    batch: Batch<T>,
}

impl<T> Outgoing<T> {
    pub(super) fn new() -> Self {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        Outgoing {
            tx: Some(tx),
            rx: Some(rx),
            batch: Batch::new(),
        }
    }

    /// The receiving end, for the merge (taken once).
    pub(super) fn receiver(&mut self) -> Stream<T> {
        Stream {
            rx: self.rx.take().expect("the receiver is taken once"),
            batch: Batch::new(),
        }
    }

    pub(super) fn push(&mut self, path: &str, value: T) {
        if self.tx.is_none() {
            return;
        }
        self.batch.push(path, value);
        if self.batch.items.len() >= BATCH {
            let batch = std::mem::replace(&mut self.batch, Batch::new());
            self.send(Message::Items(batch));
        }
    }

    /// The stream is out of order: nothing more is sent.
    pub(super) fn unsorted(&mut self) {
        self.batch = Batch::new();
        self.send(Message::Unsorted);
        self.tx = None;
    }

    /// The stream's end: what is left is sent and the channel closed.
    pub(super) fn finish(&mut self) {
        if !self.batch.items.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Batch::new());
            self.send(Message::Items(batch));
        }
        self.tx = None;
    }

    fn send(&mut self, message: Message<T>) {
        // The merge hung up: it gave up streaming, and nothing more is wanted.
        if self.tx.as_ref().is_some_and(|tx| tx.send(message).is_err()) {
            self.tx = None;
        }
    }
}

/// The receiving end of a reader's stream.
pub(super) struct Stream<T> {
    rx: Receiver<Message<T>>,
    batch: Batch<T>,
}

impl<T> Stream<T> {
    /// The next path, None at the end of the stream.
    fn peek(&mut self) -> std::result::Result<Option<&str>, Unstreamable> {
        while self.batch.items.is_empty() {
            match self.rx.recv() {
                Ok(Message::Items(batch)) => self.batch = batch,
                Ok(Message::Unsorted) => return Err(Unstreamable),
                Err(_) => return Ok(None),
            }
        }
        Ok(self.batch.front_path())
    }

    /// Hands every item before `path` to `unknown`, then every item at `path` to `found`.
    pub(super) fn advance_to(
        &mut self,
        path: &str,
        mut unknown: impl FnMut(&str, T),
        mut found: impl FnMut(T),
    ) -> std::result::Result<(), Unstreamable> {
        while let Some(next) = self.peek()? {
            let ordering = next.cmp(path);
            if ordering.is_gt() {
                break;
            }
            let (start, end, value) = self.batch.items.pop_front().expect("peeked");
            if ordering.is_lt() {
                unknown(&self.batch.paths[start as usize..end as usize], value);
            } else {
                found(value);
            }
        }
        Ok(())
    }

    /// Hands every item left to `unknown`.
    pub(super) fn rest(
        &mut self,
        mut unknown: impl FnMut(&str, T),
    ) -> std::result::Result<(), Unstreamable> {
        while self.peek()?.is_some() {
            let (start, end, value) = self.batch.items.pop_front().expect("peeked");
            unknown(&self.batch.paths[start as usize..end as usize], value);
        }
        Ok(())
    }
}
