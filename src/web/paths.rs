//! The web edition's URL scheme (docs/SITE.md section 2): where each page of an edition lies,
//! relative to the edition's root. Every link an edition holds is relative and names a file
//! (folders link to their `index.html`), so an edition works from `file://`, under any path of
//! any host and from an object store.

/// The page of a cable: `cable/<YYYY>/<MM>/<published id>.html`, the path shape of the WikiLeaks
/// cable pages (so an old link maps to any host of the edition by its path), with the year and
/// month of `created`; `cable/undated/<id>.html` when the cable has no date.
pub fn cable_page(created: Option<&str>, page_id: &str) -> String {
    match year_month(created) {
        Some((y, m)) => format!("cable/{y}/{m}/{page_id}.html"),
        None => format!("cable/undated/{page_id}.html"),
    }
}

/// The proof of a cable, in its page's folder under its canonical id:
/// `cable/<YYYY>/<MM>/<canonical id>.proof.json` (made from the cable index alone, so proofs
/// are written before the edition's table is built).
pub fn cable_proof(created: Option<&str>, id: &str) -> String {
    let page = cable_page(created, id);
    format!("{}.proof.json", page.strip_suffix(".html").unwrap_or(&page))
}

/// `("2008", "03")` of a `created` value (`YYYY-MM-DD...`); None when it is not a date.
pub fn year_month(created: Option<&str>) -> Option<(&str, &str)> {
    let c = created?;
    let (y, m) = (c.get(..4)?, c.get(5..7)?);
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (digits(y) && digits(m) && c.as_bytes().get(4) == Some(&b'-')).then_some((y, m))
}

/// True when a published id can name a page file as it is: ASCII letters and digits only
/// (what every WikiLeaks id is). Any other id (or a second cable with the same published id)
/// is given its page under the canonical id.
pub fn is_page_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A value's slug in list paths: lower-case ASCII letters and digits, other runs of characters
/// made one `-`, at most 60 bytes; `none` for an empty result. Two values with one slug are told
/// apart by the edition (`-2`, `-3` in sorted order of the values).
pub fn slug(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        let c = fold_ascii(c);
        if c.is_ascii_alphanumeric() {
            if out.len() >= 60 {
                break;
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// The ASCII letter a Latin letter with a mark reads as (for slugs); others unchanged.
fn fold_ascii(c: char) -> char {
    match c {
        'à'..='å' | 'À'..='Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è'..='ë' | 'È'..='Ë' => 'e',
        'ì'..='ï' | 'Ì'..='Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò'..='ö' | 'Ò'..='Ö' | 'ø' | 'Ø' => 'o',
        'ù'..='ü' | 'Ù'..='Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        _ => c,
    }
}

/// The lists an edition has: one folder each, an `index.html` naming every value with its
/// count, and each value's cables in pages of [`LIST_PAGE_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Facet {
    /// By the year and month the cable was sent (`date/2008-03_0.html`).
    Date,
    /// By release date of the current capture (`reldate/2011-08-30_0.html`).
    Released,
    /// By sending post (`origin/embassy-madrid_0.html`).
    Origin,
    /// By tag (`tag/prel_0.html`).
    Tag,
    /// By classification (`classification/secret-noforn_0.html`).
    Classification,
    /// By redaction status (`redaction/redacted_0.html`, `not-redacted`, `partial-extract`).
    Redaction,
}

impl Facet {
    /// Every facet, in the order the home page lists them.
    pub const ALL: [Facet; 6] = [
        Facet::Date,
        Facet::Released,
        Facet::Origin,
        Facet::Tag,
        Facet::Classification,
        Facet::Redaction,
    ];

    /// The facet's folder.
    pub fn folder(self) -> &'static str {
        match self {
            Facet::Date => "date",
            Facet::Released => "reldate",
            Facet::Origin => "origin",
            Facet::Tag => "tag",
            Facet::Classification => "classification",
            Facet::Redaction => "redaction",
        }
    }

    /// The facet's name in headings ("By origin").
    pub fn title(self) -> &'static str {
        match self {
            Facet::Date => "By date sent",
            Facet::Released => "By release date",
            Facet::Origin => "By origin",
            Facet::Tag => "By tag",
            Facet::Classification => "By classification",
            Facet::Redaction => "By redaction status",
        }
    }

    /// The facet whose folder is `folder`.
    pub fn from_folder(folder: &str) -> Option<Facet> {
        Facet::ALL.into_iter().find(|f| f.folder() == folder)
    }
}

/// Cables on one page of a list: small pages on a phone, few pages for a large origin.
pub const LIST_PAGE_ROWS: usize = 200;

/// The facet's index page: `origin/index.html`.
pub fn facet_index(facet: Facet) -> String {
    format!("{}/index.html", facet.folder())
}

/// Page `page` (from 0, as the WikiLeaks lists count) of a value's list: `origin/<slug>_<page>.html`.
pub fn list_page(facet: Facet, slug: &str, page: usize) -> String {
    format!("{}/{slug}_{page}.html", facet.folder())
}

/// The link from the page at `from` to the file at `to` (both relative to the root).
pub fn relative(from: &str, to: &str) -> String {
    let depth = from.bytes().filter(|&b| b == b'/').count();
    let mut link = "../".repeat(depth);
    link.push_str(to);
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cable_pages_have_the_wikileaks_path_shape() {
        assert_eq!(
            cable_page(Some("1966-12-05T10:00:00Z"), "66BUENOSAIRES2481"),
            "cable/1966/12/66BUENOSAIRES2481.html"
        );
        assert_eq!(
            cable_page(Some("2008-03-04"), "08X1"),
            "cable/2008/03/08X1.html"
        );
        assert_eq!(cable_page(None, "08X1"), "cable/undated/08X1.html");
        assert_eq!(
            cable_page(Some("20x8-03"), "08X1"),
            "cable/undated/08X1.html"
        );
        assert_eq!(
            cable_proof(Some("2008-03-04"), "08X1"),
            "cable/2008/03/08X1.proof.json"
        );
    }

    #[test]
    fn page_ids_are_plain() {
        assert!(is_page_id("08MADRID123"));
        assert!(!is_page_id("08MADRID123/x"));
        assert!(!is_page_id(".."));
        assert!(!is_page_id(""));
    }

    #[test]
    fn slugs_are_lower_case_ascii() {
        assert_eq!(slug("Embassy Madrid"), "embassy-madrid");
        assert_eq!(slug("SECRET//NOFORN"), "secret-noforn");
        assert_eq!(slug("Embassy Asunción"), "embassy-asuncion");
        assert_eq!(slug("  --  "), "none");
        assert_eq!(slug("../etc"), "etc");
        assert!(slug(&"A".repeat(500)).len() <= 60);
    }

    #[test]
    fn links_are_relative() {
        assert_eq!(relative("index.html", "style.css"), "style.css");
        assert_eq!(
            relative("cable/2008/03/X.html", "origin/index.html"),
            "../../../origin/index.html"
        );
    }
}
