//! The answer to each route: the edition's files rendered by the same functions `site` writes
//! them with (so a page's bytes are the file's), the search page answered from the search
//! index, and the JSON API (`api`). Plain data: the HTTP side (`http`) only sends it.

use super::api;
use super::catalog::Catalog;
use super::routes::Route;
use crate::error::Result;
use crate::query::search::Hit;
use crate::web::html::{Page, esc, esc_into, layout};
use crate::web::{STYLE_CSS, SUMS_FILE, page, paths};
use std::fmt::Write;

/// What the server sends back.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The `Content-Type`.
    pub(crate) content_type: &'static str,
    /// The body (left out of a HEAD's answer by the HTTP side).
    pub(crate) body: Vec<u8>,
}

/// `Content-Type` of HTML pages.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// `Content-Type` of plain text (errors, checkpoints, signatures).
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
/// `Content-Type` of the API's answers and of proofs.
pub(crate) const JSON: &str = "application/json";

impl Answer {
    pub(crate) fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Answer {
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// A plain-text answer: an error or a refusal, with what is wrong.
    pub(crate) fn text(status: u16, message: &str) -> Answer {
        Answer::new(status, TEXT, format!("{message}\n").into_bytes())
    }

    fn not_found() -> Answer {
        Answer::text(404, "not found: this edition has no such page")
    }

    /// The answer to an error of the library: the message is the server's log's, not the
    /// client's (it names files of the store).
    pub(crate) fn failed(e: &crate::error::Error) -> Answer {
        eprintln!(
            "cablekeep: error: {}",
            crate::finding::terminal_safe(&e.to_string())
        );
        Answer::text(500, "the server could not answer: its log says why")
    }
}

/// The answer to `route`.
pub(crate) fn answer(cat: &Catalog, route: &Route) -> Answer {
    let answered = match route {
        Route::File(path) => file(cat, path),
        Route::SearchPage { query } => Ok(search_page(cat, query)),
        Route::ApiCable(id) => api::cable(cat, id),
        Route::ApiSearch { query, limit } => Ok(api::search(cat, query, limit.as_deref())),
    };
    answered.unwrap_or_else(|e| Answer::failed(&e))
}

/// A file of the edition, by its path.
fn file(cat: &Catalog, path: &str) -> Result<Answer> {
    let ed = &cat.ed;
    let found = match path {
        "index.html" => Some(Answer::new(200, HTML, cat.home.clone())),
        "about.html" => Some(Answer::new(200, HTML, cat.about.clone())),
        "style.css" => Some(Answer::new(
            200,
            "text/css; charset=utf-8",
            STYLE_CSS.as_bytes().to_vec(),
        )),
        SUMS_FILE => Some(Answer::text(
            404,
            "SHA256SUMS is written with a static edition (`cablekeep site`); a served edition \
             is checked against the store (`cablekeep verify`) and the seal files",
        )),
        _ if path.starts_with("cable/") => cable_file(cat, path)?,
        _ if path.starts_with("seal/") => ed.seal.as_ref().and_then(|seal| {
            seal.files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(p, bytes)| Answer::new(200, seal_type(p), bytes.clone()))
        }),
        _ => {
            let folder = path.split('/').next().unwrap_or_default();
            paths::Facet::from_folder(folder)
                .and_then(|_| cat.lists.page(ed, path))
                .map(|bytes| Answer::new(200, HTML, bytes))
        }
    };
    Ok(found.unwrap_or_else(Answer::not_found))
}

/// A cable's page, one of its alias pages, or its proof: rendered with the cable's records by
/// `page::cable`, as `site` writes them.
fn cable_file(cat: &Catalog, path: &str) -> Result<Option<Answer>> {
    if let Some(stem) = path.strip_suffix(".proof.json") {
        return cable_proof(cat, path, stem);
    }
    if !path.ends_with(".html") {
        return Ok(None);
    }
    let Some(index) = cat.cable_at(path) else {
        return Ok(None);
    };
    let cable = cat.load(index, crate::web::write::CABLE_PAGE_NEED)?;
    let files = page::cable::page_files(&cat.ed, index, &cable, cat.ed.seal.is_some());
    Ok(files
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, bytes)| Answer::new(200, HTML, bytes)))
}

/// A cable's proof, named by its canonical id in its page's folder.
fn cable_proof(cat: &Catalog, path: &str, stem: &str) -> Result<Option<Answer>> {
    let (Some(_), Some(id)) = (&cat.ed.seal, stem.rsplit('/').next()) else {
        return Ok(None);
    };
    let Some((_, facts)) = cat.ed.cable(id) else {
        return Ok(None);
    };
    if paths::cable_proof(facts.created.as_deref(), &facts.id) != path {
        return Ok(None);
    }
    let v = &cat.ed.version;
    let _one_at_a_time = cat.proving.lock().unwrap_or_else(|e| e.into_inner());
    let proof = crate::seal::prove(&cat.store, Some(&v.collection), Some(v.version), &facts.id)?;
    Ok(Some(Answer::new(200, JSON, proof.to_bytes())))
}

/// The `Content-Type` of a seal file.
fn seal_type(path: &str) -> &'static str {
    if path.ends_with(".tsr") {
        "application/timestamp-reply"
    } else {
        TEXT
    }
}

/// Hits the search page shows.
pub(crate) const PAGE_HITS: usize = 50;

/// `search.html?q=`: the form, and the best hits of the query with their snippets, each linked
/// to its cable's page; a malformed query is answered 400 with what is wrong.
fn search_page(cat: &Catalog, query: &str) -> Answer {
    let mut main = String::from("<h1>Search</h1>\n");
    let _ = write!(
        main,
        "<form id=\"search\" class=\"search\" action=\"search.html\" method=\"get\" role=\"search\">\n\
         <label for=\"q\">Words to search for</label>\n\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" autocomplete=\"off\" spellcheck=\"false\">\n\
         <button type=\"submit\">Search</button>\n</form>\n\
         <p class=\"help\">Words, \"phrases\", prefix*, AND, OR, NOT, (…), and field filters such as \
         origin:madrid, tag:PREL, classification:secret, created:2009..2010.</p>\n",
        esc(query)
    );
    let mut status = 200;
    if !query.trim().is_empty() {
        match api::hits(cat, query, PAGE_HITS) {
            Ok(hits) => results(cat, query, &hits, &mut main),
            Err(api::Failure::Query(message)) => {
                status = 400;
                let _ = writeln!(
                    main,
                    "<p class=\"error\" role=\"alert\">{}</p>",
                    esc(&message)
                );
            }
            Err(api::Failure::Server(e)) => return Answer::failed(&e),
        }
    }
    let page = Page {
        path: "search.html",
        title: "Search",
        main: &main,
        footer_extra: "",
    };
    Answer::new(status, HTML, layout(&cat.ed, &page))
}

/// The list of hits, best first.
fn results(cat: &Catalog, query: &str, hits: &[Hit], main: &mut String) {
    let _ = writeln!(
        main,
        "<p id=\"summary\" role=\"status\">{} {} for <q>{}</q>, best first.</p>",
        hits.len(),
        if hits.len() == 1 { "cable" } else { "cables" },
        esc(query)
    );
    main.push_str("<ol id=\"results\" class=\"results\">\n");
    for h in hits {
        let page = cat.ed.cable(&h.id).map(|(_, c)| &*c.page);
        let _ = write!(main, "<li data-id=\"{}\">", esc(&h.id));
        match page {
            Some(p) => {
                let _ = write!(main, "<a href=\"{}\">{}</a>", esc(p), esc(&h.id));
            }
            None => esc_into(main, &h.id),
        }
        if let Some(subject) = &h.subject {
            main.push_str(" · ");
            esc_into(main, subject);
        }
        let created = h.created.as_deref().map(|c| c.get(..10).unwrap_or(c));
        let facts: Vec<&str> = [created, h.origin.as_deref(), h.classification.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !facts.is_empty() {
            main.push_str("<br><span class=\"meta\">");
            esc_into(main, &facts.join(" · "));
            main.push_str("</span>");
        }
        main.push_str("<p class=\"snippet\">");
        marked(main, &h.snippet);
        main.push_str("</p></li>\n");
    }
    main.push_str("</ol>\n");
}

/// A snippet with its matches as `<mark>`, escaped. The search index marks a match (a word:
/// letters and digits) with `[` `]`; brackets around anything else are the text's own.
fn marked(out: &mut String, snippet: &str) {
    let mut rest = snippet;
    while let Some(open) = rest.find('[') {
        esc_into(out, &rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].chars().all(char::is_alphanumeric) => {
                out.push_str("<mark>");
                esc_into(out, &after[..close]);
                out.push_str("</mark>");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    esc_into(out, rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mark_their_matches() {
        let mut out = String::new();
        marked(&mut out, "the [oil] of <Libya> [JANA, 3/21] [Tōkyō]] x] [y");
        assert_eq!(
            out,
            "the <mark>oil</mark> of &lt;Libya&gt; [JANA, 3/21] <mark>Tōkyō</mark>] x] [y"
        );
    }
}
