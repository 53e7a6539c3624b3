//! cablemap's expected values (`../shared/cables/parser-expectations.json`, 1,247 cases read
//! from cablemap's test suite) against cablekeep's field extractors.
//!
//! * `fragment` cases feed the fragment to the field's extractor in `cable::fields`,
//!   `cable::header` or `cable::id`;
//! * `cable` and `cable_file` cases read our local copy of the whole page, when we have one;
//! * `id_mapping` cases check that the bad id and the good id canonicalize alike.
//!
//! A case is skipped only for a structural reason, printed with the count: the field is not one
//! cablekeep extracts, or the case needs the whole cable and we have no copy. Every other case
//! counts, also when the expected value does not occur in the input (a station typo in an id, a
//! person-name tag, a later page version): those are exactly the cases that show what cablekeep's
//! corrections do. Every disagreement is listed with a reason. The shared data is never copied into the repository; without it the
//! test says so loudly and checks nothing.

use cablekeep::cable::provenance::SourceHints;
use cablekeep::cable::{self, CableRecord, Recipient, fields, header, id};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/cables");

/// Fields cablemap tests that cablekeep does not extract, with why.
const NOT_EXTRACTED: &[(&str, &str)] = &[
    (
        "references_typed",
        "cablekeep keeps non-cable references as text, without cablemap's kinds (email, book, tel, …)",
    ),
    ("media_urls", "cablekeep does not read media links"),
    ("titlefy", "cablemap utility (title-casing), not a field"),
    ("tag_kind", "cablemap utility (tag typing), not a field"),
    (
        "clean_content",
        "cablemap utility (its own text clean-up format), not a field",
    ),
];

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn recipient_json(r: &Recipient) -> Value {
    serde_json::json!({
        "route": r.route,
        "name": r.name,
        "precedence": r.precedence,
        "mcn": r.mcn,
        "excluded": r.excluded,
    })
}

/// cablemap's canonical tags (see `fields::canonical_tags`).
fn canonical_tags(tags: &[String]) -> Vec<String> {
    fields::canonical_tags(tags)
}

/// cablemap's `clean=True` subject: without a leading paragraph marking such as `(U)`.
fn clean_subject(s: &str) -> String {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('(')
        && let Some(close) = rest.find(')')
        && close <= 6
        && rest[..close]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '/')
    {
        return rest[close + 1..].trim().to_string();
    }
    t.to_string()
}

fn show(v: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.len() > 160 {
        let mut cut = 160;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

/// Compares what we read with what cablemap expects; `None` when they agree, else (ours,
/// expected) as text.
fn compare(field: &str, params: &Value, ours: Value, expected: &Value) -> Option<(String, String)> {
    let agree = if let Some(contains) = expected.get("contains") {
        let ours = strs(&ours);
        strs(contains).iter().all(|e| ours.contains(e))
    } else {
        match field {
            "signed_by" if params.get("canonicalize").and_then(Value::as_bool) == Some(true) => {
                let ours: Vec<String> = strs(&ours).iter().map(|s| s.to_uppercase()).collect();
                ours == strs(expected)
            }
            _ => &ours == expected,
        }
    };
    (!agree).then(|| (show(&ours), show(expected)))
}

/// The reason for a disagreement, for the report: when the expected value is not even in the
/// text we gave the extractor, no extractor could have found it there.
fn reason(
    kind: &str,
    field: &str,
    input_text: &str,
    ours: &Value,
    expected: &Value,
    rec: Option<&CableRecord>,
) -> String {
    let wanted: Vec<String> = match expected {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if matches!(field, "canonical_id" | "malformed_id" | "invalid_id") {
        return specific_reason(kind, field, ours, expected);
    }
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase()
    };
    let hay = norm(input_text);
    let missing = wanted
        .iter()
        .filter(|w| !w.is_empty() && field != "references" && field != "nondisclosure_deadline")
        .any(|w| !hay.contains(&norm(w)));
    match kind {
        "cable" | "cable_file" if missing => {
            let build = rec
                .and_then(|r| r.source.site_build.clone())
                .unwrap_or_default();
            format!(
                "page version differs: the expected value is not in our copy's text (site build {build}, <= April 2011); cablemap checked the 2011-2015 text"
            )
        }
        _ if missing && field == "tags" => {
            "person-name tags: cablemap's table of names completes or splits them (`BUSH GEORGE` → `BUSH, GEORGE W.`, names without `OVIP` before them); cablekeep reads a name only after `OVIP`, as written".to_string()
        }
        _ if missing => {
            "the expected value is not in the fragment as stored (the test fragment was cut, cablemap read the whole cable)".to_string()
        }
        _ => specific_reason(kind, field, ours, expected),
    }
}

/// `(year, station, serial)` of a canonical id.
fn id_parts(id: &str) -> Option<(String, String, String)> {
    let (yy, rest) = id.split_at_checked(2)?;
    let digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (station, serial) = rest.split_at(rest.len() - digits);
    (!station.is_empty() && !serial.is_empty())
        .then(|| (yy.to_string(), station.to_string(), serial.to_string()))
}

/// Why an id is read differently, from the two ids' parts.
fn id_reason(ours: &Value, expected: &Value) -> String {
    let parts = |v: &Value| {
        v.as_str()
            .and_then(id::canonicalize)
            .and_then(|c| id_parts(&c.id))
    };
    let (Some((_, o_st, o_se)), Some((_, e_st, e_se))) = (parts(ours), parts(expected)) else {
        return "the bad id has no serial or no station (`06ASTANA`, `092OF5`): nothing in it says which cable it is; only cablemap's per-cable table maps it".to_string();
    };
    if o_se != e_se {
        format!(
            "the serial differs ({o_se} → {e_se}), not only the station: only cablemap's per-cable table knows it"
        )
    } else if e_st.ends_with(&o_st) {
        format!(
            "the id names {o_st}, a real station; cablemap's per-cable table sends it to {e_st}"
        )
    } else {
        format!(
            "the damaged station {o_st} fits no station or more than one within the correction rules (docs/FORMAT.md), so it is left as written"
        )
    }
}

/// What kind of difference it is, read from the two values.
fn specific_reason(kind: &str, field: &str, ours: &Value, expected: &Value) -> String {
    let o = strs(ours);
    let e = strs(expected);
    match field {
        "references" => {
            let mut why: Vec<&str> = Vec::new();
            for x in e.iter().filter(|x| !o.contains(x)) {
                let Some((y, st, se)) = id_parts(x) else {
                    continue;
                };
                let parts: Vec<_> = o.iter().filter_map(|r| id_parts(r)).collect();
                if parts.iter().any(|(_, s2, n2)| *n2 == se && *s2 != st) {
                    why.push(
                        "a station misspelt in the REF text (cablemap's station table corrects it)",
                    );
                } else if parts
                    .iter()
                    .any(|(y2, s2, n2)| *n2 == se && *s2 == st && *y2 != y)
                {
                    why.push(
                        "a year written in an unusual form (`094`, which cablemap reads as 94)",
                    );
                } else {
                    why.push("a reference in an unusual layout is missed");
                }
            }
            if o.iter().any(|x| {
                !e.contains(x)
                    && id_parts(x).is_some_and(|(_, st, se)| {
                        !e.iter()
                            .any(|y| id_parts(y).is_some_and(|(_, s2, n2)| n2 == se || s2 == st))
                    })
            }) {
                why.push("a non-cable reference read as a cable (`INCSR BRAZIL 2008`)");
            }
            why.dedup();
            if why.is_empty() {
                "references differ".to_string()
            } else {
                why.join("; ")
            }
        }
        "tags" => {
            if o.is_empty() && kind == "cable" {
                "our copy's tag line has no `TAGS:` label (older page version)".to_string()
            } else if o.is_empty() {
                "the TAGS field name is glued to the field before it (`DECL: 08/22/2017 AGS:`)"
                    .to_string()
            } else if e.iter().any(|t| t.contains(' ') && !o.contains(t))
                || o.iter().any(|t| t.contains(' ') && !e.contains(t))
            {
                "multi-word tag boundaries that cablekeep's short list (src/cable/tag_vocab.rs) does not cover, or tags glued to each other (`RIGHTSPOLMIL`)".to_string()
            } else {
                "cablemap's tag clean-up (a tag after a page-break banner dropped, a repeated `TAGS:` label kept as a tag)".to_string()
            }
        }
        "classified_by" => {
            if o.len() == e.len() && o.iter().zip(&e).all(|(a, b)| a.eq_ignore_ascii_case(b)) {
                "cablemap normalizes the name's letter case".to_string()
            } else if e.len() > o.len() {
                "a second person in the statement is not read".to_string()
            } else {
                "a misspelt title before the name is taken for a name (`CIEF`)".to_string()
            }
        }
        "subject" => {
            let (os, es) = (ours.as_str().unwrap_or(""), expected.as_str().unwrap_or(""));
            if os.is_empty() && kind == "cable" {
                "the body has no SUBJECT line; the subject is only in an e-mail header before the routing header".to_string()
            } else if let Some(rest) = es.strip_prefix(os) {
                format!(
                    "cablemap keeps what follows on the next line ({rest:?}), a page-break banner"
                )
            } else {
                "subject differs".to_string()
            }
        }
        "canonical_id" | "malformed_id" | "invalid_id" => id_reason(ours, expected),
        _ => "extractor differs".to_string(),
    }
}

#[derive(Default)]
struct Tally {
    run: usize,
    agree: usize,
}

#[test]
fn cablemap_expectations() {
    let path = Path::new(SHARED).join("parser-expectations.json");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!(
            "\n!!!!! SKIPPED: {} is missing; this test checked nothing !!!!!\n",
            path.display()
        );
        crate::util::record_skip(&path);
        return;
    };
    let doc: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 1247);

    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut disagreements: Vec<String> = Vec::new();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages: BTreeMap<String, Option<CableRecord>> = BTreeMap::new();

    for case in cases {
        let field = case["field"].as_str().unwrap_or_default();
        let kind = case["kind"].as_str().unwrap_or_default();
        let input = case["input"].as_str().unwrap_or_default();
        let params = &case["params"];
        let expected = &case["expected"];
        let source = case["source"].as_str().unwrap_or_default();
        if let Some((_, why)) = NOT_EXTRACTED.iter().find(|(f, _)| *f == field) {
            *skipped
                .entry(format!("{field}: field not extracted ({why})"))
                .or_default() += 1;
            continue;
        }
        let (ours, text_for_reason, rec): (Value, String, Option<CableRecord>) = match kind {
            "fragment" => {
                let year = params.get("year").and_then(Value::as_i64).map(|y| y as i32);
                let v = match field {
                    "references" => {
                        let own = params.get("reference_id").and_then(Value::as_str);
                        let ids: Vec<String> = fields::body_reference_ids(input, year)
                            .into_iter()
                            .filter(|r| Some(r.as_str()) != own)
                            .collect();
                        serde_json::json!(ids)
                    }
                    "tags" => {
                        let t = fields::tags(input);
                        if params.get("canonicalize").and_then(Value::as_bool) == Some(false) {
                            serde_json::json!(t)
                        } else {
                            serde_json::json!(canonical_tags(&t))
                        }
                    }
                    "subject" => {
                        let s = fields::subject(input).unwrap_or_default();
                        if params.get("clean").and_then(Value::as_bool) == Some(false) {
                            serde_json::json!(s)
                        } else {
                            serde_json::json!(clean_subject(&s))
                        }
                    }
                    "signed_by" => serde_json::json!(fields::signers(input)),
                    "classified_by" => serde_json::json!(fields::classified_by(input)),
                    "nondisclosure_deadline" => {
                        serde_json::json!(fields::nondisclosure_deadline(input))
                    }
                    "summary" => serde_json::json!(fields::summary(input)),
                    "recipients" => Value::Array(
                        header::recipients(input)
                            .iter()
                            .map(recipient_json)
                            .collect(),
                    ),
                    "info_recipients" => Value::Array(
                        header::info_recipients(input)
                            .iter()
                            .map(recipient_json)
                            .collect(),
                    ),
                    "canonical_id" => serde_json::json!(id::canonicalize(input).map(|c| c.id)),
                    other => panic!("fragment case for unknown field {other}"),
                };
                (v, input.to_string(), None)
            }
            "id_mapping" => {
                let bad = id::canonicalize(input).map(|c| c.id);
                let good = expected.as_str().and_then(id::canonicalize).map(|c| c.id);
                let v = if bad.is_some() && bad == good {
                    expected.clone()
                } else {
                    serde_json::json!(bad)
                };
                (v, input.to_string(), None)
            }
            "cable" | "cable_file" => {
                let file = if kind == "cable_file" {
                    opt_str(&params["input_file"])
                } else {
                    case["local_copies"]
                        .as_array()
                        .and_then(|a| a.iter().find(|l| l["set"] != "peer-fixtures"))
                        .and_then(|l| opt_str(&l["file"]))
                };
                let Some(file) = file else {
                    *skipped
                        .entry(format!(
                            "{field}: whole-cable case and we have no local copy of the cable"
                        ))
                        .or_default() += 1;
                    continue;
                };
                let rec = pages
                    .entry(file.clone())
                    .or_insert_with(|| {
                        let p = Path::new(SHARED).join(&file);
                        let bytes = std::fs::read(&p).ok()?;
                        cable::parse(&bytes, &file, &SourceHints::default()).record
                    })
                    .clone();
                let Some(r) = rec else {
                    *skipped
                        .entry(format!("{field}: local copy {file} unreadable"))
                        .or_default() += 1;
                    continue;
                };
                let v = match field {
                    "references" => serde_json::json!(
                        r.references
                            .iter()
                            .filter(|x| !r.references_text.contains(x))
                            .collect::<Vec<_>>()
                    ),
                    "tags" => serde_json::json!(canonical_tags(&r.tags)),
                    "subject" => {
                        serde_json::json!(clean_subject(r.subject.as_deref().unwrap_or("")))
                    }
                    "signed_by" => serde_json::json!(r.signers),
                    "classified_by" => serde_json::json!(r.classified_by),
                    "transmission_id" => serde_json::json!(r.transmission_id),
                    "reference_id" => serde_json::json!(r.id_original.as_deref().unwrap_or(&r.id)),
                    "canonical_id" => serde_json::json!(r.id),
                    "is_partial" => serde_json::json!(r.redaction.partial_extract),
                    other => panic!("cable case for unknown field {other}"),
                };
                (v, r.text.clone(), Some(r))
            }
            other => panic!("unknown kind {other}"),
        };
        let differs = compare(field, params, ours.clone(), expected);
        let ours_value = ours;
        let t = tally.entry(field.to_string()).or_default();
        t.run += 1;
        match differs {
            None => t.agree += 1,
            Some((o, e)) => {
                let why = reason(
                    kind,
                    field,
                    &text_for_reason,
                    &ours_value,
                    expected,
                    rec.as_ref(),
                );
                *by_reason.entry(format!("{field}: {why}")).or_default() += 1;
                disagreements.push(format!(
                    "{field:22} {kind:10} {:24} {source}\n      ours={o}\n  cablemap={e}\n    reason: {why}",
                    case["cable_id"].as_str().unwrap_or("-")
                ));
            }
        }
    }

    for d in &disagreements {
        eprintln!("disagree: {d}");
    }
    eprintln!("\ndisagreement classes:");
    for (r, n) in &by_reason {
        eprintln!("  {n:4}  {r}");
    }
    let (mut run, mut agree) = (0, 0);
    eprintln!("\nagreement with cablemap's expectations, per field:");
    for (f, t) in &tally {
        run += t.run;
        agree += t.agree;
        eprintln!(
            "  {f:22} {:4}/{:4} = {:6.2} %",
            t.agree,
            t.run,
            100.0 * t.agree as f64 / t.run as f64
        );
    }
    let skipped_total: usize = skipped.values().sum();
    eprintln!("\nskipped {skipped_total} cases:");
    for (why, n) in &skipped {
        eprintln!("  {n:4}  {why}");
    }
    let pct = 100.0 * agree as f64 / run as f64;
    eprintln!(
        "\ncases run: {run}, skipped: {skipped_total}, total {}; overall agreement {agree}/{run} = {pct:.2} %",
        run + skipped_total
    );
    assert_eq!(run + skipped_total, cases.len());
    assert!(pct >= 95.0, "overall agreement {pct:.2} % is below 95 %");
}
