//! The one tokio runtime the object-storage client runs on. Everything else in cablekeep is
//! synchronous: callers hand a future to [`block_on`] and get its result, so nothing async leaks
//! out of the replica module.

use crate::error::{Error, Result};
use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

/// Two workers: multipart parts and read-back streams overlap, and the machine's other core
/// stays free for hashing.
fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    let made = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cablekeep-s3")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    made.as_ref()
        .map_err(|e| Error::Invalid(format!("cannot start the object storage client: {e}")))
}

/// Runs `future` to completion on the shared runtime. Never call it from inside another tokio
/// runtime (`serve`'s): nesting runtimes panics.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(future))
}
