//! HTML of the web edition: escaping, and the layout every page shares (header with the
//! edition's navigation, a skip link, `main`, and the footer that says which archive the page
//! shows and how to check it). Pages are written with `write!` into a `String`: no template
//! engine, so the bytes depend on nothing but the edition and the cable.

use super::edition::Edition;
use super::paths::relative;
use std::fmt::Write;

/// `s` with `&`, `<`, `>`, `"` and `'` escaped: safe in text and in quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    esc_into(&mut out, s);
    out
}

/// Appends `s` escaped (as [`esc`]) to `out`. Runs of plain text are copied whole: every
/// byte that needs attention is ASCII or the lead byte 0xC2 of a C1 control, so a byte scan
/// finds them (a cable's text is most of its page).
pub fn esc_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !NEEDS_ESCAPE[b as usize] {
            i += 1;
            continue;
        }
        // A C1 control (U+0080 to U+009F) is 0xC2 then 0x80..=0x9F; other 0xC2 pairs are text.
        let width = match b {
            0xC2 if matches!(bytes.get(i + 1), Some(0x80..=0x9F)) => 2,
            0xC2 => {
                i += 1;
                continue;
            }
            _ => 1,
        };
        out.push_str(&s[plain_from..i]);
        out.push_str(match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            // Control characters other than tab and line ends are not allowed in HTML text.
            _ => "\u{FFFD}",
        });
        i += width;
        plain_from = i;
    }
    out.push_str(&s[plain_from..]);
}

/// The bytes [`esc_into`] looks at: markup characters, control characters but tab and line
/// ends, and 0xC2 (which starts the C1 controls).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = !matches!(b as u8, b'\t' | b'\n' | b'\r');
        b += 1;
    }
    table[0x7F] = true;
    table[0xC2] = true;
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\'' as usize] = true;
    table
};

/// One page of an edition before the layout wraps it.
pub struct Page<'a> {
    /// Where the page lies, relative to the edition's root (links are made relative to it).
    pub path: &'a str,
    /// The page's title (the `<title>` also names the edition).
    pub title: &'a str,
    /// The contents of `<main>`, starting with its one `<h1>`.
    pub main: &'a str,
    /// Lines the footer adds for this page (a cable's proof), as HTML.
    pub footer_extra: &'a str,
}

/// The whole document of `page`, in the edition's layout.
pub fn layout(ed: &Edition, page: &Page<'_>) -> Vec<u8> {
    let link = |to: &str| relative(page.path, to);
    let mut out = String::with_capacity(page.main.len() + 2048);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"cablekeep\">\n\
         <title>{} · {}</title>\n<link rel=\"stylesheet\" href=\"{}\">\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"site\">\n<p class=\"edition\"><a href=\"{}\">{}</a></p>\n\
         <nav aria-label=\"Edition\">\n<ul>\n<li><a href=\"{}\">Home</a></li>\n\
         <li><a href=\"{}\">Browse by date</a></li>\n<li><a href=\"{}\">Search</a></li>\n\
         <li><a href=\"{}\">About this edition</a></li>\n</ul>\n</nav>\n</header>\n\
         <main id=\"main\">\n",
        esc(page.title),
        esc(&ed.version.identifier),
        link("style.css"),
        link("index.html"),
        esc(&ed.version.identifier),
        link("index.html"),
        link(&super::paths::facet_index(super::paths::Facet::Date)),
        link("search.html"),
        link("about.html"),
    );
    out.push_str(page.main);
    out.push_str("</main>\n");
    footer(ed, page, &mut out);
    out.push_str("</body>\n</html>\n");
    out.into_bytes()
}

/// The footer: the version shown, its archive's digest, the seal, and how to check them.
fn footer(ed: &Edition, page: &Page<'_>, out: &mut String) {
    let link = |to: &str| relative(page.path, to);
    let v = &ed.version;
    let _ = write!(
        out,
        "<footer class=\"site\">\n<p>Edition of <strong>{}</strong> ",
        esc(&v.identifier)
    );
    if let Some(subset) = &ed.subset {
        let _ = write!(out, "(a subset: {}) ", esc(subset));
    }
    let _ = write!(
        out,
        "written by cablekeep. Archive SHA-256: <code class=\"digest\">{}</code>.",
        esc(&v.archive_sha256)
    );
    if let Some(seal) = &ed.seal {
        let _ = write!(
            out,
            " Merkle root: <code class=\"digest\">{}</code>;",
            esc(&seal.root)
        );
        for (path, _) in &seal.files {
            let name = path.rsplit('/').next().unwrap_or(path);
            let _ = write!(out, " <a href=\"{}\">{}</a>", link(path), esc(name));
        }
        out.push('.');
    } else {
        out.push_str(" This version is not sealed.");
    }
    let _ = write!(
        out,
        "</p>\n{}<p><a href=\"{}\">How to check this edition</a> · \
         <a href=\"{}\">SHA256SUMS</a></p>\n</footer>\n",
        page.footer_extra,
        link("about.html"),
        link("SHA256SUMS"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\u{FFFD}b\nc");
    }

    #[test]
    fn escaping_matches_the_character_rules() {
        let slow = |s: &str| -> String {
            s.chars()
                .map(|c| match c {
                    '&' => "&amp;".to_string(),
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '"' => "&quot;".to_string(),
                    '\'' => "&#39;".to_string(),
                    c if c.is_control() && c != '\n' && c != '\t' && c != '\r' => {
                        '\u{FFFD}'.to_string()
                    }
                    c => c.to_string(),
                })
                .collect()
        };
        for s in [
            "",
            "plain",
            "é ü ¢ \u{A0}\u{7F}\u{80}\u{9F}\u{A0}x",
            "a&b<c>d\"e'f\u{1}\u{1F}\t\r\n",
            "\u{85}\u{2028}Ω😀<",
        ] {
            assert_eq!(esc(s), slow(s), "{s:?}");
        }
        for c in (0..0x3000u32).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            assert_eq!(esc(&s), slow(&s), "{c:?}");
        }
    }
}
