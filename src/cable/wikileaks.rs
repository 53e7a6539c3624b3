//! Reader for the WikiLeaks "Cable Viewer" page of 2010-2011.
use super::ParseOutcome;

/// True when the bytes look like a WikiLeaks cable page.
pub(super) fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    String::from_utf8_lossy(head).contains("<title>Cable Viewer</title>")
}

pub(super) fn parse(_bytes: &[u8], _name: &str) -> ParseOutcome {
    ParseOutcome::default()
}
