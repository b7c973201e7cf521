//! Progress of long commands (`import`, `eval`, `bench`): a bar with its ETA when standard
//! error is a terminal (indicatif), a plain line at every tenth of the way otherwise, so that
//! logs and CI get a few readable lines instead of carriage returns.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    /// The next tenth (1..=10) that prints a plain line.
    next_tenth: u64,
    started: Instant,
}

impl Progress {
    /// `total` steps of `label` (a noun such as "conversations").
    pub(crate) fn new(label: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {prefix} {elapsed}, ETA {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.to_owned());
            bar
        });
        Self { bar, label: label.to_owned(), total, done: 0, next_tenth: 1, started: Instant::now() }
    }

    /// One more step done; `msg` says something about it (a count so far).
    pub(crate) fn step(&mut self, msg: &str) {
        self.set(self.done + 1, msg);
    }

    /// `done` steps done in all (never fewer than already reported).
    pub(crate) fn set(&mut self, done: u64, msg: &str) {
        if done <= self.done {
            return;
        }
        self.done = done.min(self.total);
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_owned());
            bar.set_position(self.done);
            return;
        }
        let total = self.total.max(1);
        if self.done * 10 >= self.next_tenth * total || self.done == self.total {
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = elapsed / self.done as f64 * self.total.saturating_sub(self.done) as f64;
            eprintln!(
                "{}/{} {} ({:.0} %), {elapsed:.0} s, ETA {eta:.0} s{}",
                self.done,
                self.total,
                self.label,
                self.done as f64 * 100.0 / total as f64,
                if msg.is_empty() { String::new() } else { format!("; {msg}") }
            );
            while self.next_tenth * total <= self.done * 10 {
                self.next_tenth += 1;
            }
        }
    }

    /// Remove the bar (plain lines stay).
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
