//! Invented cable text in the real layout: routing header (transmission id, precedence,
//! date-time group, FM/TO/INFO), then the body (classification banner, SIPDIS, E.O. 12958
//! line, TAGS, SUBJECT, REF, Classified By, numbered and marked paragraphs, signature).
//! Words come from a small neutral vocabulary: no real cable text is copied.

use super::model::Cable;
use super::rng::Rng;
use std::fmt::Write;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

#[rustfmt::skip]
pub const WORDS: &[&str] = &[
    "the", "the", "the", "of", "of", "and", "and", "to", "to", "in", "in", "a", "that", "on",
    "for", "with", "by", "as", "was", "is", "said", "would", "not", "his", "their", "from",
    "minister", "government", "officials", "embassy", "ambassador", "president", "party",
    "election", "parliament", "security", "economic", "policy", "reform", "support",
    "cooperation", "meeting", "discussed", "agreed", "noted", "stressed", "according",
    "press", "local", "national", "regional", "foreign", "affairs", "ministry", "deputy",
    "opposition", "council", "committee", "agreement", "trade", "energy", "investment",
    "assistance", "program", "bilateral", "visit", "delegation", "talks", "issue", "concern",
    "military", "border", "forces", "police", "court", "law", "rights", "human", "media",
    "budget", "bank", "oil", "gas", "prices", "growth", "exports", "sector", "private",
    "public", "statement", "continue", "expected", "week", "month", "year", "recent",
    "also", "however", "which", "will", "could", "should", "has", "have", "been", "were",
    "new", "first", "next", "senior", "prime", "leadership", "coalition", "vote", "draft",
    "proposal", "position", "efforts", "plans", "process", "situation", "question", "view",
    "told", "poloff", "econoff", "contact", "source", "emphasized", "welcomed", "raised",
    "commitment", "framework", "negotiations", "implementation", "stability", "development",
];

#[rustfmt::skip]
pub const TAGS: &[&str] = &[
    "PREL", "PGOV", "ECON", "ETRD", "EFIN", "PHUM", "MARR", "KDEM", "PTER", "SNAR", "ENRG",
    "KPAO", "ASEC", "CVIS", "PINR", "SOCI", "EAID", "KNNP", "MOPS", "OVIP", "ELAB", "KCRM",
];

#[rustfmt::skip]
pub const SIGNERS: &[&str] = &[
    "HARRINGTON", "MORALES", "KOWALSKI", "PEMBERTON", "ABERNATHY", "LINDQVIST", "OKAFOR",
    "FITZGERALD", "NAKAMURA", "DELACROIX", "STRICKLAND", "VANDERMEER", "CALLOWAY", "RENFREW",
];

const REDACTION: &str = "XXXXXXXXXXXX";

/// The header and the body of one cable, and the facts the page formats repeat.
pub struct CableText {
    pub header: String,
    pub body: String,
    pub subject: String,
    pub tags: Vec<String>,
}

/// `13` `1429Z` `JAN 10` style pieces of the date-time group.
pub fn dtg(c: &Cable) -> String {
    let (y, m, d, h, mi) = c.created;
    format!(
        "{d:02}{h:02}{mi:02}Z {} {:02}",
        MONTHS[m as usize - 1],
        y % 100
    )
}

/// The station as written in the body's banner and REF lines ("NEW DELHI" style is not
/// needed: the id form without spaces is what the readers canonicalize).
fn place(c: &Cable) -> &'static str {
    c.station.code
}

pub fn make(c: &Cable) -> CableText {
    let mut r = Rng::new(c.seed);
    let header = header(c, &mut r);
    let tags = tags(c, &mut r);
    let subject = sentence(&mut r, 4, 10).to_uppercase();
    let mut body = String::with_capacity(c.text_len + 256);
    preamble(c, &mut r, &tags, &subject, &mut body);
    let target = c.text_len.saturating_sub(header.len());
    paragraphs(c, &mut r, target, &mut body);
    let _ = writeln!(body, "{} ", r.pick(SIGNERS));
    CableText {
        header,
        body,
        subject,
        tags,
    }
}

fn header(c: &Cable, r: &mut Rng) -> String {
    let (y, m, d, h, mi) = c.created;
    let prec = ["R", "P", "O"][r.weighted(&[6, 3, 1])];
    let julian = (m - 1) * 30 + d;
    let mut s = String::with_capacity(400);
    let _ = writeln!(s, "VZCZCXRO{:04}\n{prec}{prec} RUEHWEB\n", r.below(10_000));
    let _ = writeln!(
        s,
        "DE {} #{:04}/01 {julian:03}{h:02}{mi:02}",
        c.station.ri,
        c.serial % 10_000
    );
    let _ = writeln!(s, "ZNY {} ZZH\n{prec} {}", zny(c.classification), dtg(c));
    let _ = writeln!(s, "FM {}", c.station.fm);
    if c.station.code == "STATE" {
        let _ = writeln!(s, "TO ALL DIPLOMATIC AND CONSULAR POSTS COLLECTIVE");
    } else {
        let _ = writeln!(
            s,
            "TO RUEHC/SECSTATE WASHDC {}{:04}",
            prec_word(prec),
            r.below(10_000)
        );
    }
    for _ in 0..r.below(4) {
        let _ = writeln!(
            s,
            "INFO RUEH{}/{} COLLECTIVE",
            r.pick(&["ZL", "ZN", "ZO", "XR"]),
            r.pick(&["EUROPEAN POLITICAL", "ARAB ISRAELI", "ASEAN", "WHA"])
        );
    }
    let _ = y;
    s.push_str("BT");
    s
}

fn zny(classification: &str) -> &'static str {
    match classification.as_bytes()[0] {
        b'S' => "SSSSS",
        b'C' => "CCCCC",
        _ => "UUUUU",
    }
}

fn prec_word(p: &str) -> &'static str {
    match p {
        "O" => "IMMEDIATE ",
        "P" => "PRIORITY ",
        _ => "",
    }
}

fn tags(c: &Cable, r: &mut Rng) -> Vec<String> {
    let mut t: Vec<String> = (0..r.range(1, 4))
        .map(|_| r.pick(TAGS).to_string())
        .collect();
    t.dedup();
    t.push(c.station.country.to_string());
    t
}

fn banner(c: &Cable) -> &'static str {
    match c.classification.as_bytes()[0] {
        b'S' => "S E C R E T",
        b'C' => "C O N F I D E N T I A L",
        _ => "UNCLAS",
    }
}

fn preamble(c: &Cable, r: &mut Rng, tags: &[String], subject: &str, b: &mut String) {
    let sections = 1 + c.text_len / 12_000;
    let section = if sections > 1 {
        format!("SECTION 01 OF {sections:02} ")
    } else {
        String::new()
    };
    let _ = writeln!(b, "{} {section}{} {:06} \n ", banner(c), place(c), c.serial);
    if c.classification.ends_with("NOFORN") {
        b.push_str("NOFORN \n");
    }
    b.push_str("SIPDIS \n \n");
    if c.classification.starts_with('U') {
        b.push_str("E.O. 12958: N/A \n");
    } else {
        let (y, m, d, ..) = c.created;
        let _ = writeln!(b, "E.O. 12958: DECL: {m:02}/{d:02}/{} ", y + 10);
    }
    let _ = writeln!(b, "TAGS: {} \nSUBJECT: {subject} \n ", tags.join(", "));
    if !c.refs.is_empty() {
        b.push_str("REF:");
        for (i, id) in c.refs.iter().enumerate() {
            let _ = write!(b, " {}. {}", (b'A' + i as u8) as char, ref_text(id));
        }
        b.push_str(" \n \n");
    }
    if !c.classification.starts_with('U') {
        let _ = writeln!(
            b,
            "Classified By: Ambassador {} for reasons 1.4 (b) and (d). \n ",
            r.pick(SIGNERS)
        );
    }
}

/// `09STATE12345` as a REF line writes it: `09 STATE 12345`.
fn ref_text(id: &str) -> String {
    let digits = id.trim_end_matches(|c: char| c.is_ascii_digit());
    format!("{} {} {}", &id[..2], &digits[2..], &id[digits.len()..])
}

fn marking(c: &Cable, r: &mut Rng) -> &'static str {
    match c.classification.as_bytes()[0] {
        b'S' => ["(S)", "(C)", "(S/NF)"][r.weighted(&[5, 3, 1])],
        b'C' => ["(C)", "(U)", "(SBU)"][r.weighted(&[6, 2, 1])],
        _ => ["(U)", "(SBU)"][r.weighted(&[4, 1])],
    }
}

/// Numbered paragraphs until the text reaches its target size, wrapped at about 62 columns
/// with the trailing space the real cables have on every line.
fn paragraphs(c: &Cable, r: &mut Rng, target: usize, b: &mut String) {
    let mut n = 1;
    while b.len() < target || n == 1 {
        let _ = write!(b, "{n}. {}", marking(c, r));
        if n == 1 {
            b.push_str(" Summary:");
        }
        let mut col = b.len() - b.rfind('\n').map_or(0, |i| i + 1);
        let words = r.range(40, 160);
        for w in 0..words {
            let word = word(c, r, w);
            if col + word.len() > 62 {
                b.push_str(" \n");
                col = 0;
            } else if col > 0 {
                b.push(' ');
                col += 1;
            }
            b.push_str(word);
            col += word.len();
            if r.chance(0.07) {
                b.push_str(if r.chance(0.1) { ",\"" } else { "." });
            }
        }
        b.push_str(". \n \n");
        n += 1;
    }
}

fn word(c: &Cable, r: &mut Rng, w: u64) -> &'static str {
    if c.redacted && w % 17 == 3 && r.chance(0.3) {
        REDACTION
    } else {
        WORDS[r.below(WORDS.len() as u64) as usize]
    }
}

fn sentence(r: &mut Rng, lo: u64, hi: u64) -> String {
    let n = r.range(lo, hi);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[r.below(WORDS.len() as u64) as usize]);
    }
    s
}
