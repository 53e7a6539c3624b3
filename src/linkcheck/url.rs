//! The little URL arithmetic the checker needs: a URL's host, its origin and path, and a
//! `Location` resolved against the URL it came from.

/// The `host[:port]` of a URL, lower-cased comparison left to the caller.
pub(super) fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// `scheme://authority` and the rest (path and query, without fragment).
pub(super) fn split_origin(url: &str) -> (&str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let rest = &url[end..];
    let rest = rest.split('#').next().unwrap_or("");
    (&url[..end], rest)
}

/// Resolves a `Location` against the URL it came from.
pub(super) fn resolve(base: &str, location: &str) -> Option<String> {
    if location.is_empty() {
        return None;
    }
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(location.to_string());
    }
    let (origin, path) = split_origin(base);
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split_once("://")?.0;
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    if location.contains("://") {
        return None;
    }
    let path = path.split('?').next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{origin}{dir}{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_locations() {
        let base = "http://127.0.0.1:8080/cable/2009/05/a.html?x=1";
        assert_eq!(
            resolve(base, "/b").as_deref(),
            Some("http://127.0.0.1:8080/b")
        );
        assert_eq!(
            resolve(base, "c.html").as_deref(),
            Some("http://127.0.0.1:8080/cable/2009/05/c.html")
        );
        assert_eq!(resolve(base, "//h:1/d").as_deref(), Some("http://h:1/d"));
        assert_eq!(resolve(base, "https://x/y").as_deref(), Some("https://x/y"));
        assert_eq!(authority(base), "127.0.0.1:8080");
    }
}
