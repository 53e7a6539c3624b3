//! Progress bars on stderr, drawn only when stderr is a terminal.

use cablekeep::store::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Draws one bar per phase on stderr; a phase measured in bytes shows bytes, entries done,
/// throughput and the time left.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    /// Calls to `inc` in this phase: one per page read or entry written or verified.
    items: AtomicU64,
    enabled: bool,
}

impl Bar {
    /// A bar that draws when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool) -> Bar {
        Bar {
            bar: Mutex::new(None),
            items: AtomicU64::new(0),
            enabled: enabled && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let template = if phase == "reading" {
            "{prefix:>10} [{bar:30}] {pos}/{len} pages, {per_sec}, ETA {eta}"
        } else if phase == "links" {
            "{prefix:>10} [{bar:30}] {pos}/{len} links, {per_sec}, ETA {eta}"
        } else {
            "{prefix:>10} [{bar:30}] {bytes}/{total_bytes}, {msg}, {bytes_per_sec}, ETA {eta}"
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(template)
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
