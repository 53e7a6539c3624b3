//! TODO-module diff
