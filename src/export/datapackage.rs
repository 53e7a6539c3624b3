//! `datapackage.json`: a Frictionless Data Package describing an export's data files with their
//! SHA-256 (`hash: "sha256:<hex>"`) and sizes, so `frictionless validate` checks them.

use super::table::COLUMNS;
use crate::hash;
use crate::query::select::VersionRef;
use serde_json::json;

/// A file the package describes.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// Table (the CSV) or plain file.
    pub table: bool,
    pub format: &'static str,
    pub mediatype: &'static str,
    pub description: String,
}

/// A resource name: lower case, `[a-z0-9._/-]`, unique as long as paths are.
fn name_of(path: &str) -> String {
    path.to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The package as pretty JSON with a final newline.
pub(super) fn write(
    version: &VersionRef,
    filter: &str,
    cables: usize,
    resources: &[Resource],
) -> Vec<u8> {
    let mut out = Vec::new();
    write_to(&mut out, version, filter, cables, resources.iter().cloned())
        .expect("writing to memory cannot fail");
    out
}

/// [`write`] to `out`, taking the resources one at a time: a bag export of a whole collection
/// describes half a million files, too many to hold as JSON values.
pub(super) fn write_to(
    out: &mut impl std::io::Write,
    version: &VersionRef,
    filter: &str,
    cables: usize,
    resources: impl Iterator<Item = Resource>,
) -> std::io::Result<()> {
    let head = serde_json::to_vec_pretty(&package(version, filter, cables))?;
    let head = String::from_utf8(head).expect("JSON is UTF-8");
    // The resources are written where the empty array stands, as serde_json's pretty printer
    // would have put them (two spaces a level; a resource is an item at the second level).
    let (before, after) = head
        .split_once(EMPTY_RESOURCES)
        .expect("the package has a resources field");
    out.write_all(before.as_bytes())?;
    out.write_all(b"\n  \"resources\": [")?;
    let mut first = true;
    for r in resources {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        let item = serde_json::to_string_pretty(&resource_json(&r))?;
        for (i, line) in item.lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"    ")?;
            out.write_all(line.as_bytes())?;
        }
    }
    out.write_all(if first { b"]" } else { b"\n  ]" })?;
    out.write_all(after.as_bytes())?;
    out.write_all(b"\n")
}

/// The resources field as the pretty printer writes it empty, at the first level.
const EMPTY_RESOURCES: &str = "\n  \"resources\": []";

fn resource_json(r: &Resource) -> serde_json::Value {
    let mut v = json!({
        "name": name_of(&r.path),
        "path": r.path,
        "type": if r.table { "table" } else { "file" },
        "format": r.format,
        "mediatype": r.mediatype,
        "bytes": r.bytes,
        "hash": format!("sha256:{}", r.sha256),
        "description": r.description,
    });
    if r.format != "sqlite" && r.format != "bin" {
        v["encoding"] = json!("utf-8");
    }
    if r.table {
        v["profile"] = json!("tabular-data-resource");
        v["dialect"] = json!({ "delimiter": ",", "quoteChar": "\"", "header": true });
        v["schema"] = json!({
            "fields": COLUMNS.iter().map(|c| json!({
                "name": c.name, "type": c.kind, "description": c.description,
            })).collect::<Vec<_>>(),
            "primaryKey": ["id"],
        });
    } else {
        v["profile"] = json!("data-resource");
    }
    v
}

/// The package without its resources.
fn package(version: &VersionRef, filter: &str, cables: usize) -> serde_json::Value {
    json!({
        "profile": "data-package",
        "name": name_of(&format!("{}-v{}-export", version.collection, version.version)),
        "title": format!("Diplomatic cables from the cablekeep archive {}", version.identifier),
        "description": format!(
            "{cables} cables selected from the cablekeep archive {} ({filter}).",
            version.identifier
        ),
        "version": version.identifier,
        "created": version.created,
        "sources": [{
            "title": format!("cablekeep archive {}", version.identifier),
            "path": format!("{}-v{}.zip", version.collection, version.version),
            "description": format!(
                "Sidecar manifest {} sha256:{}; archive sha256:{}",
                version.manifest_file(), version.manifest_sha256, version.archive_sha256
            ),
        }],
        "keywords": ["diplomatic cables", "Cablegate"],
        "resources": [],
    })
}

pub(super) fn resource_for(path: &str, data: &[u8]) -> Resource {
    resource_of(path, data.len() as u64, hash::sha256_hex(data))
}

/// [`resource_for`] a file whose size and SHA-256 are known.
pub(super) fn resource_of(path: &str, bytes: u64, sha256: String) -> Resource {
    let (table, format, mediatype, description) = match path.rsplit('.').next() {
        Some("csv") => (
            true,
            "csv",
            "text/csv",
            "One row per cable (its current capture)",
        ),
        Some("jsonl") => (
            false,
            "jsonl",
            "application/jsonl",
            "Stored records (cablekeep-record/1), one line per cable (its current capture)",
        ),
        Some("bib") => (
            false,
            "bib",
            "application/x-bibtex",
            "BibTeX citations of every cable",
        ),
        Some("json") => (
            false,
            "json",
            "application/vnd.citationstyles.csl+json",
            "CSL-JSON citations of every cable",
        ),
        Some("md") => (
            false,
            "md",
            "text/markdown",
            "What this export holds and how to check and cite it",
        ),
        Some("cff") => (
            false,
            "cff",
            "application/x-yaml",
            "Citation File Format 1.2.0",
        ),
        Some("html") => (
            false,
            "html",
            "text/html",
            "Raw capture, exactly as ingested",
        ),
        Some("txt") => (false, "txt", "text/plain", "Raw bytes, exactly as ingested"),
        _ => (false, "bin", "application/octet-stream", "Data"),
    };
    Resource {
        path: path.to_string(),
        bytes,
        sha256,
        table,
        format,
        mediatype,
        description: description.to_string(),
    }
}

/// A data file's description from its digest and size.
pub(super) fn resource_with(path: &str, (sha256, bytes): (String, u64)) -> Resource {
    let mut r = resource_for(path, &[]);
    r.sha256 = sha256;
    r.bytes = bytes;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version() -> VersionRef {
        VersionRef {
            collection: "dev".into(),
            version: 3,
            identifier: "dev@v3".into(),
            manifest_sha256: "ab".repeat(32),
            archive_sha256: "cd".repeat(32),
            created: "2026-12-03T09:00:00Z".into(),
            message: "a \"quoted\" message\nwith a line break".into(),
            cables: 2,
        }
    }

    fn resource(path: &str, table: bool) -> Resource {
        Resource {
            path: path.into(),
            bytes: 1234,
            sha256: "ef".repeat(32),
            table,
            format: if table { "csv" } else { "json" },
            mediatype: "text/plain",
            description: "a \"resource\", with [brackets] and \"resources\": []".into(),
        }
    }

    #[test]
    fn resources_written_one_at_a_time_give_the_pretty_printers_bytes() {
        let filter = "tag PREL; \"resources\": [] in a filter";
        let sets = [
            vec![],
            vec![resource("cables.csv", true)],
            vec![
                resource("data/cables/A/1.json", false),
                resource("cables.csv", true),
                resource("citations.bib", false),
            ],
        ];
        for resources in sets {
            let mut whole = package(&version(), filter, 2);
            whole["resources"] = resources.iter().map(resource_json).collect();
            let mut expected = serde_json::to_vec_pretty(&whole).unwrap();
            expected.push(b'\n');
            let written = write(&version(), filter, 2, &resources);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
