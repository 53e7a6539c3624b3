//! TODO-module time
