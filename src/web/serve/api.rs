//! The read-only JSON API: `api/cables/<id>` (a cable's index line, its current record as
//! stored, every capture with its source, its pages) and `api/search?q=&limit=` (the best hits
//! of a query, as `cablekeep search --json` gives them, each with its page). Errors are JSON
//! too: `{"error": "..."}`, 400 for a malformed query or parameter, 404 for an unknown cable.

use super::answer::{Answer, JSON};
use super::catalog::Catalog;
use crate::bag::capture::CaptureRef;
use crate::cable::provenance::Source;
use crate::error::{Error, Result};
use crate::query::search::{Hit, check_query};
use crate::query::select::{Filter, Need, ids_to_look_up};
use crate::web::paths;
use serde::Serialize;

/// Hits `api/search` gives when no `limit` is asked for.
pub(crate) const DEFAULT_HITS: usize = 20;
/// The most hits `api/search` gives.
pub(crate) const MAX_HITS: usize = 100;

/// Why a search gave no hits.
pub(crate) enum Failure {
    /// The query is malformed, or holds no word: what the query parser says.
    Query(String),
    /// The index could not be read.
    Server(Error),
}

/// The best `limit` hits of `query` among the edition's collection.
pub(crate) fn hits(cat: &Catalog, query: &str, limit: usize) -> Result<Vec<Hit>, Failure> {
    check_query(query).map_err(|e| Failure::Query(e.to_string()))?;
    let collection = &cat.ed.version.collection;
    match cat
        .search
        .search(query, Some(collection), &Filter::default(), limit)
    {
        Ok(hits) => Ok(hits),
        Err(Error::Invalid(message)) => Err(Failure::Query(message)),
        Err(e) => Err(Failure::Server(e)),
    }
}

/// `api/search?q=&limit=`.
pub(crate) fn search(cat: &Catalog, query: &str, limit: Option<&str>) -> Answer {
    if query.trim().is_empty() {
        return error(400, "give a query: api/search?q=words&limit=20");
    }
    let limit = match limit {
        None => DEFAULT_HITS,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_HITS).contains(&n) => n,
            _ => return error(400, &format!("limit must be a number from 1 to {MAX_HITS}")),
        },
    };
    let hits = match hits(cat, query, limit) {
        Ok(hits) => hits,
        Err(Failure::Query(message)) => return error(400, &message),
        Err(Failure::Server(e)) => return Answer::failed(&e),
    };
    #[derive(Serialize)]
    struct WithPage<'a> {
        #[serde(flatten)]
        hit: &'a Hit,
        page: Option<&'a str>,
    }
    let hits: Vec<WithPage> = hits
        .iter()
        .map(|hit| WithPage {
            hit,
            page: cat.ed.cable(&hit.id).map(|(_, c)| &*c.page),
        })
        .collect();
    json(
        200,
        &serde_json::json!({
            "version": cat.ed.version.identifier,
            "query": query,
            "limit": limit,
            "hits": hits,
        }),
    )
}

/// `api/cables/<id>`, by canonical id or the id it was published under.
pub(crate) fn cable(cat: &Catalog, given: &str) -> Result<Answer> {
    let ed = &cat.ed;
    let Some((index, facts)) = ids_to_look_up(given).iter().find_map(|id| ed.cable(id)) else {
        return Ok(error(
            404,
            &format!("{} holds no cable {given}", ed.version.identifier),
        ));
    };
    let cable = cat.load(
        index,
        Need {
            bytes: true,
            sources: true,
            ..Need::default()
        },
    )?;
    let record: serde_json::Value =
        serde_json::from_slice(&cable.bytes).map_err(|e| Error::Corrupt {
            path: std::path::PathBuf::from(&ed.version.identifier),
            message: format!("the record of cable {} is not JSON ({e})", facts.id),
        })?;
    #[derive(Serialize)]
    struct Capture<'a> {
        #[serde(flatten)]
        capture: &'a CaptureRef,
        source: Option<&'a Source>,
        published_id: Option<&'a str>,
    }
    let captures: Vec<Capture> = cable
        .line
        .captures
        .iter()
        .enumerate()
        .map(|(i, capture)| Capture {
            capture,
            source: cable.sources.get(i),
            published_id: cable.published_ids.get(i).map(String::as_str),
        })
        .collect();
    Ok(json(
        200,
        &serde_json::json!({
            "version": ed.version.identifier,
            "archive_sha256": ed.version.archive_sha256,
            "id": facts.id,
            "published_id": cable.published_id(),
            "page": facts.page,
            "aliases": facts.aliases,
            "proof": ed.seal.as_ref().map(|_| paths::cable_proof(facts.created.as_deref(), &facts.id)),
            "line": cable.line,
            "captures": captures,
            "record": record,
        }),
    ))
}

fn json(status: u16, value: &serde_json::Value) -> Answer {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    Answer::new(status, JSON, body)
}

fn error(status: u16, message: &str) -> Answer {
    json(status, &serde_json::json!({ "error": message }))
}
