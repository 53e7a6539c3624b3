//! JSON Lines and line-by-line reading: the cable index, `unparsed.jsonl`, the stage, the link
//! log and manifests are read as they are inflated, a line at a time, never whole.

use serde::{Deserialize, Serialize};

/// Serializes index lines as JSON Lines, sorted by id.
pub(crate) fn write_jsonl<'a, T: Serialize + 'a>(
    lines: impl IntoIterator<Item = &'a T>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, line).expect("index line serializes");
        out.push(b'\n');
    }
    out
}

/// Splits a byte stream into lines (without `\n` or `\r\n`), numbering them from 1: JSON
/// Lines and manifests are read this way as they are inflated, never whole.
///
/// A line longer than [`MAX_LINE`] is handed over cut to that length (the rest of it is skipped,
/// never held): no line cablekeep writes comes near it, and a cut JSON line or manifest line
/// does not parse, so the reader reports the file as damaged in bounded memory.
#[derive(Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    number: usize,
    /// The line being buffered went past [`MAX_LINE`]: its bytes up to the next break are
    /// dropped.
    overlong: bool,
}

/// The longest line [`LineSplitter`] hands over whole. An index line holds one cable's metadata
/// and its captures (kilobytes); a manifest line a digest and a path.
pub(crate) const MAX_LINE: usize = 64 << 20;

impl LineSplitter {
    /// Adds bytes and calls `each` with every complete line; false as soon as `each` is. Lines
    /// that lie whole in `chunk` are handed over where they lie: only a line split between two
    /// chunks is copied (a stream of hundreds of MB is otherwise copied once more).
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&[u8], usize) -> bool,
    ) -> bool {
        let mut rest = chunk;
        if !self.buf.is_empty() || self.overlong {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                self.buffer(rest);
                return true;
            };
            self.buffer(&rest[..end]);
            rest = &rest[end + 1..];
            self.number += 1;
            let ok = each(without_cr(&self.buf), self.number);
            self.buf.clear();
            self.overlong = false;
            if !ok {
                self.buffer(rest);
                return false;
            }
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.number += 1;
            let line = &rest[..end.min(MAX_LINE)];
            rest = &rest[end + 1..];
            if !each(without_cr(line), self.number) {
                self.buffer(rest);
                return false;
            }
        }
        self.buffer(rest);
        true
    }

    /// Keeps the start of a line split between chunks, up to [`MAX_LINE`] bytes of it.
    fn buffer(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.buf.len());
        if bytes.len() > room {
            self.overlong = true;
        }
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The last line, when the stream does not end with a line break.
    pub(crate) fn finish(&mut self, mut each: impl FnMut(&[u8], usize) -> bool) -> bool {
        if self.buf.is_empty() && !self.overlong {
            return true;
        }
        self.overlong = false;
        self.number += 1;
        let line = std::mem::take(&mut self.buf);
        each(without_cr(&line), self.number)
    }
}

/// A line without the `\r` of a `\r\n` break.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses one JSON document from bytes, as `serde_json::from_slice` does (the same values, the
/// same errors) but faster for text that is UTF-8: it is checked once, whole, instead of string by
/// string (hundreds of thousands of index lines with ~25 strings each).
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        // from_slice says where the bad byte is, in the words it always has.
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Parses JSON Lines; the error names the 1-based line that does not parse.
pub(crate) fn read_jsonl<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<Vec<T>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `stream` with its number, fed in pieces of `piece` bytes.
    fn split_in_pieces(stream: &[u8], piece: usize) -> Vec<(Vec<u8>, usize)> {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        let mut keep = |line: &[u8], number: usize| {
            lines.push((line.to_vec(), number));
            true
        };
        for chunk in stream.chunks(piece) {
            splitter.feed(chunk, &mut keep);
        }
        splitter.finish(&mut keep);
        lines
    }

    #[test]
    fn lines_are_the_same_however_the_stream_is_cut() {
        let stream =
            b"first\r\nsecond\n\nfourth, longer than a piece\r\n\rfifth\nlast without a break";
        let expected: Vec<(Vec<u8>, usize)> = [
            &b"first"[..],
            b"second",
            b"",
            b"fourth, longer than a piece",
            b"\rfifth",
            b"last without a break",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| (l.to_vec(), i + 1))
        .collect();
        for piece in 1..=stream.len() {
            assert_eq!(
                split_in_pieces(stream, piece),
                expected,
                "pieces of {piece}"
            );
        }
        assert_eq!(split_in_pieces(b"", 4), Vec::new());
        assert_eq!(split_in_pieces(b"one\n", 2), vec![(b"one".to_vec(), 1)]);
    }

    #[test]
    fn a_splitter_stops_when_told() {
        for piece in 1..=12 {
            let mut splitter = LineSplitter::default();
            let mut seen = Vec::new();
            let mut going = true;
            for chunk in b"a\nbb\ncc\ndd".chunks(piece) {
                if going {
                    going = splitter.feed(chunk, |line, _| {
                        seen.push(line.to_vec());
                        line != b"bb"
                    });
                }
            }
            assert!(!going, "pieces of {piece}");
            assert_eq!(
                seen,
                vec![b"a".to_vec(), b"bb".to_vec()],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn a_line_longer_than_the_bound_is_handed_over_cut_and_never_held() {
        let long = vec![b'x'; MAX_LINE + 1000];
        let stream = [
            b"a\n".to_vec(),
            long,
            b"\nb\n".to_vec(),
            vec![b'y'; MAX_LINE + 5],
        ]
        .concat();
        for piece in [1 << 20, MAX_LINE + 2000, stream.len()] {
            let mut splitter = LineSplitter::default();
            let mut seen = Vec::new();
            let mut largest_buffer = 0;
            for chunk in stream.chunks(piece) {
                splitter.feed(chunk, |line, n| {
                    seen.push((line.len(), n));
                    true
                });
                largest_buffer = largest_buffer.max(splitter.buf.len());
            }
            splitter.finish(|line, n| {
                seen.push((line.len(), n));
                true
            });
            assert_eq!(
                seen,
                vec![(1, 1), (MAX_LINE, 2), (1, 3), (MAX_LINE, 4)],
                "pieces of {piece}"
            );
            assert!(largest_buffer <= MAX_LINE, "pieces of {piece}");
        }
    }
}
