//! `cablekeep serve`: the web edition of a version served live from the store, without
//! writing it out. The pages are the static edition's, byte for byte (the same renderers, the
//! same records); the search page is answered on the server from the store's search index; a
//! small read-only JSON API gives a cable's records and a query's hits.
//!
//! Built on hyper (HTTP/1.1) and a small tokio runtime, the only place of the crate that uses
//! either: two threads accept and parse requests, pages are rendered on a bounded pool of
//! blocking threads (the library stays synchronous). Bounded everywhere: connections (further
//! clients wait in the listening queue), request heads (16 KiB, read within a timeout), request
//! targets, no bodies, a connection's lifetime. Loopback by default; GET and HEAD only.
//!
//! `catalog` holds what is built at startup, `routes` reads a URL into what it names (never a
//! filesystem path), `answer` and `api` answer it, `http` speaks HTTP.

mod answer;
mod api;
mod catalog;
mod http;
mod routes;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::Store;
use std::net::SocketAddr;
use std::time::Duration;

/// What to serve, where.
pub struct ServeRequest<'a> {
    /// The collection.
    pub collection: &'a str,
    /// The version (default: the latest).
    pub version: Option<u32>,
    /// The address to listen on.
    pub addr: SocketAddr,
    /// Allow an address other than loopback (the edition is then served to the network).
    pub public: bool,
    /// How long a client may take to send a request's head (also how long an idle
    /// keep-alive connection is kept).
    pub header_timeout: Duration,
    /// Report the startup's progress here.
    pub progress: &'a dyn Progress,
}

/// The default of [`ServeRequest::header_timeout`].
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; further clients wait in the listening queue until one ends.
pub const MAX_CONNECTIONS: usize = 64;

/// Threads that accept connections and read and write HTTP.
const IO_THREADS: usize = 2;

/// Threads that render pages and answer searches (the bounded pool of blocking work).
pub const RENDER_THREADS: usize = 8;

/// Serves the edition until the process is asked to stop (Ctrl-C, SIGTERM). `listening` is
/// called with the address once requests are answered (the port, when 0 was asked for).
pub fn serve(
    store: &Store,
    req: ServeRequest<'_>,
    listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    if !req.public && !req.addr.ip().is_loopback() {
        return Err(Error::Invalid(format!(
            "{} is not a loopback address: serving the edition to the network needs --public",
            req.addr
        )));
    }
    // Bound first, so that an address in use is said at once, not after the startup.
    let listener = std::net::TcpListener::bind(req.addr)
        .map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", req.addr)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", req.addr)))?;
    let cat = catalog::Catalog::build(store, req.collection, req.version, req.progress)?;
    http::run(
        listener,
        cat,
        http::Limits {
            connections: MAX_CONNECTIONS,
            io_threads: IO_THREADS,
            render_threads: RENDER_THREADS,
            header_timeout: req.header_timeout,
        },
        || listening(addr),
    )
}
