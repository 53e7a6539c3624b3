//! TAGS: splitting a TAGS field into tags and putting them in canonical form.

use super::CAVEATS;
use crate::cable::tag_vocab;
use crate::cable::text::collapse_ws;

/// Splits the lines of a TAGS field: a line is split on commas (or semicolons) when it has any
/// or when the line before ended with one, else on whitespace. A parenthesised group is one tag
/// (`OVIP (STEINBERG, JAMES B.)` → `OVIP`, `STEINBERG, JAMES B.`). Repeated tags are dropped.
pub(crate) fn split_tag_lines(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut prev_comma = false;
    for line in lines {
        let l = line.trim();
        let comma_mode = l.contains([',', ';']) || prev_comma;
        prev_comma = l.ends_with([',', ';']);
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut depth = 0usize;
        for ch in l.chars() {
            match ch {
                '(' => {
                    if depth == 0 && !cur.trim().is_empty() {
                        parts.push(std::mem::take(&mut cur));
                    }
                    depth += 1;
                    cur.push(ch);
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    cur.push(ch);
                }
                ',' | ';' if depth == 0 => parts.push(std::mem::take(&mut cur)),
                c if c.is_whitespace() && depth == 0 && !comma_mode => {
                    parts.push(std::mem::take(&mut cur))
                }
                c => cur.push(c),
            }
        }
        parts.push(cur);
        // In a comma list, a part that is a run of tag codes (`PTER MARR`) is several tags.
        let parts: Vec<String> = parts
            .into_iter()
            .flat_map(|p| {
                let toks: Vec<&str> = p.split_whitespace().collect();
                let codes = toks
                    .iter()
                    .filter(|t| t.len() <= 4 && t.chars().all(|c| c.is_ascii_uppercase()))
                    .count();
                let all_caps = toks.iter().all(|t| {
                    t.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                });
                if comma_mode
                    && all_caps
                    && toks.len() >= 2
                    && (codes == toks.len() || (toks.len() >= 3 && codes * 2 >= toks.len()))
                {
                    toks.into_iter().map(str::to_string).collect::<Vec<_>>()
                } else {
                    vec![p]
                }
            })
            .collect();
        // Whitespace-separated lines are read as one run, so that a tag broken over two lines
        // (`COUNTRY` / `CLEARANCE`) stays one tag.
        if !comma_mode {
            pending.extend(parts);
            continue;
        }
        push_tags(&mut out, whitespace_tags(std::mem::take(&mut pending)));
        push_tags(&mut out, parts);
    }
    push_tags(&mut out, whitespace_tags(pending));
    out
}

/// Adds tags to `out`: classification banners and caveats dropped, a parenthesised tag
/// unwrapped, whitespace collapsed, repeats dropped.
fn push_tags(out: &mut Vec<String>, parts: Vec<String>) {
    {
        for p in parts {
            let p = p.trim_matches(|c: char| c.is_whitespace() || c == '.');
            let p = ["UNCLASSIFIED ", "CONFIDENTIAL ", "SECRET "]
                .iter()
                .fold(p, |p, b| p.strip_prefix(b).unwrap_or(p));
            if CAVEATS.contains(&p) {
                continue;
            }
            let p = match p.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
                Some(inner) => inner.trim(),
                None => p,
            };
            let p = collapse_ws(p);
            if !p.is_empty() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
}

/// Reads a run of whitespace-separated tags: known multi-word tags first (`GOI EXTERNAL`,
/// `GAZA DISENGAGEMENT`, see [`tag_vocab`]), then a visitor's name after `OVIP` (`OVIP CLINTON
/// HILLARY` → `CLINTON, HILLARY`, the form tags give names in), then runs of plain words
/// ([`join_word_runs`]).
fn whitespace_tags(parts: Vec<String>) -> Vec<String> {
    let toks: Vec<String> = parts
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some(n) = tag_vocab::phrase_len(&toks[i..]) {
            out.extend(join_word_runs(std::mem::take(&mut run)));
            out.push(toks[i..i + n].join(" "));
            i += n;
        } else if toks[i] == "OVIP"
            && let Some(name) = visitor_name(&toks[i + 1..])
        {
            run.push(toks[i].clone());
            out.extend(join_word_runs(std::mem::take(&mut run)));
            out.push(name);
            i += 3;
        } else {
            run.push(toks[i].clone());
            i += 1;
        }
    }
    out.extend(join_word_runs(run));
    out
}

/// The visitor an `OVIP` tag is followed by, as `SURNAME, GIVEN NAME`: a surname of three
/// letters or more and a given name of five or more, neither a known tag code (codes have two
/// or four letters, so a five-letter given name is never a code).
fn visitor_name(toks: &[String]) -> Option<String> {
    let [surname, given, ..] = toks else {
        return None;
    };
    let plain = |t: &str, min: usize| {
        t.len() >= min
            && t.bytes().all(|b| b.is_ascii_uppercase())
            && !TAG_CODES.contains(&t)
            && !tag_vocab::is_known_tag(t)
    };
    (plain(surname, 3) && plain(given, 5)).then(|| format!("{surname}, {given}"))
}

/// Common TAGS subject codes (the State Department's Traffic Analysis by Geography and Subject),
/// used only to take apart codes glued together by a lost separator (`PHUMBA`, `ETRDEINVECIN`).
const TAG_CODES: &[&str] = &[
    "AADP", "ABLD", "ABUD", "ADPM", "AEMR", "AFIN", "AGAO", "AINF", "AINR", "AINT", "AMED", "AMGT",
    "AODE", "APCS", "APER", "ASCH", "ASEC", "ASIG", "AVERY", "BEXP", "BTIO", "CASC", "CDB", "CJAN",
    "CMGT", "CPAS", "CVIS", "EAGR", "EAID", "EAIR", "ECIN", "ECON", "ECPS", "EFIN", "EFIS", "EIND",
    "EINT", "EINV", "ELAB", "ELTN", "EMIN", "ENRG", "ENVR", "EPET", "ETRD", "ETTC", "EUN", "EWWT",
    "IIP", "KAWC", "KBIO", "KCOR", "KCRM", "KDEM", "KFLO", "KFLU", "KFRD", "KGHG", "KHIV", "KIRF",
    "KISL", "KJUS", "KMDR", "KNNP", "KOCI", "KPAL", "KPAO", "KPKO", "KSCA", "KSEP", "KSTH", "KTIA",
    "KTIP", "KWBG", "KWMN", "MARR", "MASS", "MCAP", "MNUC", "MOPS", "OEXC", "OIIP", "OPDC", "OPRC",
    "OREP", "OTRA", "OVIP", "PARM", "PBTS", "PGOV", "PHSA", "PHUM", "PINR", "PINS", "PMIL", "PREF",
    "PREL", "PROP", "PTER", "SCUL", "SENV", "SMIG", "SNAR", "SOCI", "SPCE", "TBIO", "TINT", "TPHY",
    "TRGY", "TSPA", "TSPL",
];

/// cablemap's canonical form of a tag list: upper case, codes glued together by a lost
/// separator taken apart (`PHUMBA` → `PHUM`, `BA`), typos and spelling variants mapped
/// (`tag_vocab::canonical`: `MOPPS` → `MOPS`, `COUNTER TERRORISM` → `COUNTERTERRORISM`),
/// repeats dropped. Records keep the tags as
/// written; this is for comparing with cablemap.
pub fn canonical_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        for p in split_glued_codes(&t.to_uppercase()) {
            let p = tag_vocab::canonical(&p, TAG_CODES);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Joins runs of plain words among whitespace-separated tags: a word is five letters or more
/// and no known code; `AND`, `OF`, `IN` between two words joins them too.
fn join_word_runs(parts: Vec<String>) -> Vec<String> {
    let is_word = |t: &str| {
        t.len() >= 5
            && t.chars().all(|c| c.is_alphabetic())
            && !TAG_CODES.contains(&t)
            && split_glued_codes(t).len() == 1
    };
    let toks: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    let mut out: Vec<String> = Vec::new();
    let mut prev_word = false;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].trim();
        if is_word(t) && prev_word {
            let last = out.last_mut().expect("a previous word");
            last.push(' ');
            last.push_str(t);
        } else if prev_word
            && matches!(t, "AND" | "OF" | "IN")
            && toks.get(i + 1).is_some_and(|n| is_word(n.trim()))
        {
            let last = out.last_mut().expect("a previous word");
            last.push(' ');
            last.push_str(t);
            i += 1;
            continue;
        } else {
            out.push(t.to_string());
        }
        prev_word = is_word(t);
        i += 1;
    }
    out
}

/// Takes apart a token of glued tag codes: 4-letter subject codes and 2-letter country codes,
/// when every 4-letter piece is a known code (`PHUMBA` → `PHUM`, `BA`; `VEPREL` → `VE`, `PREL`).
fn split_glued_codes(tok: &str) -> Vec<String> {
    let t = tok.trim();
    let whole = || vec![tok.to_string()];
    if t.len() < 6 || !t.bytes().all(|b| b.is_ascii_uppercase()) || TAG_CODES.contains(&t) {
        return whole();
    }
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if rest.len() >= 4 && TAG_CODES.contains(&&rest[..4]) {
            out.push(rest[..4].to_string());
            rest = &rest[4..];
        } else if rest.len() == 2 || (rest.len() >= 6 && TAG_CODES.contains(&&rest[2..6])) {
            out.push(rest[..2].to_string());
            rest = &rest[2..];
        } else {
            return whole();
        }
    }
    out
}

/// Splits a TAGS value: on commas (or semicolons) when there are any, else on whitespace.
#[cfg(test)]
pub(crate) fn split_tags(s: &str) -> Vec<String> {
    let s = s.trim();
    let parts: Vec<&str> = if s.contains(',') || s.contains(';') {
        s.split([',', ';']).collect()
    } else {
        s.split_whitespace().collect()
    };
    parts
        .into_iter()
        .map(|p| collapse_ws(p.trim_matches(|c: char| c.is_whitespace() || c == '.')))
        .filter(|p| !p.is_empty())
        .collect()
}
