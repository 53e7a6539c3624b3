//! Archives past the classic zip limits (65,535 entries) get ZIP64 records, which both cablekeep's
//! own reader and other tools read.

use cablekeep::bag::{self, BagPlan, Payload};
use cablekeep::progress::NoProgress;

struct Tiny(Vec<String>);

impl Payload for Tiny {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn path(&self, i: usize) -> &str {
        &self.0[i]
    }
    fn load(&self, i: usize) -> cablekeep::Result<Vec<u8>> {
        Ok(format!("cable text {i}\n").into_bytes())
    }
}

#[test]
fn seventy_thousand_entries_use_zip64_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big-v1.zip");
    let mut names: Vec<String> = (0..70_000)
        .map(|i| format!("data/unparsed/{i:06}.txt"))
        .collect();
    names.sort();
    let plan = BagPlan {
        folder: "big-v1".into(),
        bag_info: vec![("External-Identifier".into(), "big@v1".into())],
        tag_files: vec![],
    };
    let file = std::fs::File::create(&path).unwrap();
    let (_, written) = bag::write_bag(file, dir.path(), plan, &Tiny(names), &|_| {}).unwrap();
    assert!(written.zip_entries > 65_535);

    let index = bag::zip_read::open(&path).unwrap();
    assert!(
        index.findings.is_empty(),
        "{:?}",
        &index.findings[..index.findings.len().min(3)]
    );
    assert_eq!(index.entries.len() as u64, written.zip_entries);
    let bytes = std::fs::read(&path).unwrap();
    let zip64_end = [0x50, 0x4b, 0x06, 0x06];
    assert!(
        bytes.windows(4).any(|w| w == zip64_end),
        "a ZIP64 end record is present"
    );

    // The bag itself is complete; only the cable index is missing (a bare bag, not a version).
    let report =
        cablekeep::store::verify::verify_file(&path, None, Default::default(), &NoProgress)
            .unwrap();
    let codes: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        vec!["B011"],
        "{:?}",
        &report.findings[..report.findings.len().min(5)]
    );
    assert_eq!(
        report.bytes_hashed,
        (0..70_000)
            .map(|i: u32| format!("cable text {i}\n").len() as u64)
            .sum::<u64>()
    );

    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.infolist()))"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        written.zip_entries.to_string()
    );
}
