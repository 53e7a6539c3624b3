//! Framing of the `cables.csv` table: splitting the byte stream into rows (streamed, one row in
//! memory, resynchronised after an unterminated quote, overlong rows cut) and a row into its
//! unquoted fields.

use super::{FIELDS, MAX_ROW_BYTES};
use std::io::{self, BufRead};

/// Framing state of the row splitter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a backslash inside a quoted field.
    Escape,
    /// Just after a quote inside a quoted field: the end of the field or a doubled quote.
    AfterQuote,
}

/// Splits a table into rows without reading them: calls `each(number, raw, problems)` for
/// every row, where `problems` are framing problems (unterminated quote, overlong row).
/// Holds at most one row in memory.
///
/// An overlong row's `raw` holds only its first [`MAX_ROW_BYTES`] bytes: for byte ranges of
/// the file use [`split_rows_with_offsets`].
pub fn split_rows<R: BufRead>(
    reader: R,
    mut each: impl FnMut(u64, Vec<u8>, Vec<String>),
) -> io::Result<()> {
    split_rows_limited(reader, MAX_ROW_BYTES, |n, raw, p, _| each(n, raw, p))
}

/// One row of a table as [`split_rows_with_offsets`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRow {
    /// The row's position in the file, from 1.
    pub number: u64,
    /// Where the row starts in the file, in bytes.
    pub offset: u64,
    /// The row's length in the file, line terminator included. The rows' ranges
    /// `offset..offset + len` cover the file exactly, in order, with no gap.
    pub len: u64,
    /// The row's bytes: all `len` of them, except for a row longer than [`MAX_ROW_BYTES`],
    /// whose first bytes only are kept (a problem says so).
    pub raw: Vec<u8>,
    /// Framing problems: unterminated quote, overlong row.
    pub problems: Vec<String>,
}

/// [`split_rows`] with each row's byte range in the file, so that a caller can keep rows as
/// ranges of the file and read them again when needed.
pub fn split_rows_with_offsets<R: BufRead>(
    reader: R,
    mut each: impl FnMut(SplitRow),
) -> io::Result<()> {
    let mut offset = 0u64;
    split_rows_limited(reader, MAX_ROW_BYTES, |number, raw, problems, len| {
        each(SplitRow {
            number,
            offset,
            len,
            raw,
            problems,
        });
        offset += len;
    })
}

/// [`split_rows`] with a given longest row.
pub(super) fn split_rows_limited<R: BufRead>(
    mut reader: R,
    max_row: usize,
    each: impl FnMut(u64, Vec<u8>, Vec<String>, u64),
) -> io::Result<()> {
    let mut splitter = Splitter::new(max_row, each);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        splitter.feed(buf);
        reader.consume(len);
    }
    splitter.finish();
    Ok(())
}

/// The row splitter between two buffers of input: the row so far and what is known of it.
/// Rows are handed to `each(number, raw, problems, length in the file)`.
struct Splitter<F> {
    each: F,
    max_row: usize,
    row: Vec<u8>,
    state: State,
    /// Rows handed over so far.
    number: u64,
    /// The table's own number of the previous row, to recognise the start of the next one.
    last_col1: Option<u64>,
    field_index: usize,
    col1: Vec<u8>,
    /// Start of a candidate next row inside a quoted field (after a newline).
    candidate: Option<usize>,
    /// The bytes the next row starts with (`"N+1","`).
    prefix: Vec<u8>,
    /// `prefix` is worked out once per row: it depends only on the previous row's number and
    /// this row's first field, which is complete once the second field starts. (Working it out
    /// at every newline of the body would be a large part of the time spent splitting.)
    prefix_is_this_rows: bool,
    /// After an overlong row: skipping to the next row start.
    skipping: bool,
    skipped: u64,
    /// The overlong row, handed over once its end is found, with its true length.
    pending: Option<(u64, Vec<u8>, Vec<String>)>,
    at_line_start: bool,
    problems: Vec<String>,
}

impl<F: FnMut(u64, Vec<u8>, Vec<String>, u64)> Splitter<F> {
    fn new(max_row: usize, each: F) -> Self {
        Splitter {
            each,
            max_row,
            row: Vec::new(),
            state: State::FieldStart,
            number: 0,
            last_col1: None,
            field_index: 0,
            col1: Vec::new(),
            candidate: None,
            prefix: Vec::new(),
            prefix_is_this_rows: false,
            skipping: false,
            skipped: 0,
            pending: None,
            at_line_start: false,
            problems: Vec::new(),
        }
    }

    /// Reads one buffer of input.
    fn feed(&mut self, buf: &[u8]) {
        let mut i = 0;
        while i < buf.len() {
            let b = buf[i];
            i += 1;
            if self.skipping {
                self.skip_byte(b);
                continue;
            }
            let copied = self.copy_quoted_run(&buf[i - 1..]);
            if copied > 0 {
                i += copied - 1;
                continue;
            }
            self.take_byte(b, &buf[i..]);
        }
    }

    /// Fast path: the run of ordinary bytes inside a quoted field (most of the file), copied at
    /// once; never past the longest row (the byte path reports that). Returns how many bytes
    /// were copied from `rest`.
    fn copy_quoted_run(&mut self, rest: &[u8]) -> usize {
        if self.state != State::Quoted || self.field_index == 0 || self.candidate.is_some() {
            return 0;
        }
        let run = memchr::memchr3(b'"', b'\\', b'\n', rest)
            .unwrap_or(rest.len())
            .min(self.max_row.saturating_sub(self.row.len()));
        self.row.extend_from_slice(&rest[..run]);
        run
    }

    /// Reads one byte of a row; `ahead` is the rest of the buffer after it.
    fn take_byte(&mut self, b: u8, ahead: &[u8]) {
        self.row.push(b);
        let prev_state = self.state;
        if step(&mut self.state, b, &mut self.field_index, &mut self.col1) {
            self.end_row();
            return;
        }
        // Inside a quoted field: a newline followed by the next row's start ends the row.
        if let Some(c) = self.candidate {
            let k = self.row.len() - c;
            if k > self.prefix.len() || self.row[c + k - 1] != self.prefix[k - 1] {
                self.candidate = None;
            } else if k == self.prefix.len() {
                self.end_unterminated_row(c);
                return;
            }
        }
        if b == b'\n' && matches!(prev_state, State::Quoted | State::Escape) {
            self.note_candidate(ahead);
        }
        if self.row.len() > self.max_row {
            self.cut_overlong_row(b);
        }
    }

    /// After a newline inside a quoted field: the next row may start here.
    fn note_candidate(&mut self, ahead: &[u8]) {
        if !self.prefix_is_this_rows {
            self.prefix = expected_prefix(self.last_col1, &self.col1);
            self.prefix_is_this_rows = self.field_index > 0;
        }
        // A candidate is followed byte by byte until it fails; when the buffer already shows
        // it cannot be the next row's start (nearly every newline of a body), there is none
        // to follow.
        let surely_not = ahead.len() >= self.prefix.len() && !ahead.starts_with(&self.prefix);
        if !self.prefix.is_empty() && !surely_not {
            self.candidate = Some(self.row.len());
        }
    }

    /// Hands over the row just ended by its newline.
    fn end_row(&mut self) {
        self.number += 1;
        self.last_col1 = self.this_rows_number();
        let r = std::mem::take(&mut self.row);
        // Rows are of a size: starting the next one at this one's spares most regrowth.
        self.row.reserve(r.len().min(1 << 20));
        let l = r.len() as u64;
        let problems = std::mem::take(&mut self.problems);
        (self.each)(self.number, r, problems, l);
        self.start_row();
    }

    /// Hands over a row whose quoted field never closed, up to the next row's start found at
    /// `next_start` in it; the next row goes on from there.
    fn end_unterminated_row(&mut self, next_start: usize) {
        let next_start = self.row.split_off(next_start);
        self.number += 1;
        let mut p = std::mem::take(&mut self.problems);
        p.push("unterminated quoted field: the row ends before the next row's start".to_string());
        self.last_col1 = self.this_rows_number();
        let r = std::mem::take(&mut self.row);
        let l = r.len() as u64;
        (self.each)(self.number, r, p, l);
        self.start_row();
        self.replay(&next_start);
    }

    /// Keeps the first bytes of a row longer than the longest row, and skips the rest of it.
    fn cut_overlong_row(&mut self, b: u8) {
        self.number += 1;
        let mut p = std::mem::take(&mut self.problems);
        p.push(format!(
            "row is longer than {} bytes: only its first bytes are kept and the rest up to the next row is skipped",
            self.max_row
        ));
        self.prefix = expected_prefix(self.last_col1, &self.col1);
        self.last_col1 = self.this_rows_number();
        // Handed over once its end is found, with its true length.
        self.pending = Some((self.number, std::mem::take(&mut self.row), p));
        self.start_row();
        self.skipping = true;
        self.at_line_start = b == b'\n';
    }

    /// While skipping an overlong row: looks only for a line that starts like the next row.
    fn skip_byte(&mut self, b: u8) {
        if self.row.is_empty() && !self.at_line_start {
            self.skipped += 1;
            self.at_line_start = b == b'\n';
            return;
        }
        self.row.push(b);
        if !self.prefix.starts_with(&self.row) {
            self.skipped += self.row.len() as u64;
            self.row.clear();
            self.at_line_start = b == b'\n';
            return;
        }
        if self.row.len() == self.prefix.len() {
            self.skipping = false;
            if let Some((n, raw, mut p)) = self.pending.take() {
                p.push(format!(
                    "{} bytes of the row after its first {} were skipped",
                    self.skipped,
                    raw.len()
                ));
                let total = raw.len() as u64 + self.skipped;
                (self.each)(n, raw, p, total);
            }
            self.skipped = 0;
            let start = std::mem::take(&mut self.row);
            self.start_row();
            self.replay(&start);
        }
    }

    /// Hands over what is left at the end of the input.
    fn finish(mut self) {
        if self.skipping {
            self.skipped += self.row.len() as u64;
            self.row.clear();
            if let Some((n, raw, mut p)) = self.pending.take() {
                p.push(format!(
                    "{} bytes of the row after its first {} were skipped, up to the end of the file",
                    self.skipped,
                    raw.len()
                ));
                let total = raw.len() as u64 + self.skipped;
                (self.each)(n, raw, p, total);
            }
        } else if !self.row.is_empty() {
            self.number += 1;
            if matches!(self.state, State::Quoted | State::Escape) {
                self.problems
                    .push("unterminated quoted field at the end of the file".to_string());
            }
            let l = self.row.len() as u64;
            (self.each)(self.number, self.row, self.problems, l);
        }
    }

    /// The table's number of the row just read: its first field, else the previous one's + 1.
    fn this_rows_number(&self) -> Option<u64> {
        col1_number(&self.col1).or(self.last_col1.map(|l| l + 1))
    }

    /// Resets the framing state for a new row.
    fn start_row(&mut self) {
        self.state = State::FieldStart;
        self.field_index = 0;
        self.col1.clear();
        self.prefix_is_this_rows = false;
        self.candidate = None;
    }

    /// Reads again the bytes a new row starts with (found while looking for its start).
    fn replay(&mut self, start: &[u8]) {
        for &c in start {
            self.row.push(c);
            step(&mut self.state, c, &mut self.field_index, &mut self.col1);
        }
    }
}

/// The bytes the next row starts with, `"N+1","`, from this row's first field (or the
/// previous row's number + 1 when it is not a number); empty when neither is known.
fn expected_prefix(last: Option<u64>, col1: &[u8]) -> Vec<u8> {
    let this = std::str::from_utf8(col1)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .or(last.map(|l| l + 1));
    match this {
        Some(n) => format!("\"{}\",\"", n + 1).into_bytes(),
        None => Vec::new(),
    }
}

fn col1_number(col1: &[u8]) -> Option<u64> {
    std::str::from_utf8(col1).ok()?.trim().parse().ok()
}

/// Advances the framing state by one byte; true at the end of a row. Collects the first
/// field's bytes in `col1`.
fn step(state: &mut State, b: u8, field_index: &mut usize, col1: &mut Vec<u8>) -> bool {
    let mut content = true;
    match *state {
        State::FieldStart | State::Unquoted => match b {
            b'"' if *state == State::FieldStart => {
                *state = State::Quoted;
                content = false;
            }
            b',' => {
                *field_index += 1;
                *state = State::FieldStart;
                content = false;
            }
            b'\n' => return true,
            _ => *state = State::Unquoted,
        },
        State::Quoted => match b {
            b'\\' => *state = State::Escape,
            b'"' => {
                *state = State::AfterQuote;
                content = false;
            }
            _ => {}
        },
        State::Escape => *state = State::Quoted,
        State::AfterQuote => match b {
            b'"' => *state = State::Quoted,
            b',' => {
                *field_index += 1;
                *state = State::FieldStart;
                content = false;
            }
            b'\n' => return true,
            b'\r' => content = false,
            _ => *state = State::Quoted,
        },
    }
    if content && *field_index == 0 && col1.len() < 24 {
        col1.push(b);
    }
    false
}

/// Why a row's bytes cannot be split into the table's fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// A field opens with a quote that no later quote closes before the row ends.
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// A quoted field holds a single `"` that is not doubled (`""`) and does not close the field.
    #[error("a quote inside a quoted field is not escaped")]
    StrayQuote,
    /// The row splits into this many fields instead of the table's eight.
    #[error("{0} fields, expected {FIELDS}")]
    FieldCount(usize),
}

/// Splits one row's bytes into its fields, undoing the quoting. `Err` names what is wrong.
pub fn row_fields(raw: &[u8]) -> Result<Vec<Vec<u8>>, RowError> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(FIELDS);
    let mut field: Vec<u8> = Vec::new();
    let mut state = State::FieldStart;
    let mut stray = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        match state {
            State::FieldStart | State::Unquoted => match b {
                b'"' if state == State::FieldStart => state = State::Quoted,
                b',' => {
                    fields.push(std::mem::take(&mut field));
                    state = State::FieldStart;
                }
                _ => {
                    field.push(b);
                    state = State::Unquoted;
                }
            },
            State::Quoted => match b {
                b'\\' => state = State::Escape,
                b'"' => state = State::AfterQuote,
                _ => {
                    // Copy the run up to the next special byte at once.
                    let run = raw[i - 1..]
                        .iter()
                        .position(|&c| c == b'\\' || c == b'"')
                        .unwrap_or(raw.len() - (i - 1));
                    field.extend_from_slice(&raw[i - 1..i - 1 + run]);
                    i += run - 1;
                }
            },
            State::Escape => {
                if b != b'"' && b != b'\\' {
                    field.push(b'\\');
                }
                field.push(b);
                state = State::Quoted;
            }
            State::AfterQuote => match b {
                b'"' => {
                    field.push(b'"');
                    state = State::Quoted;
                }
                b',' => {
                    fields.push(std::mem::take(&mut field));
                    state = State::FieldStart;
                }
                b'\r' => {}
                _ => {
                    stray = true;
                    field.push(b'"');
                    field.push(b);
                    state = State::Quoted;
                }
            },
        }
    }
    match state {
        State::Quoted | State::Escape => return Err(RowError::UnterminatedQuote),
        _ => fields.push(field),
    }
    if stray {
        return Err(RowError::StrayQuote);
    }
    if fields.len() != FIELDS {
        return Err(RowError::FieldCount(fields.len()));
    }
    Ok(fields)
}
