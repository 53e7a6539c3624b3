//! cablekeep's integration tests: one test binary, a module per area.

mod util;

mod kill;
mod parse;
mod store;
mod tamper;
