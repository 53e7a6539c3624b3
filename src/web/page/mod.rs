//! The pages of an edition: a cable's page (`cable`), the lists (`lists`), the home and about
//! pages (`home`). Each is a pure function of the edition (and, for a cable, its records):
//! `site` writes them, `serve` renders the same bytes on request.

pub mod cable;
pub mod home;
pub mod lists;
