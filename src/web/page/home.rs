//! The home page (the collection's figures, each linked to its list) and the about page (how
//! to check an edition).

use crate::web::edition::Edition;
use crate::web::html::{Page, esc, layout};

/// `index.html`.
pub fn home(ed: &Edition) -> Vec<u8> {
    let main = format!(
        "<h1>{}</h1>\n<p>{} cables.</p>\n",
        esc(&ed.version.identifier),
        ed.stats.cables
    );
    layout(
        ed,
        &Page {
            path: "index.html",
            title: "Home",
            main: &main,
            footer_extra: "",
        },
    )
}

/// `about.html`.
pub fn about(ed: &Edition) -> Vec<u8> {
    layout(
        ed,
        &Page {
            path: "about.html",
            title: "About this edition",
            main: "<h1>About this edition</h1>\n",
            footer_extra: "",
        },
    )
}
