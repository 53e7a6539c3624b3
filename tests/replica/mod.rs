//! Replicas on object storage: the Garage fixture (a real S3 cluster on 127.0.0.1) and the tests
//! that run cablekeep against it.

pub mod garage;

mod fixture;
