//! REF: the cable ids (and non-cable references) a REF block names.

use crate::cable::id;
use regex::Regex;
use std::sync::LazyLock;

static YEAR_AFTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\((\d{2})\)").expect("valid regex"));
/// A year typed with a letter O: `(B)O4 CHENNAI 0944`.
static LETTER_O_YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[\s()])O(\d)(\s+[A-Z])").expect("valid regex"));
/// A station joined to its serial by a colon or hyphen: `STATE: 73097`, `10-OTTAWA-57`.
static JOINED_SERIAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)([A-Z]{4,})(?::\s*|-)(\d)").expect("valid regex"));
static MORE_SERIALS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:AND|&)\s*(\d{2,7})(?-u:\b)").expect("valid regex"));
static CABLE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:\(?(\d{4}|\d{2})\)?[\s-]*)?([A-Z][A-Z]+(?:[ -][A-Z]+){0,2})\s*(\d{1,7})(?-u:\b)")
        .expect("valid regex")
});
static REF_BULLET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s|;)\(?[A-Z]\s?[.)]\s|;").expect("valid regex"));

const NOT_STATIONS: &[&str] = &[
    "PARA",
    "PARAS",
    "PARAGRAPH",
    "PARAGRAPHS",
    "PAGE",
    "PAGES",
    "SECTION",
    "NUMBER",
    "NO",
    "TELCON",
    "TELECON",
    "EMAIL",
    "FAX",
    "RES",
    "RESOLUTION",
    "UNSCR",
    "ARTICLE",
    "LAW",
    "CHAPTER",
    "ITEM",
    "TABLE",
    "ANNEX",
    "ROOM",
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
    "SEPT",
    "NOTAL",
    "AND",
    "OF",
    "FOR",
    "IIR",
    "DTG",
    "DATED",
    "CIRCULAR",
    "IIR",
    "WE",
];

/// Reads references from a REF block's text. Each bullet (`A.`, `(B)`, `C)`, `;`) that names
/// cables (`[YY ]STATION SERIAL`, e.g. `STATE 12345`, `08 MADRID 25`, `BUENOS AIRES 000123`) gives
/// their canonical ids; a bullet naming none is kept as text.
#[cfg(test)]
pub(crate) fn references(text: &str, year: Option<i32>) -> Vec<String> {
    reference_items(text, year)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// The references of a REF block, each with `true` when it is a cable id.
pub(super) fn reference_items(text: &str, year: Option<i32>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut items: Vec<&str> = Vec::new();
    let mut prev = 0;
    for m in REF_BULLET.find_iter(text) {
        items.push(&text[prev..m.start()]);
        prev = m.end();
    }
    items.push(&text[prev..]);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let ids = cable_ids(
            &repair_ref_item(&item.to_uppercase().replace(['\'', '’'], "")),
            year,
        );
        if ids.is_empty() {
            let t = item.trim_matches(|c: char| c == ';' || c == ',' || c.is_whitespace());
            let bare = t.trim_start_matches(['(', ')']).trim();
            if !t.is_empty()
                && !matches!(
                    bare.to_ascii_uppercase().as_str(),
                    "NOTAL" | "NOTAL)" | "AND" | "NONE" | "A" | "B"
                )
            {
                out.push((t.to_string(), false));
            }
        } else {
            out.extend(ids.into_iter().map(|i| (i, true)));
        }
    }
    out
}

/// Repairs typing slips in a REF item that hide a cable id, each only where it gives a known
/// station: `0TTAWA`/`SANTIAG0` (digits for the letters O and I), `O4 CHENNAI` (a letter O in
/// the year), `STATE: 73097` and `10-OTTAWA-57` (a colon or hyphen before the serial).
fn repair_ref_item(item: &str) -> String {
    let words: Vec<String> = item
        .split(' ')
        .map(|w| {
            let has_letter = w.bytes().any(|b| b.is_ascii_uppercase());
            let digit_slip = w.bytes().any(|b| b == b'0' || b == b'1');
            match id::station_of(w) {
                Some(st) if has_letter && digit_slip => st,
                _ => w.to_string(),
            }
        })
        .collect();
    let item = words.join(" ");
    let item = LETTER_O_YEAR.replace_all(&item, "${1}0${2}${3}");
    JOINED_SERIAL
        .replace_all(&item, |c: &regex::Captures| {
            if id::is_known_station(&id::canonical_station(&c[1])) {
                format!("{} {}", &c[1], &c[2])
            } else {
                c[0].to_string()
            }
        })
        .into_owned()
}

/// The canonical ids of the cables a REF item names (`[YY ]STATION SERIAL`, more serials of
/// the same station after it).
fn cable_ids(item: &str, year: Option<i32>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut push = |id: Option<String>| {
        if let Some(id) = id
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    };
    for c in CABLE_REF.captures_iter(item) {
        let whole = c.get(0).expect("match");
        let after = &item[whole.end()..];
        if after.starts_with(['/', '-'])
            || (after.starts_with([':', '.', ','])
                && after[1..].starts_with(|ch: char| ch.is_ascii_digit()))
        {
            continue;
        }
        let Some(station) = station_of_match(&c[2]) else {
            continue;
        };
        let Some(y) = reference_year(c.get(1).map(|m| m.as_str()), after, year) else {
            continue;
        };
        push(id::from_parts(y, &station, &c[3]));
        // More serials of the same station: "STATE 41252 AND 44603", "BRASILIA 2799, 2764".
        let mut rest = after;
        while let Some(m) = MORE_SERIALS.captures(rest) {
            push(id::from_parts(y, &station, &m[1]));
            rest = &rest[m.get(0).expect("match").end()..];
        }
    }
    ids
}

/// The station of a reference's words, joined (`BUENOS AIRES` → `BUENOSAIRES`), without the
/// leading words that are not part of it; `None` when the words are no station.
fn station_of_match(words: &str) -> Option<String> {
    // Drop leading words that are not part of a station ("SEE STATE 123", "AND ROME 4").
    let mut words: Vec<&str> = words.split(' ').collect();
    while words.len() > 1
        && (words[0].len() == 1
            || matches!(
                words[0],
                "AND"
                    | "OF"
                    | "FOR"
                    | "SEE"
                    | "ALSO"
                    | "IN"
                    | "TO"
                    | "THE"
                    | "REF"
                    | "REFTEL"
                    | "EMBASSY"
                    | "AMEMBASSY"
            ))
        && !(words[0] == "THE" && words[1] == "HAGUE")
    {
        words.remove(0);
    }
    let first = words[0].split('-').next().unwrap_or("");
    if NOT_STATIONS.contains(&first)
        || words[1..]
            .iter()
            .any(|w| NOT_STATIONS.contains(w) || matches!(*w, "POINTS" | "EMAIL" | "E-MAIL"))
    {
        return None;
    }
    let station_joined: String = words.concat();
    let letters = station_joined.chars().filter(|ch| *ch != '-').count();
    let aliased = id::canonical_station(&station_joined.replace('-', ""));
    if (letters < 4 && aliased == station_joined) || letters > 20 {
        return None;
    }
    Some(station_joined)
}

/// The year of a reference: the one written before it (`08 MADRID 25`, `2002 THE HAGUE`), else
/// one in parentheses after it (`ASUNCION 701 (08)`), else the cable's own `year`.
fn reference_year(before: Option<&str>, after: &str, year: Option<i32>) -> Option<i32> {
    let century = |v: i32| if v >= 66 { 1900 + v } else { 2000 + v };
    match before {
        Some(y) => {
            let v: i32 = y.parse().unwrap_or(0);
            Some(if y.len() == 4 { v } else { century(v) })
        }
        None => match YEAR_AFTER.captures(after) {
            Some(ya) => Some(century(ya[1].parse().unwrap_or(0))),
            None => year,
        },
    }
}
