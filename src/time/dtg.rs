//! Cable dates: the header date-time group (`DDHHMMZ MON YY`) and the page date fields, for
//! the page readers. Kept here because chrono is used by the `time` module only.

use chrono::{Datelike, NaiveDate};
use regex::Regex;
use std::sync::LazyLock;

/// A date-time group of a cable header, e.g. `R 131429Z JAN 10` or `291359Z Nov 00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dtg {
    pub date: NaiveDate,
    pub hour: u32,
    pub minute: u32,
}

impl Dtg {
    /// `YYYY-MM-DDTHH:MM:00Z`.
    pub(crate) fn rfc3339(&self) -> String {
        format!(
            "{}T{:02}:{:02}:00Z",
            self.date.format("%Y-%m-%d"),
            self.hour,
            self.minute
        )
    }
}

static DTG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([0-3]\d)([0-2]\d)([0-5]\d)Z\s{1,3}(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?\s{1,3}((?:19|20)?\d\d)\b")
        .expect("valid regex")
});

/// Finds the first valid date-time group in `text`. Two-digit years 66–99 are 19xx, others
/// 20xx.
pub(crate) fn find_dtg(text: &str) -> Option<Dtg> {
    for c in DTG_RE.captures_iter(text) {
        let day: u32 = c[1].parse().ok()?;
        let hour: u32 = c[2].parse().ok()?;
        let minute: u32 = c[3].parse().ok()?;
        let month = month_number(&c[4])?;
        let y: i32 = c[5].parse().ok()?;
        let year = if c[5].len() == 4 {
            y
        } else if y >= 66 {
            1900 + y
        } else {
            2000 + y
        };
        if hour > 23 {
            continue;
        }
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            return Some(Dtg { date, hour, minute });
        }
    }
    None
}

fn month_number(m: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let up = m.to_ascii_uppercase();
    MONTHS.iter().position(|x| *x == up).map(|i| i as u32 + 1)
}

/// Parses the leading `YYYY-MM-DD` of a page date such as `2010-01-13 14:02`.
pub(crate) fn page_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let d = s.get(..10)?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// Parses `YYYY-MM-DD HH:MM[:SS]` into `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn page_datetime(s: &str) -> Option<String> {
    let s = s.trim();
    let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()?;
    Some(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `YYYY-MM-DD`.
pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The year of a date.
pub(crate) fn year(d: NaiveDate) -> i32 {
    d.year()
}

/// Days between two dates (absolute).
pub(crate) fn days_apart(a: NaiveDate, b: NaiveDate) -> i64 {
    (a - b).num_days().abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtg_forms() {
        let d = find_dtg("DE RUEHAS #0020/01 0061738\nO 061738Z JAN 10\nFM").unwrap();
        assert_eq!(d.rfc3339(), "2010-01-06T17:38:00Z");
        let d = find_dtg("P R 281848Z DEC 66").unwrap();
        assert_eq!(d.rfc3339(), "1966-12-28T18:48:00Z");
        let d = find_dtg("291359Z Nov 00").unwrap();
        assert_eq!(d.rfc3339(), "2000-11-29T13:59:00Z");
        assert!(find_dtg("311200Z FEB 10").is_none());
        assert!(find_dtg("no date").is_none());
    }

    #[test]
    fn page_dates() {
        assert_eq!(
            page_date("2010-01-06 17:05"),
            NaiveDate::from_ymd_opt(2010, 1, 6)
        );
        assert_eq!(
            page_datetime("2005-12-02 10:59:00").as_deref(),
            Some("2005-12-02T10:59:00Z")
        );
        assert!(page_date("2010-1-6").is_none());
    }
}
