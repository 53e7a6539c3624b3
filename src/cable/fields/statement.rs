//! The classification statement (`Classified By: … Reasons 1.4 (b) and (d)`): who classified
//! the cable and why, and the E.O. 12958 DECL date.

use super::is_banner;
use crate::cable::text::collapse_ws;
use regex::Regex;
use std::sync::LazyLock;

pub(super) static CLASSIFIED_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)class?i?fi?ed\s*by(?-u:\b)\s*[:.;]?").expect("valid regex")
});
/// Where the "who" part of a classification statement ends: the reasons, the executive order.
static WHO_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?-u:\b)E\.?\s?O\.?\s*\d{5} | (?-u:\b)EO(?-u:\b) | (?-u:\b)re\s?a?\s?s0?o?n | (?-u:\b)reas(?-u:\b) | (?-u:\b)reaons | (?-u:\b)rasons?
      | (?-u:\b)se\s?ction\s+1 | (?-u:\b)1\s?[.,]\s?\d(?-u:\b) | (?-u:\b)reas0n | (?-u:\b)derived(?-u:\b) | (?-u:\b)per\s+1\. | (?-u:\b)12958(?-u:\b)
      | (?-u:\b)for\s+re",
    )
    .expect("valid regex")
});
/// A trailing connector left before the reasons: `for`, `under`, a broken `f or`.
static WHO_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:[\s,;:.\-]|(?-u:\b)(?:f[o0]r|fo|fr|f|or|r|under|based\s+(?:up)?[o0]n|due\s+to|per|and|in|accordance|with|\(u\)))+$")
        .expect("valid regex")
});
/// A word broken across two lines of a fixed-width text: `Hoyt Y` / `ee for reasons`.
static BROKEN_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)([A-Za-z]{1,4})[ \t]*\n[ \t]*([a-z]{1,6})(?-u:\b)").expect("valid regex")
});
static D_AFFAIRES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)d\s?,\s?aff").expect("valid regex"));
static PARENS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\([^)]{0,20}\)").expect("valid regex"));
static SECTION_14: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"1\s?\.\s?([45])").expect("valid regex"));
static REASON_LETTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^A-Za-z])([a-h])(?:$|[^A-Za-z])").expect("valid regex")
});
static DECL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)E\.?\s?O\.?\s*12958(?-u:\b)\s*[:.,]?\s*(?:DECL(?:ASSIFY)?(?-u:\b)\s*[:.]?\s*)?([^\n]*)")
        .expect("valid regex")
});
static DATE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(\d{1,4})\s?[/.\-]\s?(\d{1,2})\s?[/.\-]\s?(\d{2,4})(?-u:\b)")
        .expect("valid regex")
});

/// Titles and ranks that may stand before a one-word name (`Ambassador Pearce`).
const TITLES: &[&str] = &[
    "A.I",
    "AI",
    "D'AFFAIRES",
    "D'AFFAIRS",
    "DE'AFFAIRS",
    "D'AFAIRS",
    "SECTION",
    "LEADER",
    "TEAM",
    "COORDINATOR",
    "INTERAGENCY",
    "PROVINCIAL",
    "GOVERNANCE",
    "POL",
    "ECON",
    "DIR",
    "COUNSEL",
    "COUNSLEOR",
    "COUNCILOR",
    "COUNSELLOR",
    "ECOPOL",
    "MC",
    "M-C",
    "CHARGE",
    "OFF",
    "OFFICE",
    "ASSISTANT",
    "UNDER",
    "SPECIAL",
    "ADVISOR",
    "ENVOY",
    "REPRESENTATIVE",
    "PERMANENT",
    "MINISTER-COUNSELOR",
    "MINISTER-COUNSELLOR",
    "POLITICAL-ECONOMIC",
    "CONSUL-GENERAL",
    "REGIONAL",
    "SECURITY",
    "DEFENSE",
    "ATTACHE",
    "LTC",
    "COL",
    "MAJ",
    "CAPT",
    "GEN",
    "ADM",
    "DR",
    "MR",
    "MS",
    "MRS",
    "AMBASSADOR-DESIGNATE",
    "EXECUTIVE",
    "AND",
    "U.S",
    "US",
    "USG",
    "PRT",
    "AIT",
    "USEU",
    "USUN",
    "USNATO",
    "IO",
    "EAP",
    "EUR",
    "AF",
    "NEA",
    "WHA",
    "SCA",
    "INR",
    "EMBASSY",
    "NATIONAL",
    "MISSION",
    "SENIOR",
    "RSO",
    "PAO",
    "LEGAL",
    "ECONCOUNS",
    "AMBASSADOR",
    "AMB",
    "ABASSADOR",
    "AMBASSADRO",
    "CDA",
    "DCM",
    "CHARGE",
    "AFFAIRES",
    "AFFAIRS",
    "POLOFF",
    "ECONOFF",
    "POLCOUNS",
    "ECONCOUNS",
    "COUNSELOR",
    "COUNSELLOR",
    "DIRECTOR",
    "CONSUL",
    "GENERAL",
    "SECRETARY",
    "OFFICER",
    "CHIEF",
    "CIEF",
    "MINISTER",
    "ATTACHE",
    "CG",
    "PO",
    "DAS",
    "PDAS",
    "COM",
    "DEPUTY",
    "ACTING",
    "POLITICAL",
    "ECONOMIC",
    "MISSION",
    "OF",
    "BY",
    "THE",
    "AND",
    "PRINCIPAL",
    "OFFICER",
    "CONOFF",
    "MGMT",
    "LEGATT",
    "DATT",
    "USDEL",
    "HEAD",
];

fn is_title(tok: &str) -> bool {
    let t: String = tok
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_uppercase()
        .replace('0', "O")
        .replace('’', "'")
        .replace('\\', "");
    TITLES.contains(&t.as_str())
        || tok.contains('/')
        || tok.starts_with('(')
        || t.starts_with("AMBASS")
        || t.starts_with("ABASS")
        || t.contains("COUNS")
        || t.contains("COUSEL")
        || t == "COUN"
        || t.starts_with("DIREC")
        || (t.ends_with("MIN") && t.len() <= 7)
        || t.starts_with("D'AF")
}

fn is_initial(tok: &str) -> bool {
    if tok.len() == 1 && tok.chars().all(|c| c.is_ascii_uppercase()) {
        return true;
    }
    let letters = tok.chars().filter(|c| c.is_alphanumeric()).count();
    tok.ends_with('.') && letters <= 2 || (tok.contains('.') && letters <= 3 && tok.len() <= 5)
}

fn is_suffix(tok: &str) -> bool {
    matches!(
        tok.trim_end_matches(['.', ','])
            .to_ascii_uppercase()
            .as_str(),
        "JR" | "SR" | "II" | "III" | "IV"
    )
}

/// The classification statement: what follows `Classified By:` up to the end of its paragraph,
/// white space collapsed. `None` when the text has none.
pub(crate) fn classified_by_statement(text: &str) -> Option<String> {
    let first = statement_at(text, 0)?;
    // A first "statement" that names no one (`Classified By: ADANA 222 …`), or "CLASSIFIED BY
    // LINE ADDED" (a note about the classification line): try the next.
    let names_no_one = |st: &str| {
        st.split([',', ';']).next().is_some_and(|p| {
            p.split_whitespace()
                .any(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_digit()))
        }) || st.to_ascii_uppercase().starts_with("LINE")
    };
    if names_no_one(&first.0)
        && let Some(next) = statement_at(text, first.1)
    {
        return Some(next.0);
    }
    Some(first.0)
}

/// The statement of the first `Classified By` at or after `from`, and where it ends.
fn statement_at(text: &str, from: usize) -> Option<(String, usize)> {
    let m = CLASSIFIED_BY.find_at(text, from)?;
    let mut rest = &text[m.end()..];
    // "Classified By: Classified by AIT DIR …": the repeated opening.
    while let Some(m2) = CLASSIFIED_BY.find(rest) {
        let before = rest[..m2.start()].trim();
        if before.is_empty() || before.eq_ignore_ascii_case("(U)") {
            rest = &rest[m2.end()..];
        } else {
            break;
        }
    }
    // The statement is short: look for its end in the next 600 bytes only.
    let mut window = rest.len().min(600);
    while !rest.is_char_boundary(window) {
        window -= 1;
    }
    let near = &rest[..window];
    let end = near
        .find("\n\n")
        .into_iter()
        .chain(near.find("\n \n"))
        .chain(near.find("\n\t\n"))
        .min()
        .unwrap_or(near.len());
    let mut cut = end;
    while !rest.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut region = &rest[..cut];
    // A page break (banner line, PAGE line) ends the statement's first part.
    let mut off = 0;
    for line in region.split_inclusive('\n') {
        if off > 0 && (is_banner(line) || line.trim_start().starts_with("PAGE ")) {
            region = &region[..off];
            break;
        }
        off += line.len();
    }
    let joined = BROKEN_WORD.replace_all(region, |c: &regex::Captures| {
        let a = &c[1];
        if matches!(
            a.to_ascii_lowercase().as_str(),
            "for" | "and" | "or" | "the" | "of" | "by" | "a" | "to" | "in" | "on" | "as"
        ) {
            format!("{a} {}", &c[2])
        } else {
            format!("{a}{}", &c[2])
        }
    });
    let s = collapse_ws(&joined);
    let end_at = text.len() - rest.len() + cut;
    (!s.is_empty()).then_some((s, end_at.max(m.end())))
}

/// The names of who classified the cable (cablemap's `classified_by`): the person named in the
/// classification statement, without titles (`Acting Deputy Chief of Mission Marc Wall` → `Marc
/// Wall`), with a suffix such as `Jr.` or `III` kept.
pub fn classified_by(text: &str) -> Vec<String> {
    match classified_by_statement(text) {
        Some(s) => statement_names(&s),
        None => Vec::new(),
    }
}

/// Tells titles and offices from names in one statement.
struct Titles {
    /// In a mixed-case statement, short all-capital words are offices (`DCM`, `EUR/PRA`).
    mixed_case: bool,
}

impl Titles {
    fn is_title(&self, t: &str) -> bool {
        is_title(t)
            || (self.mixed_case
                && t.len() <= 4
                && t.chars().all(|c| c.is_ascii_uppercase())
                && t.len() > 1)
    }
}

/// How the name stands in its part of the statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    /// `Marc Wall`, `Acting DCM Marc Wall`.
    Alone,
    /// After an office and a dash or colon: `AF/C - MARY BETH LEONARD`.
    AfterOffice,
}

/// The name in a classification statement (see [`classified_by`]), as a list of one.
pub(super) fn statement_names(statement: &str) -> Vec<String> {
    let s = statement.trim_start_matches(|c: char| c.is_whitespace() || c == ':');
    let s = s
        .strip_prefix("(U)")
        .or_else(|| s.strip_prefix("(u)"))
        .unwrap_or(s);
    let who = match WHO_END.find(s) {
        Some(m) => &s[..m.start()],
        None => s,
    };
    let who = PARENS.replace_all(who, " ");
    let who = D_AFFAIRES.replace_all(&who, "d'Aff");
    let titles = Titles {
        mixed_case: who.chars().any(|c| c.is_lowercase()),
    };
    let who = WHO_TAIL.replace(&who, "");
    let who = who.split(';').next().unwrap_or("");
    // The comma-separated part that names someone (`Charge d'Affaires, a.i., Arnold A. Chacon`,
    // `ROBERT P. FINN, DEPUTY CHIEF OF MISSION`), and a suffix after it (`, Jr.`, `, III`).
    let parts: Vec<&str> = who.split(',').collect();
    let Some(k) = parts.iter().position(|p| {
        p.split(|c: char| c.is_whitespace() || c == '/' || c == ':')
            .any(|t| !t.is_empty() && !titles.is_title(t) && t != "-")
    }) else {
        return Vec::new();
    };
    let suffix = parts
        .get(k + 1)
        .and_then(|next| comma_suffix(next.trim()))
        .unwrap_or_default();
    let name = parts[k];
    // After a dash, what comes before is an office (`AF/C - MARY BETH LEONARD`).
    let written = if name.contains(" - ") || name.contains(':') {
        Written::AfterOffice
    } else {
        Written::Alone
    };
    let toks = name_tokens(name.rsplit(" - ").next().unwrap_or(name));
    let (end, trailing_suffix) = name_end(&toks);
    if end == 0 {
        return Vec::new();
    }
    let start = name_start(&toks[..end], written, &titles);
    if start >= end {
        return Vec::new();
    }
    let mut out = toks[start..end].join(" ");
    out.push_str(&trailing_suffix);
    out.push_str(&suffix);
    let out = out.trim().trim_end_matches(',').to_string();
    if out.is_empty() || titles.is_title(&out) {
        Vec::new()
    } else {
        vec![out]
    }
}

/// A suffix written after a comma (`, Jr.`, `, III`), spelled `, Jr.` / `, III`.
fn comma_suffix(n: &str) -> Option<String> {
    if !is_suffix(n) {
        return None;
    }
    let up = n.to_ascii_uppercase();
    let n = if up.starts_with('J') || up.starts_with('S') {
        format!("{}.", n.trim_end_matches('.'))
    } else {
        n.trim_end_matches('.').to_string()
    };
    Some(format!(", {n}"))
}

/// The words of a name part; `DCM/Ted` gives an office and a name.
fn name_tokens(name: &str) -> Vec<&str> {
    let mut toks: Vec<&str> = Vec::new();
    for t in name.split(|c: char| c.is_whitespace() || c == ':') {
        let t = t.trim_end_matches('-');
        if t.is_empty() || t == "-" {
            continue;
        }
        match t.rsplit_once('/') {
            Some((office, n))
                if n.len() > 1
                    && n.starts_with(|c: char| c.is_uppercase())
                    && n.chars().skip(1).all(|c| c.is_lowercase()) =>
            {
                toks.push(office);
                toks.push(n);
            }
            _ => toks.push(t),
        }
    }
    toks
}

/// Where the name ends among `toks`, before trailing lower-case abbreviations (`a.i.`) and
/// suffixes (`Jr.`, `III`), and those suffixes as ` Jr.`.
fn name_end(toks: &[&str]) -> (usize, String) {
    let mut end = toks.len();
    while end > 1
        && toks[end - 1].contains('.')
        && toks[end - 1]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '.')
    {
        end -= 1;
    }
    let mut trailing_suffix = String::new();
    while end > 1 && is_suffix(toks[end - 1]) {
        trailing_suffix = format!(" {}{trailing_suffix}", toks[end - 1]);
        end -= 1;
    }
    (end, trailing_suffix)
}

/// Where the name starts among `toks` (the name's words up to its end): leading titles go,
/// and a short rest is the whole name (`Mary Grace McGeehan`); else the last word and the
/// initials and one first name before it.
fn name_start(toks: &[&str], written: Written, titles: &Titles) -> usize {
    let end = toks.len();
    let mut first = 0;
    while first < end && titles.is_title(toks[first]) {
        first += 1;
    }
    if end - first <= 3 && (first > 0 || written == Written::AfterOffice) {
        return first;
    }
    let mut start = end - 1;
    let mut have_first = false;
    while start > first {
        let tok = toks[start - 1];
        if titles.is_title(tok) {
            break;
        }
        if is_initial(tok)
            && tok.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())
            && (!have_first || tok.contains('.'))
        {
            start -= 1;
            continue;
        }
        if have_first {
            break;
        }
        have_first = true;
        start -= 1;
    }
    start
}

pub(super) fn reasons_of_statement(s: &str) -> Vec<String> {
    let Some(c) = SECTION_14.captures(s) else {
        return Vec::new();
    };
    let section = &c[1];
    let whole = c.get(0).expect("match");
    let mut rest = &s[whole.end()..];
    // The letters come right after the section number, within a few words.
    let stop = rest
        .find(['.', ';'])
        .filter(|&i| {
            let after = &rest[i + 1..];
            after.trim_start().is_empty()
                || after.starts_with(' ')
                    && !after.trim_start().starts_with([
                        '(', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'A', 'B', 'C', 'D', 'E', 'F',
                        'G', 'H',
                    ])
        })
        .unwrap_or(rest.len())
        .min(60);
    let mut stop = stop.min(rest.len());
    while !rest.is_char_boundary(stop) {
        stop -= 1;
    }
    rest = &rest[..stop];
    let mut out: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(m) = REASON_LETTER.captures_at(rest, at) {
        let g = m.get(1).expect("group");
        let r = format!("1.{section} ({})", g.as_str().to_ascii_lowercase());
        if !out.contains(&r) {
            out.push(r);
        }
        at = g.end();
    }
    out
}

/// The E.O. 12958 declassification field: `(normalized, original)`. `normalized` is
/// `YYYY-MM-DD` when the value holds a valid date (`01/05/2020`, `2020/02/23`, `6/30/08`);
/// `original` is the value as written (`01/05/2020`, `N/A`, `DECLASSIFIED BY NARA 09/02/2009`).
pub(crate) fn declassify(text: &str) -> (Option<String>, Option<String>) {
    let Some(c) = DECL.captures(text) else {
        return (None, None);
    };
    let raw = c[1].trim();
    // The field ends where the next field starts on a flattened line.
    let raw = ["TAGS", "Tags", "tags", "SUBJECT", "Subject"]
        .iter()
        .filter_map(|k| raw.find(k))
        .min()
        .map_or(raw, |i| raw[..i].trim());
    if raw.is_empty() {
        return (None, None);
    }
    (normalize_date(raw), Some(raw.to_string()))
}

/// Cablemap's `nondisclosure_deadline`: the normalized DECL date.
pub fn nondisclosure_deadline(text: &str) -> Option<String> {
    declassify(text).0
}

fn normalize_date(s: &str) -> Option<String> {
    let c = DATE_TOKEN.captures(s)?;
    let a: u32 = c[1].parse().ok()?;
    let b: u32 = c[2].parse().ok()?;
    let d: u32 = c[3].parse().ok()?;
    let (y, m, day) = if c[1].len() == 4 {
        (a, b, d)
    } else {
        let y = match c[3].len() {
            2 if d >= 66 => 1900 + d,
            2 => 2000 + d,
            4 => d,
            _ => return None,
        };
        (y, a, b)
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (day >= 1 && day <= days && (1900..=2200).contains(&y))
        .then(|| format!("{y:04}-{m:02}-{day:02}"))
}
