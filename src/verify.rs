//! TODO-module verify
