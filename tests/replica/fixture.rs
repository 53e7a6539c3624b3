//! The Garage fixture itself works: the cluster forms quickly, the raw S3 calls round-trip, a
//! killed node leaves a quorum and rejoins, one node serves, a wrong secret is refused.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::garage::{Garage, KEY_ID, SECRET};
use super::s3::S3;

#[test]
fn three_nodes_start_and_round_trip_objects() {
    let Some(garage) = Garage::cluster(3) else {
        return;
    };
    let took = garage.started_in();
    println!(
        "3-node Garage cluster started in {:.2} s",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(15), "start-up took {took:?}");

    garage.bucket("replica-a");
    let key = "archives/c 1/c+1-v1.zip";
    assert_eq!(garage.get("replica-a", key), None);
    assert_eq!(garage.head("replica-a", key), None);
    garage.put("replica-a", key, b"first bytes");
    assert_eq!(
        garage.get("replica-a", key).as_deref(),
        Some(&b"first bytes"[..])
    );
    let (size, etag) = garage.head("replica-a", key).expect("the object exists");
    assert_eq!(size, 11);
    // A single-part upload's ETag is the hex MD5 of its bytes.
    assert_eq!(etag, md5_hex(b"first bytes"));
    let listed = garage.list("replica-a", "archives/");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].key.as_str(), listed[0].size), (key, 11));
    assert_eq!(listed[0].etag, etag);
    assert!(listed[0].last_modified.ends_with('Z'), "{listed:?}");

    // Overwritten behind cablekeep's back: other bytes, other ETag; every node sees them.
    garage.put("replica-a", key, b"other");
    for node in 1..=3 {
        assert_eq!(
            garage.s3(node).get("replica-a", key).as_deref(),
            Some(&b"other"[..])
        );
    }
    assert_ne!(garage.head("replica-a", key).expect("still there").1, etag);

    // Continuation tokens: five keys listed two at a time, in key order.
    for n in 0..5 {
        garage.put("replica-a", &format!("many/k{n}"), &[n]);
    }
    let keys: Vec<String> = garage
        .s3(2)
        .list_paged("replica-a", "many/", 2)
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        keys,
        ["many/k0", "many/k1", "many/k2", "many/k3", "many/k4"]
    );

    // Several of Garage's 1 MiB blocks, read back through another node.
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    garage.put("replica-a", "big", &big);
    assert_eq!(garage.s3(3).get("replica-a", "big"), Some(big.clone()));
    assert_eq!(
        garage.head("replica-a", "big"),
        Some((3_500_000, md5_hex(&big)))
    );

    // A second bucket is separate.
    garage.bucket("replica-b");
    assert!(garage.list("replica-b", "").is_empty());
    garage.put("replica-b", key, b"b's bytes");
    assert_eq!(garage.get("replica-a", key).as_deref(), Some(&b"other"[..]));

    garage.delete("replica-a", key);
    garage.delete("replica-a", key);
    assert_eq!(garage.get("replica-a", key), None);
    assert_eq!(garage.list("replica-a", "archives/"), []);
    assert_eq!(
        garage.get("replica-b", key).as_deref(),
        Some(&b"b's bytes"[..])
    );
}

#[test]
fn a_killed_node_leaves_a_quorum_and_rejoins() {
    let Some(mut garage) = Garage::cluster(3) else {
        return;
    };
    garage.bucket("replica-a");
    garage.put("replica-a", "before", b"written by 3 nodes");
    garage.kill_node(3);
    garage
        .s3(1)
        .put("replica-a", "during", b"written by 2 nodes");
    assert_eq!(
        garage.s3(2).get("replica-a", "during").as_deref(),
        Some(&b"written by 2 nodes"[..])
    );
    let down = garage
        .s3(3)
        .request("GET", "replica-a", "during", &[], None);
    assert!(down.is_err(), "node 3 answered while killed: {down:?}");

    garage.restart_node(3);
    assert_eq!(
        garage.s3(3).get("replica-a", "before").as_deref(),
        Some(&b"written by 3 nodes"[..])
    );
    assert_eq!(
        garage.s3(3).get("replica-a", "during").as_deref(),
        Some(&b"written by 2 nodes"[..])
    );

    // The endpoint node itself down: the others still serve.
    garage.kill_node(1);
    garage.bucket("replica-b");
    garage.put("replica-b", "after", b"node 1 down");
    assert_eq!(
        garage.s3(3).get("replica-b", "after").as_deref(),
        Some(&b"node 1 down"[..])
    );
}

#[test]
fn one_node_serves_and_refuses_a_wrong_secret() {
    let Some(garage) = Garage::single() else {
        return;
    };
    let took = garage.started_in();
    println!("single-node Garage started in {:.2} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(15), "start-up took {took:?}");
    garage.bucket("solo");
    garage.put("solo", "p/one", b"1");
    assert_eq!(garage.get("solo", "p/one").as_deref(), Some(&b"1"[..]));
    assert_eq!(garage.list("solo", "p/").len(), 1);

    let wrong = S3::new(&garage.endpoint_of(1), KEY_ID, "not-the-secret-0123456789");
    let answer = wrong
        .request("GET", "solo", "p/one", &[], None)
        .expect("an HTTP answer");
    assert_eq!(answer.status, 403, "{}", answer.text());
    let unknown = S3::new(&garage.endpoint_of(1), "GKnobody000000000001", SECRET);
    let answer = unknown
        .request("PUT", "solo", "p/two", &[], Some(b"2"))
        .expect("an HTTP answer");
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_eq!(garage.head("solo", "p/two"), None);
    a_child_gets_the_test_credentials_and_no_other_aws_variable(&garage);
}

fn a_child_gets_the_test_credentials_and_no_other_aws_variable(garage: &Garage) {
    let mut env = Command::new("env");
    env.env("AWS_SESSION_TOKEN", "leaked")
        .env("AWS_PROFILE", "leaked");
    let out = garage.apply_env(&mut env).output().expect("env runs");
    let mut aws: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("AWS_"))
        .map(String::from)
        .collect();
    aws.sort();
    let endpoint = garage.endpoint_of(1);
    let none = garage.no_aws_profiles();
    assert_eq!(std::fs::metadata(&none).map(|m| m.len()).ok(), Some(0));
    assert_eq!(
        aws,
        [
            format!("AWS_ACCESS_KEY_ID={KEY_ID}"),
            "AWS_ALLOW_HTTP=true".into(),
            format!("AWS_CONFIG_FILE={}", none.display()),
            format!("AWS_ENDPOINT_URL={endpoint}"),
            "AWS_REGION=garage".into(),
            format!("AWS_SECRET_ACCESS_KEY={SECRET}"),
            format!("AWS_SHARED_CREDENTIALS_FILE={}", none.display()),
        ]
    );
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
}

/// MD5 by coreutils' md5sum, independent of Garage.
fn md5_hex(bytes: &[u8]) -> String {
    let mut md5sum = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum runs");
    md5sum
        .stdin
        .take()
        .expect("md5sum's stdin")
        .write_all(bytes)
        .expect("bytes to md5sum");
    let out = md5sum.wait_with_output().expect("md5sum's output");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .expect("a digest")
        .to_string()
}
