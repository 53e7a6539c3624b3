//! The flat table of an export: one row per cable (its current capture), lists joined with `; `.
//! Written as CSV (the only user of the csv crate) and described in `datapackage.json`. The
//! table is never held whole: its rows are formatted a chunk of cables at a time.

use crate::error::{Error, Result};
use crate::query::select::Selected;
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
        "published_id",
        "string",
        "The id the cable was published under (differs from id where a reader repaired or mapped it)",
    ),
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
pub(super) fn header() -> Result<Vec<u8>> {
    let mut writer = csv_writer(Vec::new());
    writer
        .write_record(COLUMNS.iter().map(|c| c.name))
        .map_err(csv_error)?;
    written(writer)
}

/// How the text cells of a CSV export are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CsvCells {
    /// As stored.
    AsStored,
    /// Defused where a spreadsheet would read them as formulas ([`excel_safe`]).
    ExcelSafe,
}

/// The CSV rows of some cables, one per cable, in order.
pub(super) fn format_rows(cables: &[Selected], mode: CsvCells) -> Result<Vec<u8>> {
    // A row is about as long as the cable's text; the rest is a few hundred bytes.
    let guess = cables.iter().map(|c| c.record.text.len() + 512).sum();
    let mut writer = csv_writer(Vec::with_capacity(guess));
    for c in cables {
        write_row(&mut writer, c, mode)?;
    }
    written(writer)
}

/// Writes a cable's row.
fn write_row(writer: &mut csv::Writer<Vec<u8>>, c: &Selected, mode: CsvCells) -> Result<()> {
    let r = &c.record;
    let cells: [Cow<'_, str>; 21] = [
        b(&c.line.id),
        b(c.published_id()),
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
    if mode == CsvCells::AsStored {
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

    use crate::export::sample_cable;
    use serde_json::json;

    /// Cables whose cells need quoting (quotes, commas, line breaks, a carriage return), are
    /// empty, or would be formulas in a spreadsheet.
    fn tricky() -> Vec<Selected> {
        vec![
            sample_cable("08MADRID1", json!({})),
            sample_cable(
                "08MADRID2",
                json!({
                    "subject": "SAY \"NO\", THEY SAID",
                    "text": "line one\r\nline \"two\"\n\n, end",
                    "tags": ["=HYPERLINK(\"x\")", "SP"],
                    "origin": "-Embassy",
                    "signers": [],
                    "caveats": ["@A", "+B"],
                    "redaction": {"status": "redacted", "runs": 3, "partial_extract": true},
                    "source": {"publisher": null, "url": null, "released": null,
                               "upstream_url": "=cmd|' /C calc'!A0"}
                }),
            ),
            sample_cable(
                "08MADRID3",
                json!({"created": null, "subject": "\tTAB", "text": "", "references": []}),
            ),
        ]
    }

    /// A cable's cells, spelt out by hand.
    fn cells(c: &Selected, excel: CsvCells) -> Vec<String> {
        let r = &c.record;
        let text = |v: &str| {
            if excel == CsvCells::ExcelSafe && v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{v}")
            } else {
                v.to_string()
            }
        };
        let opt = |v: &Option<String>| text(v.as_deref().unwrap_or(""));
        vec![
            text(&c.line.id),
            text(c.published_id()),
            opt(&r.created),
            opt(&r.released),
            opt(&r.classification),
            text(&r.caveats.join("; ")),
            opt(&r.origin),
            text(&r.tags.join("; ")),
            opt(&r.subject),
            text(&r.references.join("; ")),
            text(&r.signers.join("; ")),
            text(&r.redaction.status),
            r.redaction.runs.to_string(),
            r.redaction.partial_extract.to_string(),
            opt(&r.source.publisher),
            opt(&r.source.url),
            opt(&r.source.upstream_url),
            text(&r.capture.name),
            text(&r.capture.sha256),
            c.line.captures.len().to_string(),
            text(&r.text),
        ]
    }

    /// The table as one csv writer writes it, the header and every row in turn.
    fn one_writer(cables: &[Selected], excel: CsvCells) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        w.write_record(COLUMNS.iter().map(|c| c.name)).unwrap();
        for c in cables {
            w.write_record(cells(c, excel)).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn rows_made_apart_join_into_what_one_writer_writes() {
        let cables = tricky();
        for excel in [CsvCells::AsStored, CsvCells::ExcelSafe] {
            let mut table = header().unwrap();
            // Chunks of one and two cables, as the workers make them.
            table.extend(format_rows(&cables[..1], excel).unwrap());
            table.extend(format_rows(&cables[1..], excel).unwrap());
            assert_eq!(
                String::from_utf8(table).unwrap(),
                String::from_utf8(one_writer(&cables, excel)).unwrap(),
                "{excel:?}"
            );
        }
    }

    #[test]
    fn tricky_cells_are_quoted_and_defused() {
        let plain =
            String::from_utf8(format_rows(&tricky()[1..2], CsvCells::AsStored).unwrap()).unwrap();
        assert!(plain.contains(",\"SAY \"\"NO\"\", THEY SAID\","), "{plain}");
        assert!(
            plain.ends_with(",\"line one\r\nline \"\"two\"\"\n\n, end\"\n"),
            "{plain}"
        );
        assert!(plain.contains(",\"=HYPERLINK(\"\"x\"\"); SP\","), "{plain}");
        let excel =
            String::from_utf8(format_rows(&tricky()[1..2], CsvCells::ExcelSafe).unwrap()).unwrap();
        assert!(
            excel.contains(",\"'=HYPERLINK(\"\"x\"\"); SP\","),
            "{excel}"
        );
        assert!(excel.contains(",'-Embassy,"), "{excel}");
        assert!(excel.contains(",'@A; +B,"), "{excel}");
        assert!(
            excel.contains(",redacted,3,true,,,'=cmd|' /C calc'!A0,"),
            "{excel}"
        );
    }

    #[test]
    fn formula_cells_are_defused() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(excel_safe(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(excel_safe("PREL; PGOV"), "PREL; PGOV");
    }
}
