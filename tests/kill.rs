//! kill tests
