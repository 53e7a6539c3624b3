//! [`ReadAt`]: where a zip's bytes come from, read at offsets, so that the reader works the
//! same on a local file and on an object read by ranged requests (a store on object storage).

/// Bytes read at offsets, by any number of threads at once (as `pread`): a local file, or a
/// remote object fetched by ranges. Every byte the zip reader reads goes through this.
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read, 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize>;

    /// The length of the whole, in bytes.
    fn len(&self) -> std::io::Result<u64>;

    /// Whether the whole holds no bytes.
    fn is_empty(&self) -> std::io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

impl ReadAt for std::fs::File {
    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }

    #[cfg(windows)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(self, buf, offset)
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(Vec::len(self) as u64)
    }
}

/// Fills `buf` from `offset`, failing with `UnexpectedEof` when the source ends first.
pub fn read_exact_at(
    source: &dyn ReadAt,
    mut buf: &mut [u8],
    mut offset: u64,
) -> std::io::Result<()> {
    while !buf.is_empty() {
        match source.read_at(buf, offset) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file ends before the bytes asked for",
                ));
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A [`std::io::Read`] over a whole [`ReadAt`], front to back (a log read a line at a time).
pub struct SourceReader {
    source: std::sync::Arc<dyn ReadAt>,
    position: u64,
}

impl SourceReader {
    /// Reads `source` from its first byte.
    pub fn new(source: std::sync::Arc<dyn ReadAt>) -> Self {
        SourceReader {
            source,
            position: 0,
        }
    }
}

impl std::io::Read for SourceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.source.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}
