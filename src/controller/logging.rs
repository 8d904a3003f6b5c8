//! Logging: tracing to stderr, as text for people or JSON (one object per line) for log
//! pipelines, filtered by a `RUST_LOG`-style directive (`info`, `vpce_rollout=debug,kube=warn`).
//!
//! Logs go to stderr so that commands that print results (`analyze`, `crd`) keep stdout clean.
//! In JSON, the fields of the current span are included, so the reconcile span's object key
//! appears on every line logged inside it.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter when none is given: our own and kube-runtime's progress at info, the HTTP and AWS
/// plumbing only when it warns.
pub const DEFAULT_FILTER: &str =
    "info,hyper=warn,hyper_util=warn,aws_smithy_runtime=warn,aws_config=warn,rustls=warn";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, with the current span's fields.
    Json,
}

/// A log filter that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid log filter {filter:?}: {source} (expected RUST_LOG syntax, e.g. \"info\" or \"info,vpce_rollout=debug\")"
)]
pub struct InvalidFilter {
    filter: String,
    #[source]
    source: tracing_subscriber::filter::ParseError,
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(format: LogFormat, filter: &str) -> Result<(), InvalidFilter> {
    let subscriber = subscriber(format, filter, std::io::stderr, std::io::stderr().is_terminal())?;
    // A second init (tests, embedding) keeps the first subscriber rather than failing the run.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

/// The subscriber `init` installs, writing to `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
    ansi: bool,
) -> Result<Box<dyn Subscriber + Send + Sync>, InvalidFilter>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .parse(filter)
        .map_err(|source| InvalidFilter {
            filter: filter.to_string(),
            source,
        })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true);
    Ok(match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn log_a_reconcile(format: LogFormat, filter: &str) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(format, filter, buffer.clone(), false).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("reconcile", object = "team-a/logs");
            span.in_scope(|| {
                tracing::info!(phase = "AwaitingApproval", "plan waits for approval");
                tracing::debug!("describe calls done");
            });
        });
        buffer.text()
    }

    #[test]
    fn json_lines_carry_the_message_the_fields_and_the_reconcile_span() {
        let out = log_a_reconcile(LogFormat::Json, "info");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        assert_eq!(lines.len(), 1, "debug is filtered out: {out}");
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "plan waits for approval");
        assert_eq!(line["phase"], "AwaitingApproval");
        assert_eq!(line["span"]["name"], "reconcile");
        assert_eq!(line["span"]["object"], "team-a/logs");
        assert!(line["timestamp"].is_string());
    }

    #[test]
    fn text_lines_are_plain_and_the_filter_opens_debug_per_target() {
        let out = log_a_reconcile(LogFormat::Text, "warn,vpce_rollout=debug");
        assert!(out.contains("plan waits for approval"), "{out}");
        assert!(out.contains("describe calls done"), "{out}");
        assert!(
            out.contains("object=\"team-a/logs\"") || out.contains("object=team-a/logs"),
            "{out}"
        );
        assert!(!out.contains('\u{1b}'), "no colour codes off a terminal: {out:?}");
    }

    #[test]
    fn the_default_filter_parses_and_a_bad_one_is_explained() {
        assert!(subscriber(LogFormat::Text, DEFAULT_FILTER, Buffer::default(), false).is_ok());
        let err = subscriber(
            LogFormat::Text,
            "info,vpce_rollout=loud",
            Buffer::default(),
            false,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("invalid log filter"), "{err}");
        assert!(err.to_string().contains("RUST_LOG syntax"), "{err}");
    }
}
