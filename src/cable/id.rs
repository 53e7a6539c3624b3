//! Reference ids.
