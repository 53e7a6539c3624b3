//! The `serve` command: the web edition of a version served live from the store.

use super::args::CollectionArg;
use super::{Ctx, EXIT_OK};
use anyhow::Result;
use cablekeep::store::VersionNum;
use cablekeep::web::serve::{self, ServeRequest};
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<VersionNum>,
    /// The address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Allow an --addr other than loopback: the edition is then served to the network.
    #[arg(long)]
    public: bool,
    /// Seconds a client may take to send a request's head (idle connections are closed then).
    #[arg(long, default_value_t = 10, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
}

/// `serve`: serves the web edition until Ctrl-C or SIGTERM. The first line on stdout is
/// `listening on http://ADDR/`.
pub(super) fn run(ctx: &Ctx, a: ServeArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    let started = std::time::Instant::now();
    serve::serve(
        &ctx.store,
        ServeRequest {
            collection: &collection,
            version: a.version.map(VersionNum::get),
            addr: a.addr,
            public: a.public,
            header_timeout: std::time::Duration::from_secs(a.header_timeout),
            progress: &ctx.bar,
        },
        |addr: SocketAddr| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}/");
            let _ = out.flush();
            eprintln!(
                "cablekeep: serving {collection} (ready in {:.2} s); Ctrl-C stops",
                started.elapsed().as_secs_f64()
            );
        },
    )?;
    eprintln!("cablekeep: stopped");
    Ok(EXIT_OK)
}
