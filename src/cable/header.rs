//! The routing header of a cable: the transmission id (`VZCZC…`) and the TO and INFO
//! recipients, read as cablemap reads them.
//!
//! ```text
//! VZCZCXRO5008
//! PP RUEHWEB
//! DE RUEHMK #0492/01 2060620
//! ZNY CCCCC ZZH
//! P 240620Z JUL 08
//! FM AMEMBASSY MANAMA
//! TO RUEHC/SECSTATE WASHDC PRIORITY 8009
//! INFO RUEHZM/GULF COOPERATION COUNCIL COLLECTIVE PRIORITY
//! RUEHGB/AMEMBASSY BAGHDAD PRIORITY 0252
//! ```
//!
//! Each recipient line is `[ROUTE/]NAME [PRECEDENCE] [MCN]`; an `XMT` line lists stations
//! excluded from the collective recipient before it; `PAGE 02 …` lines are page breaks.

use super::Recipient;
use regex::Regex;
use std::sync::LazyLock;

static TRANSMISSION_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*(VZCZC[A-Z0-9]+)").expect("valid regex"));
static ROUTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(R[A-Z0-9]{2,8})\s*/\s*").expect("valid regex"));
static MCN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+(\d{4})$").expect("valid regex"));
static PRECEDENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s+((?:NIACT\s+)?(?:IMMEDIATE|PRIORITY|ROUTINE|FLASH))$").expect("valid regex")
});
/// A line that ends the recipient lists: the end of the header block, a classification line,
/// the start of the text.
static LIST_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:BT(?-u:\b)|NNNN|UNCLAS|CONFIDENTIAL|SECRET|LIMITED OFFICIAL|C O N F|S E C R|SUBJECT|TAGS|E\.O\.|EO 1)")
        .expect("valid regex")
});

/// The transmission id, e.g. `VZCZCXRO5008`, from the first lines of the header.
pub(crate) fn transmission_id(header: &str) -> Option<String> {
    let head_end = header
        .char_indices()
        .filter(|(_, c)| *c == '\n')
        .nth(5)
        .map_or(header.len(), |(i, _)| i);
    TRANSMISSION_ID
        .captures(&header[..head_end])
        .map(|c| c[1].to_string())
}

static FM_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*FM\s+\S").expect("valid regex"));
static CLASS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:UNCLAS|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE|C O N F|S E C R|U N C L|E\.?\s?O\.?\s*12958|TAGS|SUBJECT)")
        .expect("valid regex")
});

/// Splits a bare cable text into its routing header and its body: the header is the lines up
/// to the end of the FM/TO/INFO block (a blank line, `BT`, or the classification line), when
/// there is an `FM` line among the first 40 lines before any classification line. Returns
/// byte offsets `(header_end, body_start)`; `(0, 0)` when the text has no routing header.
pub(crate) fn split(text: &str) -> (usize, usize) {
    let mut offset = 0;
    let mut seen_fm = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim();
        if !seen_fm {
            if i >= 40 || CLASS_LINE.is_match(line) {
                return (0, 0);
            }
            seen_fm = FM_LINE.is_match(line);
        } else if t.is_empty() || t == "BT" || CLASS_LINE.is_match(line) {
            let mut body_start = offset;
            // Skip the blank and BT lines between the header and the body.
            for l in text[offset..].split_inclusive('\n') {
                let lt = l.trim();
                if lt.is_empty() || lt == "BT" {
                    body_start += l.len();
                } else {
                    break;
                }
            }
            return (offset, body_start);
        }
        offset += line.len();
    }
    if seen_fm {
        (text.len(), text.len())
    } else {
        (0, 0)
    }
}

/// The TO recipients of a routing header.
pub fn recipients(header: &str) -> Vec<Recipient> {
    list(header, "TO")
}

/// The INFO recipients of a routing header.
pub fn info_recipients(header: &str) -> Vec<Recipient> {
    list(header, "INFO")
}

/// Strips `word` followed by white space (or the end) from the start of `line`.
fn strip_word<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(word)?;
    if rest.is_empty() {
        Some(rest)
    } else if rest.starts_with([' ', '\t']) {
        Some(rest.trim_start())
    } else {
        None
    }
}

fn list(header: &str, keyword: &str) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let mut started = false;
    let mut excluding = false;
    for line in header.lines() {
        let t = line.trim();
        let mut rest = t;
        if !started {
            match strip_word(t, keyword) {
                Some(r) => {
                    started = true;
                    rest = r;
                }
                None => continue,
            }
        } else if t.is_empty()
            || LIST_END.is_match(t)
            || (keyword == "TO" && strip_word(t, "INFO").is_some())
        {
            break;
        }
        if rest.is_empty() || strip_word(rest, "PAGE").is_some() {
            continue;
        }
        if let Some(r) = rest.strip_prefix("XMT") {
            let r = r.trim_start_matches(['/', ' ', '\t']);
            excluding = true;
            rest = r;
            if rest.is_empty() {
                continue;
            }
        }
        if excluding {
            if let Some(last) = out.last_mut() {
                let name = ROUTE.replace(rest, "");
                last.excluded.push(name.trim().to_string());
            }
            continue;
        }
        out.push(recipient(rest));
    }
    out
}

/// Reads one recipient line: `[ROUTE/]NAME [PRECEDENCE] [MCN]`.
pub(crate) fn recipient(line: &str) -> Recipient {
    let mut rest = line.trim();
    let mut r = Recipient::default();
    if let Some(c) = ROUTE.captures(rest) {
        r.route = Some(c[1].to_string());
        rest = &rest[c.get(0).expect("match").end()..];
    }
    if let Some(c) = MCN.captures(rest) {
        r.mcn = Some(c[1].to_string());
        rest = &rest[..c.get(0).expect("match").start()];
    }
    if let Some(c) = PRECEDENCE.captures(rest) {
        r.precedence = Some(c[1].split_whitespace().collect::<Vec<_>>().join(" "));
        rest = &rest[..c.get(0).expect("match").start()];
    }
    r.name = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Recipient]) -> Vec<String> {
        v.iter().map(|r| r.name.clone()).collect()
    }

    #[test]
    fn routing_header() {
        let h = "VZCZCXRO5008\nPP RUEHWEB\nDE RUEHMK #0492/01 2060620\nP 240620Z JUL 08\nFM AMEMBASSY MANAMA\nTO RUEHC/SECSTATE WASHDC PRIORITY 8009\nINFO RUEHZM/GULF COOPERATION COUNCIL COLLECTIVE PRIORITY\nRUEHGB/AMEMBASSY BAGHDAD PRIORITY 0252\nRHBVAKS/COMUSNAVCENT  PRIORITY\n";
        assert_eq!(transmission_id(h).as_deref(), Some("VZCZCXRO5008"));
        let to = recipients(h);
        assert_eq!(to.len(), 1);
        assert_eq!(to[0].route.as_deref(), Some("RUEHC"));
        assert_eq!(to[0].name, "SECSTATE WASHDC");
        assert_eq!(to[0].precedence.as_deref(), Some("PRIORITY"));
        assert_eq!(to[0].mcn.as_deref(), Some("8009"));
        assert_eq!(
            names(&info_recipients(h)),
            vec![
                "GULF COOPERATION COUNCIL COLLECTIVE",
                "AMEMBASSY BAGHDAD",
                "COMUSNAVCENT"
            ]
        );
        let x = recipients(
            "TO RUEHC/SECSTATE WASHDC IMMEDIATE 3355\nRUEHX/EUROPEAN POLITICAL COLLECTIVE\nXMT/AMEMBASSY SOFIA\nAMEMBASSY BUCHAREST",
        );
        assert_eq!(
            x[1].excluded,
            vec!["AMEMBASSY SOFIA", "AMEMBASSY BUCHAREST"]
        );
        assert!(info_recipients("INFO XMT FOOBAR").is_empty());
        let p =
            recipients("TO PAGE 02        STATE   015113  182333Z \nAMEMBASSY TRIPOLI PRIORITY");
        assert_eq!(names(&p), vec!["AMEMBASSY TRIPOLI"]);
        let t = "VZCZC1\nO 061738Z JAN 10\nFM AMEMBASSY ALGIERS\nTO RUEHC/SECSTATE WASHDC\nBT\nS E C R E T ALGIERS 000020\n";
        let (he, bs) = split(t);
        assert!(t[..he].ends_with("WASHDC\n"));
        assert!(t[bs..].starts_with("S E C R E T"));
        assert_eq!(split("UNCLAS X 1\nFM A\n"), (0, 0));
        let n = recipients("TO SPECIAL EMBASSY PROGRAM NIACT IMMEDIATE");
        assert_eq!(n[0].precedence.as_deref(), Some("NIACT IMMEDIATE"));
    }
}
