//! Errors mean "could not run". Integrity problems are [`crate::Finding`]s, never errors.

use std::path::PathBuf;

/// Why an operation could not be performed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder the operation was on.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The store is locked by another writer.
    #[error("the store {0} is locked by another cablekeep process (use --wait to wait for it)")]
    Locked(PathBuf),
    /// A named thing (collection, version, cable) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
    /// A file that cablekeep itself wrote cannot be read (for example a corrupt stage file).
    #[error("{path}: {message}")]
    Corrupt {
        /// The file that cannot be read.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A replica on object storage could not be read or written as asked (refused
    /// credentials, an unreachable endpoint, an object that is not what it must be).
    #[error("{place}: {message}")]
    Remote {
        /// The bucket, prefix or object (`s3://bucket/prefix/...`); never a credential.
        place: String,
        /// What went wrong.
        message: String,
    },
    /// A time-stamping authority could not be asked, or its answer is unusable.
    #[error("time-stamping authority {url}: {message}")]
    Timestamp {
        /// The TSA's URL, as given with `--tsa`.
        url: String,
        /// What went wrong: the request, the transport or the answer.
        message: String,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Adds the path to an I/O result.
pub trait IoContext<T> {
    /// Attaches `path` to the error, if any.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
