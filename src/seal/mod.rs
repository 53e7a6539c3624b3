//! Seals anyone can check: trusted timestamps over checkpoints.

pub mod timestamp;
