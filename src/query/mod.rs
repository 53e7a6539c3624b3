//! Questions asked of stored versions: which cables a filter selects ([`select`]), counts
//! ([`stats`]), and the search catalog ([`catalog`]).

pub mod catalog;
pub mod search;
pub mod select;
pub mod stats;
