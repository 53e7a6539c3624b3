//! The search benchmark's query mix (issue #28): 200 queries of the kinds users type, made
//! from the corpus generator's own vocabulary, tags, origins and classifications so that they
//! find cables in any corpus it writes. Fixed seed: every run times the same queries.
//!
//! The benchmark is a `harness = false` target, so `#[test]` cannot run here; [`self_test`]
//! holds the checks instead, and every benchmark run (CI's `--quick` too) runs it first.

use super::model::{CLASSIFICATIONS, STATIONS};
use super::rng::Rng;
use super::text::{SIGNERS, TAGS, WORDS};
use std::collections::BTreeSet;

/// The mix's seed (the number): independent of the corpus seed.
const MIX_SEED: u64 = 28;

/// What a query is, for the per-kind figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// One word that only some cables hold.
    Rare,
    /// One word that nearly every cable holds.
    Common,
    /// `"x y"`.
    Phrase,
    /// `stem*`.
    Prefix,
    /// A word with one filter, as a flag or inside the query.
    Filter,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Rare,
        Kind::Common,
        Kind::Phrase,
        Kind::Prefix,
        Kind::Filter,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Rare => "rare word",
            Kind::Common => "common word",
            Kind::Phrase => "phrase",
            Kind::Prefix => "prefix",
            Kind::Filter => "filtered",
        }
    }

    /// How many of the 200 queries are of this kind.
    pub fn share(self) -> usize {
        match self {
            Kind::Rare => 60,
            Kind::Common => 40,
            Kind::Phrase => 40,
            Kind::Prefix => 30,
            Kind::Filter => 30,
        }
    }

    /// How many of the `--quick` subset's 20 queries are of this kind (every filter form once).
    fn quick_share(self) -> usize {
        match self {
            Kind::Rare => 4,
            Kind::Common => 3,
            Kind::Phrase => 3,
            Kind::Prefix => 4,
            Kind::Filter => FILTER_FORMS.len(),
        }
    }
}

/// The filter forms a filtered query rotates through.
pub const FILTER_FORMS: [&str; 6] = [
    "--tag",
    "--origin",
    "--classification",
    "--created-from/--created-to",
    "tag:",
    "created:",
];

/// One query: the arguments after `cablekeep search -c full --limit 20`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub kind: Kind,
    /// Index into [`FILTER_FORMS`] for a filtered query.
    pub form: Option<usize>,
    pub args: Vec<String>,
}

impl Query {
    fn new(kind: Kind, args: Vec<String>) -> Self {
        Query {
            kind,
            form: None,
            args,
        }
    }

    /// The query as a shell would show it (arguments with a space quoted).
    pub fn shown(&self) -> String {
        self.args
            .iter()
            .map(|a| {
                if a.contains(' ') && !a.starts_with('"') {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Words of the generator's vocabulary that nearly every cable holds (all in `text::WORDS`).
const COMMON: [&str; 40] = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "that",
    "on",
    "for",
    "with",
    "by",
    "as",
    "was",
    "is",
    "said",
    "would",
    "not",
    "his",
    "their",
    "from",
    "also",
    "however",
    "which",
    "will",
    "could",
    "should",
    "has",
    "have",
    "been",
    "were",
    "new",
    "first",
    "next",
    "government",
    "minister",
    "officials",
    "embassy",
    "ambassador",
    "president",
    "security",
];

/// A station sends at most this weight (of about 1,150) to count as rare: 1 to 3% of the
/// cables, down to a few per 10,000.
const RARE_STATION_WEIGHT: u64 = 30;
/// A station sends at least this weight to be a filter's origin (found in a 2,000-cable corpus).
const FILTER_STATION_WEIGHT: u64 = 20;

fn shuffle<T>(r: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, r.below(i as u64 + 1) as usize);
    }
}

/// The vocabulary's content words (not in [`COMMON`]), each once, in the vocabulary's order.
fn content_words() -> Vec<&'static str> {
    let mut seen = BTreeSet::new();
    WORDS
        .iter()
        .copied()
        .filter(|w| !COMMON.contains(w) && seen.insert(*w))
        .collect()
}

/// Rarer words, each in a few percent of the cables at most (the vocabulary's words are
/// drawn evenly, so nearly every cable holds each of them): the signers' names (one signer
/// per cable), the smaller stations' names (in their cables' FM line and banner), then tags
/// (in the TAGS line) to make up the number.
fn rare_words(r: &mut Rng) -> Vec<String> {
    let mut out: Vec<String> = SIGNERS.iter().map(|s| s.to_lowercase()).collect();
    out.extend(
        STATIONS
            .iter()
            .filter(|s| s.weight <= RARE_STATION_WEIGHT && s.fm.ends_with(&format!(" {}", s.code)))
            .map(|s| s.code.to_lowercase()),
    );
    let mut tags: Vec<String> = TAGS.iter().map(|t| t.to_lowercase()).collect();
    shuffle(r, &mut tags);
    out.extend(tags);
    out.truncate(Kind::Rare.share());
    shuffle(r, &mut out);
    out
}

fn common_words(r: &mut Rng) -> Vec<String> {
    let mut out: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
    shuffle(r, &mut out);
    out
}

/// Two different words drawn as the generator draws them (frequent words more often), so
/// each phrase occurs in the text about as often as any two neighbouring words do.
fn phrases(r: &mut Rng) -> Vec<String> {
    let mut seen = BTreeSet::new();
    while seen.len() < Kind::Phrase.share() {
        let (a, b) = (r.pick(WORDS), r.pick(WORDS));
        if a != b {
            seen.insert(format!("\"{a} {b}\""));
        }
    }
    let mut out: Vec<String> = seen.into_iter().collect();
    shuffle(r, &mut out);
    out
}

/// The first half (at least 3 letters) of content words, each stem once, with `*`.
fn prefixes(r: &mut Rng) -> Vec<String> {
    let mut words = content_words();
    shuffle(r, &mut words);
    let mut seen = BTreeSet::new();
    words
        .iter()
        .filter(|w| w.len() >= 6)
        .map(|w| &w[..w.len().div_ceil(2).max(3)])
        .filter(|stem| seen.insert(*stem))
        .take(Kind::Prefix.share())
        .map(|stem| format!("{stem}*"))
        .collect()
}

/// Content words, each with one filter, the forms in turn.
fn filtered(r: &mut Rng) -> Vec<Query> {
    let mut words = content_words();
    shuffle(r, &mut words);
    let origins: Vec<&str> = STATIONS
        .iter()
        .filter(|s| s.weight >= FILTER_STATION_WEIGHT)
        .map(|s| s.origin)
        .collect();
    let levels: BTreeSet<&str> = CLASSIFICATIONS
        .iter()
        .map(|(c, _)| c.split("//").next().unwrap_or(c))
        .collect();
    let levels: Vec<&str> = levels.into_iter().collect();
    (0..Kind::Filter.share())
        .map(|i| {
            let word = words[i % words.len()].to_string();
            let form = i % FILTER_FORMS.len();
            let tag = r.pick(TAGS);
            // Years the corpus holds many cables of, the next year too.
            let year = r.range(2003, 2008);
            let args = match form {
                0 => vec![word, "--tag".into(), tag.to_string()],
                1 => vec![word, "--origin".into(), r.pick(&origins).to_string()],
                2 => vec![word, "--classification".into(), r.pick(&levels).to_string()],
                3 => vec![
                    word,
                    "--created-from".into(),
                    format!("{year}-01-01"),
                    "--created-to".into(),
                    format!("{}-12-31", year + 1),
                ],
                4 => vec![format!("tag:{tag} {word}")],
                _ => vec![format!("created:{year}..{} {word}", year + 1)],
            };
            Query {
                kind: Kind::Filter,
                form: Some(form),
                args,
            }
        })
        .collect()
}

/// The 200 queries, by kind: 60 rare words, 40 common words, 40 phrases, 30 prefixes, 30
/// filtered words.
pub fn mix() -> Vec<Query> {
    let mut r = Rng::new(MIX_SEED);
    let one = |kind, q: String| Query::new(kind, vec![q]);
    let mut out: Vec<Query> = Vec::with_capacity(200);
    out.extend(rare_words(&mut r).into_iter().map(|q| one(Kind::Rare, q)));
    out.extend(
        common_words(&mut r)
            .into_iter()
            .map(|q| one(Kind::Common, q)),
    );
    out.extend(phrases(&mut r).into_iter().map(|q| one(Kind::Phrase, q)));
    out.extend(prefixes(&mut r).into_iter().map(|q| one(Kind::Prefix, q)));
    out.extend(filtered(&mut r));
    out
}

/// The `--quick` subset: 20 of the mix, every kind and every filter form.
pub fn quick_subset(mix: &[Query]) -> Vec<Query> {
    Kind::ALL
        .iter()
        .flat_map(|&k| {
            mix.iter()
                .filter(move |q| q.kind == k)
                .take(k.quick_share())
                .cloned()
        })
        .collect()
}

/// The order the queries run in: shuffled, so that no kind runs only while the page cache
/// is cold or only once it is warm.
pub fn run_order(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut Rng::new(MIX_SEED ^ 0xA5A5), &mut order);
    order
}

/// The middle value of `v` (the upper one of the two middles for an even count, as the other
/// rows' medians); `None` when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let s = sorted(v);
    s.get(s.len() / 2).copied()
}

/// The nearest-rank percentile: the smallest value with at least `p` of the values at or
/// below it (p99 of 200: the 198th).
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let s = sorted(v);
    let rank = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len().max(1));
    s.get(rank - 1).copied()
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s
}

/// The mix's checks (what unit tests would be): run by `--self-test` and before every run.
pub fn self_test() -> Result<(), Vec<String>> {
    let mut bad = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            bad.push(what);
        }
    };
    let mix = mix();
    check(mix.len() == 200, format!("{} queries, not 200", mix.len()));
    check(
        mix == self::mix(),
        "the mix differs between two calls".into(),
    );
    for k in Kind::ALL {
        let n = mix.iter().filter(|q| q.kind == k).count();
        check(
            n == k.share(),
            format!("{n} {} queries, not {}", k.label(), k.share()),
        );
    }
    let firsts = |k: Kind| -> Vec<&str> {
        mix.iter()
            .filter(|q| q.kind == k)
            .map(|q| q.args[0].as_str())
            .collect()
    };
    for k in [Kind::Rare, Kind::Common, Kind::Phrase, Kind::Prefix] {
        let all = firsts(k);
        let distinct: BTreeSet<&str> = all.iter().copied().collect();
        check(
            distinct.len() == all.len(),
            format!("repeated {} queries", k.label()),
        );
        check(
            mix.iter()
                .filter(|q| q.kind == k)
                .all(|q| q.args.len() == 1),
            format!("a {} query with more than one argument", k.label()),
        );
    }
    for w in firsts(Kind::Common) {
        check(
            WORDS.contains(&w),
            format!("common word {w} is not in the vocabulary"),
        );
    }
    for w in firsts(Kind::Rare) {
        let known = SIGNERS.iter().any(|s| s.eq_ignore_ascii_case(w))
            || STATIONS.iter().any(|s| s.code.eq_ignore_ascii_case(w))
            || TAGS.iter().any(|t| t.eq_ignore_ascii_case(w));
        check(
            known && !WORDS.contains(&w) && w.bytes().all(|b| b.is_ascii_lowercase()),
            format!("rare word {w:?}"),
        );
    }
    for w in ["tripoli", "harrington", "madrid"] {
        check(
            firsts(Kind::Rare).contains(&w),
            format!("{w} is not among the rare words"),
        );
    }
    for p in firsts(Kind::Phrase) {
        let inner = p.strip_prefix('"').and_then(|p| p.strip_suffix('"'));
        let words: Vec<&str> = inner.map_or(Vec::new(), |i| i.split(' ').collect());
        let ok = words.len() == 2 && words.iter().all(|w| WORDS.contains(w));
        check(ok, format!("phrase {p}"));
    }
    for p in firsts(Kind::Prefix) {
        let stem = p.strip_suffix('*').unwrap_or("");
        let ok = stem.len() >= 3
            && WORDS
                .iter()
                .any(|w| w.starts_with(stem) && stem.len() >= w.len().div_ceil(2));
        check(ok, format!("prefix {p}"));
    }
    let filters: Vec<&Query> = mix.iter().filter(|q| q.kind == Kind::Filter).collect();
    for (i, form) in FILTER_FORMS.iter().enumerate() {
        let n = filters.iter().filter(|q| q.form == Some(i)).count();
        check(n == 5, format!("{n} queries of filter form {form}, not 5"));
    }
    for q in &filters {
        let a = &q.args;
        let ok = match q.form {
            Some(0) => a.len() == 3 && TAGS.contains(&a[2].as_str()),
            Some(1) => a.len() == 3 && STATIONS.iter().any(|s| s.origin == a[2]),
            Some(2) => a.len() == 3 && CLASSIFICATIONS.iter().any(|c| c.0 == a[2]),
            Some(3) => a.len() == 5 && a[3] == "--created-to" && a[4].ends_with("-12-31"),
            Some(4) => a.len() == 1 && a[0].starts_with("tag:"),
            Some(5) => a.len() == 1 && a[0].starts_with("created:") && a[0].contains(".."),
            _ => false,
        };
        check(ok, format!("filtered query {}", q.shown()));
    }
    let quick = quick_subset(&mix);
    check(
        quick.len() == 20,
        format!("quick subset of {}, not 20", quick.len()),
    );
    check(
        quick.iter().all(|q| mix.contains(q)),
        "quick subset outside the mix".into(),
    );
    for k in Kind::ALL {
        check(
            quick.iter().any(|q| q.kind == k),
            format!("quick subset lacks {}", k.label()),
        );
    }
    let forms: BTreeSet<usize> = quick.iter().filter_map(|q| q.form).collect();
    check(
        forms.len() == FILTER_FORMS.len(),
        "quick subset lacks a filter form".into(),
    );
    let mut order = run_order(200);
    check(
        order != (0..200).collect::<Vec<_>>() && order == run_order(200),
        "run order not shuffled or not fixed".into(),
    );
    order.sort_unstable();
    check(
        order == (0..200).collect::<Vec<_>>(),
        "run order is not a permutation".into(),
    );
    let v: Vec<f64> = (1..=200).map(f64::from).collect();
    check(
        median(&v) == Some(101.0),
        format!("median {:?}", median(&v)),
    );
    check(
        percentile(&v, 0.99) == Some(198.0),
        format!("p99 {:?}", percentile(&v, 0.99)),
    );
    check(
        percentile(&[3.0, 1.0, 2.0], 0.99) == Some(3.0) && median(&[2.0, 1.0]) == Some(2.0),
        "percentile of a few values".into(),
    );
    check(median(&[]).is_none(), "median of nothing".into());
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}
