//! Throughput of each cable reader: `cargo bench --bench parse`.
//!
//! Prints pages (or rows) per second and MB per second, on one core, for:
//! * the WikiLeaks page reader, on the 400 dev pages of `../shared/cables/dev`;
//! * the mirror text reader, on the seed page of `../shared/seed`;
//! * the bare text reader, on the dev pages' cable texts (header and body, as read);
//! * the `cables.csv` reader, on a synthetic table streamed from a temporary file (row
//!   splitting alone, and splitting plus reading every row).
//!
//! The shared data is never copied into the repository; when it is missing the benchmarks that
//! need it say so loudly and are skipped.

use cablekeep::cable::provenance::SourceHints;
use cablekeep::cable::{self, Format, bulk};
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");
const MIN_TIME: Duration = Duration::from_secs(2);

fn skipped(what: &str, path: &Path) {
    eprintln!(
        "\n!!!!! SKIPPED {what}: shared data {} is missing !!!!!\n",
        path.display()
    );
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn report(name: &str, items: u64, bytes: u64, secs: f64, unit: &str) {
    println!(
        "{name:42} {items:9} {unit:5} {:9.1} MB  {secs:6.2} s  {:10.0} {unit}/s  {:8.1} MB/s",
        bytes as f64 / 1e6,
        items as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// Runs `f` over `inputs` in rounds until at least `MIN_TIME` has passed.
fn bench_pages(name: &str, inputs: &[Vec<u8>], format: Option<Format>) {
    let hints = SourceHints::default();
    let bytes_per_round: u64 = inputs.iter().map(|p| p.len() as u64).sum();
    // Warm up (regexes are compiled once, on first use).
    for p in inputs {
        black_box(cable::parse_as(p, "bench", &hints, format));
    }
    let start = Instant::now();
    let mut rounds = 0u64;
    let mut records = 0u64;
    while start.elapsed() < MIN_TIME {
        for p in inputs {
            let out = cable::parse_as(black_box(p), "bench", &hints, format);
            records += out.record.is_some() as u64;
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert!(records > 0, "{name}: no record read");
    report(
        name,
        rounds * inputs.len() as u64,
        rounds * bytes_per_round,
        secs,
        "pages",
    );
}

fn synthetic_table(path: &Path, bodies: &[String], rows: u64) -> u64 {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("temp file"));
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    for i in 1..=rows {
        let body = if bodies.is_empty() {
            format!(
                "UNCLAS SYNTH {i:06}\n\nE.O. 12958: N/A\nTAGS: PREL, PGOV\nSUBJECT: SYNTHETIC ROW {i} \"QUOTED\"\n\nREF: A. STATE 1 B. 09 SYNTH 2\n\n1. (U) {}\n\nNAME\n",
                "Some text of a paragraph, repeated. ".repeat(40)
            )
        } else {
            bodies[(i as usize) % bodies.len()].clone()
        };
        write!(
            w,
            "\"{i}\",\"1/2/2009 3:04\",\"09SYNTH{i}\",\"Embassy Synth\",\"UNCLASSIFIED\",\"09STATE1|09SYNTH2\",\"P 020304Z JAN 09\nFM AMEMBASSY SYNTH\nTO RUEHC/SECSTATE WASHDC PRIORITY 0001\",\"{}\"\n",
            escape(&body)
        )
        .expect("write");
    }
    w.flush().expect("flush");
    std::fs::metadata(path).expect("metadata").len()
}

fn main() {
    println!("cablekeep reader throughput (one core; pages or rows per second)");
    let dev_dir = Path::new(SHARED).join("cables/dev/cable");
    let mut cable_texts: Vec<String> = Vec::new();
    if dev_dir.exists() {
        let pages: Vec<Vec<u8>> = files(&dev_dir, "html")
            .iter()
            .map(|p| std::fs::read(p).expect("read page"))
            .collect();
        bench_pages("wikileaks-page (400 dev pages)", &pages, None);
        for p in &pages {
            if let Some(r) = cable::parse(p, "x", &SourceHints::default()).record
                && r.text.trim_start().starts_with("VZCZC")
            {
                cable_texts.push(r.text);
            }
        }
        let bare: Vec<Vec<u8>> = cable_texts.iter().map(|t| t.as_bytes().to_vec()).collect();
        bench_pages(
            &format!("bare-text ({} dev cable texts)", bare.len()),
            &bare,
            Some(Format::BareText),
        );
    } else {
        skipped("wikileaks-page and bare-text", &dev_dir);
    }
    let seed = Path::new(SHARED).join("seed/000_29c34ead04328ea5.txt");
    if seed.exists() {
        let page = std::fs::read(&seed).expect("read seed");
        bench_pages("mirror-text (seed page)", &[page], None);
    } else {
        skipped("mirror-text", &seed);
    }

    // cables.csv, streamed from a temporary file.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cables.csv");
    let rows = 100_000;
    let label = if cable_texts.is_empty() {
        "synthetic bodies"
    } else {
        "dev cable bodies"
    };
    let bytes = synthetic_table(&path, &cable_texts, rows);
    let start = Instant::now();
    let mut n = 0u64;
    bulk::split_rows(
        BufReader::with_capacity(1 << 16, std::fs::File::open(&path).expect("open")),
        |_, raw, _| {
            n += 1;
            black_box(raw);
        },
    )
    .expect("split");
    report(
        &format!("cables-csv split only ({label})"),
        n,
        bytes,
        start.elapsed().as_secs_f64(),
        "rows",
    );
    let start = Instant::now();
    let summary = bulk::read_rows(
        BufReader::with_capacity(1 << 16, std::fs::File::open(&path).expect("open")),
        "cables.csv",
        &SourceHints::default(),
        |row| {
            black_box(row);
        },
    )
    .expect("read");
    assert_eq!(summary.rows, rows);
    report(
        &format!("cables-csv read ({label})"),
        summary.rows,
        summary.bytes,
        start.elapsed().as_secs_f64(),
        "rows",
    );
    println!(
        "cables-csv: longest row held in memory {} bytes (the reader holds one row at a time)",
        summary.longest_row
    );
}
