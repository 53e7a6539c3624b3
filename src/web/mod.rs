//! The web edition: a static site of a collection version that anyone can host anywhere and
//! that proves itself (`cablekeep site`, `export --format site`), and the same pages served
//! live from the store (`cablekeep serve`). docs/SITE.md specifies what an edition holds.
//!
//! [`Edition`] (in `edition`) is what every page needs: the version, its seal, the table of
//! its cables; `paths` is the URL scheme; `html` the escaping and the layout; `page` renders
//! the pages, `history` each cable's history across versions, `search` the page that searches
//! without a server, `write` the static edition.

mod edition;
mod history;
pub mod html;
pub mod page;
pub mod paths;
mod search;
pub mod serve;
mod write;

pub use edition::{CableFacts, Edition, SealFacts, Value, Values};
pub use history::History;
pub use write::{STYLE_CSS, SUMS_FILE, SiteFiles, SiteOutcome, SiteRequest, Sum, write_site};
