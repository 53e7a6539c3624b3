//! TODO-module fsutil
