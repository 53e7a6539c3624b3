//! cablekeep's integration tests: one test binary, a module per area.

mod util;

mod docs;
mod parse;
mod store;
mod zip64;
