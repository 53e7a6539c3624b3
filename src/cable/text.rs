//! Text helpers.
