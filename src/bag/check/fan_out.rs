//! One inflating of an entry handed to several sinks, each on a thread of its own.

use crate::bag::{Entry, OpenArchive};
use crate::error::{IoContext, Result};
use crate::finding::Finding;
use std::sync::Arc;

/// Takes a stream's bytes, piece by piece, on a thread of its own.
pub(super) type Sink<'a> = &'a mut (dyn FnMut(&[u8]) + Send);

/// Takes a stream's lines with their numbers.
pub(super) type LineSink<'a> = &'a mut (dyn FnMut(&[u8], usize) + Send);

/// Bytes handed from the inflating thread to the sinks at a time.
pub(super) const PIECE: usize = 1 << 18;

/// Inflates an entry once and hands its bytes, in order, to every sink, each sink on a thread
/// of its own (so that hashing twice and parsing take the time of the slowest, not the sum).
/// The data is inflated straight into the pieces the sinks share. Returns the findings about
/// the entry's data.
pub(super) fn fan_out(
    archive: &OpenArchive,
    entry: &Entry,
    sinks: &mut [Sink<'_>],
) -> Result<Vec<Finding>> {
    let mut data = match archive.entry_data(entry) {
        Ok(data) => data,
        Err(finding) => return Ok(vec![finding]),
    };
    std::thread::scope(|scope| {
        let senders: Vec<_> = sinks
            .iter_mut()
            .map(|sink| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(4);
                let sink: &mut (dyn FnMut(&[u8]) + Send) = &mut **sink;
                scope.spawn(move || rx.into_iter().for_each(|piece| sink(&piece)));
                tx
            })
            .collect();
        let mut pieces = Pieces::default();
        loop {
            let mut piece = pieces.blank();
            let filled = data.fill(&mut piece).at(&archive.path)?;
            if filled == 0 {
                break;
            }
            piece.truncate(filled);
            let piece = Arc::new(piece);
            for tx in &senders {
                // A sink only stops early by panicking, which the scope reports.
                let _ = tx.send(Arc::clone(&piece));
            }
            pieces.lent(piece);
            if filled < PIECE {
                break;
            }
        }
        Ok(())
    })?;
    Ok(data.finish())
}

/// The pieces [`fan_out`] has handed to its sinks, oldest first, filled again once every sink
/// is done with them: fresh 256 KB buffers would each be zeroed before being filled.
#[derive(Default)]
struct Pieces {
    lent: std::collections::VecDeque<Arc<Vec<u8>>>,
}

impl Pieces {
    /// A buffer of [`PIECE`] bytes to fill.
    fn blank(&mut self) -> Vec<u8> {
        let returned = self.lent.front().is_some_and(|p| Arc::strong_count(p) == 1);
        if returned && let Some(Ok(mut piece)) = self.lent.pop_front().map(Arc::try_unwrap) {
            piece.resize(PIECE, 0);
            return piece;
        }
        vec![0; PIECE]
    }

    fn lent(&mut self, piece: Arc<Vec<u8>>) {
        self.lent.push_back(piece);
    }
}
