//! `datapackage.json`: a Frictionless Data Package describing an export's data files with their
//! SHA-256 (`hash: "sha256:<hex>"`) and sizes, so `frictionless validate` checks them.

use super::table::COLUMNS;
use crate::select::VersionRef;
use serde_json::json;

/// A file the package describes.
pub struct Resource {
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
pub fn write(version: &VersionRef, filter: &str, cables: usize, resources: &[Resource]) -> Vec<u8> {
    let res: Vec<serde_json::Value> = resources
        .iter()
        .map(|r| {
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
        })
        .collect();
    let package = json!({
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
        "resources": res,
    });
    let mut out = serde_json::to_vec_pretty(&package).expect("package serializes");
    out.push(b'\n');
    out
}
