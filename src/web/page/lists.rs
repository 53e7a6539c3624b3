//! The lists: by date sent, release date, origin, tag, classification and redaction status,
//! each a facet index and pages of [`crate::web::paths::LIST_PAGE_ROWS`] cables.

use crate::error::Result;
use crate::web::edition::Edition;

/// Calls `each` with every list page of the edition (path, bytes), in a fixed order.
pub fn for_each_list_page(
    _ed: &Edition,
    _each: &mut dyn FnMut(String, Vec<u8>) -> Result<()>,
) -> Result<()> {
    Ok(())
}

/// The list page at `path` (as [`for_each_list_page`] names it); None when there is none.
pub fn list_page(_ed: &Edition, _path: &str) -> Option<Vec<u8>> {
    None
}
