//! The flat table of an export: one row per cable (its current capture), lists joined with `; `.
//! Written as CSV (the only user of the csv crate) and described in `datapackage.json`. The
//! table is never held whole: its rows are formatted a chunk of cables at a time.

use crate::error::{Error, Result};
use crate::select::Selected;
use std::borrow::Cow;

/// A column: name, Table Schema type, description.
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub description: &'static str,
}

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        description,
    }
}

/// The columns, in order.
pub const COLUMNS: &[Column] = &[
    col("id", "string", "Canonical reference id of the cable"),
    col(
        "created",
        "string",
        "When the cable was sent (RFC 3339, UTC), or its day",
    ),
    col(
        "released",
        "string",
        "Release date at the source (YYYY-MM-DD)",
    ),
    col(
        "classification",
        "string",
        "Classification marking as written",
    ),
    col("caveats", "string", "Handling caveats, joined with '; '"),
    col("origin", "string", "Sending post, e.g. Embassy Madrid"),
    col("tags", "string", "TAGS, in page order, joined with '; '"),
    col("subject", "string", "SUBJECT line"),
    col("references", "string", "REF lines, joined with '; '"),
    col("signers", "string", "Signature lines, joined with '; '"),
    col("redaction_status", "string", "redacted or not-redacted"),
    col(
        "redaction_runs",
        "integer",
        "Number of redaction runs in the text",
    ),
    col(
        "partial_extract",
        "boolean",
        "The page says the text is a partial extract",
    ),
    col("publisher", "string", "Who published the page"),
    col(
        "source_url",
        "string",
        "URL of the page the capture is a copy of",
    ),
    col(
        "upstream_url",
        "string",
        "URL of the upstream original the page points to",
    ),
    col(
        "capture",
        "string",
        "Name of the current capture in the archive",
    ),
    col(
        "capture_sha256",
        "string",
        "SHA-256 of the current capture's raw bytes",
    ),
    col(
        "captures",
        "integer",
        "Number of captures of the cable in the archive",
    ),
    col("text", "string", "The cable text, markup removed"),
];

fn csv_error(e: csv::Error) -> Error {
    Error::Invalid(format!("writing CSV: {e}"))
}

/// A CSV writer to memory in the table's dialect: RFC 4180, `\n` line ends, UTF-8. The header
/// and the rows are written apart (the rows on the worker threads, a chunk of cables at a time)
/// by writers built here, so that the pieces join into one table, byte for byte what one writer
/// would have written.
fn csv_writer(out: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out)
}

/// What a CSV writer wrote to memory.
fn written(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    writer
        .into_inner()
        .map_err(|e| Error::Invalid(format!("writing CSV: {}", e.error())))
}

/// The table's header row.
pub fn header() -> Result<Vec<u8>> {
    let mut writer = csv_writer(Vec::new());
    writer
        .write_record(COLUMNS.iter().map(|c| c.name))
        .map_err(csv_error)?;
    written(writer)
}

/// The CSV rows of some cables, one per cable, in order. `excel` defuses cells that a
/// spreadsheet would read as formulas.
pub fn format_rows(cables: &[Selected], excel: bool) -> Result<Vec<u8>> {
    // A row is about as long as the cable's text; the rest is a few hundred bytes.
    let guess = cables.iter().map(|c| c.record.text.len() + 512).sum();
    let mut writer = csv_writer(Vec::with_capacity(guess));
    for c in cables {
        write_row(&mut writer, c, excel)?;
    }
    written(writer)
}

/// Writes a cable's row.
fn write_row(writer: &mut csv::Writer<Vec<u8>>, c: &Selected, excel: bool) -> Result<()> {
    let r = &c.record;
    let cells: [Cow<'_, str>; 20] = [
        b(&c.line.id),
        o(&r.created),
        o(&r.released),
        o(&r.classification),
        j(&r.caveats),
        o(&r.origin),
        j(&r.tags),
        o(&r.subject),
        j(&r.references),
        j(&r.signers),
        b(&r.redaction.status),
        Cow::Owned(r.redaction.runs.to_string()),
        b(if r.redaction.partial_extract {
            "true"
        } else {
            "false"
        }),
        o(&r.source.publisher),
        o(&r.source.url),
        o(&r.source.upstream_url),
        b(&r.capture.name),
        b(&r.capture.sha256),
        Cow::Owned(c.line.captures.len().to_string()),
        b(&r.text),
    ];
    if !excel {
        return writer
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(csv_error);
    }
    let safe = cells.iter().zip(COLUMNS).map(|(v, col)| {
        if col.kind == "string" {
            excel_safe(v)
        } else {
            Cow::Borrowed(v.as_ref())
        }
    });
    let safe: Vec<Cow<'_, str>> = safe.collect();
    writer
        .write_record(safe.iter().map(|c| c.as_bytes()))
        .map_err(csv_error)
}

fn o(v: &Option<String>) -> Cow<'_, str> {
    Cow::Borrowed(v.as_deref().unwrap_or(""))
}

fn b(v: &str) -> Cow<'_, str> {
    Cow::Borrowed(v)
}

/// A list cell: the items joined with `; `.
fn j(v: &[String]) -> Cow<'static, str> {
    Cow::Owned(v.join("; "))
}

/// Makes a cell safe to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return would be read as a formula, so it gets a leading `'`.
pub fn excel_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(excel_safe(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(excel_safe("PREL; PGOV"), "PREL; PGOV");
    }
}
