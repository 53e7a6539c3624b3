//! TODO-module manifest
