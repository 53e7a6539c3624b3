//! The flat table of an export: one row per cable (its current capture), lists joined with `; `.
//! Written as CSV (the only user of the csv crate) and described in `datapackage.json`.

use crate::error::{Error, Result};
use crate::select::LoadedCable;

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

/// The values of a cable's row, in column order.
pub fn row(c: &LoadedCable) -> Vec<String> {
    let r = &c.current().stored.record;
    let cap = &c.current().stored.capture;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        c.line.id.clone(),
        o(&r.created),
        o(&r.released),
        o(&r.classification),
        r.caveats.join("; "),
        o(&r.origin),
        r.tags.join("; "),
        o(&r.subject),
        r.references.join("; "),
        r.signers.join("; "),
        r.redaction.status.clone(),
        r.redaction.runs.to_string(),
        r.redaction.partial_extract.to_string(),
        o(&r.source.publisher),
        o(&r.source.url),
        o(&r.source.upstream_url),
        cap.name.clone(),
        cap.sha256.clone(),
        c.line.captures.len().to_string(),
        r.text.clone(),
    ]
}

/// Makes a cell safe to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return would be read as a formula, so it gets a leading `'`.
pub fn excel_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The CSV bytes: a header row, then one row per cable (RFC 4180, `\n` line ends, UTF-8).
pub fn csv(cables: &[LoadedCable], excel: bool) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::Invalid(format!("writing CSV: {e}"));
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(COLUMNS.iter().map(|c| c.name))
        .map_err(err)?;
    for c in cables {
        let cells = row(c);
        let kinds = COLUMNS.iter().map(|c| c.kind);
        let cells: Vec<String> = cells
            .into_iter()
            .zip(kinds)
            .map(|(v, k)| {
                if excel && k == "string" {
                    excel_safe(&v)
                } else {
                    v
                }
            })
            .collect();
        w.write_record(&cells).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Invalid(format!("writing CSV: {e}")))
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
