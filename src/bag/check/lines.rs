//! Tag files read line by line, within limits: no line held is longer than [`MAX_LINE`], and a
//! payload manifest is read only as far as its zip could need.

/// A line of a tag file read line by line is held whole: far longer than any real line
/// (a payload path is at most 64 KiB; an index line names a cable's few captures).
const MAX_LINE: usize = 4 << 20;

/// How much of a payload manifest is read as lines. A line per payload file, and each such file
/// takes more bytes of the zip (local header, directory record, both with its name) than about
/// half its manifest line: so no real manifest is larger than twice the zip. A hostile one (a
/// few MB of zip that inflate to a GB of repeated lines) is read as far as this, and hashed to
/// its end.
pub(super) fn payload_manifest_budget(zip_len: u64) -> u64 {
    zip_len.saturating_mul(4).saturating_add(1 << 20)
}

/// Splits a stream into lines (as [`crate::jsonl::LineSplitter`] does, without their `\r\n` or
/// `\n`), reading no more than a budget of it, and skipping lines longer than [`MAX_LINE`]:
/// what is held stays bounded whatever the stream. Each limit reached is a problem.
pub(super) struct LimitedLines {
    partial: Vec<u8>,
    pub(super) number: usize,
    /// Bytes still to read as lines.
    pub(super) budget: u64,
    /// Bytes of the stream seen, read or not.
    pub(super) seen: u64,
    /// The current line is too long: its bytes up to its end are skipped.
    skipping: bool,
    /// The stream went on past the budget.
    cut: bool,
    pub(super) problems: Vec<String>,
}

impl LimitedLines {
    pub(super) fn new(budget: u64) -> Self {
        LimitedLines {
            partial: Vec::new(),
            number: 0,
            budget,
            seen: 0,
            skipping: false,
            cut: false,
            problems: Vec::new(),
        }
    }

    pub(super) fn feed(&mut self, piece: &[u8], each: &mut (dyn FnMut(&[u8], usize) + Send)) {
        self.seen += piece.len() as u64;
        let take = piece
            .len()
            .min(usize::try_from(self.budget).unwrap_or(usize::MAX));
        self.budget -= take as u64;
        self.cut |= take < piece.len();
        let mut rest = &piece[..take];
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.number += 1;
            let line = &rest[..end];
            rest = &rest[end + 1..];
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if self.partial.is_empty() {
                each(without_cr(line), self.number);
            } else if self.partial.len() + line.len() > MAX_LINE {
                self.partial.clear();
                self.too_long(self.number);
            } else {
                self.partial.extend_from_slice(line);
                each(without_cr(&self.partial), self.number);
                self.partial.clear();
            }
        }
        if !self.skipping {
            if self.partial.len() + rest.len() > MAX_LINE {
                self.partial.clear();
                self.skipping = true;
                self.too_long(self.number + 1);
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
    }

    fn too_long(&mut self, number: usize) {
        self.problems.push(format!(
            "line {number} is longer than {MAX_LINE} bytes, longer than any real line: it was skipped"
        ));
    }

    /// The last line, when the stream does not end with a line break; a problem when the stream
    /// was longer than the budget (the line it cut is not read).
    pub(super) fn finish(&mut self, each: &mut (dyn FnMut(&[u8], usize) + Send)) {
        if self.cut {
            self.problems.push(format!(
                "{} bytes, more than a manifest of this zip could need: only its first lines were read (those are checked; the rest is only hashed)",
                self.seen
            ));
        } else if !self.skipping && !self.partial.is_empty() {
            self.number += 1;
            each(without_cr(&self.partial), self.number);
        }
    }
}

/// A line without the `\r` of a `\r\n` break.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bag::check::fan_out::PIECE;

    /// The lines `LimitedLines` hands over for a stream fed in `pieces`, and its problems.
    fn lines_of(pieces: &[&[u8]], budget: u64) -> (Vec<(usize, Vec<u8>)>, Vec<String>) {
        let mut splitter = LimitedLines::new(budget);
        let mut lines = Vec::new();
        let mut each = |line: &[u8], number: usize| lines.push((number, line.to_vec()));
        for piece in pieces {
            splitter.feed(piece, &mut each);
        }
        splitter.finish(&mut each);
        (lines, splitter.problems)
    }

    #[test]
    fn lines_are_split_across_pieces_without_their_breaks() {
        let (lines, problems) = lines_of(&[b"a\r\nb", b"c\n", b"\nlast"], u64::MAX);
        let expected: Vec<(usize, Vec<u8>)> = vec![
            (1, b"a".to_vec()),
            (2, b"bc".to_vec()),
            (3, b"".to_vec()),
            (4, b"last".to_vec()),
        ];
        assert_eq!(lines, expected);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_skipped_and_reported_and_the_next_is_read() {
        let long = vec![b'x'; PIECE];
        let mut pieces: Vec<&[u8]> = vec![b"first\nxx"];
        pieces.extend(std::iter::repeat_n(&long[..], MAX_LINE / PIECE + 1));
        pieces.push(b"\nnext\n");
        let (lines, problems) = lines_of(&pieces, u64::MAX);
        assert_eq!(lines, vec![(1, b"first".to_vec()), (3, b"next".to_vec())]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("line 2 is longer"), "{problems:?}");
    }

    #[test]
    fn a_stream_past_the_budget_is_read_up_to_it_and_reported() {
        let (lines, problems) = lines_of(&[b"one\ntwo\nthree\n"], 6);
        assert_eq!(lines, vec![(1, b"one".to_vec())]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("14 bytes, more than"),
            "{problems:?}"
        );
        let (_, problems) = lines_of(&[b"one\n"], 4);
        assert!(
            problems.is_empty(),
            "a stream of exactly the budget is whole"
        );
    }

    #[test]
    fn no_real_manifest_is_larger_than_the_budget_for_its_zip() {
        // The smallest footprint a payload file can have in a zip (local header and directory
        // record with its name, no data) against its SHA-512 manifest line.
        for name_len in [1u64, 20, 200, 65_535] {
            let footprint = 30 + 46 + 2 * name_len;
            let line = 128 + 2 + name_len + 1;
            let files = 1_000_000;
            assert!(payload_manifest_budget(files * footprint) > files * line);
        }
    }
}
