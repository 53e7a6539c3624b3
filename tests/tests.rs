//! cablekeep's integration tests: one test binary, a module per area.

mod util;

mod cli;
mod compress;
mod docs;
mod expectations;
mod export;
mod findings;
mod formats;
mod golden;
mod hostile;
mod kill;
mod links;
mod lookup;
mod parse;
mod replica;
mod seal;
mod sealtime;
mod store;
mod tamper;
mod tsa;
mod web;
mod zip64;
