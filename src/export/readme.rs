//! `README.md` and `CITATION.cff`, which every export carries besides its data and citations.

use super::citation;
use super::{Format, Request};
use crate::query::select::VersionRef;
use std::collections::BTreeSet;

/// What the README and CITATION.cff say of the cables: how many, and their publishers.
pub(super) struct Summary {
    pub(super) cables: usize,
    pub(super) captures: usize,
    pub(super) publishers: BTreeSet<String>,
}

/// README.md and CITATION.cff, which every export carries besides its data and citations.
pub(super) fn readme_and_cff(
    req: &Request<'_>,
    version: &VersionRef,
    summary: &Summary,
) -> Vec<(String, Vec<u8>)> {
    let described = req.filter.describe();
    vec![
        (
            "README.md".to_string(),
            readme(req, version, summary, &described).into_bytes(),
        ),
        (
            "CITATION.cff".to_string(),
            citation::cff(
                version,
                summary.cables,
                &summary.publishers,
                &described,
                req.format.as_str(),
            )
            .into_bytes(),
        ),
    ]
}

/// README.md: what the export holds, its source, its files, and how to check and cite it.
pub(super) fn readme(
    req: &Request<'_>,
    version: &VersionRef,
    summary: &Summary,
    filter: &str,
) -> String {
    let (cables, captures) = (summary.cables, summary.captures);
    let mut s = String::new();
    s.push_str(&format!(
        "# Diplomatic cables from the cablekeep archive {}\n\n",
        version.identifier
    ));
    s.push_str(&format!(
        "This {} export holds {} cables ({} captures) selected from version {} of the collection \
         `{}`, an archive written by cablekeep on {}.\n\n",
        req.format.as_str(),
        cables,
        captures,
        version.version,
        version.collection,
        version.created
    ));
    s.push_str("## Source\n\n");
    s.push_str(&format!("* archive version: `{}`\n", version.identifier));
    s.push_str(&format!(
        "* sidecar manifest `{}`: sha256 `{}`\n",
        version.manifest_file(),
        version.manifest_sha256
    ));
    s.push_str(&format!(
        "* archive `{}-v{}.zip`: sha256 `{}`\n",
        version.collection, version.version, version.archive_sha256
    ));
    s.push_str(&format!("* selection: {filter}\n\n"));
    readme_files(&mut s, req.format);
    readme_verify_and_cite(&mut s, req.format, version);
    s
}

/// The README's list of the export's files.
fn readme_files(s: &mut String, format: Format) {
    s.push_str("## Files\n\n");
    match format {
        Format::Csv => s.push_str(
            "* `cables.csv`: one row per cable (its current capture), UTF-8, RFC 4180; lists are \
             joined with `; `; columns are described in `datapackage.json`.\n",
        ),
        Format::Jsonl => s.push_str(
            "* `cables.jsonl`: the stored record (`cablekeep-record/1`, see the cablekeep \
             archive format, section 3) of each cable's current capture, one per line.\n",
        ),
        Format::Sqlite => s.push_str(
            "* `cables.sqlite`: SQLite database with tables `cables`, `captures`, `sources`, \
             `tags`, `references`, `link_check_events` and the FTS5 table `cables_fts` over \
             subject and text (`SELECT id FROM cables WHERE pk IN (SELECT rowid FROM cables_fts \
             WHERE cables_fts MATCH 'embassy')`). Opens in `sqlite3` and Datasette.\n",
        ),
        Format::Bag | Format::Zip => s.push_str(
            "* `data/cables/<ID>/<capture>.html|.txt`: each capture's raw bytes, exactly as \
             archived; `data/cables/<ID>/<capture>.json`: its stored record.\n\
             * `cablekeep/index.jsonl`: the selected cables' index lines.\n\
             * `bagit.txt`, `bag-info.txt`, `manifest-*.txt`, `tagmanifest-*.txt`: the BagIt 1.0 \
             bag (RFC 8493).\n",
        ),
    }
    s.push_str(
        "* `datapackage.json`: Frictionless Data Package describing the data files with their \
         sizes and SHA-256.\n\
         * `CITATION.cff`: how to cite this export; `citations.bib` (BibTeX) and \
         `citations.json` (CSL-JSON): a citation of every cable.\n",
    );
    if !is_bag(format) {
        s.push_str("* `manifest-sha256.txt`: SHA-256 of every other file.\n");
    }
}

/// The README's sections on checking the export and citing it.
fn readme_verify_and_cite(s: &mut String, format: Format, version: &VersionRef) {
    s.push_str("\n## Verify\n\n```sh\n");
    if is_bag(format) {
        s.push_str("bagit.py --validate .              # Library of Congress bagit-python\n");
        s.push_str("sha256sum -c manifest-sha256.txt   # the payload, with coreutils alone\n");
        s.push_str("sha256sum -c tagmanifest-sha256.txt\n");
    } else {
        s.push_str("sha256sum -c manifest-sha256.txt\n");
    }
    s.push_str("frictionless validate datapackage.json\n```\n\n");
    s.push_str(&format!(
        "The source archive itself is checked with `cablekeep verify -c {} --version v{}`; its \
         sidecar manifest must have the SHA-256 above.\n\n",
        version.collection, version.version
    ));
    s.push_str("## Cite\n\n");
    s.push_str(&format!(
        "Cite this export as `CITATION.cff` says (archive version `{}`, sidecar manifest sha256 \
         `{}`), and each cable you quote with its entry in `citations.bib` or `citations.json`: \
         they give its original source URL, its release date and the archive version.\n",
        version.identifier, version.manifest_sha256
    ));
}

/// Whether the export is a BagIt bag (zipped or not).
fn is_bag(format: Format) -> bool {
    matches!(format, Format::Bag | Format::Zip)
}
