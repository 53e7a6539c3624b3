//! TODO-module hash
