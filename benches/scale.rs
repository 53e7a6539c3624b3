//! The scale benchmark (issue #6): generates a synthetic Cablegate corpus and times cablekeep
//! against the peers (bagit.py, zip, sha256sum/sha512sum) on it, in one run.
//!
//! ```sh
//! cargo bench --bench scale -- [--cables N] [--pages N] [--seed S] [--dir DIR] [--out FILE]
//!     [--archive-format N] [--quick] [--generate-only] [--self-test]
//! ```
//!
//! `--self-test` runs only the checks of the benchmark's own generators (the search query
//! mix, the added cables) and prints the query mix; every run runs the checks first.
//!
//! docs/PERFORMANCE.md explains what is measured and how.

#[path = "scale/corpus.rs"]
mod corpus;
#[path = "scale/harness.rs"]
mod harness;
#[path = "scale/http.rs"]
mod http;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/model.rs"]
mod model;
#[path = "scale/queries.rs"]
mod queries;
#[path = "scale/replica.rs"]
mod replica;
#[path = "scale/report.rs"]
mod report;
#[path = "scale/rng.rs"]
mod rng;
#[path = "scale/text.rs"]
mod text;
#[path = "scale/web.rs"]
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Command-line options.
#[derive(Debug)]
struct Options {
    cables: u64,
    pages: u64,
    seed: u64,
    dir: PathBuf,
    out: PathBuf,
    quick: bool,
    generate_only: bool,
    self_test: bool,
    /// Passed as `--archive-format N` to every `cablekeep bundle`; `None`: cablekeep's default.
    archive_format: Option<u8>,
}

const USAGE: &str = "usage: cargo bench --bench scale -- [--cables N] [--pages N] [--seed S] \
[--dir DIR] [--out FILE] [--archive-format 1|2] [--quick] [--generate-only] [--self-test]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        cables: 25_000,
        pages: 2_000,
        seed: 6,
        dir: PathBuf::from("target/bench-corpus"),
        out: PathBuf::from("target/bench-results.json"),
        quick: false,
        generate_only: false,
        self_test: false,
        archive_format: None,
    };
    let (mut cables, mut pages) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{v}: {e}"))
        };
        match a.as_str() {
            "--cables" => cables = Some(number(value("--cables")?)?),
            "--pages" => pages = Some(number(value("--pages")?)?),
            "--seed" => o.seed = number(value("--seed")?)?,
            "--dir" => o.dir = PathBuf::from(value("--dir")?),
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--quick" => o.quick = true,
            "--generate-only" => o.generate_only = true,
            "--self-test" => o.self_test = true,
            "--archive-format" => {
                let v = value("--archive-format")?;
                match v.as_str() {
                    "1" => o.archive_format = Some(1),
                    "2" => o.archive_format = Some(2),
                    _ => return Err(format!("--archive-format {v}: 1 or 2\n{USAGE}")),
                }
            }
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let (dc, dp) = if o.quick {
        (2_000, 200)
    } else {
        (25_000, 2_000)
    };
    o.cables = cables.unwrap_or(dc);
    o.pages = pages.unwrap_or(dp).min(o.cables);
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The benchmark re-runs itself as the measuring process of each timed command.
    if args.get(1).map(String::as_str) == Some("--measure-child") {
        return ExitCode::from(measure::child_main(&args[2..]) as u8);
    }
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(failures) = self_test() {
        eprintln!("scale: the benchmark's self-test failed:");
        for f in failures {
            eprintln!("  {f}");
        }
        return ExitCode::FAILURE;
    }
    if o.self_test {
        for q in queries::mix() {
            println!(
                "{}\tcablekeep search -c full --limit 20 {}",
                q.kind.label(),
                q.shown()
            );
        }
        eprintln!("scale: self-test passed (the query mix is above)");
        return ExitCode::SUCCESS;
    }
    let spec = corpus::Spec {
        seed: o.seed,
        cables: o.cables,
        pages: o.pages,
    };
    let started = Instant::now();
    let (dir, summary, reused) = match corpus::ensure(&o.dir, &spec) {
        Ok(x) => x,
        Err(e) => {
            eprintln!(
                "scale: cannot write the corpus under {}: {e}",
                o.dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "corpus {} ({}): {} cables, csv {:.1} MB, {} pages {:.1} MB, in {:.1} s",
        dir.display(),
        if reused { "reused" } else { "generated" },
        o.cables,
        summary.csv_bytes as f64 / 1e6,
        summary.pages,
        summary.page_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let added = match corpus::ensure_added(&dir, &spec, added_cables(&o)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "scale: cannot write the added cables under {}: {e}",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    if o.generate_only {
        return ExitCode::SUCCESS;
    }
    run_benchmark(&o, &spec, dir, summary, added)
}

/// The checks of the query mix and of the added cables (the target cannot hold `#[test]`s).
fn self_test() -> Result<(), Vec<String>> {
    let mut failures = queries::self_test().err().unwrap_or_default();
    failures.extend(corpus::self_test().err().unwrap_or_default());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Cables of the third version the search index update is timed on: the issue's 10,000, or
/// 2% of the corpus with `--quick`.
fn added_cables(o: &Options) -> u64 {
    if o.quick {
        (o.cables / 50).max(1)
    } else {
        10_000
    }
}

fn run_benchmark(
    o: &Options,
    spec: &corpus::Spec,
    dir: PathBuf,
    summary: corpus::Summary,
    added: corpus::Added,
) -> ExitCode {
    let mut ctx = match harness::Ctx::new(&o.dir, dir, summary.clone(), o.cables, o.archive_format)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "scale: cannot prepare the run folder under {}: {e}",
                o.dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    ctx.added = Some(added);
    let pages = summary.pages;
    eprintln!(
        "timing with {} (logs in {})",
        ctx.ck.display(),
        ctx.logs.display()
    );
    harness::run_all(&mut ctx, pages, o.quick);
    let table = report::table(&ctx.rows);
    let format = o
        .archive_format
        .map_or("cablekeep's default".to_string(), |f| f.to_string());
    println!(
        "\n{} cables ({} pages), seed {}, archive format {format}\n\n{table}",
        o.cables, pages, o.seed
    );
    println!("{}", report::sizes_line(&ctx.rows));
    let targets = report::targets(&ctx.rows, &summary);
    println!("\n{}", report::targets_text(&targets));
    let json = report::json(spec, &summary, &ctx.rows, o.archive_format, &targets);
    if let Err(e) = report::write(&o.out, &json) {
        eprintln!("scale: cannot write {}: {e}", o.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("results written to {}", o.out.display());
    // Timings are never asserted (CI runs --quick); a cablekeep command that failed is.
    let failed: Vec<&str> = ctx
        .rows
        .iter()
        .filter(|r| {
            r.kind == "cablekeep"
                && r.cost.as_ref().is_none_or(|c| c.exit_code != 0)
                && !r.name.contains("links")
        })
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("scale: cablekeep commands failed: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}
