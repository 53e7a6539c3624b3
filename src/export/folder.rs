//! csv, jsonl and sqlite exports: a folder with the data file, the common files,
//! `datapackage.json` and `manifest-sha256.txt`.

use super::citation::{self, Citations};
use super::datapackage::{self, resource_with};
use super::files::{HashingFile, finish_folder, prepare_parent, sha256_file, sync_all};
use super::readme::{Summary, readme_and_cff};
use super::{Format, Request, Written, table};
use crate::bag::OpenArchive;
use crate::bag::manifest;
use crate::error::{IoContext, Result};
use crate::hash;
use crate::query::catalog::DbWriter;
use crate::query::select::{self, Need, VersionRef};
use crate::scratch::ScratchDir;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The name of the data file of each folder format.
pub(super) fn data_file(format: Format) -> &'static str {
    match format {
        Format::Csv => "cables.csv",
        Format::Jsonl => "cables.jsonl",
        Format::Sqlite => "cables.sqlite",
        Format::Bag | Format::Zip => "",
    }
}

/// Compacts pretty-printed JSON onto one line, keeping every field and its order.
#[cfg(test)]
pub(super) fn compact_json(pretty: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pretty.len());
    compact_json_into(pretty, &mut out);
    out
}

/// Appends pretty-printed JSON compacted onto one line to `out`. Strings are copied whole, a
/// slice at a time: most of a record is its text.
pub(super) fn compact_json_into(pretty: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < pretty.len() {
        let b = pretty[i];
        if b == b'"' {
            let start = i;
            i += 1;
            while i < pretty.len() {
                match pretty[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            out.extend_from_slice(&pretty[start..i.min(pretty.len())]);
        } else {
            if !b.is_ascii_whitespace() {
                out.push(b);
            }
            i += 1;
        }
    }
}

/// csv, jsonl, sqlite: a folder with the data file, the common files, `datapackage.json` and
/// `manifest-sha256.txt`, built under a temporary name and renamed into place. The data file and
/// the citations are written batch by batch as the cables are read.
pub(super) fn write_folder_export(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
) -> Result<Written> {
    let parent = prepare_parent(req.out)?;
    let tmp = ScratchDir::create_in(&parent)?;
    let dir = tmp.path();
    let data_name = data_file(req.format);
    let data_path = dir.join(data_name);
    let mut cites = Citations::new(
        version,
        HashingFile::create(dir.join("citations.bib"))?,
        HashingFile::create(dir.join("citations.json"))?,
    )
    .at(dir)?;
    req.progress.start("exporting", version.cables);
    let (data, captures) = match req.format {
        Format::Csv | Format::Jsonl => {
            write_rows(req, version, archive, keep, &data_path, &mut cites)?
        }
        Format::Sqlite => write_sqlite(req, version, archive, keep, &data_path, &mut cites)?,
        Format::Bag | Format::Zip => unreachable!("bags are written by write_bag_export"),
    };
    req.progress.finish();
    let (bib, csl, publishers, cables) = cites.finish().at(dir)?;
    let summary = Summary {
        cables,
        captures,
        publishers,
    };
    let described = vec![
        resource_with(data_name, data),
        resource_with("citations.bib", bib.finish()?),
        resource_with("citations.json", csl.finish()?),
    ];
    let (paths, bytes) = write_described_files(req, version, &summary, &described, dir)?;
    sync_all(&paths, &[])?;
    finish_folder(tmp, req.out)?;
    Ok(Written {
        cables,
        captures,
        files: paths.len(),
        bytes,
    })
}

/// The citations of a folder export, written as the cables are read.
type FolderCitations = Citations<HashingFile>;

/// Writes the CSV rows or JSON lines of the selected cables to `data_path` and their citations.
/// Returns the data file's SHA-256 and size, and the number of captures.
fn write_rows(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
    data_path: &Path,
    cites: &mut FolderCitations,
) -> Result<((String, u64), usize)> {
    let mut captures = 0;
    let mut out = HashingFile::create(data_path.to_path_buf())?;
    if req.format == Format::Csv {
        out.write_all(&table::header()?).at(data_path)?;
    }
    let need = Need {
        bytes: req.format == Format::Jsonl,
        sources: false,
        skip_text: false,
        older: false,
    };
    let made = |chunk: Vec<select::Selected>| made_for_file(req, version, &chunk);
    select::stream_mapped(archive, keep, need, req.progress, &made, |batch| {
        for m in batch {
            out.write_all(&m.data).at(data_path)?;
            cites.append(m.cited).at(data_path)?;
            captures += m.captures;
        }
        Ok(())
    })?;
    Ok((out.finish()?, captures))
}

/// Writes the SQLite database of the selected cables to `data_path` and their citations.
/// Returns the data file's SHA-256 and size, and the number of captures.
fn write_sqlite(
    req: &Request<'_>,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: select::Keep<'_>,
    data_path: &Path,
    cites: &mut FolderCitations,
) -> Result<((String, u64), usize)> {
    let mut captures = 0;
    let mut db = DbWriter::create(data_path)?;
    db.add_version(version)?;
    let need = Need {
        bytes: false,
        sources: true,
        skip_text: false,
        older: false,
    };
    let cited = |chunk: Vec<select::Selected>| {
        let cited = citation::cite(version, &chunk);
        Ok((chunk, cited))
    };
    let n = select::stream_mapped(archive, keep, need, req.progress, &cited, |batch| {
        let mut cables = Vec::with_capacity(select::BATCH);
        for (chunk, cited) in batch {
            cites.append(cited).at(data_path)?;
            captures += chunk.iter().map(|c| c.line.captures.len()).sum::<usize>();
            cables.extend(chunk);
        }
        db.add_cables(&version.collection, &cables)
    })?;
    db.finish(&export_meta(req, version, n))?;
    Ok((sha256_file(data_path)?, captures))
}

/// Writes the small files that describe the data files (`described`): README.md,
/// CITATION.cff, datapackage.json and, last, manifest-sha256.txt of them all. Returns the path
/// of every file of the export and their bytes in all.
fn write_described_files(
    req: &Request<'_>,
    version: &VersionRef,
    summary: &Summary,
    described: &[datapackage::Resource],
    dir: &Path,
) -> Result<(Vec<PathBuf>, u64)> {
    let mut small = readme_and_cff(req, version, summary);
    small.push((
        "datapackage.json".to_string(),
        datapackage::write(version, &req.filter.describe(), summary.cables, described),
    ));
    let mut lines: Vec<(String, String)> = described
        .iter()
        .map(|r| (r.sha256.clone(), r.path.clone()))
        .collect();
    lines.extend(small.iter().map(|(n, d)| (hash::sha256_hex(d), n.clone())));
    let manifest_text =
        manifest::write_manifest(lines.iter().map(|(d, p)| (d.as_str(), p.as_str())));
    small.push((
        "manifest-sha256.txt".to_string(),
        manifest_text.into_bytes(),
    ));
    let mut bytes: u64 = described.iter().map(|r| r.bytes).sum();
    let mut paths: Vec<PathBuf> = described.iter().map(|r| dir.join(&r.path)).collect();
    for (name, data) in &small {
        let path = dir.join(name);
        std::fs::write(&path, data).at(&path)?;
        bytes += data.len() as u64;
        paths.push(path);
    }
    Ok((paths, bytes))
}

/// What the workers make of a chunk of selected cables for a CSV or JSON Lines export: the
/// chunk's part of the data file and of the citations.
pub(super) struct Made {
    data: Vec<u8>,
    cited: citation::CitedCables,
    captures: usize,
}

/// A chunk's CSV rows or JSON lines (each record compacted onto one line), and its citations.
pub(super) fn made_for_file(
    req: &Request<'_>,
    version: &VersionRef,
    chunk: &[select::Selected],
) -> Result<Made> {
    let data = if req.format == Format::Csv {
        let mode = match req.excel_safe {
            true => table::CsvCells::ExcelSafe,
            false => table::CsvCells::AsStored,
        };
        table::format_rows(chunk, mode)?
    } else {
        let mut lines = Vec::with_capacity(chunk.iter().map(|c| c.bytes.len()).sum());
        for c in chunk {
            compact_json_into(&c.bytes, &mut lines);
            lines.push(b'\n');
        }
        lines
    };
    Ok(Made {
        data,
        cited: citation::cite(version, chunk),
        captures: chunk.iter().map(|c| c.line.captures.len()).sum(),
    })
}

pub(super) fn export_meta(
    req: &Request<'_>,
    version: &VersionRef,
    cables: usize,
) -> Vec<(String, String)> {
    vec![
        ("export_format".into(), req.format.as_str().into()),
        ("source_identifier".into(), version.identifier.clone()),
        ("source_manifest".into(), version.manifest_file()),
        (
            "source_manifest_sha256".into(),
            version.manifest_sha256.clone(),
        ),
        (
            "source_archive_sha256".into(),
            version.archive_sha256.clone(),
        ),
        ("source_created".into(), version.created.clone()),
        ("filter".into(), req.filter.describe()),
        ("cables".into(), cables.to_string()),
        ("tool".into(), format!("cablekeep {}", crate::TOOL_VERSION)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_strings_and_order() {
        let pretty = b"{\n  \"b\": \"x  y\\\" z\",\n  \"a\": [\n    1,\n    2\n  ]\n}\n";
        assert_eq!(compact_json(pretty), b"{\"b\":\"x  y\\\" z\",\"a\":[1,2]}");
    }
}
