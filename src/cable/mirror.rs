//! Reader for the later mirror text page.
use super::ParseOutcome;

/// True when the bytes look like a mirror text page.
pub(super) fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    String::from_utf8_lossy(head).starts_with("US embassy cable - ")
}

pub(super) fn parse(_bytes: &[u8], _name: &str) -> ParseOutcome {
    ParseOutcome::default()
}
