//! Search compared with FTS5's own ranking: slices, lazy filters, stored postings, snippets.

use super::bm25::{Corpus, bm25, bm25_idf, column_sizes, frequency_of};
use super::build::{RankingSizes, write_ranking_data};
use super::language::*;
use super::postings::{Postings, PostingsWriter, decode_postings, rank_halves, rank_postings};
use super::rank::{Ranked, split_rows};
use super::rows::{count_contiguous_rows, rows_key};
use super::snippet::snippet_query;
use super::*;
use crate::query::catalog::schema::SCHEMA;
use crate::query::select::Facts;
use rusqlite::Connection;

const WORDS: [&str; 8] = [
    "minister", "election", "oil", "gas", "border", "prime", "talks", "budget",
];

/// Every match ranked by FTS5 itself: what the other ways of ranking must agree with.
const FTS_ONLY: Tuning = Tuning {
    workers: None,
    first_candidates: None,
    fts_only: true,
};

/// A catalog of `n` made-up cables, the first half in collection `a`, the rest in `b` (only
/// `a`'s row range recorded), with texts of repeated words so that scores vary and tie, and
/// the postings of every term stored for ranking.
fn made_up_catalog(n: usize) -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    let mut seed: u64 = 7;
    let mut next = move |m: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % m
    };
    for pk in 1..=n {
        let collection = if pk <= n / 2 { "a" } else { "b" };
        let mut words: Vec<&str> = (0..3 + next(12))
            .map(|_| WORDS[next(WORDS.len())])
            .collect();
        // Rarer words, whose IDF (unlike that of words in most rows) is not clamped.
        for (word, one_in) in [("treaty", 8), ("embargo", 25)] {
            if next(one_in) == 0 {
                words.insert(next(words.len()), word);
            }
        }
        let text = words.join(" ");
        let subject = WORDS[next(WORDS.len())];
        let origin = ["Embassy X", "Embassy Y"][next(2)];
        conn.execute(
            "INSERT INTO cables (pk, collection, id, published_id, origin, subject,
             redaction_status, redaction_runs, partial_extract, captures, current_capture,
             text)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, 'not-redacted', 0, 0, 1, 'c', ?6)",
            params![
                pk as i64,
                collection,
                format!("10X{pk}"),
                origin,
                subject,
                text
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO cables_fts (rowid, subject, text) VALUES (?1, ?2, ?3)",
            params![pk as i64, subject, text],
        )
        .unwrap();
        for (i, tag) in ["PREL", "ECON"].iter().enumerate() {
            if next(3) == 0 {
                conn.execute(
                    "INSERT INTO tags VALUES (?1, ?2, ?3, ?4)",
                    params![collection, format!("10X{pk}"), i as i64, tag],
                )
                .unwrap();
            }
        }
    }
    conn.execute(
        "INSERT INTO meta VALUES (?1, ?2)",
        params![rows_key("a"), format!("1 {}", n / 2)],
    )
    .unwrap();
    // Few best rows per term, so that searches also go past them.
    let sizes = RankingSizes {
        min_rows: 1,
        best_rows: 40,
    };
    write_ranking_data(&conn, &path, sizes).unwrap();
    drop(conn);
    let catalog = Catalog::open_file(&path).unwrap();
    (dir, catalog)
}

/// A plain reference search, without slices or lazy filters: one statement, filters
/// checked on every match in the final order.
fn search_before(
    catalog: &Catalog,
    query: &str,
    collection: Option<&str>,
    filter: &Filter,
    limit: usize,
) -> Vec<(String, String, f64)> {
    let only_query = filter.is_empty();
    let sql_limit = if only_query { limit as i64 } else { -1 };
    let rows = match collection {
        Some(c) => count_contiguous_rows(&catalog.conn, c).unwrap(),
        None => Some((i64::MIN, i64::MAX)),
    };
    let (fts_limit, (first, last)) = match rows {
        Some(range) if only_query => (sql_limit, range),
        _ => (-1, (i64::MIN, i64::MAX)),
    };
    let mut stmt = catalog
        .conn
        .prepare(
            "SELECT c.pk, c.collection, c.id, f.score, c.subject, c.created, c.origin,
                c.classification, c.released, c.redaction_status, c.partial_extract
             FROM (SELECT rowid AS pk, bm25(cables_fts) AS score FROM cables_fts
                   WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?5 AND ?6
                   ORDER BY score, rowid LIMIT ?4) f
             JOIN cables c ON c.pk = f.pk
             WHERE (?2 IS NULL OR c.collection = ?2)
             ORDER BY f.score, c.collection, c.id
             LIMIT ?3",
        )
        .unwrap();
    let mut rows = stmt
        .query(params![
            query, collection, sql_limit, fts_limit, first, last
        ])
        .unwrap();
    let mut hits = Vec::new();
    while hits.len() < limit
        && let Some(row) = rows.next().unwrap()
    {
        let (c, id, score): (String, String, f64) = (
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
        );
        let origin: Option<String> = row.get(6).unwrap();
        let tags = catalog.tags_of(&c, &id).unwrap();
        let facts = Facts {
            id: &id,
            created: None,
            released: None,
            classification: None,
            origin: origin.as_deref(),
            tags: &tags,
            redaction: "not-redacted",
            partial_extract: false,
        };
        if only_query || filter.matches(&facts) {
            hits.push((c, id, score));
        }
    }
    hits
}

#[test]
fn slices_and_lazy_filters_give_the_hits_of_one_statement() {
    let (_dir, catalog) = made_up_catalog(600);
    let filters = [
        Filter::default(),
        Filter {
            origins: vec!["embassy x".into()],
            ..Filter::default()
        },
        Filter {
            tags: vec!["PREL".into()],
            ..Filter::default()
        },
        Filter {
            tags: vec!["PREL".into(), "econ".into()],
            all_tags: true,
            ..Filter::default()
        },
    ];
    let mut compared = 0;
    let tunings = [
        (1, None, true),
        (3, None, true),
        (2, Some(3), true),
        (1, None, false),
        (2, Some(3), false),
    ];
    // Ranked by FTS5 (phrases, prefixes of several terms) and from stored postings.
    let queries = [
        "minister",
        "oil OR gas",
        "\"prime minister\"",
        "b*",
        "talks",
        "treaty",
        "oil gas",
        "treaty OR oil OR embargo",
        "bud*",
        "embargo talks",
    ];
    for query in queries {
        for collection in [None, Some("a"), Some("b")] {
            for filter in &filters {
                for limit in [1, 5, 1000] {
                    let before = search_before(&catalog, query, collection, filter, limit);
                    for (workers, first_candidates, fts_only) in tunings {
                        let tuning = Tuning {
                            workers: Some(workers),
                            first_candidates,
                            fts_only,
                        };
                        let now: Vec<(String, String, f64)> = catalog
                            .search_with(query, collection, filter, limit, tuning)
                            .unwrap()
                            .into_iter()
                            .map(|h| (h.collection, h.id, h.score))
                            .collect();
                        assert_eq!(
                            now, before,
                            "{query} in {collection:?}, {filter:?}, limit {limit}, {tuning:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, queries.len() * 3 * 4 * 3 * tunings.len());
}

#[test]
fn stored_postings_rank_every_match_as_fts5_does() {
    let (_dir, catalog) = made_up_catalog(600);
    for query in [
        "minister",
        "Minister",
        "oil OR gas",
        "gas OR oil",
        "oil gas",
        "oil oil",
        "treaty",
        "treaty OR oil OR embargo",
        "embargo OR treaty OR gas OR prime",
        "embargo talks treaty",
        "bud*",
        "bord* OR embargo",
        "elect*",
    ] {
        for rows in [(i64::MIN, i64::MAX), (1, 300), (97, 412), (600, 600)] {
            for limit in [None, Some(1), Some(7)] {
                let q = catalog
                    .stored_query(query)
                    .unwrap()
                    .expect("stored postings");
                let stored = catalog.rank_stored(&q, rows, limit).unwrap();
                let fts = catalog.rank_fts(query, rows, limit, 1).unwrap();
                assert_eq!(stored, Some(fts), "{query}, rows {rows:?}, limit {limit:?}");
            }
        }
    }
    // The same ranking in two halves side by side (used for long postings only).
    let corpus = Corpus::load(&catalog.conn).unwrap().unwrap();
    for query in ["oil OR gas", "embargo talks treaty", "minister"] {
        let q = catalog.stored_query(query).unwrap().unwrap();
        let stored: Vec<(Vec<u8>, usize)> = q
            .terms
            .iter()
            .map(|t| catalog.postings(t).unwrap().unwrap())
            .collect();
        let lists = || stored.iter().map(|(b, n)| Postings::new(b, *n)).collect();
        for rows in [(i64::MIN, i64::MAX), (97, 412), (600, 600)] {
            for limit in [None, Some(7)] {
                let whole = rank_postings(&corpus, lists(), q.join, rows, limit);
                let halves = rank_halves(&corpus, lists(), q.join, rows, limit);
                assert_eq!(halves, whole, "{query}, rows {rows:?}, limit {limit:?}");
            }
        }
    }
    for not_plain_words in [
        "\"prime minister\"",
        "b*",
        "oil NOT gas",
        "NEAR(oil gas)",
        "nothere",
    ] {
        let stored = catalog.stored_query(not_plain_words).unwrap();
        assert!(stored.is_none(), "{not_plain_words}");
    }
}

#[test]
fn ranking_rows_hold_what_the_cable_rows_and_tags_hold() {
    let (_dir, catalog) = made_up_catalog(300);
    assert!(catalog.has_ranking_rows().unwrap());
    let mut tagged = 0;
    for pk in 1..=300 {
        let m = || Ranked { pk, score: -1.5 };
        let short = catalog.ranking_row(m()).unwrap().expect("a ranking row");
        let long = catalog.cable_row(m()).unwrap().expect("a cable row");
        assert_eq!(short.hit, long.hit);
        assert_eq!(
            (&short.released, &short.redaction, short.partial_extract),
            (&long.released, &long.redaction, long.partial_extract)
        );
        let tags = catalog.tags_of(&long.hit.collection, &long.hit.id).unwrap();
        tagged += usize::from(!tags.is_empty());
        assert_eq!(short.tags, Some(tags), "row {pk}");
    }
    assert!(tagged > 100, "{tagged} of 300 rows have tags");
    assert!(
        catalog
            .ranking_row(Ranked {
                pk: 301,
                score: 0.0
            })
            .unwrap()
            .is_none()
    );
}

#[test]
fn search_from_stored_postings_gives_the_hits_and_snippets_of_fts5() {
    let (_dir, catalog) = made_up_catalog(300);
    for query in ["oil OR gas", "treaty", "bud*", "oil gas"] {
        for collection in [None, Some("a")] {
            let filter = Filter::default();
            let now = catalog.search_with(query, collection, &filter, 20, Tuning::default());
            let before = catalog.search_with(query, collection, &filter, 20, FTS_ONLY);
            assert_eq!(now.unwrap(), before.unwrap(), "{query} in {collection:?}");
        }
    }
}

#[test]
fn words_that_are_no_term_match_nothing_without_fts5() {
    let (_dir, catalog) = made_up_catalog(300);
    let filter = Filter::default();
    let search = |query, tuning| {
        catalog
            .search_with(query, None, &filter, 20, tuning)
            .unwrap()
    };
    for nothing in [
        "nothere",
        "nothere oil",
        "oil nothere",
        "nothere OR absent",
        "zz*",
        "oil zz*",
        "zz* OR nothere",
    ] {
        let plan = catalog.word_plan(nothing).unwrap();
        assert!(matches!(plan, WordPlan::NoMatch), "{nothing}: {plan:?}");
        assert_eq!(search(nothing, FTS_ONLY), Vec::new(), "{nothing}");
    }
    // One word of several joined by OR that is no term: FTS5 ranks the others.
    for some in ["nothere OR oil", "oil OR zz*"] {
        let plan = catalog.word_plan(some).unwrap();
        assert!(matches!(plan, WordPlan::Fts), "{some}: {plan:?}");
        let hits = search(some, Tuning::default());
        assert!(!hits.is_empty(), "{some}");
        assert_eq!(hits, search(some, FTS_ONLY), "{some}");
    }
}

#[test]
fn only_plain_words_make_a_word_query() {
    let w = |text, prefix| Word { text, prefix };
    assert_eq!(
        word_query("oil OR gas*"),
        Some(WordQuery {
            words: vec![w("oil", false), w("gas", true)],
            join: Join::Any,
        })
    );
    assert_eq!(
        word_query(" oil \t gas\n"),
        Some(WordQuery {
            words: vec![w("oil", false), w("gas", false)],
            join: Join::All,
        })
    );
    for other in [
        "",
        "oil OR",
        "OR oil",
        "oil OR gas talks",
        "oil AND gas",
        "\"oil\"",
        "oil*gas",
        "gas**",
        "*",
        "pétrole",
        "oil NOT gas",
        "NEAR(oil gas)",
        "subject:oil",
        "-oil",
        "oil_gas",
        "oil\u{a0}gas",
        "oil\u{c}gas",
        "oil *",
    ] {
        assert_eq!(word_query(other), None, "{other}");
    }
}

#[test]
fn the_tokenizer_is_that_of_the_index() {
    assert!(SCHEMA.contains(&format!("tokenize = '{TOKENIZER}'")));
    let terms = terms_of_texts(&["Ministers", "oil", "a-b"]).unwrap();
    assert_eq!(terms, [vec!["minist"], vec!["oil"], vec!["a", "b"]]);
}

fn encode_postings(postings: &[(i64, u32)]) -> Vec<u8> {
    let mut writer = PostingsWriter::default();
    for &(row, freq) in postings {
        writer.push(row, freq);
    }
    writer.out
}

#[test]
fn frequencies_come_back_from_bm25_scores() {
    let avgdl = 640.0 / 3.0;
    for idf in [1e-6, bm25_idf(1000, 3), bm25_idf(1000, 400)] {
        for length in [1.0, 17.0, 213.0, 5000.0, 70000.0] {
            for freq in (1..3000).step_by(7) {
                let score = bm25([(idf, f64::from(freq))], length, avgdl);
                let back = frequency_of(score, idf, length, avgdl).expect("a frequency");
                let again = bm25([(idf, f64::from(back))], length, avgdl);
                assert_eq!(again.to_bits(), score.to_bits(), "{idf} {length} {freq}");
            }
        }
    }
}

#[test]
fn postings_and_row_lengths_read_back() {
    let postings = [(1, 1), (2, 300), (130, 7), (1 << 40, u32::MAX)];
    let bytes = encode_postings(&postings);
    assert_eq!(decode_postings(&bytes).unwrap(), postings);
    assert_eq!(decode_postings(&[0x80]), None);
    let sizes: Vec<u64> = column_sizes(&[0x05, 0x81, 0x00, 0x7f]).collect();
    assert_eq!(sizes, [5, 128, 127]);
}

#[test]
fn snippets_made_together_are_those_made_one_by_one() {
    let (_dir, catalog) = made_up_catalog(300);
    for query in ["b*", "minister OR p*", "oil"] {
        let hits = catalog
            .search_with(query, None, &Filter::default(), 20, Tuning::default())
            .unwrap();
        assert!(!hits.is_empty(), "{query}");
        for h in hits {
            let pk: i64 = h.id.trim_start_matches("10X").parse().unwrap();
            assert_eq!(h.snippet, catalog.snippet(query, pk).unwrap(), "{query}");
            assert!(h.snippet.contains('['), "{query}: {}", h.snippet);
        }
    }
}

#[test]
fn a_phrase_given_many_times_is_highlighted_as_given_once() {
    let (_dir, catalog) = made_up_catalog(60);
    let once = catalog
        .search_with("oil", None, &Filter::default(), 5, Tuning::default())
        .unwrap();
    assert!(!once.is_empty());
    for repeated in [
        vec!["oil"; 60].join(" "),
        vec!["oil"; 60].join(" OR "),
        ["OIL", "oil", "\"oil\"", "Oïl"].join(" "),
    ] {
        let hits = catalog
            .search_with(&repeated, None, &Filter::default(), 5, FTS_ONLY)
            .unwrap();
        let snippets = |h: &[Hit]| h.iter().map(|h| h.snippet.clone()).collect::<Vec<_>>();
        assert_eq!(snippets(&hits), snippets(&once), "{repeated}");
    }
}

#[test]
fn snippets_of_queries_without_repeats_use_the_query_itself() {
    for query in [
        "oil",
        "oil OR gas",
        "\"the oil\" \"the gas\"",
        "a* ab*",
        "NEAR(a b)",
        "a a a a",
        "a b c d e f g",
    ] {
        assert_eq!(snippet_query(query).unwrap(), query);
    }
    assert_eq!(
        snippet_query("a a* b A \"a\"").unwrap(),
        "\"a\" OR \"a\"* OR \"b\""
    );
    assert_eq!(
        snippet_query("subject:oil OR {subject text}: oil OR oil OR oil OR oil").unwrap(),
        "\"oil\""
    );
}

#[test]
fn queries_are_bounded_in_bytes_and_words() {
    assert!(check_query(&vec!["a"; MAX_QUERY_WORDS].join(" OR ")).is_ok());
    let many = vec!["a"; MAX_QUERY_WORDS + 1].join(" ");
    assert!(
        check_query(&many)
            .unwrap_err()
            .to_string()
            .contains("words")
    );
    let long = "a".repeat(MAX_QUERY_BYTES + 1);
    assert!(
        check_query(&long)
            .unwrap_err()
            .to_string()
            .contains("bytes")
    );
}

#[test]
fn rows_are_cut_into_contiguous_slices_that_cover_them() {
    assert_eq!(split_rows((1, 10), 3), [(1, 3), (4, 6), (7, 10)]);
    assert_eq!(split_rows((5, 6), 4), [(5, 5), (6, 6)]);
    assert_eq!(split_rows((1, 0), 2), [(1, 0)]);
    let all = split_rows((i64::MIN, i64::MAX), 2);
    assert_eq!(all, [(i64::MIN, -1), (0, i64::MAX)]);
}
