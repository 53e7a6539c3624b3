//! The home page (the version shown, its digests and seal, a search form, the collection's
//! figures, each linked to its list) and the about page (how to check, cite and publish an
//! edition, and its URL scheme).

use super::lists::{UNDATED, facet_nav, thousands, year_anchor};
use crate::store::Store;
use crate::web::edition::{Edition, Value};
use crate::web::html::{Page, esc, layout};
use crate::web::paths::{self, Facet, LIST_PAGE_ROWS, facet_index};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A table of figures on the home page shows at most this many values (those with the most
/// cables); the facet's index lists them all.
const TOP_VALUES: usize = 50;

/// The key under which stats count cables without a value.
const NONE_KEY: &str = "(none)";

/// `index.html`.
pub fn home(ed: &Edition) -> Vec<u8> {
    let path = "index.html";
    let v = &ed.version;
    let mut main = String::with_capacity(16 * 1024);
    let _ = write!(
        main,
        "<h1>{}</h1>\n<p class=\"lead\">{} diplomatic cables of the collection <strong>{}</strong>, \
         version {}, as archived by cablekeep: every page is a plain file, and the edition \
         checks itself (<a href=\"about.html\">how</a>).</p>\n",
        esc(&format!("Cables of {}", v.identifier)),
        thousands(ed.stats.cables),
        esc(&v.collection),
        v.version,
    );
    main.push_str(
        "<form class=\"search\" action=\"search.html\" method=\"get\" role=\"search\">\n\
         <label for=\"home-q\">Search the cables</label>\n\
         <input type=\"search\" id=\"home-q\" name=\"q\" size=\"30\">\n\
         <button type=\"submit\">Search</button>\n</form>\n",
    );
    edition_section(ed, path, &mut main);
    main.push_str("<section aria-labelledby=\"browse\">\n<h2 id=\"browse\">Browse</h2>\n");
    main.push_str(&facet_nav(path));
    main.push_str("</section>\n");
    figures_section(ed, &mut main);
    layout(
        ed,
        &Page {
            path,
            title: "Home",
            main: &main,
            footer_extra: "",
        },
    )
}

/// The version, its digests, its seal and the subset an export chose.
fn edition_section(ed: &Edition, path: &str, out: &mut String) {
    let v = &ed.version;
    let _ = write!(
        out,
        "<section aria-labelledby=\"edition\">\n<h2 id=\"edition\">This edition</h2>\n\
         <dl class=\"facts\">\n<dt>Version</dt><dd>{} (written {})</dd>\n\
         <dt>Message</dt><dd>{}</dd>\n\
         <dt>Archive SHA-256</dt><dd><code class=\"digest\" id=\"archive-sha256\">{}</code></dd>\n",
        esc(&v.identifier),
        esc(&v.created),
        esc(&v.message),
        esc(&v.archive_sha256),
    );
    if let Some(subset) = &ed.subset {
        let _ = writeln!(out, "<dt>Subset</dt><dd>{}</dd>", esc(subset));
    }
    out.push_str("<dt>Seal</dt><dd>");
    match &ed.seal {
        Some(seal) => {
            let _ = write!(
                out,
                "Sealed. Merkle root <code class=\"digest\" id=\"merkle-root\">{}</code>; ",
                esc(&seal.root)
            );
            let links: Vec<String> = seal
                .files
                .iter()
                .map(|(file, _)| {
                    let name = file.rsplit('/').next().unwrap_or(file);
                    format!(
                        "<a href=\"{}\">{}</a>",
                        paths::relative(path, file),
                        esc(name)
                    )
                })
                .collect();
            let _ = write!(out, "{}.", links.join(", "));
        }
        None => out.push_str("Not sealed: no signature vouches for this version yet."),
    }
    out.push_str(
        "</dd>\n</dl>\n<p><a href=\"about.html\">How to check this edition</a></p>\n</section>\n",
    );
}

/// The figures of the cables: totals, then a table per facet, each value linked to its list.
fn figures_section(ed: &Edition, out: &mut String) {
    let s = &ed.stats;
    let links = Links::of(ed);
    out.push_str("<section aria-labelledby=\"figures\">\n<h2 id=\"figures\">Figures</h2>\n");
    let _ = write!(
        out,
        "<dl class=\"figures\">\n<dt>Cables</dt><dd id=\"fig-cables\">{}</dd>\n\
         <dt>Captures (over all releases and sources)</dt><dd id=\"fig-captures\">{}</dd>\n\
         <dt>Partial extracts</dt><dd id=\"fig-partial-extracts\">",
        thousands(s.cables),
        thousands(s.captures),
    );
    match links.partial_extracts {
        true => {
            let _ = write!(
                out,
                "<a href=\"{}\">{}</a>",
                paths::list_page(Facet::Redaction, "partial-extract", 0),
                thousands(s.partial_extracts)
            );
        }
        false => out.push_str(&thousands(s.partial_extracts)),
    }
    out.push_str("</dd>\n</dl>\n<div class=\"tables\">\n");
    let year_link = |year: &str| -> Option<String> {
        let key = if year == NONE_KEY { UNDATED } else { year };
        links
            .years
            .contains(key)
            .then(|| format!("{}#{}", facet_index(Facet::Date), year_anchor(key)))
    };
    let by_year = Figures {
        id: "by-year",
        caption: "Cables by year sent",
        column: "Year",
        counts: &s.by_year,
        facet: Facet::Date,
        top: usize::MAX,
    };
    by_year.write(&year_link, out);
    let values = [
        (Facet::Origin, "Origin", &ed.values.origins, &s.by_origin),
        (
            Facet::Classification,
            "Classification",
            &ed.values.classifications,
            &s.by_classification,
        ),
        (Facet::Tag, "Tag", &ed.values.tags, &s.by_tag),
    ];
    for (facet, column, values, counts) in values {
        let figures = Figures {
            id: &format!("by-{}", facet.folder()),
            caption: &format!("Cables by {}", column.to_lowercase()),
            column,
            counts,
            facet,
            top: TOP_VALUES,
        };
        figures.write(&|name: &str| value_link(facet, values, name), out);
    }
    let redaction_link = |status: &str| -> Option<String> {
        let has = match status {
            "redacted" => links.redacted,
            "not-redacted" => links.not_redacted,
            _ => false,
        };
        has.then(|| paths::list_page(Facet::Redaction, status, 0))
    };
    let by_redaction = Figures {
        id: "by-redaction",
        caption: "Cables by redaction status",
        column: "Status",
        counts: &s.by_redaction,
        facet: Facet::Redaction,
        top: TOP_VALUES,
    };
    by_redaction.write(&redaction_link, out);
    out.push_str("</div>\n</section>\n");
}

/// The first page of the list of `name` among a facet's `values`; None when it has none.
fn value_link(facet: Facet, values: &[Value], name: &str) -> Option<String> {
    values
        .binary_search_by(|v| v.name.as_str().cmp(name))
        .ok()
        .map(|i| paths::list_page(facet, &values[i].slug, 0))
}

/// Which lists the home page's figures can link to: computed from the cables, as the lists
/// are, since a figure's key (from the index) need not have a list.
struct Links {
    /// Years (`2008`) with at least one month list, and [`UNDATED`] when that list exists.
    years: BTreeSet<String>,
    redacted: bool,
    not_redacted: bool,
    partial_extracts: bool,
}

impl Links {
    fn of(ed: &Edition) -> Links {
        let mut links = Links {
            years: BTreeSet::new(),
            redacted: false,
            not_redacted: false,
            partial_extracts: false,
        };
        let mut undated = false;
        for c in &ed.cables {
            match paths::year_month(c.created.as_deref()) {
                Some((year, _)) => {
                    if !links.years.contains(year) {
                        links.years.insert(year.to_string());
                    }
                }
                None => undated = true,
            }
            links.redacted |= c.redacted;
            links.not_redacted |= !c.redacted;
            links.partial_extracts |= c.partial_extract;
        }
        if undated {
            links.years.insert(UNDATED.to_string());
        }
        links
    }
}

/// A table of a facet's figures on the home page.
struct Figures<'a> {
    /// The table's id (`by-origin`).
    id: &'a str,
    caption: &'a str,
    /// The heading of the values' column.
    column: &'a str,
    /// Cables by value, as the stats count them.
    counts: &'a BTreeMap<String, u64>,
    /// The facet whose index lists every value.
    facet: Facet,
    /// At most this many values are shown: those with the most cables, ties by name (all
    /// values, in key order, when they fit).
    top: usize,
}

impl Figures<'_> {
    /// The table, each value linked where `link` gives its list, and a link to the facet's
    /// index when some values were left out.
    fn write(&self, link: &dyn Fn(&str) -> Option<String>, out: &mut String) {
        let mut rows: Vec<(&String, &u64)> = self.counts.iter().collect();
        let cut = rows.len() > self.top;
        let caption = if cut {
            rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            rows.truncate(self.top);
            format!("{} (the {} with the most cables)", self.caption, self.top)
        } else {
            self.caption.to_string()
        };
        let _ = write!(
            out,
            "<div>\n<table class=\"figures\" id=\"{}\">\n<caption>{}</caption>\n\
             <thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"n\">Cables</th></tr></thead>\n<tbody>\n",
            self.id,
            esc(&caption),
            self.column
        );
        for (name, n) in rows {
            let shown = esc(if name == NONE_KEY {
                "(none given)"
            } else {
                name
            });
            match link(name) {
                Some(href) => {
                    let _ = write!(
                        out,
                        "<tr><th scope=\"row\"><a href=\"{href}\">{shown}</a></th>"
                    );
                }
                None => {
                    let _ = write!(out, "<tr><th scope=\"row\">{shown}</th>");
                }
            }
            let _ = writeln!(out, "<td class=\"n\">{}</td></tr>", thousands(*n));
        }
        out.push_str("</tbody>\n</table>\n");
        if cut {
            let _ = writeln!(
                out,
                "<p class=\"more\"><a href=\"{}\">All {} values, {}</a></p>",
                facet_index(self.facet),
                thousands(self.counts.len() as u64),
                self.facet.title().to_lowercase()
            );
        }
        out.push_str("</div>\n");
    }
}

/// `about.html`.
pub fn about(ed: &Edition) -> Vec<u8> {
    let path = "about.html";
    let v = &ed.version;
    let c = esc(&v.collection);
    let n = v.version;
    let mut main = String::with_capacity(12 * 1024);
    let _ = write!(
        main,
        "<h1>About this edition</h1>\n\
         <p>This is the web edition of <strong>{id}</strong>: version {n} of the cable \
         collection <strong>{c}</strong>, written by cablekeep from the version's archive, \
         <code>{zip}</code>. Every page is a plain file; none loads anything from elsewhere. \
         Each page's footer names the version, the archive's SHA-256 and, for a sealed \
         version, the Merkle root its seal signs.</p>\n",
        id = esc(&v.identifier),
        zip = esc(&Store::zip_name(&v.collection, n)),
    );
    about_check(ed, &mut main);
    about_cite(ed, &mut main);
    about_publish(&mut main);
    about_urls(&mut main);
    layout(
        ed,
        &Page {
            path,
            title: "About this edition",
            main: &main,
            footer_extra: "",
        },
    )
}

/// How to check an edition: its files, its archive's digest, its seal and a cable's proof.
fn about_check(ed: &Edition, out: &mut String) {
    let v = &ed.version;
    let c = esc(&v.collection);
    let n = v.version;
    let _ = write!(
        out,
        "<section aria-labelledby=\"check\">\n<h2 id=\"check\">How to check it</h2>\n\
         <h3>The files</h3>\n\
         <p><a href=\"SHA256SUMS\">SHA256SUMS</a> lists the SHA-256 of every file of the edition \
         but itself. In the edition's folder, run</p>\n\
         <pre><code>sha256sum -c SHA256SUMS</code></pre>\n\
         <p>(<code>shasum -a 256 -c SHA256SUMS</code> on macOS). Every line must say OK; a file \
         changed, added by someone else or damaged in a copy says FAILED.</p>\n\
         <h3>The archive</h3>\n\
         <p>The pages were written from the archive <code>{zip}</code>, whose SHA-256 is</p>\n\
         <pre><code class=\"digest\">{sha}</code></pre>\n\
         <p>It is recorded in the store's sidecar manifest, \
         <code>manifests/{c}/{c}-v{n}.json</code> (field <code>archive.sha256</code>), beside the \
         archive as <code>archives/{c}/{zip}.sha256</code>, in the checkpoint of a sealed version \
         (line <code>zip-sha256</code>), and in the footer of every page. Whoever holds the \
         archive checks it with <code>sha256sum</code>, or checks every byte of it with \
         <code>cablekeep verify -c {c} --version {n}</code>.</p>\n",
        zip = esc(&Store::zip_name(&v.collection, n)),
        sha = esc(&v.archive_sha256),
    );
    out.push_str("<h3>The seal</h3>\n");
    match &ed.seal {
        Some(seal) => {
            let checkpoint = format!("seal/{}-v{n}.checkpoint", v.collection);
            let _ = write!(
                out,
                "<p>This version is sealed. Its checkpoint, \
                 <a href=\"{cp}\">{cp}</a>, names the version, the Merkle root over the lines of \
                 the archive's payload manifest (one line per archived file)</p>\n\
                 <pre><code class=\"digest\">{root}</code></pre>\n\
                 <p>and the SHA-256 and SHA-512 of the archive. Its signatures lie beside it:",
                cp = esc(&checkpoint),
                root = esc(&seal.root),
            );
            for (file, _) in seal.files.iter().filter(|(f, _)| f != &checkpoint) {
                let _ = write!(out, " <a href=\"{f}\">{f}</a>", f = esc(file));
            }
            let _ = write!(
                out,
                ". Check a signature against the keys you trust (an OpenSSH \
                 <code>allowed_signers</code> file) with</p>\n\
                 <pre><code>ssh-keygen -Y verify -f allowed_signers -I &lt;signer&gt; \
                 -n cablekeep-checkpoint -s {cp}.&lt;key id&gt;.sig &lt; {cp}</code></pre>\n\
                 <p>Each cable's page links its proof, <code>cable/&lt;YYYY&gt;/&lt;MM&gt;/&lt;id&gt;.proof.json</code> \
                 beside the page: the checkpoint, its signatures, and the hashes that lead from \
                 each of the cable's archived files (its captured pages and records) to the \
                 Merkle root. Check one offline with</p>\n\
                 <pre><code>cablekeep check-proof cable/2008/03/08MADRID123.proof.json \
                 --allowed-signers allowed_signers</code></pre>\n\
                 <p>(or <code>scripts/check-proof.py</code>, with Python, ssh-keygen and openssl \
                 alone); naming the cable's archived files after the proof also checks that their \
                 bytes are the ones sealed. A page of this edition is rendered from those files, so \
                 the proof vouches for the archive, and <code>SHA256SUMS</code> for the pages.</p>\n",
                cp = esc(&checkpoint),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<p>This version is not sealed: no signature vouches for it. Its keeper can seal \
                 it with <code>cablekeep seal -c {c} --version {n} --key KEY</code> and write the \
                 edition again; a sealed edition carries the checkpoint, its signatures and a \
                 proof for each cable.</p>"
            );
        }
    }
    out.push_str("</section>\n");
}

/// How to cite the edition and a cable.
fn about_cite(ed: &Edition, out: &mut String) {
    let v = &ed.version;
    let _ = write!(
        out,
        "<section aria-labelledby=\"cite\">\n<h2 id=\"cite\">How to cite it</h2>\n\
         <p>Cite a cable by its identifier and the version, pinned to the archive's digest, so \
         that a reader can check that they read the same text; each cable's page gives its \
         citation as plain text, BibTeX and CSL-JSON. The edition as a whole:</p>\n\
         <pre class=\"citation\">{}, version {} ({}), archive SHA-256 {}, written {}.</pre>\n</section>\n",
        esc(&v.collection),
        v.version,
        esc(&v.identifier),
        esc(&v.archive_sha256),
        esc(&v.created),
    );
}

/// How to publish the folder anywhere.
fn about_publish(out: &mut String) {
    out.push_str(
        "<section aria-labelledby=\"publish\">\n<h2 id=\"publish\">How to publish it</h2>\n\
         <p>The edition is one folder of plain files: every link in it is relative and names a \
         file (a folder's link names its <code>index.html</code>), and nothing is loaded from \
         another site. Copy the folder as it is</p>\n<ul>\n\
         <li>to any static web host or web server, at its root or under any path;</li>\n\
         <li>to an object store (a bucket served over HTTP): no index documents or redirects \
         are needed;</li>\n\
         <li>onto a USB stick, a disc or into a zip file: open <code>index.html</code> in a \
         browser, from <code>file://</code>; browsing and search work without a server.</li>\n\
         </ul>\n<p>Keep <code>SHA256SUMS</code> with it, so that every copy can be checked. \
         <code>cablekeep serve</code> serves the same pages from the store itself.</p>\n\
         </section>\n",
    );
}

/// The URL scheme, and how old links map to it.
fn about_urls(out: &mut String) {
    let _ = write!(
        out,
        "<section aria-labelledby=\"urls\">\n<h2 id=\"urls\">Its addresses</h2>\n\
         <p>A cable's page lies at <code>cable/&lt;YYYY&gt;/&lt;MM&gt;/&lt;id&gt;.html</code> (the year \
         and month it was sent; <code>cable/undated/</code> without a date), the path of the \
         WikiLeaks cable pages. An old link maps to any host of the edition by its path: \
         <code>https://wikileaks.org/cable/2008/03/08MADRID123.html</code> becomes \
         <code>&lt;this edition&gt;/cable/2008/03/08MADRID123.html</code>. A cable published \
         under more than one id has a page under each.</p>\n\
         <table class=\"urls\">\n<caption>The files of an edition</caption>\n\
         <thead><tr><th scope=\"col\">Path</th><th scope=\"col\">What it holds</th></tr></thead>\n<tbody>\n\
         <tr><td><code>index.html</code></td><td>The figures of the collection, and links to everything else</td></tr>\n\
         <tr><td><code>cable/&lt;YYYY&gt;/&lt;MM&gt;/&lt;id&gt;.html</code></td><td>A cable; its proof beside it as <code>&lt;id&gt;.proof.json</code> when the version is sealed</td></tr>\n\
         <tr><td><code>date/&lt;YYYY-MM&gt;_&lt;page&gt;.html</code></td><td>Cables sent in a month (<code>undated_0.html</code>: without a date)</td></tr>\n\
         <tr><td><code>reldate/&lt;YYYY-MM-DD&gt;_&lt;page&gt;.html</code></td><td>Cables released on a day</td></tr>\n\
         <tr><td><code>origin/&lt;slug&gt;_&lt;page&gt;.html</code></td><td>Cables from a post</td></tr>\n\
         <tr><td><code>tag/&lt;slug&gt;_&lt;page&gt;.html</code></td><td>Cables with a tag</td></tr>\n\
         <tr><td><code>classification/&lt;slug&gt;_&lt;page&gt;.html</code></td><td>Cables with a classification</td></tr>\n\
         <tr><td><code>redaction/&lt;status&gt;_&lt;page&gt;.html</code></td><td><code>redacted</code>, <code>not-redacted</code>, <code>partial-extract</code></td></tr>\n\
         <tr><td><code>&lt;list&gt;/index.html</code></td><td>Every value of a list with its count</td></tr>\n\
         <tr><td><code>search.html?q=&lt;words&gt;</code></td><td>Search; a link can open a search</td></tr>\n\
         <tr><td><code>seal/</code></td><td>The version's checkpoint, signatures and timestamp</td></tr>\n\
         <tr><td><code>SHA256SUMS</code></td><td>The SHA-256 of every other file</td></tr>\n\
         </tbody>\n</table>\n\
         <p>Lists are sorted by date sent, then id, {LIST_PAGE_ROWS} cables to a page, pages \
         counted from 0 as on WikiLeaks; a slug is the value in lower-case ASCII letters and \
         digits joined by <code>-</code>. WikiLeaks numbered the values of its lists, so only \
         cable pages map one for one.</p>\n</section>\n",
    );
}
