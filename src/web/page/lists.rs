//! The lists: by date sent, release date, origin, tag, classification and redaction status,
//! each a facet index (`<folder>/index.html`: every value with its count) and each value's
//! cables in pages of [`LIST_PAGE_ROWS`] (`<folder>/<slug>_<page>.html`, from 0, as WikiLeaks'
//! lists count).
//!
//! Every list is sorted the same way: by date sent, then canonical id, undated cables last. The
//! grouping ([`ListIndex`]) is made once from the edition's table of cables: one sort of the
//! cables, then one pass that puts each cable's number in the lists it belongs to (about ten
//! `u32` a cable). Pages are rendered one at a time from it, so a site streams them to disk and
//! `serve` renders any one of them on request ([`ListCache`]) with the same bytes.

use crate::error::Result;
use crate::web::edition::{CableFacts, Edition, Value, Values};
use crate::web::html::{Page, esc, esc_into, layout};
use crate::web::paths::{self, Facet, LIST_PAGE_ROWS, facet_index, relative};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::OnceLock;

/// The slug of the list of cables without a date (sent or released).
pub const UNDATED: &str = "undated";

/// Page numbers shown on each side of the current page in a list's page navigation (besides
/// the first and the last page), so that the navigation stays small for a list of any length.
const PAGE_WINDOW: usize = 2;

/// The redaction lists, in the order their index shows them: (slug, label). A cable is in
/// `redacted` or `not-redacted`, and also in `partial-extract` when it is one.
pub const REDACTION_LISTS: [(&str, &str); 3] = [
    ("redacted", "Redacted"),
    ("not-redacted", "Not redacted"),
    ("partial-extract", "Partial extracts"),
];

/// Calls `each` with every list page of the edition (path, bytes), in a fixed order: facet by
/// facet ([`Facet::ALL`]), its index, then each value's pages in the index's order.
pub fn for_each_list_page(
    ed: &Edition,
    each: &mut dyn FnMut(String, Vec<u8>) -> Result<()>,
) -> Result<()> {
    ListIndex::of(ed).for_each_page(ed, each)
}

/// The list page at `path` (as [`for_each_list_page`] names it); None when there is none.
///
/// This groups the edition's cables anew at each call; a caller that renders many pages
/// (`serve`) keeps a [`ListCache`] instead.
pub fn list_page(ed: &Edition, path: &str) -> Option<Vec<u8>> {
    ListIndex::of(ed).page(ed, path)
}

/// A [`ListIndex`] made on first use: what `serve` keeps beside its edition, so that each
/// request renders one page without grouping the cables again. Use it with one edition only.
#[derive(Default)]
pub struct ListCache(OnceLock<ListIndex>);

impl ListCache {
    /// An empty cache.
    pub fn new() -> ListCache {
        ListCache::default()
    }

    /// The lists of `ed`, grouped on the first call.
    pub fn lists(&self, ed: &Edition) -> &ListIndex {
        self.0.get_or_init(|| ListIndex::of(ed))
    }

    /// The list page at `path`, as [`list_page`] renders it.
    pub fn page(&self, ed: &Edition, path: &str) -> Option<Vec<u8>> {
        self.lists(ed).page(ed, path)
    }
}

/// Every list of an edition: for each facet, its values (in the order its index shows them),
/// each with its cables (indexes into [`Edition::cables`]) in list order.
pub struct ListIndex {
    facets: Vec<FacetLists>,
}

/// The cables of every list, gathered in list order.
struct Gathered<'a> {
    dates: BTreeMap<&'a str, Vec<u32>>,
    released: BTreeMap<&'a str, Vec<u32>>,
    origins: Vec<Vec<u32>>,
    classifications: Vec<Vec<u32>>,
    tags: Vec<Vec<u32>>,
    /// As [`REDACTION_LISTS`].
    redaction: [Vec<u32>; 3],
}

impl<'a> Gathered<'a> {
    fn new(values: &Values) -> Gathered<'a> {
        Gathered {
            dates: BTreeMap::new(),
            released: BTreeMap::new(),
            origins: vec![Vec::new(); values.origins.len()],
            classifications: vec![Vec::new(); values.classifications.len()],
            tags: vec![Vec::new(); values.tags.len()],
            redaction: Default::default(),
        }
    }

    /// Puts cable number `i` in each of its lists.
    fn add(&mut self, i: u32, c: &'a CableFacts) {
        self.dates.entry(date_slug(c)).or_default().push(i);
        self.released.entry(release_slug(c)).or_default().push(i);
        let put = |lists: &mut Vec<Vec<u32>>, value: u32| {
            if let Some(list) = lists.get_mut(value as usize) {
                list.push(i);
            }
        };
        c.origin.into_iter().for_each(|v| put(&mut self.origins, v));
        c.classification
            .into_iter()
            .for_each(|v| put(&mut self.classifications, v));
        c.tags.iter().for_each(|&v| put(&mut self.tags, v));
        self.redaction[usize::from(!c.redacted)].push(i);
        if c.partial_extract {
            self.redaction[2].push(i);
        }
    }

    /// Each facet's lists, in [`Facet::ALL`]'s order.
    fn into_lists(self, values: &Values) -> Vec<FacetLists> {
        let dated = |map: BTreeMap<&str, Vec<u32>>, label: fn(&str) -> String| -> Vec<List> {
            map.into_iter()
                .map(|(slug, cables)| List {
                    slug: slug.to_string(),
                    label: label(slug),
                    cables,
                })
                .collect()
        };
        let valued = |values: &[Value], lists: Vec<Vec<u32>>| -> Vec<List> {
            values
                .iter()
                .zip(lists)
                .map(|(v, cables)| List {
                    slug: v.slug.clone(),
                    label: v.name.clone(),
                    cables,
                })
                .collect()
        };
        let redaction = REDACTION_LISTS
            .iter()
            .zip(self.redaction)
            .map(|((slug, label), cables)| List {
                slug: slug.to_string(),
                label: label.to_string(),
                cables,
            })
            .collect();
        vec![
            FacetLists::new(Facet::Date, dated(self.dates, month_label)),
            FacetLists::new(Facet::Released, dated(self.released, day_label)),
            FacetLists::new(Facet::Origin, valued(&values.origins, self.origins)),
            FacetLists::new(Facet::Tag, valued(&values.tags, self.tags)),
            FacetLists::new(
                Facet::Classification,
                valued(&values.classifications, self.classifications),
            ),
            FacetLists::new(Facet::Redaction, redaction),
        ]
    }
}

/// What a list path names.
enum Located<'a> {
    Index(&'a FacetLists),
    List(&'a FacetLists, &'a List, usize),
}

/// One facet's lists.
struct FacetLists {
    facet: Facet,
    lists: Vec<List>,
    /// Index into `lists` by slug.
    by_slug: HashMap<String, usize>,
}

/// One value's list.
struct List {
    /// The value's slug in paths.
    slug: String,
    /// The value as a reader sees it ("March 2008", "Embassy Madrid").
    label: String,
    /// The cables, in list order.
    cables: Vec<u32>,
}

impl List {
    /// Its pages: at least one.
    fn pages(&self) -> usize {
        self.cables.len().div_ceil(LIST_PAGE_ROWS).max(1)
    }
}

impl ListIndex {
    /// Groups the cables of `ed` into their lists.
    pub fn of(ed: &Edition) -> ListIndex {
        ListIndex::group(&ed.cables, &ed.values)
    }

    /// Groups `cables` into their lists; their facets index into `values`.
    fn group(cables: &[CableFacts], values: &Values) -> ListIndex {
        let mut gathered = Gathered::new(values);
        for i in list_order(cables) {
            gathered.add(i, &cables[i as usize]);
        }
        ListIndex {
            facets: gathered.into_lists(values),
        }
    }

    /// Calls `each` with every list page, as [`for_each_list_page`].
    pub fn for_each_page(
        &self,
        ed: &Edition,
        each: &mut dyn FnMut(String, Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        for f in &self.facets {
            each(facet_index(f.facet), render_index(ed, f))?;
            for list in &f.lists {
                for page in 0..list.pages() {
                    let path = paths::list_page(f.facet, &list.slug, page);
                    let bytes = render_list(ed, f.facet, list, page, &path);
                    each(path, bytes)?;
                }
            }
        }
        Ok(())
    }

    /// The list page at `path`; None when the edition has no such page.
    pub fn page(&self, ed: &Edition, path: &str) -> Option<Vec<u8>> {
        match self.locate(path)? {
            Located::Index(f) => Some(render_index(ed, f)),
            Located::List(f, list, page) => Some(render_list(ed, f.facet, list, page, path)),
        }
    }

    /// What `path` names: a facet's index, or a page of a list; None when it is neither.
    fn locate(&self, path: &str) -> Option<Located<'_>> {
        let (folder, file) = path.split_once('/')?;
        let f = self.facet(Facet::from_folder(folder)?)?;
        if file == "index.html" {
            return Some(Located::Index(f));
        }
        let (slug, page) = file.strip_suffix(".html")?.rsplit_once('_')?;
        let page: usize = page.parse().ok()?;
        let list = &f.lists[*f.by_slug.get(slug)?];
        // One name per page: `_01` or `_+1` is not `_1`.
        let canonical = paths::list_page(f.facet, slug, page);
        (page < list.pages() && canonical == path).then_some(Located::List(f, list, page))
    }

    /// The cables of a facet's value (by slug), in list order; None when there is no such list.
    pub fn cables(&self, facet: Facet, slug: &str) -> Option<&[u32]> {
        let f = self.facet(facet)?;
        Some(&f.lists[*f.by_slug.get(slug)?].cables)
    }

    fn facet(&self, facet: Facet) -> Option<&FacetLists> {
        self.facets.iter().find(|f| f.facet == facet)
    }
}

impl FacetLists {
    /// A facet's lists, those without cables left out.
    fn new(facet: Facet, mut lists: Vec<List>) -> FacetLists {
        lists.retain(|l| !l.cables.is_empty());
        let by_slug = lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.slug.clone(), i))
            .collect();
        FacetLists {
            facet,
            lists,
            by_slug,
        }
    }
}

/// The order of every list: by date sent (as the index writes it, ISO 8601), then canonical
/// id; cables without a date last.
fn list_order(cables: &[CableFacts]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..cables.len() as u32).collect();
    order.sort_by(|&a, &b| by_date_then_id(&cables[a as usize], &cables[b as usize]));
    order
}

fn by_date_then_id(a: &CableFacts, b: &CableFacts) -> Ordering {
    fn key(c: &CableFacts) -> (bool, &str) {
        (c.created.is_none(), c.created.as_deref().unwrap_or(""))
    }
    key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
}

/// The slug of a cable's list by date sent (`date/<slug>_0.html`): `YYYY-MM` of when it was
/// sent, or [`UNDATED`]. A cable's page links its lists with this and [`release_slug`].
pub fn date_slug(c: &CableFacts) -> &str {
    match paths::year_month(c.created.as_deref()) {
        Some(_) => c
            .created
            .as_deref()
            .and_then(|d| d.get(..7))
            .unwrap_or(UNDATED),
        None => UNDATED,
    }
}

/// The slug of a cable's list by release date (`reldate/<slug>_0.html`): `YYYY-MM-DD` of its
/// current capture's release, or [`UNDATED`].
pub fn release_slug(c: &CableFacts) -> &str {
    c.released
        .as_deref()
        .and_then(|d| d.get(..10))
        .filter(|d| is_day(d))
        .unwrap_or(UNDATED)
}

/// True for `YYYY-MM-DD` (digits and dashes in place).
fn is_day(d: &str) -> bool {
    d.len() == 10
        && d.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "March 2008" for `2008-03`; "Undated" for [`UNDATED`].
fn month_label(slug: &str) -> String {
    let month = slug
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    match (slug.get(..4), month) {
        _ if slug == UNDATED => "Undated".to_string(),
        (Some(year), Some(month)) => format!("{month} {year}"),
        // A month the calendar does not have (`2008-13`): shown as written.
        _ => slug.to_string(),
    }
}

/// `2011-08-30` as it is; "Unknown release date" for [`UNDATED`].
fn day_label(slug: &str) -> String {
    if slug == UNDATED {
        "Unknown release date".to_string()
    } else {
        slug.to_string()
    }
}

/// The heading of a value's list.
fn list_heading(facet: Facet, label: &str) -> String {
    match facet {
        Facet::Date if label == "Undated" => "Cables without a date".to_string(),
        Facet::Date => format!("Cables sent in {label}"),
        Facet::Released if label == "Unknown release date" => {
            "Cables without a release date".to_string()
        }
        Facet::Released => format!("Cables released on {label}"),
        Facet::Origin => format!("Cables from {label}"),
        Facet::Tag => format!("Cables tagged {label}"),
        Facet::Classification => format!("Cables classified {label}"),
        Facet::Redaction => match label {
            "Redacted" => "Redacted cables".to_string(),
            "Not redacted" => "Cables not redacted".to_string(),
            _ => "Cables published as partial extracts".to_string(),
        },
    }
}

/// What a facet's values are called in its index ("Origin", "Month").
fn value_column(facet: Facet) -> &'static str {
    match facet {
        Facet::Date => "Month",
        Facet::Released => "Release date",
        Facet::Origin => "Origin",
        Facet::Tag => "Tag",
        Facet::Classification => "Classification",
        Facet::Redaction => "Redaction status",
    }
}

/// `n` with a comma between thousands: `251,287`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The links to every facet's index, from the page at `from`.
pub fn facet_nav(from: &str) -> String {
    let mut out = String::from("<nav class=\"facets\" aria-label=\"Lists\">\n<ul>\n");
    for facet in Facet::ALL {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            relative(from, &facet_index(facet)),
            facet.title()
        );
    }
    out.push_str("</ul>\n</nav>\n");
    out
}

/// A facet's index page: every value with its count, linked to its first page.
fn render_index(ed: &Edition, f: &FacetLists) -> Vec<u8> {
    let path = facet_index(f.facet);
    let mut main = String::with_capacity(1024 + f.lists.len() * 96);
    let _ = write!(
        main,
        "<h1>{}</h1>\n{}<p>{} {}; each list is sorted by date sent, {LIST_PAGE_ROWS} cables to a \
         page.</p>\n",
        f.facet.title(),
        facet_nav(&path),
        thousands(f.lists.len() as u64),
        plural(f.facet).to_lowercase(),
    );
    if f.facet == Facet::Date {
        date_index_tables(f, &mut main);
    } else {
        let caption = format!("{} and their cables", plural(f.facet));
        index_table(f.facet, &f.lists, &caption, None, &mut main);
    }
    layout(
        ed,
        &Page {
            path: &path,
            title: f.facet.title(),
            main: &main,
            footer_extra: "",
        },
    )
}

/// What a facet's values are called together ("Origins").
fn plural(facet: Facet) -> &'static str {
    match facet {
        Facet::Date => "Months",
        Facet::Released => "Release dates",
        Facet::Origin => "Origins",
        Facet::Tag => "Tags",
        Facet::Classification => "Classifications",
        Facet::Redaction => "Redaction statuses",
    }
}

/// The year of a date list (`2008`), or [`UNDATED`].
fn year_of(list: &List) -> &str {
    match list.slug.as_str() {
        UNDATED => UNDATED,
        slug => slug.get(..4).unwrap_or(UNDATED),
    }
}

/// The date index: links to every year, then a table per year (`id="y2008"`, so that a year
/// links to its months), undated cables last (`id="undated"`).
fn date_index_tables(f: &FacetLists, main: &mut String) {
    let years: Vec<&[List]> = f.lists.chunk_by(|a, b| year_of(a) == year_of(b)).collect();
    main.push_str("<ul class=\"years\">\n");
    for lists in &years {
        let year = year_of(&lists[0]);
        let name = if year == UNDATED { "Undated" } else { year };
        let _ = writeln!(
            main,
            "<li><a href=\"#{}\">{name}</a></li>",
            year_anchor(year)
        );
    }
    main.push_str("</ul>\n<div class=\"tables\">\n");
    for lists in years {
        let year = year_of(&lists[0]);
        let caption = if year == UNDATED {
            "Cables without a date".to_string()
        } else {
            format!("Cables sent in {year}")
        };
        index_table(Facet::Date, lists, &caption, Some(&year_anchor(year)), main);
    }
    main.push_str("</div>\n");
}

/// The anchor of a year's table in the date index (`y2008`; `undated`).
pub fn year_anchor(year: &str) -> String {
    if year == UNDATED || year == "(none)" {
        UNDATED.to_string()
    } else {
        format!("y{year}")
    }
}

/// A table of values, each linked to its first page, with its count.
fn index_table(facet: Facet, lists: &[List], caption: &str, id: Option<&str>, out: &mut String) {
    match id {
        Some(id) => {
            let _ = writeln!(out, "<table class=\"values\" id=\"{id}\">");
        }
        None => out.push_str("<table class=\"values\">\n"),
    }
    let _ = write!(
        out,
        "<caption>{}</caption>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"n\">Cables</th></tr></thead>\n<tbody>\n",
        esc(caption),
        value_column(facet)
    );
    for l in lists {
        let _ = write!(out, "<tr><th scope=\"row\"><a href=\"{}_0.html\">", l.slug);
        esc_into(out, &l.label);
        let _ = writeln!(
            out,
            "</a></th><td class=\"n\">{}</td></tr>",
            thousands(l.cables.len() as u64)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Page `page` of a value's list, at `path`.
fn render_list(ed: &Edition, facet: Facet, list: &List, page: usize, path: &str) -> Vec<u8> {
    let pages = list.pages();
    let start = page * LIST_PAGE_ROWS;
    let rows =
        &list.cables[start.min(list.cables.len())..(start + LIST_PAGE_ROWS).min(list.cables.len())];
    let heading = list_heading(facet, &list.label);
    let title = if pages > 1 {
        format!("{heading}, page {} of {pages}", page + 1)
    } else {
        heading.clone()
    };
    let total = list.cables.len() as u64;
    let mut main = String::with_capacity(1024 + rows.len() * 240);
    let _ = write!(
        main,
        "<h1>{}</h1>\n<p class=\"up\"><a href=\"index.html\">{}</a>: ",
        esc(&title),
        facet.title()
    );
    let _ = writeln!(
        main,
        "{} cable{}, sorted by date sent.</p>",
        thousands(total),
        if total == 1 { "" } else { "s" }
    );
    page_nav(&list.slug, facet, page, pages, "Pages", &mut main);
    let _ = write!(
        main,
        "<div class=\"wide\" role=\"region\" aria-labelledby=\"rows\" tabindex=\"0\">\n\
         <table class=\"cables\">\n<caption id=\"rows\">{}: {} to {} of {}</caption>\n\
         <thead><tr><th scope=\"col\">Cable</th><th scope=\"col\">Sent</th>\
         <th scope=\"col\">Subject</th><th scope=\"col\">Origin</th>\
         <th scope=\"col\">Classification</th></tr></thead>\n<tbody>\n",
        esc(&heading),
        thousands((start + 1) as u64),
        thousands((start + rows.len()) as u64),
        thousands(total)
    );
    for &i in rows {
        cable_row(ed, &ed.cables[i as usize], path, &mut main);
    }
    main.push_str("</tbody>\n</table>\n</div>\n");
    page_nav(
        &list.slug,
        facet,
        page,
        pages,
        "Pages (end of list)",
        &mut main,
    );
    layout(
        ed,
        &Page {
            path,
            title: &title,
            main: &main,
            footer_extra: "",
        },
    )
}

/// One cable's row: its id linked to its page, date sent, subject, origin and classification.
fn cable_row(ed: &Edition, c: &CableFacts, from: &str, out: &mut String) {
    let _ = write!(out, "<tr><td><a href=\"{}\">", relative(from, &c.page));
    esc_into(out, &c.published_id);
    out.push_str("</a></td><td>");
    esc_into(
        out,
        c.created
            .as_deref()
            .map_or("", |d| d.get(..10).unwrap_or(d)),
    );
    out.push_str("</td><td>");
    esc_into(out, c.subject.as_deref().unwrap_or(""));
    out.push_str("</td><td>");
    let value = |values: &[Value], i: Option<u32>| -> String {
        i.and_then(|i| values.get(i as usize))
            .map(|v| v.name.clone())
            .unwrap_or_default()
    };
    esc_into(out, &value(&ed.values.origins, c.origin));
    out.push_str("</td><td>");
    esc_into(out, &value(&ed.values.classifications, c.classification));
    out.push_str("</td></tr>\n");
}

/// The page numbers a list's navigation shows: the first, the last and [`PAGE_WINDOW`] on each
/// side of the current page, in order; None marks a gap.
fn shown_pages(page: usize, pages: usize) -> Vec<Option<usize>> {
    let last = pages.saturating_sub(1);
    let (low, high) = (
        page.saturating_sub(PAGE_WINDOW),
        (page + PAGE_WINDOW).min(last),
    );
    let mut shown = Vec::with_capacity(2 * PAGE_WINDOW + 5);
    if low > 0 {
        shown.push(Some(0));
        if low > 1 {
            shown.push(None);
        }
    }
    shown.extend((low..=high).map(Some));
    if high < last {
        if high + 1 < last {
            shown.push(None);
        }
        shown.push(Some(last));
    }
    shown
}

/// A list's page navigation: previous, the page numbers of [`shown_pages`], next. Nothing when
/// the list has one page.
fn page_nav(slug: &str, facet: Facet, page: usize, pages: usize, label: &str, out: &mut String) {
    if pages < 2 {
        return;
    }
    let link = |p: usize| paths::list_page(facet, slug, p)[facet.folder().len() + 1..].to_string();
    let _ = write!(out, "<nav class=\"pages\" aria-label=\"{label}\">\n<ul>\n");
    if page > 0 {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\" rel=\"prev\">Previous</a></li>",
            link(page - 1)
        );
    }
    for shown in shown_pages(page, pages) {
        match shown {
            Some(p) if p == page => {
                let _ = writeln!(
                    out,
                    "<li><a href=\"{}\" aria-current=\"page\">{}</a></li>",
                    link(p),
                    p + 1
                );
            }
            Some(p) => {
                let _ = writeln!(
                    out,
                    "<li><a href=\"{}\" aria-label=\"Page {}\">{}</a></li>",
                    link(p),
                    p + 1,
                    p + 1
                );
            }
            None => out.push_str("<li class=\"gap\">…</li>\n"),
        }
    }
    if page + 1 < pages {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\" rel=\"next\">Next</a></li>",
            link(page + 1)
        );
    }
    out.push_str("</ul>\n</nav>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cable(id: &str, created: Option<&str>, origin: Option<u32>, tags: &[u32]) -> CableFacts {
        CableFacts {
            id: id.into(),
            published_id: id.into(),
            page: paths::cable_page(created, id).into(),
            aliases: Vec::new(),
            created: created.map(Box::from),
            released: Some("2011-08-30".into()),
            subject: Some(format!("subject of {id}").into()),
            origin,
            classification: None,
            tags: tags.into(),
            redacted: false,
            partial_extract: false,
        }
    }

    fn values(names: &[&str]) -> Vec<Value> {
        names
            .iter()
            .map(|n| Value {
                name: n.to_string(),
                slug: paths::slug(n),
            })
            .collect()
    }

    /// Origins 0 Embassy Madrid, 1 Embassy Paris; tags 0 PGOV, 1 PREL; no classification.
    fn edition_values() -> Values {
        Values {
            origins: values(&["Embassy Madrid", "Embassy Paris"]),
            classifications: Vec::new(),
            tags: values(&["PGOV", "PREL"]),
        }
    }

    fn ids<'a>(
        lists: &ListIndex,
        cables: &'a [CableFacts],
        facet: Facet,
        slug: &str,
    ) -> Vec<&'a str> {
        let found = lists.cables(facet, slug).unwrap_or_default();
        found.iter().map(|&i| &*cables[i as usize].id).collect()
    }

    #[test]
    fn lists_are_sorted_by_date_sent_then_id_undated_last() {
        let mut cables = vec![
            cable("07Y", Some("2007-12-31"), Some(1), &[0]),
            cable("07Z", None, Some(0), &[0]),
            cable("08A", Some("2008-03-04T10:00:00Z"), Some(0), &[0, 1]),
            cable("08B", Some("2008-03-04T10:00:00Z"), Some(0), &[0]),
            cable("08C", Some("2008-03-01"), Some(0), &[]),
        ];
        cables[2].redacted = true;
        cables[2].partial_extract = true;
        cables[4].released = Some("not a date".into());
        let lists = ListIndex::group(&cables, &edition_values());
        let ids = |facet, slug| ids(&lists, &cables, facet, slug);
        assert_eq!(
            ids(Facet::Origin, "embassy-madrid"),
            ["08C", "08A", "08B", "07Z"]
        );
        assert_eq!(ids(Facet::Origin, "embassy-paris"), ["07Y"]);
        assert_eq!(ids(Facet::Tag, "pgov"), ["07Y", "08A", "08B", "07Z"]);
        assert_eq!(ids(Facet::Tag, "prel"), ["08A"]);
        assert_eq!(ids(Facet::Date, "2007-12"), ["07Y"]);
        assert_eq!(ids(Facet::Date, "2008-03"), ["08C", "08A", "08B"]);
        assert_eq!(ids(Facet::Date, UNDATED), ["07Z"]);
        assert_eq!(
            ids(Facet::Released, "2011-08-30"),
            ["07Y", "08A", "08B", "07Z"]
        );
        assert_eq!(ids(Facet::Released, UNDATED), ["08C"]);
        assert_eq!(ids(Facet::Redaction, "redacted"), ["08A"]);
        assert_eq!(
            ids(Facet::Redaction, "not-redacted"),
            ["07Y", "08C", "08B", "07Z"]
        );
        assert_eq!(ids(Facet::Redaction, "partial-extract"), ["08A"]);
        // A facet's index shows its values in order (months by date, undated last); values
        // without cables (no classification here) have no list.
        let slugs = |facet| -> Vec<&str> {
            let f = lists.facet(facet).unwrap();
            f.lists.iter().map(|l| l.slug.as_str()).collect()
        };
        let order: Vec<Facet> = lists.facets.iter().map(|f| f.facet).collect();
        assert_eq!(order, Facet::ALL);
        assert_eq!(slugs(Facet::Date), ["2007-12", "2008-03", UNDATED]);
        assert_eq!(slugs(Facet::Classification), Vec::<&str>::new());
        assert_eq!(
            slugs(Facet::Redaction),
            ["redacted", "not-redacted", "partial-extract"]
        );
    }

    #[test]
    fn a_list_has_a_page_per_list_page_rows_cables_and_one_name_per_page() {
        let n = 2 * LIST_PAGE_ROWS + 50;
        let cables: Vec<CableFacts> = (0..n)
            .map(|i| cable(&format!("08MADRID{i:04}"), Some("2008-03-01"), Some(0), &[]))
            .collect();
        let lists = ListIndex::group(&cables, &edition_values());
        let madrid = ids(&lists, &cables, Facet::Origin, "embassy-madrid");
        assert_eq!(madrid.len(), n);
        assert!(
            madrid.windows(2).all(|w| w[0] < w[1]),
            "ties are ordered by id"
        );
        let page = |path: &str| match lists.locate(path) {
            Some(Located::List(_, list, page)) => Some((list.slug.clone(), page, list.pages())),
            Some(Located::Index(f)) => Some((format!("index of {}", f.facet.folder()), 0, 0)),
            None => None,
        };
        assert_eq!(
            page("origin/embassy-madrid_0.html"),
            Some(("embassy-madrid".into(), 0, 3))
        );
        assert_eq!(
            page("origin/embassy-madrid_2.html"),
            Some(("embassy-madrid".into(), 2, 3))
        );
        assert_eq!(
            page("origin/index.html"),
            Some(("index of origin".into(), 0, 0))
        );
        for absent in [
            "origin/embassy-madrid_3.html",
            "origin/embassy-madrid_02.html",
            "origin/embassy-madrid_+1.html",
            "origin/embassy-madrid_-1.html",
            "origin/embassy-madrid.html",
            "origin/embassy-madrid_1",
            "origin/embassy-paris_0.html",
            "origin/../index.html",
            "tag/embassy-madrid_0.html",
            "nope/index.html",
            "origin",
            "",
        ] {
            assert_eq!(page(absent), None, "{absent}");
        }
    }

    #[test]
    fn page_navigation_stays_small_for_any_number_of_pages() {
        assert_eq!(shown_pages(0, 1), [Some(0)]);
        assert_eq!(shown_pages(0, 2), [Some(0), Some(1)]);
        assert_eq!(
            shown_pages(0, 10),
            [Some(0), Some(1), Some(2), None, Some(9)]
        );
        assert_eq!(
            shown_pages(9, 10),
            [Some(0), None, Some(7), Some(8), Some(9)]
        );
        assert_eq!(shown_pages(3, 7), (0..7).map(Some).collect::<Vec<_>>());
        let middle = shown_pages(600, 1_257);
        assert_eq!(
            middle,
            [
                Some(0),
                None,
                Some(598),
                Some(599),
                Some(600),
                Some(601),
                Some(602),
                None,
                Some(1_256)
            ]
        );
        for page in 0..1_257 {
            let shown = shown_pages(page, 1_257);
            assert!(shown.len() <= 2 * PAGE_WINDOW + 5);
            assert!(shown.contains(&Some(page)) && shown.contains(&Some(0)));
            assert!(shown.contains(&Some(1_256)));
        }
    }

    #[test]
    fn date_slugs_and_labels() {
        let mut c = cable("X", Some("2008-03-04T10:00:00Z"), None, &[]);
        assert_eq!(date_slug(&c), "2008-03");
        c.created = Some("2008".into());
        assert_eq!(date_slug(&c), UNDATED);
        c.released = Some("2011-08-30T00:00:00Z".into());
        assert_eq!(release_slug(&c), "2011-08-30");
        c.released = Some("2011-8-30".into());
        assert_eq!(release_slug(&c), UNDATED);
        assert_eq!(month_label("2008-03"), "March 2008");
        assert_eq!(month_label("2008-13"), "2008-13");
        assert_eq!(month_label("2008-00"), "2008-00");
        assert_eq!(month_label(UNDATED), "Undated");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(251_287), "251,287");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
