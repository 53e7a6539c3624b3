//! The edition as a web of pages: every internal link resolves (to a file, and a `#fragment` to
//! an element), every page passes the accessibility checks a reader needs, the lists hold every
//! cable where they should, and the home page's figures are the store's.

use super::{dev_edition, files_of};
use crate::util::{cablekeep, run_ok};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::LazyLock;

static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\s(href|src)=("([^"]*)"|'[^']*'|[^\s>]+)"#).unwrap());
static ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"\sid="([^"]*)""#).unwrap());
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[a-zA-Z][^>]*>").unwrap());
static HANDLER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\son[a-z]+\s*=").unwrap());
/// A list row's date sent: the cell after the cable's link.
static SENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"</a></td><td>([^<]*)</td>").unwrap());

/// Every `.html` page of the edition, with its text.
fn pages(site: &Path) -> Vec<(String, String)> {
    files_of(site)
        .into_iter()
        .filter(|f| f.ends_with(".html"))
        .map(|f| {
            let text = std::fs::read_to_string(site.join(&f)).unwrap();
            (f, text)
        })
        .collect()
}

/// `%xx` sequences decoded (as a browser does before it opens a file).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// `&amp;` and the other escapes the edition writes, undone.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The file `link` (relative, without query or fragment) names from the page at `from`; None
/// when it climbs above the edition's root.
fn resolve(from: &str, link: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in link.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Why a link of the page at `from` is broken; None when it resolves.
fn broken(
    site: &Path,
    from: &str,
    attr: &str,
    raw: &str,
    ids: &mut HashMap<String, BTreeSet<String>>,
) -> Option<String> {
    let Some(link) = raw.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return Some(format!("{attr}={raw} is not a double-quoted value"));
    };
    let link = unescape(link);
    let lower = link.to_ascii_lowercase();
    if attr == "src" && (lower.starts_with("http:") || lower.starts_with("https:")) {
        return Some(format!("src={link:?} loads an external resource"));
    }
    if ["http:", "https:", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        return None;
    }
    if link.is_empty() || link.starts_with('/') || lower.contains(':') {
        return Some(format!(
            "{attr}={link:?} is not a relative link to a file of the edition"
        ));
    }
    let (file_part, fragment) = match link.split_once('#') {
        Some((f, frag)) => (f, Some(frag)),
        None => (link.as_str(), None),
    };
    let file_part = file_part.split('?').next().unwrap();
    let target = if file_part.is_empty() {
        from.to_string()
    } else {
        match resolve(from, &percent_decode(file_part)) {
            Some(t) => t,
            None => return Some(format!("{link:?} climbs above the edition's root")),
        }
    };
    if !site.join(&target).is_file() {
        return Some(format!("{link:?} -> {target}: no such file"));
    }
    let fragment = fragment.filter(|f| !f.is_empty())?;
    let known = ids.entry(target.clone()).or_insert_with(|| {
        let text = std::fs::read_to_string(site.join(&target)).unwrap_or_default();
        ID.captures_iter(&text).map(|c| c[1].to_string()).collect()
    });
    (!known.contains(&percent_decode(fragment)))
        .then(|| format!("{link:?}: {target} has no element with id {fragment:?}"))
}

#[test]
fn every_link_of_the_edition_resolves() {
    let Some(ed) = dev_edition() else { return };
    let mut ids: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    let stylesheet = Regex::new(r#"<link\s[^>]*href="(/|[a-zA-Z]+:)"#).unwrap();
    for (page, text) in pages(&ed.site) {
        if stylesheet.is_match(&text) {
            problems.push(format!("{page}: a <link> to an absolute URL"));
        }
        // The text inside tags only: a cable's text is escaped, so its "href=" is no link.
        for tag in TAG.find_iter(&text) {
            for c in LINK.captures_iter(tag.as_str()) {
                checked += 1;
                if let Some(why) = broken(&ed.site, &page, &c[1], &c[2], &mut ids) {
                    problems.push(format!("{page}: {why}"));
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} links checked");
    assert!(
        problems.is_empty(),
        "{} broken links of {checked}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_link_checker_finds_what_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path();
    std::fs::create_dir_all(site.join("origin")).unwrap();
    std::fs::write(site.join("index.html"), r#"<p id="here">"#).unwrap();
    std::fs::write(site.join("origin/a b.html"), "").unwrap();
    let mut ids = HashMap::new();
    let mut check = |from: &str, attr: &str, link: &str| {
        broken(site, from, attr, &format!("\"{link}\""), &mut ids)
    };
    assert_eq!(check("origin/x.html", "href", "../index.html#here"), None);
    assert_eq!(check("origin/x.html", "href", "a%20b.html?q=1"), None);
    assert_eq!(check("index.html", "href", "https://example.org/"), None);
    assert_eq!(check("index.html", "href", "#here"), None);
    for bad in [
        ("origin/x.html", "href", "../index.html#there"),
        ("origin/x.html", "href", "index.html"),
        ("origin/x.html", "href", "../../index.html"),
        ("index.html", "href", "/index.html"),
        ("index.html", "src", "https://cdn.example.org/x.js"),
        ("index.html", "src", "javascript:alert(1)"),
        ("index.html", "href", ""),
    ] {
        assert!(check(bad.0, bad.1, bad.2).is_some(), "{bad:?}");
    }
    assert!(broken(site, "index.html", "href", "index.html", &mut ids).is_some());
}

/// Why a page fails the accessibility checks; empty when it passes.
fn inaccessible(text: &str) -> Vec<String> {
    let mut why = Vec::new();
    let count = |re: &str| Regex::new(re).unwrap().find_iter(text).count();
    if count(r#"<html lang="[a-z]{2}"#) != 1 {
        why.push("no <html lang=…>".to_string());
    }
    for (tag, re) in [("h1", r"<h1[\s>]"), ("main", r"<main[\s>]")] {
        let n = count(re);
        if n != 1 {
            why.push(format!("{n} <{tag}> elements, not one"));
        }
    }
    let labels: BTreeSet<String> = Regex::new(r#"<label[^>]*\sfor="([^"]+)""#)
        .unwrap()
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect();
    for input in Regex::new(r"<input[^>]*>").unwrap().find_iter(text) {
        let input = input.as_str();
        if input.contains(r#"type="hidden""#) || input.contains("aria-label=") {
            continue;
        }
        let id = ID.captures(input).map(|c| c[1].to_string());
        if !id.is_some_and(|id| labels.contains(&id)) {
            why.push(format!("{input} has no <label for=…>"));
        }
    }
    for tag in TAG.find_iter(text) {
        if HANDLER.is_match(tag.as_str()) {
            why.push(format!("an inline event handler: {}", tag.as_str()));
        }
        if tag.as_str().starts_with("<img") && !tag.as_str().contains(" alt=") {
            why.push(format!("an image without alt: {}", tag.as_str()));
        }
    }
    let tables = count(r"<table[\s>]");
    let captioned = count(r"<table[^>]*>\s*<caption[\s>]");
    if tables != captioned {
        why.push(format!("{tables} tables, {captioned} with a caption"));
    }
    for th in Regex::new(r"<th[\s>][^>]*").unwrap().find_iter(text) {
        if !th.as_str().contains("scope=") {
            why.push(format!("a header cell without scope: {}", th.as_str()));
        }
    }
    why
}

#[test]
fn every_page_passes_the_accessibility_checks() {
    let Some(ed) = dev_edition() else { return };
    let mut problems = Vec::new();
    let pages = pages(&ed.site);
    assert!(pages.len() > 400);
    for (page, text) in &pages {
        for why in inaccessible(text) {
            problems.push(format!("{page}: {why}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let home = std::fs::read_to_string(ed.site.join("index.html")).unwrap();
    assert!(inaccessible(&home).is_empty());
    for bad in [
        home.replacen("<h1>", "<h1 class=x>x</h1><h1>", 1),
        home.replacen("<main id=\"main\">", "<div>", 1),
        home.replacen("<html lang=\"en\">", "<html>", 1),
        home.replacen("<label for=\"home-q\">", "<label>", 1),
        home.replacen("<button", "<button onclick=\"x()\"", 1),
        home.replacen("<caption>", "<p>", 1),
        home.replacen("<th scope=\"row\">", "<th>", 1),
        home.replacen("</main>", "<img src=\"x.png\"></main>", 1),
    ] {
        assert!(!inaccessible(&bad).is_empty(), "the checks miss a fault");
    }
}

/// A table's rows as (the text of the first cell, of the last cell), tags removed.
fn rows(table: &str) -> Vec<(String, String, Option<String>)> {
    let row = Regex::new(r"(?s)<tr>(.*?)</tr>").unwrap();
    let cell = Regex::new(r"(?s)<t[hd][^>]*>(.*?)</t[hd]>").unwrap();
    let href = Regex::new(r#"href="([^"]*)""#).unwrap();
    let strip = |s: &str| unescape(&Regex::new("<[^>]*>").unwrap().replace_all(s, ""));
    row.captures_iter(table)
        .filter_map(|r| {
            let cells: Vec<&str> = cell
                .captures_iter(&r[1])
                .map(|c| c.get(1).unwrap().as_str())
                .collect();
            let (first, last) = (cells.first()?, cells.last()?);
            let link = href.captures(first).map(|c| c[1].to_string());
            Some((strip(first), strip(last), link))
        })
        .collect()
}

/// The `<tbody>` rows of every table of a page.
fn body_rows(text: &str) -> Vec<(String, String, Option<String>)> {
    Regex::new(r"(?s)<tbody>(.*?)</tbody>")
        .unwrap()
        .captures_iter(text)
        .flat_map(|c| rows(&c[1]))
        .collect()
}

fn number(s: &str) -> u64 {
    s.replace(',', "")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{s:?}"))
}

/// For each facet folder: every list (its first page's file name, without `_0.html`) with the
/// count its index gives, and the rows of its pages in order (cable page links, created).
struct Lists {
    counts: BTreeMap<String, u64>,
    rows: BTreeMap<String, Vec<(String, String)>>,
}

fn lists_of(site: &Path, folder: &str) -> Lists {
    let index = std::fs::read_to_string(site.join(folder).join("index.html")).unwrap();
    let mut counts = BTreeMap::new();
    for (_, count, link) in body_rows(&index) {
        let link = link.expect("a value links to its list");
        let slug = link.strip_suffix("_0.html").expect("a list's first page");
        counts.insert(slug.to_string(), number(&count));
    }
    let mut rows = BTreeMap::new();
    for slug in counts.keys() {
        let mut all = Vec::new();
        for page in 0.. {
            let path = site.join(folder).join(format!("{slug}_{page}.html"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                break;
            };
            let on_page: Vec<(String, String)> = body_rows(&text)
                .into_iter()
                .map(|(_, _, link)| link.expect("a row links to its cable"))
                .zip(SENT.captures_iter(&text))
                .map(|(link, created)| (link, created[1].to_string()))
                .collect();
            all.push(on_page);
        }
        let pages = all.len();
        for (i, page) in all.iter().enumerate() {
            let full = 200;
            if i + 1 < pages {
                assert_eq!(page.len(), full, "{folder}/{slug}_{i}.html is not full");
            } else {
                assert!((1..=full).contains(&page.len()), "{folder}/{slug}_{i}.html");
            }
        }
        rows.insert(slug.clone(), all.into_iter().flatten().collect());
    }
    Lists { counts, rows }
}

#[test]
fn the_lists_hold_every_cable_where_it_belongs() {
    let Some(ed) = dev_edition() else { return };
    let Some(dev) = crate::util::shared("cables/dev") else {
        return;
    };
    let stats: serde_json::Value = serde_json::from_str(&run_ok(
        cablekeep(&ed.store).args(["stats", "-c", "dev", "--json"]),
        0,
    ))
    .unwrap();
    let cables = stats["cables"].as_u64().unwrap();
    let mut by_facet = BTreeMap::new();
    for folder in [
        "date",
        "reldate",
        "origin",
        "tag",
        "classification",
        "redaction",
    ] {
        let lists = lists_of(&ed.site, folder);
        for (slug, count) in &lists.counts {
            let rows = &lists.rows[slug];
            assert_eq!(
                rows.len() as u64,
                *count,
                "{folder}/{slug}: index and pages"
            );
            // By date sent, undated last (ties by id: not visible in the rows).
            let dates: Vec<(bool, &str)> = rows
                .iter()
                .map(|(_, d)| (d.is_empty(), d.as_str()))
                .collect();
            assert!(dates.is_sorted(), "{folder}/{slug} is not sorted by date");
        }
        by_facet.insert(folder, lists);
    }
    // Every cable exactly once in the date lists, the release-date lists, and the redaction
    // status lists (not counting partial extracts, which are also redacted or not).
    for folder in ["date", "reldate", "redaction"] {
        let mut seen = BTreeMap::new();
        for (slug, rows) in &by_facet[folder].rows {
            if slug == "partial-extract" {
                continue;
            }
            for (link, _) in rows {
                *seen.entry(link.clone()).or_insert(0) += 1;
            }
        }
        assert_eq!(seen.len() as u64, cables, "{folder}: every cable");
        assert!(seen.values().all(|&n| n == 1), "{folder}: once each");
    }
    // Each dev cable in the date list of its month and its origin's list.
    let origin_slugs: BTreeMap<String, String> =
        body_rows(&std::fs::read_to_string(ed.site.join("origin/index.html")).unwrap())
            .into_iter()
            .map(|(name, _, link)| (name, link.unwrap().replace("_0.html", "")))
            .collect();
    let metadata = std::fs::read_to_string(dev.join("metadata.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(metadata.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (path_at, origin_at) = (column("path"), column("index_origin"));
    let listed: BTreeSet<&String> = by_facet["date"]
        .rows
        .values()
        .flatten()
        .map(|(link, _)| link)
        .collect();
    let (mut checked, mut aliases) = (0, Vec::new());
    for record in reader.records() {
        let record = record.unwrap();
        let link = format!("../{}", &record[path_at]);
        if !listed.contains(&link) {
            // A page of the dev set whose cable the store merged with another (the same
            // cable published under two ids): its page is an alias of the cable's page
            // (the_dev_edition_has_a_page_at_each_wikileaks_path checks that it exists).
            aliases.push(link);
            continue;
        }
        let month = record[path_at]
            .strip_prefix("cable/")
            .and_then(|p| p.get(..7))
            .unwrap()
            .replace('/', "-");
        let in_list = |folder: &str, slug: &str| {
            by_facet[folder].rows[slug]
                .iter()
                .filter(|(l, _)| *l == link)
                .count()
        };
        assert_eq!(in_list("date", &month), 1, "{link} in date/{month}");
        if !record[origin_at].is_empty() {
            let origin = origin_slugs
                .get(&record[origin_at])
                .unwrap_or_else(|| panic!("no list of origin {:?}", &record[origin_at]));
            assert_eq!(in_list("origin", origin), 1, "{link} in origin/{origin}");
        }
        checked += 1;
    }
    assert!(
        aliases.len() <= 2,
        "pages of the dev set in no list: {aliases:?}"
    );
    assert_eq!(checked + aliases.len(), 400);
    // The figures of the facets' indexes are the stats' (which count cables without a value
    // under "(none)", and have no list for them).
    for (folder, key) in [
        ("origin", "by_origin"),
        ("classification", "by_classification"),
        ("tag", "by_tag"),
        ("redaction", "by_redaction"),
    ] {
        let index = std::fs::read_to_string(ed.site.join(folder).join("index.html")).unwrap();
        let shown: BTreeMap<String, u64> = body_rows(&index)
            .into_iter()
            .filter(|(_, _, link)| link.as_deref() != Some("partial-extract_0.html"))
            .map(|(name, n, _)| (name, number(&n)))
            .collect();
        let mut expected: BTreeMap<String, u64> =
            serde_json::from_value(stats[key].clone()).unwrap();
        expected.remove("(none)");
        if folder == "redaction" {
            let names = [("redacted", "Redacted"), ("not-redacted", "Not redacted")];
            expected = names
                .iter()
                .filter_map(|(k, label)| expected.get(*k).map(|n| (label.to_string(), *n)))
                .collect();
        }
        assert_eq!(shown, expected, "{folder}/index.html and stats");
    }
    let partial =
        body_rows(&std::fs::read_to_string(ed.site.join("redaction/index.html")).unwrap())
            .into_iter()
            .find(|(_, _, link)| link.as_deref() == Some("partial-extract_0.html"))
            .map(|(_, n, _)| number(&n));
    assert_eq!(
        partial,
        stats["partial_extracts"].as_u64().filter(|&n| n > 0)
    );
    let longest = by_facet
        .values()
        .flat_map(|l| l.counts.values())
        .max()
        .unwrap();
    assert!(
        *longest > 200,
        "the dev set has a list of more than one page"
    );
}

#[test]
fn the_home_page_shows_the_stores_figures() {
    let Some(ed) = dev_edition() else { return };
    let stats: serde_json::Value = serde_json::from_str(&run_ok(
        cablekeep(&ed.store).args(["stats", "-c", "dev", "--json"]),
        0,
    ))
    .unwrap();
    let home = std::fs::read_to_string(ed.site.join("index.html")).unwrap();
    let figure = |id: &str| {
        let re = Regex::new(&format!(r#"<dd id="{id}">(?:<a [^>]*>)?([0-9,]+)"#)).unwrap();
        number(&re.captures(&home).unwrap_or_else(|| panic!("no {id}"))[1])
    };
    assert_eq!(figure("fig-cables"), stats["cables"].as_u64().unwrap());
    assert_eq!(figure("fig-captures"), stats["captures"].as_u64().unwrap());
    assert_eq!(
        figure("fig-partial-extracts"),
        stats["partial_extracts"].as_u64().unwrap()
    );
    for (id, key) in [
        ("by-year", "by_year"),
        ("by-origin", "by_origin"),
        ("by-classification", "by_classification"),
        ("by-tag", "by_tag"),
        ("by-redaction", "by_redaction"),
    ] {
        let table = Regex::new(&format!(
            r#"(?s)<table class="figures" id="{id}">(.*?)</table>"#
        ))
        .unwrap()
        .captures(&home)
        .unwrap_or_else(|| panic!("no table {id}"))[1]
            .to_string();
        let shown: Vec<(String, u64)> = body_rows(&table)
            .into_iter()
            .map(|(name, n, _)| {
                let name = if name == "(none given)" {
                    "(none)".to_string()
                } else {
                    name
                };
                (name, number(&n))
            })
            .collect();
        let all: BTreeMap<String, u64> = serde_json::from_value(stats[key].clone()).unwrap();
        let mut expected: Vec<(String, u64)> = all.clone().into_iter().collect();
        if expected.len() > 50 {
            // The 50 values with the most cables, ties by name, and a link to all of them.
            expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            expected.truncate(50);
            assert!(home.contains(&format!("All {} values", all.len())), "{id}");
        }
        assert_eq!(shown, expected, "{id} and stats --json");
        assert!(!shown.is_empty(), "{id}");
    }
    let log = run_ok(cablekeep(&ed.store).args(["log", "-c", "dev", "--json"]), 0);
    let newest: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let digest = newest["archive"]["sha256"].as_str().unwrap();
    assert!(
        home.contains(&format!(r#"id="archive-sha256">{digest}<"#)),
        "the home page names the archive's digest"
    );
    assert!(home.contains(r#"<form class="search" action="search.html" method="get""#));
    assert!(home.contains(r#"name="q""#));
}

#[test]
fn a_list_page_rendered_on_request_is_the_file_the_site_wrote() {
    use cablekeep::web::page::{home, lists};
    let Some(site) = dev_edition() else { return };
    let store = cablekeep::store::Store::new(&site.store);
    let version = cablekeep::query::select::VersionRef::read(&store, "dev", 2).unwrap();
    let keep = |_: &cablekeep::bag::capture::IndexLine| true;
    let progress = cablekeep::progress::NoProgress;
    let ed = cablekeep::web::Edition::build(&store, version, &keep, None, &progress).unwrap();
    let cache = lists::ListCache::new();
    let folders = [
        "date/",
        "reldate/",
        "origin/",
        "tag/",
        "classification/",
        "redaction/",
    ];
    let mut compared = 0;
    for path in files_of(&site.site) {
        if !folders.iter().any(|f| path.starts_with(f)) {
            continue;
        }
        let written = std::fs::read(site.site.join(&path)).unwrap();
        let rendered = cache.page(&ed, &path);
        assert!(rendered.as_ref() == Some(&written), "{path}");
        compared += 1;
    }
    assert!(compared > 500, "{compared} list pages");
    assert!(lists::list_page(&ed, "redaction/not-redacted_1.html").is_some());
    for absent in [
        "redaction/not-redacted_2.html",
        "redaction/not-redacted_01.html",
        "origin/no-such-post_0.html",
        "cable/index.html",
        "index.html",
    ] {
        assert_eq!(cache.page(&ed, absent), None, "{absent}");
    }
    let file = |name: &str| std::fs::read(site.site.join(name)).unwrap();
    assert!(home::home(&ed) == file("index.html"));
    assert!(home::about(&ed) == file("about.html"));
}
