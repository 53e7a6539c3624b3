//! Reference ids.
//!
//! A Cablegate reference id is `YY` + station + serial, e.g. `05ALMATY4285`: a two-digit year,
//! the station in upper case without spaces, and the serial without leading zeros.
//!
//! [`canonicalize`] repairs the structural damage seen in real page ids, without a station
//! table: `SECTION01OF02`-style prefixes in all their misspellings (`ECTION`, `SCTION`,
//! `SECTIN`, …), `EFTO`, `NOFORN`, `AMEMBASSY`/`EMBASSY`, `FSC` and `SIFIED` prefixes, a doubled
//! year (`7575LIBREVILLE1895`), `TOSEC…` and `…Z<LETTERS><DIGITS>` suffixes, leading zeros, and
//! a few station aliases ([`canonical_station`]). Typos inside station names (`07SOIA828`)
//! need cablemap's station table and are left as they are.

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
    let station: String = middle.chars().filter(|c| *c != '-').collect();
    if station.is_empty() || !station.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let station = canonical_station(&station);
    let serial = serial.trim_start_matches('0');
    let serial = if serial.is_empty() { "0" } else { serial };
    let id = format!("{yy}{station}{serial}");
    let malformed = id != compact;
    Some(CanonicalId { id, malformed })
}

/// Maps a few station spellings to the canonical station name (the alias map cablemap uses
/// for the common cases): `SECSTATE` → `STATE`, `RIO` → `RIODEJANEIRO`, `USUN` →
/// `USUNNEWYORK`, … Unknown stations are returned unchanged.
pub fn canonical_station(station: &str) -> String {
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
        other => other,
    };
    s.to_string()
}

/// Builds a canonical id from a reference's parts: a four- or two-digit year, the station as
/// written (spaces and hyphens allowed, e.g. `BUENOS AIRES`) and the serial as written
/// (leading zeros allowed). `None` when the parts do not make an id.
pub fn from_parts(year: i32, station: &str, serial: &str) -> Option<String> {
    let st: String = station
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if st.is_empty() || !st.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    if serial.is_empty() || serial.len() > 7 || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy = year.rem_euclid(100);
    let serial = serial.trim_start_matches('0');
    if serial.is_empty() {
        return None;
    }
    Some(format!("{yy:02}{}{serial}", canonical_station(&st)))
}

/// The two-digit year of a canonical id, as a four-digit year (66–99 are 19xx).
pub fn year_of(id: &str) -> Option<i32> {
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
