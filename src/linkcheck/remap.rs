//! `--remap`: fetching a link from another place (a mirror, a local copy) than the URL archived.

use crate::error::{Error, Result};

/// Parses a `--remap 'PREFIX REPLACEMENT'` value; the replacement must be an http or https URL
/// with a host, or every remapped link would fail alike.
pub fn parse_remap(value: &str) -> Result<(String, String)> {
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(r), None) => {
            match crate::cable::provenance::check_url(r, &["http", "https"]) {
                Ok(()) => Ok((p.to_string(), r.to_string())),
                Err(e) => Err(Error::Invalid(format!("--remap {value:?}: {e}"))),
            }
        }
        _ => Err(Error::Invalid(format!(
            "--remap {value:?}: expected 'PREFIX REPLACEMENT'"
        ))),
    }
}

/// The URL to fetch for `url`: the first rule whose prefix it starts with applied, else itself.
pub(super) fn apply(rules: &[(String, String)], url: &str) -> String {
    for (prefix, replacement) in rules {
        if let Some(rest) = url.strip_prefix(prefix.as_str()) {
            return format!("{replacement}{rest}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_prefix_wins() {
        let rules = vec![
            ("http://a/".to_string(), "http://m1/".to_string()),
            ("http://a/b".to_string(), "http://m2/".to_string()),
        ];
        assert_eq!(apply(&rules, "http://a/b/c"), "http://m1/b/c");
        assert_eq!(apply(&rules, "http://z/b"), "http://z/b");
        assert!(parse_remap("http://a/ ftp://m/").is_err());
        assert!(parse_remap("http://a/").is_err());
        assert_eq!(
            parse_remap(" http://a/  http://m/ ").expect("a rule"),
            ("http://a/".to_string(), "http://m/".to_string())
        );
    }
}
