//! Time: the only module that uses chrono. Every time cablekeep writes is UTC.

pub(crate) mod dtg;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// The current time, or the time in `SOURCE_DATE_EPOCH` when that is set (the reproducible-builds
/// convention), so that archives can be rebuilt byte for byte on another day.
pub fn now() -> DateTime<Utc> {
    source_date_epoch().unwrap_or_else(Utc::now)
}

fn source_date_epoch() -> Option<DateTime<Utc>> {
    let secs: i64 = std::env::var("SOURCE_DATE_EPOCH")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// RFC 3339 with seconds and `Z`, e.g. `2026-11-27T21:40:07Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A file system time (a file's modification time) in the form of [`rfc3339`].
pub fn rfc3339_of(t: std::time::SystemTime) -> String {
    rfc3339(DateTime::<Utc>::from(t))
}

/// `YYYY-MM-DD`, the form of BagIt's Bagging-Date.
pub fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// Parses `YYYY-MM-DD` or an RFC 3339 date-time and returns it normalized (a date stays a date,
/// a date-time becomes UTC with `Z`). None when it is neither.
pub fn normalize(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.format("%Y-%m-%d").to_string());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| rfc3339(t.with_timezone(&Utc)))
}

/// An RFC 1123 HTTP date (`Thu, 31 May 2007 20:35:00 GMT`) for a `YYYY-MM-DD` date (at noon
/// UTC, so that the day is right in every zone) or an RFC 3339 date-time. Used for Memento's
/// `Accept-Datetime`.
pub fn http_date(s: &str) -> Option<String> {
    let s = s.trim();
    let t = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(12, 0, 0)?.and_utc()
    } else {
        DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc)
    };
    Some(t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

/// Seconds from the real current time until an HTTP date (`Retry-After: Wed, 21 Oct 2015
/// 07:28:00 GMT`); 0 when it is past, None when it is no date.
pub fn seconds_until_http_date(s: &str) -> Option<u64> {
    let t = DateTime::parse_from_rfc2822(s.trim())
        .ok()?
        .with_timezone(&Utc);
    Some((t - Utc::now()).num_seconds().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dates_and_date_times_to_utc() {
        assert_eq!(normalize("2011-10-04").as_deref(), Some("2011-10-04"));
        assert_eq!(
            normalize("2010-12-01T10:58:50-05:00").as_deref(),
            Some("2010-12-01T15:58:50Z")
        );
        assert_eq!(normalize("04/10/2011"), None);
        assert_eq!(
            http_date("2010-12-08").as_deref(),
            Some("Wed, 08 Dec 2010 12:00:00 GMT")
        );
        assert_eq!(
            seconds_until_http_date("Wed, 08 Dec 2010 12:00:00 GMT"),
            Some(0)
        );
        assert_eq!(seconds_until_http_date("soon"), None);
    }
}
