//! A progress bar (on stderr, only when it is a terminal) fed from an atomic
//! counter, so that hot loops only bump an integer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar whose position follows a shared counter.
pub(crate) struct Progress {
    bar: ProgressBar,
    counter: Arc<AtomicU64>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// A bar of `len` steps labelled `label` (hidden when `enabled` is false
    /// or stderr is not a terminal). `len` 0 shows a spinner with elapsed time.
    pub(crate) fn new(enabled: bool, len: u64, label: &str) -> Self {
        let bar = if enabled {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let template = if len == 0 {
            "{spinner} {prefix:>12} {elapsed_precise} {pos}"
        } else {
            "{prefix:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_owned());
        let counter = Arc::new(AtomicU64::new(0));
        let ticker = (!bar.is_hidden()).then(|| {
            let (bar, counter) = (bar.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    bar.set_position(counter.load(Ordering::Relaxed));
                }
            })
        });
        Self {
            bar,
            counter,
            ticker,
        }
    }

    /// The counter to bump.
    pub(crate) fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.counter)
    }

    /// Bumps the counter by one.
    pub(crate) fn inc(&self) {
        self.counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes the bar.
    pub(crate) fn finish(self) {
        if let Some(t) = &self.ticker {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}
