//! Reference ids.
//!
//! A Cablegate reference id is `YY` + station + serial, e.g. `05ALMATY4285`: a two-digit year,
//! the station in upper case without spaces, and the serial without leading zeros.
//!
//! [`canonicalize`] repairs the structural damage seen in real page ids: `SECTION01OF02`-style
//! prefixes in all their misspellings (`ECTION`, `SCTION`, `SECTIN`, …), `EFTO`, `NOFORN`,
//! `AMEMBASSY`/`EMBASSY`, `FSC` and `SIFIED` prefixes, a doubled year (`7575LIBREVILLE1895`),
//! `TOSEC…` and `…Z<LETTERS><DIGITS>` suffixes and leading zeros. Then the station: a few
//! aliases (`canonical_station`), and typos corrected against the station table
//! (`super::stations`) when exactly one station fits (`correct_station`).

use super::stations;
use regex::Regex;
use std::sync::LazyLock;

/// A canonicalised id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalId {
    /// The canonical id.
    pub id: String,
    /// True when the input was not already in canonical form (beyond case and surrounding
    /// whitespace).
    pub malformed: bool,
}

static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d\d)([A-Z0-9][A-Z0-9-]*?)(\d{1,7})((?:TOSEC|Z[A-Z]{1,4}|SUSPECTEDDUPLICATE)(\d*))?$",
    )
    .expect("valid regex")
});
static SECTION_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    // SECTION01OF02 and its misspellings: ECTION, SCTION, SETION, SECTON, SECTIN, SECTIO,
    // SECTINN, SECTIKN, SQCTION, SECION; 01OF02, 01F03, 01O02, 0QF05, Q1OF06, 01GF02.
    Regex::new(r"^(?:[SECTIONKQ]{4,8})?[0-9Q]{1,2}(?:OF|F|O|GF|QF)[0-9Q]{1,2}(?:RPO)?")
        .expect("valid regex")
});

/// Canonicalises a reference id. Returns `None` when the input does not look like an id at all
/// (no two-digit year, no station letters or no serial).
pub fn canonicalize(raw: &str) -> Option<CanonicalId> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.is_empty() || compact.len() > 80 || !compact.is_ascii() {
        return None;
    }
    let caps = SHAPE.captures(&compact)?;
    let yy = &caps[1];
    let mut middle = caps[2].to_string();
    let mut serial = caps[3].to_string();
    if let Some(suffix) = caps.get(4)
        && suffix.as_str().starts_with("SUSPECTEDDUPLICATE")
    {
        match caps.get(5).map(|m| m.as_str()).filter(|s| !s.is_empty()) {
            Some(n) => serial = n.to_string(),
            None => return None,
        }
    }
    // A doubled year: 7575LIBREVILLE1895.
    if let Some(rest) = middle.strip_prefix(yy)
        && rest.starts_with(|c: char| c.is_ascii_uppercase())
    {
        middle = rest.to_string();
    }
    if let Some(m) = SECTION_PREFIX.find(&middle) {
        let rest = &middle[m.end()..];
        if rest.len() >= 2 && rest.starts_with(|c: char| c.is_ascii_uppercase()) {
            middle = rest.to_string();
        }
    }
    for prefix in ["EFTO", "NOFORN", "AMEMBASSY", "EMBASSY", "FSC", "SIFIED"] {
        if let Some(rest) = middle.strip_prefix(prefix)
            && rest.len() >= 2
        {
            middle = rest.to_string();
            break;
        }
    }
    let station = station_of(&middle.replace('-', ""))?;
    let serial = serial.trim_start_matches('0');
    let serial = if serial.is_empty() { "0" } else { serial };
    let id = format!("{yy}{station}{serial}");
    let malformed = id != compact;
    Some(CanonicalId { id, malformed })
}

/// The station a station string stands for: an alias mapped to its station (`SECSTATE` →
/// `STATE`), else a typo corrected when exactly one station of the table fits
/// ([`correct_station`]), else the string unchanged.
pub(crate) fn canonical_station(station: &str) -> String {
    if let Some(s) = alias(station) {
        return s.to_string();
    }
    correct_station(station).unwrap_or(station).to_string()
}

/// True when `station` is in the station table (`super::stations`).
pub(crate) fn is_known_station(station: &str) -> bool {
    stations::is_known(station)
}

/// The canonical station of the station part of an id. Letters only: aliases and typos are
/// mapped by [`canonical_station`]. With digits: `0` and `1` typed for `O` and `I` (`0TTAWA`,
/// `TR1POLI`) are read as letters, but only when that gives a known station (directly or by
/// correction), since digits are far more often a serial run into the station. `None` when the
/// part is not a station.
pub(crate) fn station_of(part: &str) -> Option<String> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if part.bytes().all(|b| b.is_ascii_uppercase()) {
        return Some(canonical_station(part));
    }
    if !part.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let letters: String = part
        .chars()
        .map(|c| match c {
            '0' => 'O',
            '1' => 'I',
            c => c,
        })
        .collect();
    if !letters.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let station = canonical_station(&letters);
    stations::is_known(&station).then_some(station)
}

/// The known station an unknown station string is a typo of, when exactly one fits. Tried in
/// order, each only when the previous finds nothing (an ambiguous step ends the search, so a
/// guess is never made between two stations):
///
/// 1. a garbled run: `Q` stands for one to three unreadable letters (`QRIPOLI`, `BUENOSQRES`,
///    `AQNA` → `ASTANA`), the telegraph's mark for a damaged group;
/// 2. one edit: a letter dropped, added, changed or two neighbours swapped (`TRIPOLII`,
///    `BRASILA`, `KINSTON`, `WELLINGOTN`); a three-letter string only by a dropped letter
///    (`BAU` → `BAKU`), since three-letter agency names (`NSA`, `FBI`) abound in REF lines;
/// 3. a cut-off name: the string is the start of one station, at most three letters short
///    (`HALIF` → `HALIFAX`, `SAOPAUL` → `SAOPAULO`).
///
/// Known stations and strings under three letters are never corrected.
pub(crate) fn correct_station(station: &str) -> Option<&'static str> {
    if station.len() < 3 || stations::is_known(station) {
        return None;
    }
    let steps: [&dyn Fn(&str) -> bool; 3] = [
        &|known| station.contains('Q') && garbled_match(station.as_bytes(), known.as_bytes()),
        &|known| {
            one_edit(station.as_bytes(), known.as_bytes())
                && (station.len() > 3 || known.len() == 4)
        },
        &|known| {
            station.len() >= 4 && known.len() <= station.len() + 3 && known.starts_with(station)
        },
    ];
    for fits in steps {
        let mut found = stations::all().iter().filter(|k| fits(k));
        match (found.next(), found.next()) {
            (Some(one), None) => return Some(one),
            (Some(_), Some(_)) => return None,
            _ => {}
        }
    }
    None
}

/// True when `damaged` matches `known` with each `Q` of `damaged` standing for one to three
/// letters of `known` and every other letter equal.
fn garbled_match(damaged: &[u8], known: &[u8]) -> bool {
    match damaged.split_first() {
        None => known.is_empty(),
        Some((b'Q', rest)) => (1..=3.min(known.len())).any(|n| garbled_match(rest, &known[n..])),
        Some((c, rest)) => known.first() == Some(c) && garbled_match(rest, &known[1..]),
    }
}

/// True when `a` and `b` differ by exactly one edit: one letter inserted, deleted or changed,
/// or two adjacent letters swapped.
pub(super) fn one_edit(a: &[u8], b: &[u8]) -> bool {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match (a.len(), b.len()) {
        (0, 0) => false,
        (la, lb) if la == lb => {
            a[1..] == b[1..] || (la >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
        }
        (la, lb) if la == lb + 1 => a[1..] == *b,
        (la, lb) if la + 1 == lb => *a == b[1..],
        _ => false,
    }
}

/// The station an alias stands for: a few station spellings seen in real ids and REF lines
/// (`SECSTATE` → `STATE`, `RIO` → `RIODEJANEIRO`, `USUN` → `USUNNEWYORK`, `PAUP` →
/// `PORTAUPRINCE`, …): abbreviations and suffixed forms too far from the station for
/// [`correct_station`].
fn alias(station: &str) -> Option<&'static str> {
    let s = match station {
        "SECSTATE" | "SECTSTATE" | "SECTATE" | "SECSTATEWASHDC" | "STATEWASHDC" => "STATE",
        "SECDEFWASH" | "SECDEFWASHDC" => "SECDEF",
        "RIO" | "RIODEJAN" | "RIODEJANERIO" | "RIODEJANIERO" => "RIODEJANEIRO",
        "USUN" | "USUNNY" | "USUNNEYORK" => "USUNNEWYORK",
        "USEU" | "USEUBRUSEELS" => "USEUBRUSSELS",
        "HAGUE" | "THEHAGU" | "THEHAGE" => "THEHAGUE",
        "MEXICOCITY" => "MEXICO",
        "MADRIDSP" => "MADRID",
        "PARISFR" | "USUNESCOPARISFR" | "USUNESCO" => "UNESCOPARISFR",
        "UNVIE" => "UNVIEVIENNA",
        "TAIPEI" | "AITTAIPIE" => "AITTAIPEI",
        "PAP" | "PAUP" | "POTAUPRINCE" => "PORTAUPRINCE",
        "USDA" => "USDAFAS",
        "USDOCWASHDC" => "USDOC",
        "CDCATLANTA" => "CDCATLANTAGA",
        "BKK" => "BANGKOK",
        "PHNOMPEN" => "PHNOMPENH",
        "KUALALUMP" => "KUALALUMPUR",
        "BRAZILIA" => "BRASILIA",
        "VAT" => "VATICAN",
        "BA" => "BUENOSAIRES",
        "HCMC" => "HOCHIMINHCITY",
        "PORTA" => "PORTAUPRINCE",
        "BRAZIL" => "BRASILIA",
        "PORTOFPAIN" => "PORTOFSPAIN",
        _ => return None,
    };
    Some(s)
}

/// Builds a canonical id from a reference's parts: a four- or two-digit year, the station as
/// written (spaces and hyphens allowed, e.g. `BUENOS AIRES`) and the serial as written
/// (leading zeros allowed). `None` when the parts do not make an id.
pub(crate) fn from_parts(year: i32, station: &str, serial: &str) -> Option<String> {
    let st: String = station
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let station = station_of(&st)?;
    if serial.is_empty() || serial.len() > 7 || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy = year.rem_euclid(100);
    let serial = serial.trim_start_matches('0');
    if serial.is_empty() {
        return None;
    }
    Some(format!("{yy:02}{station}{serial}"))
}

/// The two-digit year of a canonical id, as a four-digit year (66–99 are 19xx).
pub(crate) fn year_of(id: &str) -> Option<i32> {
    let yy: i32 = id.get(..2)?.parse().ok()?;
    Some(if yy >= 66 { 1900 + yy } else { 2000 + yy })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> (String, bool) {
        let c = canonicalize(s).unwrap_or_else(|| panic!("{s} not an id"));
        (c.id, c.malformed)
    }

    #[test]
    fn canonical_ids_stay() {
        for id in [
            "05ALMATY4285",
            "66BUENOSAIRES2481",
            "10USUNNEWYORK123",
            "09STATE12345",
        ] {
            assert_eq!(canon(id), (id.to_string(), false));
        }
        assert_eq!(canon(" 05almaty4285\n"), ("05ALMATY4285".into(), false));
    }

    #[test]
    fn section_prefixes() {
        for (raw, want) in [
            ("08ECTION01OF02MANAMA492", "08MANAMA492"),
            ("08ECTION02OF02ATHENS959", "08ATHENS959"),
            ("08SCTION02OF02SAOPAULO335", "08SAOPAULO335"),
            ("07SETION02OF02BAKU1501", "07BAKU1501"),
            ("08SECTON01OF02BEIRUT896", "08BEIRUT896"),
            ("08SECTIN01OF02BUDAPEST836", "08BUDAPEST836"),
            ("08SECTINN02OF02JAKARTA1486", "08JAKARTA1486"),
            ("08SECTIO04OF07BEIJING3049", "08BEIJING3049"),
            ("08SECTION01OF03CAIRO1416", "08CAIRO1416"),
            ("09SECTION02F02BRUSSELS1639", "09BRUSSELS1639"),
            ("09SECTION0QF05HANOI297", "09HANOI297"),
            ("09SECTIOQ1OF06HARARE876", "09HARARE876"),
            ("09SQCTION02OF02DUSHANBE143", "09DUSHANBE143"),
            ("06SECION01OF02HARARE628", "06HARARE628"),
            ("06SECTIKN01OF03MINSK1223", "06MINSK1223"),
            ("06SECTION01O02HONGKONG2311", "06HONGKONG2311"),
            ("08SECTION01F03BEIRUT1568", "08BEIRUT1568"),
            ("0901OF02RPODUBAI288", "09DUBAI288"),
        ] {
            assert_eq!(canon(raw), (want.to_string(), true), "{raw}");
        }
    }

    #[test]
    fn other_prefixes_and_suffixes() {
        for (raw, want) in [
            ("09EFTOLONDON2468", "09LONDON2468"),
            ("10EFTOBANDARSERIBEGAWAN24", "10BANDARSERIBEGAWAN24"),
            ("06EFTOUSUNNEWYORK1560", "06USUNNEWYORK1560"),
            ("09AMEMBASSYHANOI1234", "09HANOI1234"),
            ("05EMBASSYVIENNA1", "05VIENNA1"),
            ("85NOFORNMOGADISHU1643", "85MOGADISHU1643"),
            ("08FSCCHARLESTON1712", "08CHARLESTON1712"),
            ("09SIFIEDABUJA1673", "09ABUJA1673"),
            ("7575LIBREVILLE1895", "75LIBREVILLE1895"),
            ("90STATE255195TOSEC140301", "90STATE255195"),
            ("08MADRID000762ZFR763", "08MADRID762"),
            ("06MADRID002583ZFR2585", "06MADRID2583"),
            ("08ACCRA001382SUSPECTEDDUPLICATE1392", "08ACCRA1392"),
            ("10MADRID000025", "10MADRID25"),
        ] {
            assert_eq!(canon(raw), (want.to_string(), true), "{raw}");
        }
    }

    #[test]
    fn aliases() {
        for (raw, want) in [
            ("06SECSTATE123", "06STATE123"),
            ("03SECTSTATE12", "03STATE12"),
            ("05RIO123", "05RIODEJANEIRO123"),
            ("05RIODEJAN123", "05RIODEJANEIRO123"),
            ("07USUN2", "07USUNNEWYORK2"),
            ("66USUNNY12", "66USUNNEWYORK12"),
            ("07USEU2", "07USEUBRUSSELS2"),
            ("03HAGUE12", "03THEHAGUE12"),
            ("07PORT-AU-PRINCE12", "07PORTAUPRINCE12"),
            ("06PORT-OF-SPAIN123", "06PORTOFSPAIN123"),
            ("05PARISFR1", "05UNESCOPARISFR1"),
            ("05UNVIE1", "05UNVIEVIENNA1"),
            ("09MEXICOCITY12", "09MEXICO12"),
            ("03SECDEFWASH12", "03SECDEF12"),
        ] {
            assert_eq!(canon(raw), (want.to_string(), true), "{raw}");
        }
    }

    #[test]
    fn station_typos() {
        for (raw, want) in [
            ("09TRIPOLII12", "09TRIPOLI12"),
            ("09BRASILA12", "09BRASILIA12"),
            ("01WELLINGOTN12", "01WELLINGTON12"),
            ("09BAU339", "09BAKU339"),
            ("08HALIF1234", "08HALIFAX1234"),
            ("09SECTION02OF03QRIPOLI583", "09TRIPOLI583"),
            ("07BUENOSQRES633", "07BUENOSAIRES633"),
            ("07QXICO3307", "07MEXICO3307"),
            ("10OTTAWA57", "10OTTAWA57"),
        ] {
            assert_eq!(canon(raw).0, want, "{raw}");
        }
        // 0 and 1 for O and I only when that gives a known station.
        assert_eq!(canon("050TTAWA3518").0, "05OTTAWA3518");
        // Ambiguous (ADANA or ASTANA), unknown but far from every station, or too short: kept.
        assert_eq!(canon("10AQNA272"), ("10AQNA272".to_string(), false));
        assert_eq!(canon("10ATLANTIS7"), ("10ATLANTIS7".to_string(), false));
        assert_eq!(canon("10XY7"), ("10XY7".to_string(), false));
        // Known stations one edit apart are both kept.
        assert_eq!(canon("09KIEV1").0, "09KIEV1");
        assert_eq!(canon("09KYIV1").0, "09KYIV1");
        assert_eq!(correct_station("NSA"), None);
        assert!(one_edit(b"TRIPOLII", b"TRIPOLI"));
        assert!(one_edit(b"WELLINGOTN", b"WELLINGTON"));
        assert!(!one_edit(b"SAME", b"SAME"));
        assert!(!one_edit(b"AB", b"BAC"));
    }

    #[test]
    fn not_ids() {
        for raw in [
            "",
            "ALMATY4285",
            "05ALMATY",
            "0512345",
            "05 ÄLMATY 1",
            "hello world",
        ] {
            assert!(canonicalize(raw).is_none(), "{raw}");
        }
    }

    #[test]
    fn parts() {
        assert_eq!(
            from_parts(2010, "MADRID", "000025").as_deref(),
            Some("10MADRID25")
        );
        assert_eq!(
            from_parts(1966, "BUENOS AIRES", "2481").as_deref(),
            Some("66BUENOSAIRES2481")
        );
        assert_eq!(
            from_parts(2008, "SECSTATE", "1").as_deref(),
            Some("08STATE1")
        );
        assert_eq!(from_parts(2008, "STATE", "000"), None);
        assert_eq!(year_of("66BUENOSAIRES2481"), Some(1966));
        assert_eq!(year_of("05X1"), Some(2005));
    }
}
