//! The names of collections and versions, checked once where they enter (a flag, a file name)
//! and written one way everywhere: `<collection>@v<N>`.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The longest collection name: names become folder and file names on every system.
const MAX_COLLECTION_NAME: usize = 64;

/// Checks a collection name: 1 to 64 characters, lower-case letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit (names become folder and file names on every system).
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_COLLECTION_NAME
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "collection name {name:?}: use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

/// A collection name that has passed [`validate_collection_name`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionName(String);

impl CollectionName {
    /// Checks `name` and keeps it.
    pub fn new(name: &str) -> Result<CollectionName> {
        validate_collection_name(name)?;
        Ok(CollectionName(name.to_string()))
    }

    /// The name as given, e.g. `dev`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CollectionName {
    type Err = Error;

    fn from_str(name: &str) -> Result<CollectionName> {
        CollectionName::new(name)
    }
}

impl AsRef<str> for CollectionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for CollectionName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A version number: 1 for a collection's first version, counting up without gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionNum(u32);

impl VersionNum {
    /// The first version of every collection.
    pub const FIRST: VersionNum = VersionNum(1);

    /// `n` as a version number; 0 is not one.
    pub fn new(n: u32) -> Result<VersionNum> {
        if n == 0 {
            return Err(Error::Invalid(
                "version 0: versions are numbered from 1".to_string(),
            ));
        }
        Ok(VersionNum(n))
    }

    /// The number, from 1.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The version after this one, if there can be one.
    pub fn next(self) -> Option<VersionNum> {
        self.0.checked_add(1).map(VersionNum)
    }
}

impl FromStr for VersionNum {
    type Err = Error;

    /// Reads `3` or `v3`.
    fn from_str(text: &str) -> Result<VersionNum> {
        let digits = text.strip_prefix('v').unwrap_or(text);
        let n = digits.parse::<u32>().map_err(|_| {
            Error::Invalid(format!(
                "version {text:?}: give a number from 1 (for example 3 or v3)"
            ))
        })?;
        VersionNum::new(n)
    }
}

impl fmt::Display for VersionNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A version as people and bags name it: `<collection>@v<N>` (the bag's External-Identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionId<'a> {
    /// The collection's name.
    pub collection: &'a str,
    /// The version's number, from 1.
    pub version: u32,
}

impl<'a> VersionId<'a> {
    /// Names version `version` of `collection`; it displays as `<collection>@v<N>`.
    pub fn new(collection: &'a str, version: u32) -> VersionId<'a> {
        VersionId {
            collection,
            version,
        }
    }
}

impl fmt::Display for VersionId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@v{}", self.collection, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_are_checked_once_and_shown_as_given() {
        assert_eq!(
            CollectionName::new("dev-1.a_b").unwrap().to_string(),
            "dev-1.a_b"
        );
        for bad in ["", "Dev", "-dev", "a/b", "a b", &"x".repeat(65)] {
            assert!(bad.parse::<CollectionName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_are_numbered_from_one() {
        assert_eq!("3".parse::<VersionNum>().unwrap().get(), 3);
        assert_eq!("v3".parse::<VersionNum>().unwrap().get(), 3);
        for bad in ["0", "v0", "-1", "x", "", "4294967296"] {
            assert!(bad.parse::<VersionNum>().is_err(), "{bad:?}");
        }
        assert_eq!(VersionNum::new(u32::MAX).unwrap().next(), None);
    }

    #[test]
    fn a_version_is_named_collection_at_v_n() {
        assert_eq!(VersionId::new("dev", 2).to_string(), "dev@v2");
    }
}
