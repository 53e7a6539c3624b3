//! Archived copies: a Memento TimeGate (RFC 7089) asked for the copy of a link nearest the
//! cable's release, its answer read from `Memento-Datetime`, `Location` and `Link` (RFC 8288).

use super::checker::Checker;
use super::url::resolve;
use serde::{Deserialize, Serialize};

/// An archived copy found through a Memento TimeGate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memento {
    /// The archived copy's URL (absolute): where the TimeGate redirected to, or its
    /// `Content-Location` when it answered with the copy itself.
    pub url: String,
    /// `Memento-Datetime` (or the `datetime` of the `Link` header), as the archive gave it.
    pub datetime: Option<String>,
}

impl Checker {
    /// Asks a Memento TimeGate for the copy of `url` nearest `released`.
    pub(super) fn memento(
        &self,
        timegate: &str,
        url: &str,
        released: Option<&str>,
    ) -> Option<Memento> {
        let when = released.and_then(crate::time::http_date);
        let mut headers = Vec::new();
        if let Some(w) = when.as_deref() {
            headers.push(("Accept-Datetime", w));
        }
        let gate_url = format!("{timegate}{url}");
        let (answer, _) = self.request(&gate_url, &headers);
        let response = answer.ok()?;
        match response.status {
            300..=399 => {
                let location = resolve(&gate_url, response.header("location")?.trim())?;
                let dated = response.header("memento-datetime").map(str::to_string);
                match dated.or_else(|| link_datetime(&response, &location)) {
                    Some(datetime) => Some(Memento {
                        url: location,
                        datetime: Some(datetime),
                    }),
                    None => self.memento_at(location),
                }
            }
            200..=299 => {
                let datetime = response.header("memento-datetime")?.to_string();
                let url = response
                    .header("content-location")
                    .and_then(|l| resolve(&gate_url, l.trim()))
                    .unwrap_or(gate_url);
                Some(Memento {
                    url,
                    datetime: Some(datetime),
                })
            }
            _ => None,
        }
    }

    /// The memento a TimeGate redirected to, whose date the redirect did not give (RFC 7089
    /// pattern 2.2, as the Wayback Machine answers): redirects are followed, at most
    /// `max_redirects`, to an answer that says its `Memento-Datetime`; anything else is no
    /// memento.
    fn memento_at(&self, mut url: String) -> Option<Memento> {
        for _ in 0..=self.options.max_redirects {
            let (answer, _) = self.request(&url, &[]);
            let response = answer.ok()?;
            match response.status {
                200..=299 => {
                    let datetime = response.header("memento-datetime")?.trim().to_string();
                    return Some(Memento {
                        url,
                        datetime: Some(datetime),
                    });
                }
                300..=399 => url = resolve(&url, response.header("location")?.trim())?,
                _ => return None,
            }
        }
        None
    }
}

/// The `datetime` the answer's `Link` header gives the memento at `target`.
fn link_datetime(response: &crate::http::Response, target: &str) -> Option<String> {
    parse_link_header(response.header("link").unwrap_or(""))
        .into_iter()
        .find(|l| l.url == target && l.rel.split_whitespace().any(|r| r == "memento"))
        .and_then(|l| l.datetime)
}

/// One link of a `Link` header.
struct LinkValue {
    url: String,
    rel: String,
    datetime: Option<String>,
}

/// Parses an HTTP `Link` header (RFC 8288) into its links: URL, `rel` and `datetime`.
fn parse_link_header(value: &str) -> Vec<LinkValue> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let url = rest[open + 1..open + close].to_string();
        rest = &rest[open + close + 1..];
        let end = parameters_end(rest);
        out.push(link_value(url, &rest[..end]));
        rest = &rest[end..];
    }
    out
}

/// Where a link's parameters end: at the next comma outside quotes, which starts the next link.
fn parameters_end(rest: &str) -> usize {
    let mut quoted = false;
    for (i, c) in rest.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return i,
            _ => {}
        }
    }
    rest.len()
}

/// A link with the `rel` and `datetime` of its `;`-separated parameters.
fn link_value(url: String, params: &str) -> LinkValue {
    let mut link = LinkValue {
        url,
        rel: String::new(),
        datetime: None,
    };
    for p in params.split(';') {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "rel" => link.rel = v,
                "datetime" => link.datetime = Some(v),
                _ => {}
            }
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_memento() {
        let v = r#"<http://a/b>; rel="original", <http://m/20101208/b>; rel="memento"; datetime="Wed, 08 Dec 2010 10:00:00 GMT""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(links[1].url, "http://m/20101208/b");
        assert_eq!(links[1].rel, "memento");
        assert_eq!(
            links[1].datetime.as_deref(),
            Some("Wed, 08 Dec 2010 10:00:00 GMT")
        );
    }

    #[test]
    fn a_comma_inside_quotes_does_not_end_a_link() {
        let v = r#"<http://m/1>; rel="memento"; datetime="Wed, 08 Dec 2010 10:00:00 GMT", <http://m/2>; rel="last memento""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].datetime.as_deref(),
            Some("Wed, 08 Dec 2010 10:00:00 GMT")
        );
        assert_eq!(links[1].rel, "last memento");
    }
}
