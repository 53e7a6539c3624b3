//! Text helpers shared by the page readers: decoding raw bytes, turning `<pre>` markup into
//! plain text, collapsing whitespace and finding redaction runs.

use crate::cable::provenance::RedactionRun;
use crate::finding::{Code, Finding};
use std::borrow::Cow;

/// The result of decoding a page's raw bytes.
pub(super) struct Decoded<'a> {
    /// The text, without a byte order mark.
    pub text: Cow<'a, str>,
    /// The encoding the bytes were read as, by its WHATWG name in lower case for UTF-8
    /// (`utf-8`, `windows-1252`, `UTF-16LE`, `ISO-8859-2`, ...).
    pub encoding: &'static str,
    /// True when some bytes were not valid in that encoding (they became U+FFFD), or when the
    /// bytes were not UTF-8 though they said they were, and were read as windows-1252 instead.
    pub had_errors: bool,
    /// How the encoding was found.
    pub found: Found,
}

/// How a page's encoding was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// The bytes are valid UTF-8 (the usual case), or were read as UTF-8 with damage.
    Utf8,
    /// A byte order mark (UTF-8, UTF-16LE, UTF-16BE).
    ByteOrderMark,
    /// The page declares it: `<meta charset>`, `<meta http-equiv content="...; charset=">` or
    /// the XML declaration's `encoding`.
    Declared,
    /// Guessed from the bytes: UTF-16 by its zero bytes, else Firefox's detector (`chardetng`).
    Guessed,
}

impl Decoded<'_> {
    /// The findings about how the page was decoded: `P003` when bytes were not valid in its
    /// encoding, `P008` when the encoding was guessed. `what` names the thing decoded (`page`,
    /// `text`, `row`).
    pub(super) fn findings(&self, name: &str, what: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.had_errors {
            let message = match (self.found, self.encoding) {
                (Found::Utf8, "utf-8") => {
                    format!("{what} is not valid UTF-8; invalid bytes replaced by U+FFFD")
                }
                (Found::Utf8, legacy) => format!("{what} is not valid UTF-8; read as {legacy}"),
                (_, encoding) => {
                    format!("{what} is not valid {encoding}; invalid bytes replaced by U+FFFD")
                }
            };
            findings.push(Finding::new(Code::BadEncoding, name, message));
        }
        if self.found == Found::Guessed {
            findings.push(Finding::new(
                Code::EncodingGuessed,
                name,
                format!(
                    "{what} declares no character encoding and is not UTF-8; read as {}, a guess \
                     from its bytes",
                    self.encoding
                ),
            ));
        }
        findings
    }
}

/// How much of the start of a page is searched for its encoding declaration (as browsers do).
const PRESCAN_BYTES: usize = 1024;
/// How much of a page the encoding detector reads: enough for a confident guess.
const DETECTOR_BYTES: usize = 1 << 20;

/// Decodes raw page bytes. In order: a byte order mark; UTF-16 without one (told by its zero
/// bytes); valid UTF-8, borrowed as is; the encoding the page declares (other than UTF-8); then,
/// for bytes that are not UTF-8 and declare nothing, or declare UTF-8 wrongly: damaged UTF-8
/// (as many valid multi-byte sequences as invalid ones, or more) is read as UTF-8 with U+FFFD; otherwise
/// a page that declares UTF-8 is read as windows-1252, and one that declares nothing as the
/// encoding `chardetng` guesses.
pub(super) fn decode(bytes: &[u8]) -> Decoded<'_> {
    if let Some(wide) = decode_utf16(bytes) {
        return wide;
    }
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return decode_as(encoding, &bytes[bom_len..], Found::ByteOrderMark);
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Decoded {
            text: Cow::Borrowed(s),
            encoding: "utf-8",
            had_errors: false,
            found: Found::Utf8,
        };
    }
    let declared = declared_encoding(bytes);
    if let Some(encoding) = declared.filter(|e| *e != encoding_rs::UTF_8) {
        return decode_as(encoding, bytes, Found::Declared);
    }
    if mostly_utf8(bytes) {
        return Decoded {
            text: Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
            encoding: "utf-8",
            had_errors: true,
            found: Found::Utf8,
        };
    }
    if declared.is_some() {
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
        return Decoded {
            text: Cow::Owned(text.into_owned()),
            encoding: "windows-1252",
            had_errors: true,
            found: Found::Utf8,
        };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let sample = &bytes[..bytes.len().min(DETECTOR_BYTES)];
    detector.feed(sample, sample.len() == bytes.len());
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    decode_as(guess, bytes, Found::Guessed)
}

/// UTF-16 text, with a byte order mark or told by its zero bytes; None for other bytes. Such
/// pages are decoded before their format is detected (the readers look for ASCII markers).
pub(super) fn decode_utf16(bytes: &[u8]) -> Option<Decoded<'static>> {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) if encoding != encoding_rs::UTF_8 => {
            let d = decode_as(encoding, &bytes[bom_len..], Found::ByteOrderMark);
            return Some(d.into_owned());
        }
        Some(_) => return None,
        None => {}
    }
    let encoding = utf16_by_zero_bytes(bytes)?;
    Some(decode_as(encoding, bytes, Found::Guessed).into_owned())
}

impl Decoded<'_> {
    fn into_owned(self) -> Decoded<'static> {
        Decoded {
            text: Cow::Owned(self.text.into_owned()),
            encoding: self.encoding,
            had_errors: self.had_errors,
            found: self.found,
        }
    }
}

/// UTF-16LE or UTF-16BE when the start of the bytes looks like mostly-ASCII text in it: a zero
/// byte in nearly every pair at one side and almost never at the other. Text in any 8-bit
/// encoding or UTF-8 has hardly any zero bytes.
fn utf16_by_zero_bytes(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN_BYTES) & !1];
    let pairs = head.len() / 2;
    if pairs < 8 {
        return None;
    }
    let zeros_at = |side: usize| head.chunks_exact(2).filter(|p| p[side] == 0).count();
    let (even, odd) = (zeros_at(0), zeros_at(1));
    let most = |n: usize| n * 10 >= pairs * 7;
    let few = |n: usize| n * 20 <= pairs;
    if most(odd) && few(even) {
        Some(encoding_rs::UTF_16LE)
    } else if most(even) && few(odd) {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

fn decode_as<'a>(
    encoding: &'static encoding_rs::Encoding,
    bytes: &'a [u8],
    found: Found,
) -> Decoded<'a> {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text,
        encoding: if encoding == encoding_rs::UTF_8 {
            "utf-8"
        } else {
            encoding.name()
        },
        had_errors,
        found,
    }
}

/// The encoding the start of a page declares: `charset=` (in a `<meta>` tag, either form) or
/// the XML declaration's `encoding=`. A declared UTF-16 is ignored, as browsers do: text that
/// can say so in ASCII is not UTF-16.
fn declared_encoding(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN_BYTES)];
    let xml_declaration = head
        .starts_with(b"<?xml")
        .then(|| head.iter().position(|&b| b == b'>'))
        .flatten()
        .map(|end| &head[..end]);
    let label = xml_declaration
        .and_then(|decl| label_after(decl, b"encoding"))
        .or_else(|| label_after(head, b"charset"))?;
    let encoding = encoding_rs::Encoding::for_label(label)?;
    // UTF-16 is told by its bytes, not by a declaration in ASCII; "replacement" (the labels of
    // ISO-2022-KR, HZ and others, which the Encoding Standard never decodes) would turn the whole
    // page into one U+FFFD, and x-user-defined is no real encoding: those go on to the guess.
    let usable = ![
        encoding_rs::UTF_16LE,
        encoding_rs::UTF_16BE,
        encoding_rs::REPLACEMENT,
        encoding_rs::X_USER_DEFINED,
    ]
    .contains(&encoding);
    usable.then_some(encoding)
}

/// The value of `key=` (any case, optional spaces and quotes) at the first place in `hay` where
/// the key is followed by `=` (the word may stand in text before the real declaration).
fn label_after<'a>(hay: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = hay[from..]
        .windows(key.len())
        .position(|w| w.eq_ignore_ascii_case(key))
    {
        let after = from + at + key.len();
        if let Some(label) = label_value(&hay[after..]) {
            return Some(label);
        }
        from = after;
    }
    None
}

/// The value after `=` (optional spaces and quotes) at the start of `rest`.
fn label_value(rest: &[u8]) -> Option<&[u8]> {
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b"=")?
        .trim_ascii_start();
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .unwrap_or(rest.len());
    (end > 0).then_some(&rest[..end])
}

/// True when the bytes are UTF-8 with some damage rather than text in a legacy encoding: they
/// hold some well-formed multi-byte UTF-8 sequences, at least as many as invalid ones. Text in a legacy
/// encoding makes a valid sequence now and then by chance (windows-1252 `É”` is C9 94, UTF-8
/// for `ɔ`), and invalid ones far more often.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let multibyte = |valid: &[u8]| valid.iter().filter(|&&b| b >= 0xC0).count();
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => return utf8_wins(valid + multibyte(s.as_bytes()), invalid),
            Err(e) => {
                valid += multibyte(&rest[..e.valid_up_to()]);
                invalid += 1;
                let skip = e.error_len().unwrap_or(rest.len() - e.valid_up_to());
                rest = &rest[e.valid_up_to() + skip..];
                if rest.is_empty() {
                    return utf8_wins(valid, invalid);
                }
            }
        }
    }
}

fn utf8_wins(valid: usize, invalid: usize) -> bool {
    valid > 0 && valid >= invalid
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
pub(crate) fn redaction_runs(text: &str) -> Vec<RedactionRun> {
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

    fn codes(d: &Decoded) -> Vec<&'static str> {
        d.findings("p", "page")
            .iter()
            .map(|f| f.code.as_str())
            .collect()
    }

    /// “CAFÉ” in windows-1252 holds C9 94, a valid UTF-8 sequence (U+0254): the page was read
    /// as damaged UTF-8 and its text garbled.
    const QUOTED_CAFE: &[u8] = b"He said \x93CAF\xC9\x94 twice, \xE0 la fran\xE7aise.";

    #[test]
    fn a_declaration_the_standard_never_decodes_is_passed_over() {
        // iso-2022-kr is a label of "replacement": decoded by it, the page would be one U+FFFD.
        let mut page = b"<html><head><meta charset=\"iso-2022-kr\"></head><body>".to_vec();
        page.extend_from_slice(QUOTED_CAFE);
        let d = decode(&page);
        assert!(d.text.contains("CAF"), "{}", d.text);
        assert_ne!(d.encoding, "replacement");
        assert_ne!(d.found, Found::Declared);
        // The word before the real declaration does not hide it.
        let mut page = b"<p>charset matters</p><meta charset=\"windows-1252\">".to_vec();
        page.extend_from_slice(QUOTED_CAFE);
        assert_eq!(decode(&page).found, Found::Declared);
    }

    #[test]
    fn a_declared_encoding_is_used() {
        let mut page = b"<html><head><meta charset=\"ISO-8859-1\"></head><body>".to_vec();
        page.extend_from_slice(QUOTED_CAFE);
        let d = decode(&page);
        assert!(
            d.text.contains("“CAFÉ” twice, à la française"),
            "{}",
            d.text
        );
        assert_eq!((d.encoding, d.found), ("windows-1252", Found::Declared));
        assert!(codes(&d).is_empty());

        let mut page = b"<?xml version='1.0' encoding='windows-1250' ?><p>".to_vec();
        page.extend_from_slice(b"\x8Ael\xE9");
        let d = decode(&page);
        assert_eq!(
            (d.encoding, d.text.ends_with("Šelé")),
            ("windows-1250", true)
        );

        let meta = br#"<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">"#;
        assert_eq!(declared_encoding(meta), Some(encoding_rs::KOI8_R));
        assert_eq!(declared_encoding(b"<meta charset=utf-16>"), None);
    }

    #[test]
    fn an_undeclared_legacy_page_is_guessed_with_a_finding() {
        let d = decode(QUOTED_CAFE);
        assert!(
            d.text.contains("“CAFÉ” twice, à la française"),
            "{}",
            d.text
        );
        assert_eq!((d.encoding, d.found), ("windows-1252", Found::Guessed));
        assert_eq!(codes(&d), ["P008"]);
        // Declaring UTF-8 wrongly is damage (P003), read as before.
        let mut page = b"<meta charset=utf-8>".to_vec();
        page.extend_from_slice(b"caf\xE9");
        let d = decode(&page);
        assert_eq!((d.encoding, codes(&d)), ("windows-1252", vec!["P003"]));
    }

    #[test]
    fn utf16_is_read_with_or_without_a_byte_order_mark() {
        let text = "<title>Cable Viewer</title> café ¶";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let with_bom = [&b"\xFF\xFE"[..], &le].concat();
        let d = decode(&with_bom);
        assert_eq!((d.text.as_ref(), d.encoding), (text, "UTF-16LE"));
        assert!(codes(&d).is_empty());
        let d = decode(&be);
        assert_eq!((d.text.as_ref(), d.encoding), (text, "UTF-16BE"));
        assert_eq!(codes(&d), ["P008"]);
        // Zeros everywhere are not UTF-16.
        assert!(decode_utf16(&[0; 4096]).is_none());
        assert!(decode_utf16(b"plain ASCII text, long enough").is_none());
    }
}
