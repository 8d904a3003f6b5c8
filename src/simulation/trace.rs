//! The step log of a run: one line per thing that happened, with its virtual time. Only kept
//! when asked for (a failing seed is run again with it), so that the seeds test does not pay
//! for formatting.

use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct Trace {
    enabled: bool,
    lines: Vec<String>,
}

impl Trace {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            lines: Vec::new(),
        }
    }

    /// Logs the line `line()` builds, at virtual time `at`, when the trace is kept.
    pub(crate) fn log(&mut self, at: Duration, line: impl FnOnce() -> String) {
        if self.enabled {
            self.lines.push(format!("[{}] {}", clock(at), line()));
        }
    }

    pub(crate) fn into_lines(self) -> Vec<String> {
        self.lines
    }
}

/// Virtual time as the trace shows it: `01:02:03.456`.
pub fn clock(at: Duration) -> String {
    let s = at.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        at.subsec_millis()
    )
}
