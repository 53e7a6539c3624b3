//! Finding one cable by the id it was published under or its canonical id.

use super::records::for_each_line;
use crate::bag::capture::IndexLine;
use crate::bag::{OpenArchive, Reading};
use crate::error::{Error, Result};
use crate::store::VersionId;

/// The ids a cable may be asked for by: the id as given (upper case) and, when the readers store
/// it under another one, that canonical id. A cable is cited by the id it was published under
/// (`10EFTOLONDON16`, `06TAIPEI2921`), which the readers repair or map to the canonical id
/// (`10LONDON16`, `06AITTAIPEI2921`, see [`crate::cable::id::canonicalize`]).
pub fn ids_to_look_up(given: &str) -> Vec<String> {
    let given = given.trim().to_ascii_uppercase();
    let mut ids = vec![given.clone()];
    if let Some(canonical) = crate::cable::id::canonicalize(&given)
        && canonical.id != given
    {
        ids.push(canonical.id);
    }
    ids
}

/// A cable found by [`locate_cable`]: the collection and version it was found in, its line.
#[derive(Debug, Clone)]
pub struct FoundCable {
    /// The collection the cable was found in.
    pub collection: String,
    /// The version it was found in: the one asked for, or the collection's latest.
    pub version: u32,
    /// The cable's line of that version's cable index.
    pub line: IndexLine,
}

/// Finds the cable asked for as `given` (the published or the canonical id) in `collection`'s
/// `version` (default: the latest), or, without a collection, in the latest version of every
/// collection of the store that has one: the cable must then be in exactly one of them (an
/// error lists them when it is in several).
pub fn locate_cable(
    store: &crate::store::Store,
    collection: Option<&str>,
    version: Option<u32>,
    given: &str,
) -> Result<FoundCable> {
    locate_cable_opened(store, collection, version, given).map(|(found, _)| found)
}

/// [`locate_cable`], with the zip of the version the cable was found in, opened for its index
/// and the files under `data/cables/<id>/` of each id the cable may be stored under: its
/// captures' entries are there when the cable is stored under one of them, without reading the
/// zip's central directory again (for `show`; on a remote store each reading of the directory
/// is a long ranged read).
pub(crate) fn locate_cable_opened(
    store: &crate::store::Store,
    collection: Option<&str>,
    version: Option<u32>,
    given: &str,
) -> Result<(FoundCable, OpenArchive)> {
    let ids = ids_to_look_up(given);
    let asked = match ids.as_slice() {
        [id, canonical] => format!("{id} (stored as {canonical})"),
        _ => ids[0].clone(),
    };
    if let Some(c) = collection {
        let v = store.resolve_version(c, version)?;
        return find_in(store, c, v, &ids)?.ok_or_else(|| {
            Error::NotFound(format!("{} has no cable {asked}", VersionId::new(c, v)))
        });
    }
    let mut found = Vec::new();
    for c in store.collections()? {
        let Some(latest) = store.latest(&c)? else {
            continue;
        };
        let v = match version {
            Some(v) if store.versions(&c)?.contains(&v) => v,
            Some(_) => continue,
            None => latest,
        };
        found.extend(find_in(store, &c, v, &ids)?);
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::NotFound(format!(
            "no collection of the store {} holds cable {asked}",
            store.root().display()
        ))),
        _ => Err(Error::Invalid(format!(
            "cable {asked} is in several collections ({}); choose one with --collection",
            found
                .iter()
                .map(|(l, _)| VersionId::new(&l.collection, l.version).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The line of the first of `ids` that `collection`'s `version` holds.
fn find_in(
    store: &crate::store::Store,
    collection: &str,
    version: u32,
    ids: &[String],
) -> Result<Option<(FoundCable, OpenArchive)>> {
    let folders: Vec<String> = ids.iter().map(|id| format!("data/cables/{id}/")).collect();
    let keep = |p: &str| p == crate::bag::INDEX_FILE || folders.iter().any(|f| p.starts_with(f));
    let index = store.open_zip(collection, version, Reading::Selected(&keep))?;
    for id in ids {
        if let Some(line) = find_line(&index, id)? {
            let found = FoundCable {
                collection: collection.to_string(),
                version,
                line,
            };
            return Ok(Some((found, index)));
        }
    }
    Ok(None)
}

/// The index line of cable `id` (upper case, as the index writes ids), streamed from an
/// archive's index: nothing but that line is kept.
pub fn find_line(archive: &OpenArchive, id: &str) -> Result<Option<IndexLine>> {
    let mut found = None;
    for_each_line(archive, |line| {
        if found.is_none() && line.id == id {
            found = Some(line.clone());
        }
    })?;
    Ok(found)
}
