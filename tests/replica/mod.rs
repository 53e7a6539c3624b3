//! Replicas on object storage: the Garage fixture (a real S3 cluster on 127.0.0.1), raw S3 calls
//! independent of cablekeep, and the tests that run cablekeep against them.

pub mod garage;
pub mod s3;

mod commands;
mod fixture;
mod folders;
mod readme;
