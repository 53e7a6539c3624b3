//! TODO-module archive
