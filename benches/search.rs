//! Search latency and export throughput on the dev collection (`../shared/cables/dev`).
//! Prints figures; asserts nothing about time. Run with `cargo bench --bench search`.
//! Target: median search latency under 50 ms.

use cablekeep::export::{self, Format};
use cablekeep::input;
use cablekeep::progress::NoProgress;
use cablekeep::query::search::{SearchIndex, Upkeep};
use cablekeep::query::select::Filter;
use cablekeep::store::{Store, WriteRequest};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dev = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/cables/dev");
    if !dev.exists() {
        eprintln!("\n!!! SKIPPED: {} is missing !!!\n", dev.display());
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::new(dir.path());
    let found = input::collect(&[dev], &input::Options::default()).expect("pages");
    let lock = store
        .lock(cablekeep::store::LockWait::FailAtOnce)
        .expect("lock");
    store
        .write_version(
            &lock,
            WriteRequest {
                collection: "dev",
                inputs: found
                    .items
                    .into_iter()
                    .map(|i| (i, Default::default()))
                    .collect(),
                replace: false,
                message: "bench",
                progress: &NoProgress,
                archive_format: Default::default(),
            },
        )
        .expect("bundle");
    drop(lock);

    let t = Instant::now();
    let (index, _) = SearchIndex::open(&store, &NoProgress).expect("search index");
    println!(
        "search index build (399 cables): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let queries = [
        "nuclear",
        "\"human rights\"",
        "tripoli OR cairo",
        "minist*",
        "oil AND NOT gas",
        "embassy",
    ];
    let filter = Filter::default();
    let mut times = Vec::new();
    for _ in 0..20 {
        for q in queries {
            let t = Instant::now();
            let hits = index.search(q, None, &filter, 20).expect("search");
            times.push(t.elapsed());
            std::hint::black_box(hits);
        }
    }
    let t = Instant::now();
    let (reopened, upkeep) = SearchIndex::open(&store, &NoProgress).expect("search index");
    assert_eq!(upkeep, Upkeep::Current);
    std::hint::black_box(
        reopened
            .search("nuclear", None, &filter, 20)
            .expect("search"),
    );
    println!(
        "search: median {:.2} ms over {} queries (target < 50 ms); open the index + one search {:.2} ms",
        median(times.clone()).as_secs_f64() * 1e3,
        times.len(),
        t.elapsed().as_secs_f64() * 1e3
    );

    let payload: u64 = store
        .read_manifest("dev", 1)
        .expect("manifest")
        .0
        .counts
        .payload_bytes;
    for format in Format::ALL {
        let mut times = Vec::new();
        let mut cables = 0;
        for run in 0..3 {
            let out = dir.path().join(format!("out-{}-{run}", format.as_str()));
            let t = Instant::now();
            let o = export::export(
                &store,
                export::Request {
                    collection: "dev",
                    version: None,
                    filter: &filter,
                    format,
                    out: &out,
                    excel_safe: false,
                    proofs: false,
                    progress: &NoProgress,
                },
            )
            .expect("export");
            times.push(t.elapsed());
            cables = o.cables;
        }
        let m = median(times).as_secs_f64();
        println!(
            "export {:<6}: median {:>7.1} ms, {:>6.0} cables/s, {:>6.1} MB/s of archived payload",
            format.as_str(),
            m * 1e3,
            cables as f64 / m,
            payload as f64 / m / 1e6
        );
    }
}
