//! Progress bars on stderr, drawn only when stderr is a terminal.

use cablekeep::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Draws one bar per phase on stderr: items done, or for a phase measured in bytes (verifying,
/// writing an export) bytes and entries done; throughput and the time left.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    /// Calls to `inc` in this phase: one per page read or entry written or verified.
    items: AtomicU64,
    enabled: bool,
}

/// Whether bars are drawn (`--no-progress` says never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawing {
    /// When stderr is a terminal.
    OnTerminal,
    Never,
}

impl Bar {
    /// A bar that draws as `drawing` says.
    pub fn new(drawing: Drawing) -> Bar {
        Bar {
            bar: Mutex::new(None),
            items: AtomicU64::new(0),
            enabled: drawing == Drawing::OnTerminal
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

/// What a phase counts when it does not count bytes: the store's phases count pages read and
/// files packed, the catalog and export count cables, the link checker links.
fn unit_of(phase: &str) -> Option<&'static str> {
    match phase {
        "reading" => Some("pages"),
        "packing" => Some("files"),
        "indexing" | "exporting" | "selecting" => Some("cables"),
        "links" => Some("links"),
        _ => None,
    }
}

/// The bar's indicatif template for a phase. No template names a colour or a style (a
/// `.style` after a key's width): indicatif draws styles through `console`, which does not
/// honour `NO_COLOR`, so the bars stay plain text (their cursor movements aside) by design.
fn template(phase: &str) -> String {
    match unit_of(phase) {
        Some(unit) => {
            format!("{{prefix:>10}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{per_sec}}, ETA {{eta}}")
        }
        None => "{prefix:>10} [{bar:30}] {bytes}/{total_bytes}, {msg}, {bytes_per_sec}, ETA {eta}"
            .to_string(),
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let template = template(phase);
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(&template)
                    .expect("valid template")
                    .progress_chars("=> "),
            );
        bar.set_prefix(phase.to_string());
        self.items.store(0, Ordering::Relaxed);
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn inc(&self, n: u64) {
        if let Some(bar) = self.bar.lock().expect("progress lock").as_ref() {
            let items = self.items.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{items} entries"));
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NO_COLOR`: the bars never ask for colour or styling, so there is nothing to turn off.
    #[test]
    fn no_template_asks_for_colour_or_style() {
        for phase in [
            "reading",
            "packing",
            "indexing",
            "exporting",
            "selecting",
            "links",
            "verifying",
            "writing",
        ] {
            let template = template(phase);
            for key in template.split('{').skip(1) {
                let key = key.split('}').next().unwrap_or_default();
                let format = key.split_once(':').map(|(_, f)| f).unwrap_or_default();
                assert!(
                    !format.contains('.'),
                    "{phase}: the key {{{key}}} is styled"
                );
            }
            ProgressStyle::with_template(&template).expect("a valid template");
        }
    }
}
