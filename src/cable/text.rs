//! Text helpers shared by the page readers: decoding raw bytes, turning `<pre>` markup into
//! plain text, collapsing whitespace and finding redaction runs.

use crate::provenance::RedactionRun;
use std::borrow::Cow;

/// The result of decoding a page's raw bytes.
pub(super) struct Decoded<'a> {
    /// The text, without a byte order mark.
    pub text: Cow<'a, str>,
    /// The encoding the bytes were read as: `utf-8` or `windows-1252`.
    pub encoding: &'static str,
    /// True when some bytes were not valid in that encoding (they became U+FFFD), or when the
    /// bytes were not UTF-8 and were read as windows-1252 instead.
    pub had_errors: bool,
}

/// Decodes raw page bytes. Valid UTF-8 (with or without a BOM) is borrowed as is. Invalid UTF-8
/// that holds no valid multi-byte UTF-8 sequence at all is read as windows-1252 (a legacy 8-bit
/// page); otherwise it is decoded lossily as UTF-8. Either way `had_errors` is set.
pub(super) fn decode(bytes: &[u8]) -> Decoded<'_> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(s) => Decoded {
            text: Cow::Borrowed(s),
            encoding: "utf-8",
            had_errors: false,
        },
        Err(_) => {
            if !has_utf8_multibyte(body) {
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(body);
                Decoded {
                    text: Cow::Owned(text.into_owned()),
                    encoding: "windows-1252",
                    had_errors: true,
                }
            } else {
                Decoded {
                    text: Cow::Owned(String::from_utf8_lossy(body).into_owned()),
                    encoding: "utf-8",
                    had_errors: true,
                }
            }
        }
    }
}

/// True when the bytes hold at least one well-formed multi-byte UTF-8 sequence.
fn has_utf8_multibyte(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => return !s.is_ascii(),
            Err(e) => {
                let good = &rest[..e.valid_up_to()];
                if !good.is_ascii() {
                    return true;
                }
                let skip = e.error_len().unwrap_or(rest.len() - e.valid_up_to());
                rest = &rest[e.valid_up_to() + skip..];
                if rest.is_empty() {
                    return false;
                }
            }
        }
    }
}

/// Strips a leading BOM and whitespace, for format detection.
pub(super) fn trim_start_bytes(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// ASCII case-insensitive substring search.
pub(super) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Decodes HTML character references: `&#x000A;`, `&#10;`, `&amp;`, `&lt;`, `&gt;`, `&quot;`,
/// `&apos;`, `&nbsp;`. Unknown or malformed references are kept verbatim.
pub(super) fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // A reference is at most ~10 chars long and ends in ';'.
        let end = rest.as_bytes().iter().take(12).position(|&b| b == b';');
        let decoded = end.and_then(|e| decode_ref(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn decode_ref(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix(['x', 'X']) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        return Some(char::from_u32(code).unwrap_or('\u{FFFD}'));
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        _ => return None,
    })
}

/// Turns the inside of a `<pre>` block into plain text: markup is removed, paragraph anchors
/// (`<a id='parN' href='#parN'>¶</a>`) are removed together with their `¶`, then character
/// references are decoded. A `<` that does not start a tag (no `>` follows) is kept.
pub(super) fn pre_to_text(html: &str) -> String {
    let mut stripped = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        stripped.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = &rest[..=close];
        rest = &rest[close + 1..];
        if is_par_anchor(tag) {
            // Drop the anchor's content (the ¶) up to its closing tag.
            if let Some(end) = rest.find("</a>")
                && end <= 16
            {
                rest = &rest[end + 4..];
            }
        }
    }
    stripped.push_str(rest);
    let text = unescape(&stripped).into_owned();
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    }
}

fn is_par_anchor(tag: &str) -> bool {
    tag.len() > 3
        && tag.as_bytes()[1].eq_ignore_ascii_case(&b'a')
        && (tag.contains("id='par") || tag.contains("id=\"par") || tag.contains("href='#par"))
}

/// Removes all tags (no special cases) and decodes references; for short fields.
pub(super) fn inline_text(html: &str) -> String {
    let mut stripped = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        stripped.push_str(&rest[..i]);
        rest = &rest[i..];
        match rest.find('>') {
            Some(close) => rest = &rest[close + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    stripped.push_str(rest);
    collapse_ws(&unescape(&stripped))
}

/// Collapses every run of whitespace (including NBSP and U+2028) to one space and trims.
pub(super) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Finds redaction runs in `text`.
///
/// A redaction run is a maximal run of 5 or more consecutive capital `X` characters (U+0058)
/// that stands as a word-ish token: the character before it and the character after it (if any)
/// is not an ASCII letter or digit. So `XXXXXXXXXXXX`, `(XXXXXXXXXXXX)`, `XXXXXXXXXXXX's` and
/// `XXXXX-XXXXXXX` (two runs) count, while `XXXXXXL` and `AXXXXXX` do not. Offsets and lengths
/// are in characters (Unicode scalar values) from the start of `text`.
pub fn redaction_runs(text: &str) -> Vec<RedactionRun> {
    let mut runs = Vec::new();
    if !contains(text, "XXXXX") {
        return runs;
    }
    let mut prev: Option<char> = None;
    let mut run_start = 0usize;
    let mut run_len = 0usize;
    let mut before_run: Option<char> = None;
    for (idx, c) in text.chars().enumerate() {
        if c == 'X' {
            if run_len == 0 {
                run_start = idx;
                before_run = prev;
            }
            run_len += 1;
        } else {
            if run_len >= 5 && !is_word(before_run) && !c.is_ascii_alphanumeric() {
                runs.push(RedactionRun {
                    offset: run_start,
                    len: run_len,
                });
            }
            run_len = 0;
        }
        prev = Some(c);
    }
    if run_len >= 5 && !is_word(before_run) {
        runs.push(RedactionRun {
            offset: run_start,
            len: run_len,
        });
    }
    runs
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Where `needle` first occurs in `hay`, found with SIMD (`memchr::memmem`): `str::find` with
/// a string needle was 4.5 % of `bundle`'s CPU, scanning whole cable texts for what most of them
/// do not hold.
pub(super) fn find(hay: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(hay.as_bytes(), needle.as_bytes())
}

/// Whether `needle` occurs in `hay` (see [`find`]).
pub(super) fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// The sentence WikiLeaks and mirrors use to mark partial extracts.
pub(super) const PARTIAL_EXTRACT: &str = "This record is a partial extract of the original cable";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_refs() {
        assert_eq!(unescape("a&#x000A;b &amp; &lt;c&gt; &#39;"), "a\nb & <c> '");
        assert_eq!(unescape("AT&T & co;"), "AT&T & co;");
        assert_eq!(unescape("&#xFFFFFFFF;"), "\u{FFFD}");
    }

    #[test]
    fn pre_text_drops_anchors() {
        let html = "A&#x000A;<a id='par1' href='#par1'>¶</a>1. (C) x <a href='/tag/X_0.html'>X</a>";
        assert_eq!(pre_to_text(html), "A\n1. (C) x X");
    }

    #[test]
    fn runs() {
        let r = redaction_runs("a XXXXXXXXXXXX b (XXXXX) XXXXXXL XXXX XXXXXXXXXXXX's");
        let lens: Vec<_> = r.iter().map(|r| (r.offset, r.len)).collect();
        assert_eq!(lens, vec![(2, 12), (18, 5), (38, 12)]);
        assert!(redaction_runs("ÄXXXXX").len() == 1);
        assert_eq!(redaction_runs("ÄXXXXX")[0].offset, 1);
    }

    #[test]
    fn decoding() {
        let d = decode(b"\xEF\xBB\xBFabc");
        assert_eq!(d.text, "abc");
        assert!(!d.had_errors);
        let d = decode(b"caf\xE9");
        assert_eq!(d.encoding, "windows-1252");
        assert_eq!(d.text, "café");
        let d = decode(b"\xC3\xA9\xFF");
        assert!(d.had_errors);
        assert_eq!(d.encoding, "utf-8");
    }
}
