//! cablekeep's integration tests: one test binary, a module per area.

mod util;

mod parse;
mod store;
