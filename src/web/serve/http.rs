//! The HTTP side of `serve`: a tokio runtime of a few threads accepts connections (at most
//! [`Limits::connections`] at once) and hyper reads requests (heads of at most
//! [`MAX_HEAD_BYTES`], read within [`Limits::header_timeout`]); each request is refused early
//! (method, body, target length, path) or routed and answered on the bounded blocking pool.
//! Every answer says what it is (`Content-Type`, `nosniff`) and may load nothing from
//! elsewhere (`Content-Security-Policy: default-src 'self'`). Ctrl-C or SIGTERM stops
//! accepting, lets the requests under way end, and returns.

use super::answer::{self, Answer};
use super::catalog::Catalog;
use super::routes;
use crate::error::{Error, Result};
use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// The largest request head (request line and headers) read, in bytes: a larger one is
/// answered 431 and the connection closed.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The most headers a request may have.
const MAX_HEADERS: usize = 64;

/// How long one connection may last, however busy: a client that stops reading its answer
/// does not hold its place for ever.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// How long the requests under way may take to end once the server is asked to stop.
const DRAIN: Duration = Duration::from_secs(5);

/// The server's bounds.
pub(crate) struct Limits {
    /// Connections served at once.
    pub(crate) connections: usize,
    /// Threads reading and writing HTTP.
    pub(crate) io_threads: usize,
    /// Threads rendering answers.
    pub(crate) render_threads: usize,
    /// How long a request's head may take to arrive (idle keep-alive connections included).
    pub(crate) header_timeout: Duration,
}

/// Serves `cat` on `listener` until Ctrl-C or SIGTERM; `listening` is called once requests
/// are answered.
pub(crate) fn run(
    listener: std::net::TcpListener,
    cat: Catalog,
    limits: Limits,
    listening: impl FnOnce(),
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(limits.io_threads)
        .max_blocking_threads(limits.render_threads)
        .thread_name("cablekeep-serve")
        .enable_all()
        .build()
        .map_err(|e| net_error("cannot start the server", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| net_error("cannot listen", e))?;
    let cat = Arc::new(cat);
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| net_error("cannot listen", e))?;
        let stop = stop_signal().map_err(|e| net_error("cannot wait for signals", e))?;
        listening();
        accept(listener, cat, &limits, stop).await;
        Ok(())
    });
    runtime.shutdown_timeout(DRAIN);
    served
}

fn net_error(what: &str, e: std::io::Error) -> Error {
    Error::Invalid(format!("{what}: {e}"))
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM; registered at once, so a signal that comes before
/// the first wait is not lost.
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        first(interrupt.recv(), terminate.recv()).await;
    })
}

/// Accepts connections (one place each out of `limits.connections`) until `stop`, then asks
/// each connection to end after its request under way, and waits for them a while.
async fn accept(
    listener: tokio::net::TcpListener,
    cat: Arc<Catalog>,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) {
    let places = Arc::new(Semaphore::new(limits.connections));
    let (stopping, stopped) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let mut stop = pin!(stop);
    loop {
        let place = match first(Arc::clone(&places).acquire_owned(), stop.as_mut()).await {
            Either::Left(Ok(place)) => place,
            _ => break,
        };
        let stream = match first(listener.accept(), stop.as_mut()).await {
            Either::Left(Ok((stream, _))) => stream,
            Either::Left(Err(e)) => {
                // Out of file descriptors, say: wait rather than spin.
                eprintln!("cablekeep: serve: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Either::Right(()) => break,
        };
        let _ = stream.set_nodelay(true);
        let cat = Arc::clone(&cat);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| handle(Arc::clone(&cat), req)),
        );
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let mut conn = pin!(conn);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, async {
                let stopping = async {
                    let _ = stopped.wait_for(|s| *s).await.map(drop);
                };
                if let Either::Right(()) = first(conn.as_mut(), stopping).await {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            })
            .await;
            drop(place);
        });
    }
    let _ = stopping.send(true);
    let all = u32::try_from(limits.connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, places.acquire_many(all)).await;
}

/// One request: refused at once when it must be, else routed and answered on the blocking pool.
async fn handle(
    cat: Arc<Catalog>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(refusal) = refused(&req) {
        // The body (if any) is not read: the connection ends with the answer.
        return Ok(response(refusal, true));
    }
    let uri = req.uri();
    let answer = match routes::parse(uri.path(), uri.query()) {
        Err(refused) => Answer::text(400, refused.message()),
        Ok(route) => tokio::task::spawn_blocking(move || answer::answer(&cat, &route))
            .await
            .unwrap_or_else(|_| Answer::text(500, "the server could not answer this request")),
    };
    Ok(response(answer, false))
}

/// The refusal of a request that asks for more than reading: another method than GET or HEAD
/// (405), a body (413), a target longer than [`routes::MAX_TARGET_BYTES`] (414).
fn refused(req: &Request<Incoming>) -> Option<Answer> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Some(Answer::text(
            405,
            "this server is read-only: it answers GET and HEAD only",
        ));
    }
    if !req.body().is_end_stream() {
        return Some(Answer::text(413, "requests with a body are refused"));
    }
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > routes::MAX_TARGET_BYTES {
        return Some(Answer::text(
            414,
            &format!(
                "the request's target is {target} bytes long: at most {} are read",
                routes::MAX_TARGET_BYTES
            ),
        ));
    }
    None
}

/// The HTTP response of an answer, with the headers every answer carries. hyper leaves the
/// body out of the answer to a HEAD (keeping its length).
fn response(answer: Answer, close: bool) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = Response::new(Full::new(Bytes::from(answer.body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    if close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Which of two futures completed first.
enum Either<A, B> {
    Left(A),
    Right(B),
}

/// The output of whichever of `a` and `b` completes first (`a` when both are ready); the other
/// is dropped.
async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    })
    .await
}
