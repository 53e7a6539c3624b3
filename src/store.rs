//! TODO-module store
