//! Tests of the search index: where it is kept, its updates, filters against the filter's own
//! check, and the order of hits.

use super::upkeep::{Place, Want};
use super::*;
use crate::progress::NoProgress;
use crate::query::select::Facts;
use crate::store::Store;
use std::path::Path;

const EXAMPLES: [(&str, &[u8]); 3] = [
    (
        "06EXAMPLE303.txt",
        include_bytes!("../../../examples/06EXAMPLE303.txt"),
    ),
    (
        "09EXAMPLE101.html",
        include_bytes!("../../../examples/09EXAMPLE101.html"),
    ),
    (
        "10EXAMPLE202.html",
        include_bytes!("../../../examples/10EXAMPLE202.html"),
    ),
];

/// Writes a version of `collection` from these pages.
fn write(store: &Store, collection: &str, pages: &[(&str, Vec<u8>)]) {
    let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
    let inputs = pages
        .iter()
        .map(|(name, bytes)| {
            let item = crate::input::InputItem::bytes(*name, bytes.clone());
            (item.into(), Default::default())
        })
        .collect();
    store
        .write_version(
            &lock,
            crate::store::WriteRequest {
                collection,
                inputs,
                replace: false,
                message: "",
                progress: &NoProgress,
                archive_format: Default::default(),
            },
        )
        .unwrap();
}

fn pages(names: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    EXAMPLES
        .iter()
        .filter(|(n, _)| names.iter().any(|m| n.starts_with(m)))
        .map(|(n, b)| (*n, b.to_vec()))
        .collect()
}

/// A store with one version of the three example cables.
fn example_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    write(&store, "demo", &pages(&["06", "09", "10"]));
    (dir, store)
}

fn ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.id.clone()).collect()
}

/// A place that cannot be written even by root: its folder is a regular file.
fn unwritable_place(dir: &Path) -> Place {
    std::fs::write(dir.join("a-file"), b"").unwrap();
    Place::in_cache(dir.join("a-file").join("search"))
}

#[test]
fn a_store_that_cannot_be_written_gets_its_index_in_the_cache() {
    let (dir, store) = example_store();
    let blocked = unwritable_place(dir.path());
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Place::in_cache(cache_dir.path().join("c").join("search"));
    let places = [blocked, cache.clone()];
    let open = || SearchIndex::open_at(&store, &places, Want::Current, &NoProgress).unwrap();
    let (index, upkeep) = open();
    assert!(
        matches!(upkeep, Upkeep::Built { cables: 3, .. }),
        "{upkeep:?}"
    );
    assert_eq!(index.path(), cache.dir);
    let hits = index.search("twelve", None, &Filter::default(), 5).unwrap();
    assert_eq!(ids(&hits), ["10EXAMPLE202"]);
    assert!(hits[0].snippet.contains("[twelve]"), "{}", hits[0].snippet);
    let (again, upkeep) = open();
    assert_eq!(upkeep, Upkeep::Current, "the cached index is reused");
    assert_eq!(again.path(), cache.dir);
}

#[test]
fn without_a_cache_an_index_is_made_for_the_run() {
    let (dir, store) = example_store();
    let places = [unwritable_place(dir.path())];
    let (index, upkeep) =
        SearchIndex::open_at(&store, &places, Want::Current, &NoProgress).unwrap();
    assert!(matches!(upkeep, Upkeep::Built { .. }));
    let path = index.path().to_path_buf();
    assert!(!path.starts_with(dir.path()));
    assert_eq!(
        index
            .search("twelve", None, &Filter::default(), 5)
            .unwrap()
            .len(),
        1
    );
    drop(index);
    assert!(!path.exists(), "the run's index is removed");
}

#[test]
fn a_new_version_indexes_only_the_cables_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    write(&store, "demo", &pages(&["09", "10"]));
    let (_, upkeep) = SearchIndex::open(&store, &NoProgress).unwrap();
    assert!(matches!(upkeep, Upkeep::Built { cables: 2, .. }));
    // v2 adds a cable and changes one (a new capture of 10EXAMPLE202, its redactions gone).
    let page = String::from_utf8(EXAMPLES[2].1.to_vec()).unwrap();
    let unredacted = page.replace("XXXXXXXXXXXX", "Mr. Example");
    write(
        &store,
        "demo",
        &[
            ("06EXAMPLE303.txt", EXAMPLES[0].1.to_vec()),
            ("10EXAMPLE202-later.html", unredacted.into_bytes()),
        ],
    );
    let (index, upkeep) = SearchIndex::open(&store, &NoProgress).unwrap();
    let Upkeep::Updated { changes, .. } = upkeep else {
        panic!("{upkeep:?}")
    };
    assert_eq!(
        changes,
        Changes {
            indexed: 2,
            removed: 0
        }
    );
    assert_eq!(index.cables(), 3);
    let found =
        |index: &SearchIndex, q: &str| ids(&index.search(q, None, &Filter::default(), 10).unwrap());
    assert_eq!(found(&index, "mirror"), ["06EXAMPLE303"]);
    assert_eq!(found(&index, "invented").len(), 3);
    // The same answers as an index built anew.
    let (rebuilt, upkeep) = SearchIndex::rebuild(&store, &NoProgress).unwrap();
    assert!(matches!(upkeep, Upkeep::Built { cables: 3, .. }));
    for q in [
        "\"Mr. Example\"",
        "mirror",
        "invented",
        "example*",
        "NOT redacted",
    ] {
        let mut a = found(&index, q);
        let mut b = found(&rebuilt, q);
        a.sort();
        b.sort();
        assert_eq!(a, b, "{q}");
    }
    // A collection that is gone is dropped; nothing is indexed again for the one that stays.
    write(&store, "other", &pages(&["09"]));
    let (index, upkeep) = SearchIndex::open(&store, &NoProgress).unwrap();
    assert!(matches!(
        upkeep,
        Upkeep::Updated {
            changes: Changes {
                indexed: 1,
                removed: 0
            },
            ..
        }
    ));
    assert_eq!(index.cables(), 4);
    assert_eq!(
        ids(&index
            .search("invented", Some("other"), &Filter::default(), 10)
            .unwrap()),
        ["09EXAMPLE101"]
    );
}

#[test]
fn a_damaged_index_is_built_anew() {
    let (_dir, store) = example_store();
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let path = index.path().to_path_buf();
    drop(index);
    std::fs::write(path.join("meta.json"), b"{not json").unwrap();
    let (index, upkeep) = SearchIndex::open(&store, &NoProgress).unwrap();
    assert!(
        matches!(upkeep, Upkeep::Built { cables: 3, .. }),
        "{upkeep:?}"
    );
    assert_eq!(
        index
            .search("invented", None, &Filter::default(), 9)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn filters_select_what_the_filter_itself_selects() {
    let (_dir, store) = example_store();
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let archive = crate::bag::OpenArchive::open_index(&store.zip_path("demo", 1)).unwrap();
    let mut lines = Vec::new();
    crate::query::select::for_each_line(&archive, |l| lines.push(l.clone())).unwrap();
    let s = |v: &str| vec![v.to_string()];
    let filters = [
        Filter {
            tags: s("prel"),
            ..Filter::default()
        },
        Filter {
            tags: vec!["PREL".into(), "ECON".into()],
            ..Filter::default()
        },
        Filter {
            tags: vec!["PREL".into(), "PINR".into()],
            all_tags: true,
            ..Filter::default()
        },
        Filter {
            origins: s(" embassy example "),
            ..Filter::default()
        },
        Filter {
            classifications: s("SECRET"),
            ..Filter::default()
        },
        Filter {
            classifications: s("secret//noforn"),
            ..Filter::default()
        },
        Filter {
            created_from: Some("2009-05-04".into()),
            ..Filter::default()
        },
        Filter {
            created_to: Some("2009-05-04".into()),
            ..Filter::default()
        },
        Filter {
            released_from: Some("2011-01-01".into()),
            released_to: Some("2011-09-01".into()),
            ..Filter::default()
        },
        Filter {
            redaction: Some("redacted".into()),
            ..Filter::default()
        },
        Filter {
            partial_extract: Some(true),
            ..Filter::default()
        },
        Filter {
            ids: s("09EXAMPLE101"),
            ..Filter::default()
        },
    ];
    for filter in filters {
        let filter = filter.validated().unwrap();
        let mut want: Vec<String> = lines
            .iter()
            .filter(|l| filter.matches(&Facts::of(l)))
            .map(|l| l.id.clone())
            .collect();
        let mut got = ids(&index.search("example", None, &filter, 10).unwrap());
        want.sort();
        got.sort();
        assert_eq!(got, want, "{filter:?}");
    }
}

#[test]
fn field_filters_in_the_query_select_as_the_options_do() {
    let (_dir, store) = example_store();
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let found = |q: &str| {
        let mut v = ids(&index.search(q, None, &Filter::default(), 10).unwrap());
        v.sort();
        v
    };
    assert_eq!(found("example tag:pinr"), ["10EXAMPLE202"]);
    assert_eq!(found("example classification:secret"), ["10EXAMPLE202"]);
    assert_eq!(
        found("example created:2009..2010"),
        ["09EXAMPLE101", "10EXAMPLE202"]
    );
    assert_eq!(found("example created:2006-07"), ["06EXAMPLE303"]);
    assert_eq!(found("example id:10example202"), ["10EXAMPLE202"]);
    assert_eq!(
        found("origin:\"embassy example\""),
        ["06EXAMPLE303", "09EXAMPLE101", "10EXAMPLE202"]
    );
    assert_eq!(found("subject:redacted"), ["10EXAMPLE202"]);
    assert_eq!(found("example NOT tag:prel"), ["06EXAMPLE303"]);
    assert_eq!(
        found("(tag:econ OR tag:pinr) invented"),
        ["06EXAMPLE303", "10EXAMPLE202"]
    );
    // A filter alone finds cables too; their snippet is the start of their text.
    let hits = index
        .search("tag:econ", None, &Filter::default(), 10)
        .unwrap();
    assert_eq!(ids(&hits), ["06EXAMPLE303"]);
    assert!(
        hits[0].snippet.starts_with("SYNTHETIC EXAMPLE"),
        "{}",
        hits[0].snippet
    );
}

#[test]
fn words_are_stemmed_and_prefixes_find_the_stems() {
    let (_dir, store) = example_store();
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let found = |q: &str| ids(&index.search(q, None, &Filter::default(), 10).unwrap()).len();
    // "invented" is indexed as "invent": "inventing" finds it, and so do prefixes that the
    // stem cuts into or that it starts with.
    assert_eq!(found("inventing"), 3);
    assert_eq!(found("invente*"), 3);
    assert_eq!(found("inv*"), 3);
    assert_eq!(found("zzzz*"), 0);
    // Accents are folded, case ignored, punctuation splits words into a phrase.
    assert_eq!(found("ÉXAMPLE"), 3);
    assert_eq!(found("\"E.O. 12958\""), 3);
    assert_eq!(found("\"12958 E.O.\""), 0);
}

#[test]
fn hits_tied_on_score_come_by_collection_and_id_and_a_limit_takes_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    for c in ["b", "a", "c"] {
        write(&store, c, &pages(&["06", "09", "10"]));
    }
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    // A filter alone scores every cable the same.
    let all = index
        .search("tag:xx", None, &Filter::default(), 100)
        .unwrap();
    let keys: Vec<(String, String)> = all
        .iter()
        .map(|h| (h.collection.clone(), h.id.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 9);
    for limit in 1..9 {
        let head = index
            .search("tag:xx", None, &Filter::default(), limit)
            .unwrap();
        assert_eq!(head, all[..limit], "{limit}");
    }
    // Scored hits: best first.
    let hits = index
        .search("redactions OR example", None, &Filter::default(), 100)
        .unwrap();
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(hits[0].score > 0.0);
}

#[test]
fn matching_ids_are_those_of_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    write(&store, "a", &pages(&["06", "09"]));
    write(&store, "b", &pages(&["10"]));
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let got: Vec<String> = index
        .matching_ids("a", "invented")
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(got, ["06EXAMPLE303", "09EXAMPLE101"]);
    assert!(index.matching_ids("b", "mirror").unwrap().is_empty());
    let e = index.matching_ids("a", "a AND").unwrap_err().to_string();
    assert!(e.contains("`AND` needs a word after it"), "{e}");
    let e = index
        .search("...", None, &Filter::default(), 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no word"), "{e}");
}

#[test]
fn a_prefix_of_very_many_words_still_finds_every_cable_holding_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let words: Vec<String> = (0..compile::MAX_PREFIX_TERMS + 100)
        .map(|i| format!("qz{i}"))
        .collect();
    let page = String::from_utf8(EXAMPLES[0].1.to_vec()).unwrap().replace(
        "EXAMPLEPERSON",
        &format!("{} \n\nEXAMPLEPERSON", words.join(" ")),
    );
    write(
        &store,
        "demo",
        &[
            ("06EXAMPLE303.txt", page.into_bytes()),
            ("09EXAMPLE101.html", EXAMPLES[1].1.to_vec()),
        ],
    );
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let found = |q: &str| index.search(q, None, &Filter::default(), 10).unwrap();
    // Too many words to rank by: found, unranked.
    let broad = found("qz*");
    assert_eq!(ids(&broad), ["06EXAMPLE303"]);
    assert_eq!(broad[0].score, 0.0);
    // Fewer: ranked like words.
    let narrow = found("qz12*");
    assert_eq!(ids(&narrow), ["06EXAMPLE303"]);
    assert!(narrow[0].score > 0.0);
    assert_eq!(ids(&found("qz* OR invented")).len(), 2);
}

#[test]
fn a_prefix_finds_the_words_that_start_with_it_whatever_their_stems() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let added = "The Secretary met the Prime Minister of Iran on policies and negotiations; \
                 happy U.S. Embassy staff. Secret police.";
    let page = String::from_utf8(EXAMPLES[0].1.to_vec())
        .unwrap()
        .replace("EXAMPLEPERSON", &format!("{added}\n\nEXAMPLEPERSON"));
    write(
        &store,
        "demo",
        &[
            ("06EXAMPLE303.txt", page.into_bytes()),
            ("10EXAMPLE202.html", EXAMPLES[2].1.to_vec()),
        ],
    );
    let (index, _) = SearchIndex::open(&store, &NoProgress).unwrap();
    let found = |q: &str| ids(&index.search(q, None, &Filter::default(), 10).unwrap());
    for q in [
        "secretar*",
        "secretary*",
        "polic*",
        "policy*",
        "negotiat*",
        "happy*",
        "\"prime min\"*",
        "\"U.S. emb\"*",
        "U.S.*",
        "\"of ira\"*",
    ] {
        assert_eq!(found(q), ["06EXAMPLE303"], "{q}");
    }
    assert_eq!(found("\"prime mix\"*"), Vec::<String>::new());
    // The words a NOT keeps out are not marked in snippets.
    let hits = index
        .search("policies NOT secret", None, &Filter::default(), 5)
        .unwrap();
    assert!(hits.is_empty());
    let hits = index
        .search("policies NOT tag:pinr", None, &Filter::default(), 5)
        .unwrap();
    assert!(
        hits[0].snippet.contains("[policies]"),
        "{}",
        hits[0].snippet
    );
    let hits = index
        .search("subject:mirror", None, &Filter::default(), 5)
        .unwrap();
    assert!(hits[0].snippet.contains("[MIRROR]"), "{}", hits[0].snippet);
}
