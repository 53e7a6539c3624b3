//! Unit tests of the body fields.

use super::*;

#[test]
fn refs() {
    assert_eq!(
        references(
            "A. TBILISI 1605 B. 06 TBILISI 2601 C. 06 STATE 80908",
            Some(2007)
        ),
        vec!["07TBILISI1605", "06TBILISI2601", "06STATE80908"]
    );
    assert_eq!(
        references("A) TALLINN 366 B) LEE-GOLDSTEIN EMAIL 05/11/07", Some(2007)),
        vec!["07TALLINN366", "LEE-GOLDSTEIN EMAIL 05/11/07"]
    );
    assert_eq!(references("LA PAZ 2974", Some(2007)), vec!["07LAPAZ2974"]);
    assert_eq!(
        references("2002 THE HAGUE 03525", Some(2003)),
        vec!["02THEHAGUE3525"]
    );
    assert_eq!(references("SEE STATE 5", Some(2003)), vec!["03STATE5"]);
    assert_eq!(references("MADRID 000025", Some(2010)), vec!["10MADRID25"]);
    assert_eq!(
        references(
            "STATE 106206 CIRCULAR; STATE CA-3400 NOV 2, 1966",
            Some(1966)
        ),
        vec!["66STATE106206", "STATE CA-3400 NOV 2, 1966"]
    );
    assert_eq!(
        references("ALGIERS 15 (NOTAL)", Some(2010)),
        vec!["10ALGIERS15"]
    );
}

#[test]
fn tags() {
    assert_eq!(
        split_tags("PGOV, KZ, 2005 Election"),
        vec!["PGOV", "KZ", "2005 Election"]
    );
    assert_eq!(split_tags("EFIS PBTS AR "), vec!["EFIS", "PBTS", "AR"]);
}

#[test]
fn body() {
    let body = "S E C R E T ALGIERS 000020 \n\nSIPDIS \nNOFORN \n\nEO 12958 DECL: 01/05/2020 \nTAGS PGOV, PREL, \nAG, US \nSUBJECT: ALGERIA STRONGLY PROTESTS \n TSA LISTING \n\nREF: ALGIERS 15 (NOTAL)\n\nClassified By: X\n\n1. (S/NF) text\n\nPEARCE\n";
    let f = read(body, Some(2010));
    assert_eq!(
        f.subject.as_deref(),
        Some("ALGERIA STRONGLY PROTESTS TSA LISTING")
    );
    assert_eq!(f.tags, vec!["PGOV", "PREL", "AG", "US"]);
    assert_eq!(f.references, vec!["10ALGIERS15"]);
    assert_eq!(f.caveats, vec!["SIPDIS", "NOFORN"]);
    assert_eq!(f.signers, vec!["PEARCE"]);
    assert_eq!(signers("in Parliament.   BLAKEMAN"), vec!["BLAKEMAN"]);
    assert_eq!(signers("x\nMCDONALD\n CONFIDENTIAL\n>"), vec!["MCDONALD"]);
    assert_eq!(signers("x\nBASSETT \n \n1/21/2009"), vec!["BASSETT"]);
    assert_eq!(
        signers("Website: http://x/index. cfm TUTTLE"),
        vec!["TUTTLE"]
    );
    assert_eq!(signers("in the CIS.\nMcCaw"), vec!["McCaw"]);
    assert!(signers("worth taking.").is_empty());
    assert!(signers("support and expertise. End Comment.").is_empty());
    assert!(signers("the UN").is_empty());
    assert_eq!(signers("Website. XXXXXXXXXXXX TUTTLE"), vec!["TUTTLE"]);
}
