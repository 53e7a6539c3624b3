//! BagIt manifest and tag-file text (RFC 8493): manifests and `bag-info.txt`.

use std::borrow::Cow;

/// One manifest line: a hex digest and a path relative to the bag folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestLine {
    pub digest: String,
    pub path: String,
}

/// Writes manifest text in the `sha256sum`-compatible BagIt form: `<hex>  <path>\n`, sorted by
/// path. CR, LF and `%` in paths are percent-encoded as RFC 8493 requires (cablekeep's own paths
/// never contain them).
pub(crate) fn write_manifest<'a>(lines: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut sorted: Vec<(&str, &str)> = lines.into_iter().collect();
    sorted.sort_by(|a, b| a.1.cmp(b.1));
    let mut out = String::new();
    for (digest, path) in sorted {
        out.push_str(digest);
        out.push_str("  ");
        out.push_str(&encode_path(path));
        out.push('\n');
    }
    out
}

/// Parses manifest text. Returns the lines and, for each line that does not parse, its 1-based
/// number and what is wrong.
pub(crate) fn parse_manifest(
    text: &str,
    digest_len: usize,
) -> (Vec<ManifestLine>, Vec<(usize, LineProblem)>) {
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        match parse_manifest_line(raw, digest_len) {
            Ok(None) => {}
            Ok(Some((digest, path))) => lines.push(ManifestLine {
                digest: digest.to_ascii_lowercase(),
                path: path.into_owned(),
            }),
            Err(why) => bad.push((i + 1, why)),
        }
    }
    (lines, bad)
}

/// Parses one manifest line (without its line break): `Ok(None)` for a blank line, else the
/// digest as written (hex, either case) and the decoded path.
pub(crate) fn parse_manifest_line(
    raw: &str,
    digest_len: usize,
) -> Result<Option<(&str, Cow<'_, str>)>, LineProblem> {
    let Some((digest, path)) = split_manifest_line(raw)? else {
        return Ok(None);
    };
    if digest.len() != digest_len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_a_digest(digest, digest_len));
    }
    Ok(Some((digest, path)))
}

/// Splits a manifest line into its digest, not yet checked, and its decoded path. Borrows from
/// the line, so that a manifest of a million lines can be read as it streams; a reader that
/// decodes the digest itself checks it at the same time (see [`not_a_digest`] for the message).
pub(crate) fn split_manifest_line(raw: &str) -> Result<Option<(&str, Cow<'_, str>)>, LineProblem> {
    let line = raw.trim_end_matches('\r');
    if line.is_empty() {
        return Ok(None);
    }
    // memchr, not a char pattern: manifests of a million lines are read this way.
    let Some(gap) = memchr::memchr2(b' ', b'\t', line.as_bytes()) else {
        return Err(LineProblem::NoPath(line.to_string()));
    };
    let (digest, rest) = (&line[..gap], &line[gap + 1..]);
    let path = rest.trim_start_matches([' ', '\t']);
    if path.is_empty() {
        return Err(LineProblem::EmptyPath);
    }
    let path = if path.contains('%') {
        Cow::Owned(decode_path(path))
    } else {
        Cow::Borrowed(path)
    };
    Ok(Some((digest, path)))
}

/// What is wrong with a digest that is not `digest_len` hex digits.
pub(crate) fn not_a_digest(digest: &str, digest_len: usize) -> LineProblem {
    LineProblem::NotADigest {
        digest: digest.to_string(),
        digest_len,
    }
}

/// What is wrong with a manifest line; its message is the finding's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineProblem {
    /// The line (without its break) has no space or tab after the digest.
    NoPath(String),
    EmptyPath,
    NotADigest {
        digest: String,
        digest_len: usize,
    },
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineProblem::NoPath(line) => write!(f, "no path after the digest: {line:?}"),
            LineProblem::EmptyPath => f.write_str("empty path"),
            LineProblem::NotADigest { digest, digest_len } => {
                write!(f, "not a {digest_len}-digit hex digest: {digest:?}")
            }
        }
    }
}

/// Percent-encodes CR, LF and `%` (RFC 8493 §2.1.3).
pub(crate) fn encode_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Decodes only `%0D`, `%0A` and `%25`, case-insensitively; other escapes stay as written
/// (files really called `%7Etest` exist in the wild).
pub(crate) fn decode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let esc = rest.get(pos..pos + 3).unwrap_or("");
        match esc.to_ascii_uppercase().as_str() {
            "%0D" => out.push('\r'),
            "%0A" => out.push('\n'),
            "%25" => out.push('%'),
            _ => {
                out.push('%');
                rest = &rest[pos + 1..];
                continue;
            }
        }
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    out
}

/// Writes `bag-info.txt`: `Label: value` lines in the given order; line breaks inside a value
/// become continuation lines (a newline followed by a space).
pub(crate) fn write_bag_info(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (label, value) in fields {
        out.push_str(label);
        out.push_str(": ");
        let value = value.replace("\r\n", "\n").replace('\r', "\n");
        out.push_str(&value.split('\n').collect::<Vec<_>>().join("\n "));
        out.push('\n');
    }
    out
}

/// Parses `bag-info.txt` (BagIt 1.0 rules: exactly `Label: value`, continuation lines start
/// with white space). Returns the fields in order and the numbers of malformed lines.
pub(crate) fn parse_bag_info(text: &str) -> (Vec<(String, String)>, Vec<usize>) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line.trim_start());
                }
                None => bad.push(i + 1),
            }
            continue;
        }
        match line.split_once(": ").or_else(|| line.split_once(":\t")) {
            Some((label, value)) if !label.is_empty() && label.trim() == label => {
                fields.push((label.to_string(), value.to_string()))
            }
            _ => bad.push(i + 1),
        }
    }
    (fields, bad)
}

/// Looks up a bag-info label, case-insensitively as RFC 8493 asks.
pub(crate) fn bag_info_value<'a>(fields: &'a [(String, String)], label: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case(label))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn manifest_round_trips_and_reports_bad_lines() {
        let text = write_manifest([("ab", "data/b.txt"), ("cd", "data/a%.txt")]);
        assert_eq!(text, "cd  data/a%25.txt\nab  data/b.txt\n");
        let (lines, bad) = parse_manifest(&format!("{text}zz  x\nnopath\n"), 2);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].path, "data/a%.txt");
        assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![3, 4]);
    }

    #[test]
    fn bag_info_keeps_order_and_continuations() {
        let text = write_bag_info(&[
            ("External-Description".into(), "line one\nline two".into()),
            ("Payload-Oxum".into(), "10.2".into()),
        ]);
        let (fields, bad) = parse_bag_info(&text);
        assert!(bad.is_empty());
        assert_eq!(fields[0].1, "line one\nline two");
        assert_eq!(bag_info_value(&fields, "payload-oxum"), Some("10.2"));
        let (_, bad) = parse_bag_info("Label :value\n");
        assert_eq!(bad, vec![1]);
    }

    proptest! {
        #[test]
        fn path_encoding_round_trips(path in "\\PC*") {
            prop_assert_eq!(decode_path(&encode_path(&path)), path);
        }
    }
}
