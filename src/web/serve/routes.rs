//! What a request asks for, read from its URL alone: a file of the edition by its path in the
//! edition's own scheme (`cable/2009/07/09TRIPOLI583.html`), the search page, or the JSON API.
//! The path is decoded once and must be made of plain segments (ASCII letters, digits, `.`,
//! `_`, `-`; never `.` or `..`); nothing else is accepted, so no request can name anything but
//! a page the edition makes. No filesystem path is ever built from a URL: the answer is looked
//! up in the edition (see `catalog`).

use percent_encoding::percent_decode_str;

/// The longest request target accepted (path and query), in bytes: an edition's longest path
/// is about a hundred bytes, a query at most 2,048 (`MAX_QUERY_BYTES`) before encoding.
pub(crate) const MAX_TARGET_BYTES: usize = 8192;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A file of the edition, by its path relative to the edition's root.
    File(String),
    /// The search page (`search.html?q=`), answered on the server.
    SearchPage {
        /// The query, empty when none was given.
        query: String,
    },
    /// `api/cables/<id>`: a cable's line, record, captures and page.
    ApiCable(String),
    /// `api/search?q=&limit=`: the best hits of a query.
    ApiSearch {
        /// The query, empty when none was given.
        query: String,
        /// The `limit` parameter as given.
        limit: Option<String>,
    },
}

/// Why a URL names nothing the server can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The path is not made of plain segments (a `..`, an encoded `/`, a backslash, a NUL...).
    Malformed(&'static str),
}

impl Refused {
    /// What is wrong, for the answer's body.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Refused::Malformed(why) => why,
        }
    }
}

/// The route of a request's `path` (starting with `/`) and `query` (after `?`, if any).
pub(crate) fn parse(path: &str, query: Option<&str>) -> Result<Route, Refused> {
    let relative = path
        .strip_prefix('/')
        .ok_or(Refused::Malformed("the path must start with /"))?;
    let mut segments = Vec::new();
    let raw: Vec<&str> = relative.split('/').collect();
    let last = raw.len() - 1;
    for (i, segment) in raw.into_iter().enumerate() {
        match plain_segment(segment)? {
            // `/` and `folder/` name the folder's index page; no other segment may be empty.
            None if i == last => segments.push("index.html".to_string()),
            None => return Err(Refused::Malformed("the path has an empty segment")),
            Some(s) => segments.push(s),
        }
    }
    let params = || Params::of(query.unwrap_or(""));
    Ok(match segments.as_slice() {
        [page] if page == "search.html" => Route::SearchPage {
            query: params().get("q").unwrap_or_default(),
        },
        [api, cables, id] if api == "api" && cables == "cables" => Route::ApiCable(id.clone()),
        [api, search] if api == "api" && search == "search" => {
            let p = params();
            Route::ApiSearch {
                query: p.get("q").unwrap_or_default(),
                limit: p.get("limit"),
            }
        }
        _ => Route::File(segments.join("/")),
    })
}

/// A path segment decoded: None when it is empty; refused unless it is made of ASCII letters,
/// digits, `.`, `_` and `-` once decoded, and is neither `.` nor `..`.
fn plain_segment(raw: &str) -> Result<Option<String>, Refused> {
    if raw.is_empty() {
        return Ok(None);
    }
    let decoded = percent_decode_str(raw).collect::<Vec<u8>>();
    let plain = decoded
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !plain {
        return Err(Refused::Malformed(
            "the path may hold only letters, digits, '.', '_', '-' and '/' between segments",
        ));
    }
    if decoded == b"." || decoded == b".." {
        return Err(Refused::Malformed(
            "the path may not hold '.' or '..' segments",
        ));
    }
    // Only ASCII was accepted above.
    Ok(Some(String::from_utf8_lossy(&decoded).into_owned()))
}

/// The parameters of a query string (`a=1&b=x+y`), decoded (`+` is a space; bytes that are
/// not UTF-8 become U+FFFD).
struct Params(Vec<(String, String)>);

impl Params {
    fn of(query: &str) -> Params {
        let decode = |s: &str| {
            let spaced = s.replace('+', " ");
            percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
        };
        Params(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Result<Route, Refused> {
        parse(path, None)
    }

    #[test]
    fn edition_paths_are_files() {
        assert_eq!(file("/"), Ok(Route::File("index.html".into())));
        assert_eq!(
            file("/cable/2009/07/09TRIPOLI583.html"),
            Ok(Route::File("cable/2009/07/09TRIPOLI583.html".into()))
        );
        assert_eq!(
            file("/origin/"),
            Ok(Route::File("origin/index.html".into()))
        );
        assert_eq!(
            file("/cable/2009/07/09TRIPOLI%35%383.html"),
            Ok(Route::File("cable/2009/07/09TRIPOLI583.html".into()))
        );
    }

    #[test]
    fn traversal_and_odd_bytes_are_refused() {
        for bad in [
            "/../../etc/passwd",
            "/cable/%2e%2e/%2e%2e/etc/passwd",
            "/cable/..%2f..%2fetc/passwd",
            "/cable/%2E%2E/x",
            "/cable/./x.html",
            "/cable%5c..%5cx",
            "/cable\\..\\x",
            "/index.html%00",
            "/a//b",
            "/a%2fb",
            "/a b",
            "/%",
            "/%zz",
            "/caf%C3%A9",
            "relative",
        ] {
            assert!(
                matches!(file(bad), Err(Refused::Malformed(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn search_and_api_routes_take_their_parameters() {
        assert_eq!(
            parse("/search.html", Some("q=libya+oil&x=1")),
            Ok(Route::SearchPage {
                query: "libya oil".into()
            })
        );
        assert_eq!(
            parse("/search.html", None),
            Ok(Route::SearchPage {
                query: String::new()
            })
        );
        assert_eq!(
            parse("/api/search", Some("limit=5&q=%22a%20b%22")),
            Ok(Route::ApiSearch {
                query: "\"a b\"".into(),
                limit: Some("5".into())
            })
        );
        assert_eq!(
            parse("/api/cables/09TRIPOLI583", None),
            Ok(Route::ApiCable("09TRIPOLI583".into()))
        );
        assert_eq!(
            parse("/api/cables/..", None),
            Err(Refused::Malformed(
                "the path may not hold '.' or '..' segments"
            ))
        );
    }
}
