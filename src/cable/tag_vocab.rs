//! A small vocabulary of TAGS values beyond the subject and country codes, written for
//! cablekeep from the TAGS lines of the Cablegate pages in `../shared/cables` and from the
//! well-known organisation and programme tags of the State Department's TAGS system.
//!
//! Two uses: finding the boundaries of multi-word tags in a TAGS line written without commas
//! (`IS ISRAELI PALESTINIAN AFFAIRS GOI EXTERNAL`), and cablemap's canonical spelling of tags for
//! comparison (`MOPPS` → `MOPS`, `COUNTER TERRORISM` → `COUNTERTERRORISM`). Records keep the
//! tags as written apart from the boundaries.

use super::id;

/// Multi-word tags, as their words. A listed tag is read as one tag wherever its words follow
/// each other in a whitespace-separated TAGS line, before the generic rule that joins runs of
/// plain words: the list is for tags that rule gets wrong, those with a short word (`GOI`,
/// `GAZA`) or that stand next to another multi-word tag.
const MULTI_WORD: &[&[&str]] = &[
    &["COUNTER", "TERRORISM"],
    &["COUNTRY", "CLEARANCE"],
    &["ECONOMY", "AND", "FINANCE"],
    &["GAZA", "DISENGAGEMENT"],
    &["GOI", "EXTERNAL"],
    &["GOI", "INTERNAL"],
    &["HUMAN", "RIGHTS"],
    &["IRAQI", "FREEDOM"],
    &["ISRAELI", "PALESTINIAN", "AFFAIRS"],
    &["MEDIA", "REACTION", "REPORT"],
];

/// Single-word tags that are neither four-letter subject codes nor two-letter country codes:
/// organisations and programmes. Sorted.
const KNOWN_TAGS: &[&str] = &[
    "APEC",
    "ASEAN",
    "COUNTERTERRORISM",
    "ECOWAS",
    "EUN",
    "IAEA",
    "INTELSAT",
    "INTERPOL",
    "MERCOSUR",
    "NATO",
    "OAS",
    "OECD",
    "OPEC",
    "OSCE",
    "UNESCO",
    "UNGA",
    "UNHCR",
    "UNICEF",
    "UNSC",
    "WTO",
];

/// The number of tokens a known multi-word tag takes at the start of `toks`, the longest first.
pub(super) fn phrase_len(toks: &[String]) -> Option<usize> {
    MULTI_WORD
        .iter()
        .filter(|p| p.len() <= toks.len() && p.iter().zip(toks).all(|(w, t)| w == t))
        .map(|p| p.len())
        .max()
}

/// True for an organisation or programme tag of [`KNOWN_TAGS`].
pub(super) fn is_known_tag(tag: &str) -> bool {
    KNOWN_TAGS.binary_search(&tag).is_ok()
}

/// cablemap's canonical spelling of one (upper-case) tag, given the subject codes:
/// * a multi-word tag whose words written together are a known tag is that tag
///   (`COUNTER TERRORISM` → `COUNTERTERRORISM`);
/// * an unknown word of five letters or more one edit away from exactly one known code or tag
///   is a typo of it (`MOPPS` → `MOPS`, `UNDESCO` → `UNESCO`). Shorter words are left alone:
///   with two- and four-letter codes, one edit from a short word reaches too many of them.
pub(super) fn canonical(tag: &str, codes: &[&str]) -> String {
    if tag.contains(' ') {
        let joined: String = tag.split_whitespace().collect();
        if is_known_tag(&joined) {
            return joined;
        }
        return tag.to_string();
    }
    if tag.len() < 5
        || !tag.bytes().all(|b| b.is_ascii_uppercase())
        || codes.contains(&tag)
        || is_known_tag(tag)
    {
        return tag.to_string();
    }
    let mut near = codes
        .iter()
        .chain(KNOWN_TAGS)
        .filter(|k| id::one_edit(tag.as_bytes(), k.as_bytes()));
    match (near.next(), near.next()) {
        (Some(one), None) => one.to_string(),
        _ => tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_well_formed() {
        assert!(KNOWN_TAGS.windows(2).all(|w| w[0] < w[1]));
        assert!(MULTI_WORD.iter().all(|p| p.len() >= 2));
    }

    #[test]
    fn phrases() {
        let toks = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(phrase_len(&toks("GOI EXTERNAL PREL")), Some(2));
        assert_eq!(phrase_len(&toks("ISRAELI PALESTINIAN AFFAIRS")), Some(3));
        assert_eq!(phrase_len(&toks("GOI")), None);
        assert_eq!(phrase_len(&toks("PREL GOI EXTERNAL")), None);
    }

    #[test]
    fn canonical_spellings() {
        let codes = ["MOPS", "PREL", "PHUM"];
        assert_eq!(canonical("MOPPS", &codes), "MOPS");
        assert_eq!(canonical("UNDESCO", &codes), "UNESCO");
        assert_eq!(canonical("COUNTER TERRORISM", &codes), "COUNTERTERRORISM");
        assert_eq!(canonical("HUMAN RIGHTS", &codes), "HUMAN RIGHTS");
        // Short words, known tags and words far from any code stay as they are.
        assert_eq!(canonical("MOP", &codes), "MOP");
        assert_eq!(canonical("UNESCO", &codes), "UNESCO");
        assert_eq!(canonical("CLINTON", &codes), "CLINTON");
    }
}
