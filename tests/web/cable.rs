//! A cable's page in the dev set's edition: what the seed page shows and the rest (ids,
//! references linked, captures, history with the text difference, citation, proof), and the
//! alias pages that lead to it.

use super::dev_edition;
use crate::seal::{Key, allowed_signers, check_proof};
use crate::util::sha256_hex;

fn page(path: &str) -> Option<String> {
    let ed = dev_edition()?;
    Some(std::fs::read_to_string(ed.site.join(path)).unwrap())
}

/// The SHA-256 of dev@v2's archive zip.
fn archive_digest() -> String {
    let ed = dev_edition().unwrap();
    sha256_hex(&std::fs::read(ed.store.join("archives/dev/dev-v2.zip")).unwrap())
}

#[test]
fn a_cable_page_shows_the_cable_its_captures_and_how_to_cite_it() {
    let Some(html) = page("cable/2009/10/09BERLIN1271.html") else {
        return;
    };
    let subject = "WESTERWELLE FIRM ON REMOVAL OF NUCLEAR WEAPONS FROM GERMANY IN COALITION \
                   NEGOTIATIONS";
    assert_eq!(html.matches("<h1>").count(), 1);
    assert!(html.contains(&format!("<h1>{subject}</h1>")), "{html}");
    assert!(html.contains("<dt>Identifier</dt>\n<dd><span class=\"id\">09BERLIN1271</span></dd>"));
    assert!(html.contains("<pre class=\"text\">VZCZCXYZ0001\nPP RUEHWEB\n\nDE RUEHRL #1271/01"));
    // Facts link to their lists.
    assert!(html.contains("<a href=\"../../../origin/embassy-berlin_0.html\">Embassy Berlin</a>"));
    assert!(html.contains("<a href=\"../../../date/2009-10_0.html\">cables of 2009-10</a>"));
    assert!(html.contains("Redacted: this cable was"), "{html}");
    // A reference the edition holds is a link to its page; another is plain text.
    assert!(html.contains(
        "<li><a href=\"../../../cable/2009/09/09BERLIN1162.html\">09BERLIN1162</a>: GERMANY"
    ));
    assert!(html.contains("<li>09BERLIN1241</li>"));
    // The captures table, with a caption and header cells.
    assert!(
        html.contains("<table class=\"captures\">\n<caption>1 capture of this cable in dev@v2")
    );
    assert!(html.contains("<th scope=\"col\">SHA-256</th>"));
    assert_eq!(html.matches("<th scope=\"row\">").count(), 1);
    assert!(html.contains(">wikileaks-page</td>"));
    assert!(html.contains("<strong>dev@v1</strong>: entered the collection."));
    // Three citations, each pinned to the archive's digest.
    let digest = archive_digest();
    for id in ["cite-text", "cite-bibtex", "cite-csl"] {
        let at = html.find(&format!("<h3 id=\"{id}\">")).expect(id);
        let pre = &html[at..];
        let pre = &pre[..pre.find("</pre>").unwrap()];
        assert!(pre.contains(&digest), "{id} names the archive: {pre}");
    }
    assert!(html.contains("@misc{09BERLIN1271,"));
    // The footer links the cable's proof.
    assert!(
        html.contains("<a href=\"../../../cable/2009/10/09BERLIN1271.proof.json\">its proof</a>")
    );
}

#[test]
fn a_cable_with_two_captures_shows_its_history_and_the_difference() {
    let Some(html) = page("cable/2006/01/06MADRID76.html") else {
        return;
    };
    let history =
        &html[html.find("<h2 id=\"history\">").unwrap()..html.find("<h2 id=\"cite\">").unwrap()];
    assert!(
        history.contains("<li><strong>dev@v1</strong>: entered the collection.</li>"),
        "{history}"
    );
    assert!(history.contains(
        "<li><strong>dev@v2</strong>: capture <span class=\"capture\">2010-12-08_bbe3d04dfd76</span> added.</li>"
    ), "{history}");
    assert!(history.contains(
        "<h3 id=\"change-1\">2010-12-07_fbe16c06e192 \u{2192} 2010-12-08_bbe3d04dfd76</h3>"
    ));
    // As `cablekeep diff` says of it: redactions lost (1 -> 0), +174 -155 lines.
    assert!(
        history.contains("Redactions lost: 1 run before, 0 after."),
        "{history}"
    );
    assert!(
        history.contains("Text changed: 174 lines added, 155 removed."),
        "{history}"
    );
    assert!(history.contains("<details class=\"diff\">"));
    assert!(
        history.contains("<del>- C O N F I D E N T I A L SECTION 01 OF 02 MADRID 000076 </del>")
    );
    assert!(
        history.contains("<ins>+ C O N F I D E N T I A L SECTION 01 OF 02 MADRID 000076</ins>")
    );
    let shown = history.matches("<ins>").count() + history.matches("<del>").count();
    assert!(shown > 0 && shown <= 400, "{shown} lines shown");
    // Both captures in the table, each with the version that added it.
    assert!(html.contains("<caption>2 captures of this cable in dev@v2"));
    assert!(html.contains("<td>v1</td>") && html.contains("<td>v2</td>"));
}

#[test]
fn an_alias_page_leads_to_the_cables_page() {
    // 09TRIPOLI583's current capture garbled its id; its first capture gave the canonical id,
    // which names its page: the garbled one leads there.
    let Some(html) = page("cable/2009/07/09SECTION02OF03QRIPOLI583.html") else {
        return;
    };
    let main = "../../../cable/2009/07/09TRIPOLI583.html";
    assert!(
        html.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"0; url={main}\">\n</head>"
        )),
        "{html}"
    );
    assert!(
        html.contains("<h1>09SECTION02OF03QRIPOLI583</h1>"),
        "{html}"
    );
    assert!(
        html.contains(&format!("this cable&#39;s page is <a href=\"{main}\">")),
        "{html}"
    );
    assert!(!html.contains("<script"));
    let target = page("cable/2009/07/09TRIPOLI583.html").unwrap();
    assert!(target.contains("(canonical id <span class=\"id\">09TRIPOLI583</span>)"));
}

#[test]
fn a_cable_pages_proof_is_accepted_by_check_proof() {
    let Some(ed) = dev_edition() else { return };
    let public = std::fs::read_to_string(ed.key.with_extension("pub")).unwrap();
    let key = Key {
        private: ed.key.clone(),
        public,
        id: String::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let allowed = allowed_signers(dir.path(), &[("web", &key)]);
    let proof = ed.site.join("cable/2006/01/06MADRID76.proof.json");
    let (code, codes) = check_proof(&ed.store, &proof, &allowed, &[], &[]);
    assert_eq!((code, codes), (0, Vec::<String>::new()));
    let named: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    assert!(named.to_string().contains("06MADRID76"), "{named}");
}
