//! Logs and traces of the commands that run for a while (`aecl serve`, `aecl mcp`,
//! `aecl witness`): one subscriber on standard error, in text or JSON Lines
//! (`--log-format`), filtered by `AECL_LOG` (the `tracing` EnvFilter syntax, e.g.
//! `info,aecl::decision=warn`), with ANSI colour only when standard error is a terminal
//! (a log file or a journal gets plain text). With `--otlp-endpoint`, spans also go to an
//! OpenTelemetry collector (`otlp.rs`).
//!
//! Decision and approval lines (targets `aecl::decision`, `aecl::approval`) are written by
//! the engine (`aecl_engine::observe`); this module only chooses where they go.

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use tracing::field::Field;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{Writer, debug_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::otlp::{OtlpExport, OtlpGuard};

/// The variable that filters logs (EnvFilter syntax).
pub const FILTER_VAR: &str = "AECL_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal only).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields
    /// (`message` among them) and the current span.
    Json,
}

/// The global `--log-format`, set once by `main` before a command runs.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Records the global `--log-format` (the first call wins).
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// The format chosen on the command line (text by default).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Keeps the trace exporter alive; dropping it flushes the spans not yet sent.
#[derive(Debug)]
#[must_use = "dropping the guard stops the trace export"]
pub struct Telemetry {
    otlp: Option<OtlpGuard>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(otlp) = self.otlp.take() {
            otlp.shutdown();
        }
    }
}

/// Installs the process's subscriber: logs on standard error at `default_filter` unless
/// `AECL_LOG` says otherwise, and spans to `otlp` when given. An `AECL_LOG` that does not
/// parse is an error rather than a silent default: an operator who asked for a filter
/// must not be left wondering why lines are missing.
pub fn init(default_filter: &str, otlp: Option<OtlpExport>) -> Result<Telemetry> {
    let filter = log_filter(std::env::var(FILTER_VAR).ok().as_deref(), default_filter)?;
    let ansi = std::io::stderr().is_terminal();
    let fmt = match format() {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .fmt_fields(debug_fn(escaped_field).delimited(" "))
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_filter(filter)
            .boxed(),
    };
    let (otlp_layer, guard) = match otlp {
        Some(export) => {
            let (layer, guard) = export.start()?;
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    // Already set (a test harness, or a second call): logging stays as it was.
    let _ = tracing_subscriber::registry().with(fmt).with(otlp_layer).try_init();
    Ok(Telemetry { otlp: guard })
}

/// One field of a text log line, `name=value` (the message alone), with control
/// characters escaped: run and call ids, actions and reasons come from agents, and a line
/// break or a terminal escape in one must not forge a line or hide the rest of one.
fn escaped_field(writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    let text = format!("{value:?}");
    let text = escape_controls(&text);
    match field.name() {
        "message" => write!(writer, "{text}"),
        name => write!(writer, "{}={text}", name.trim_start_matches("r#")),
    }
}

/// `text` with control characters (C0, DEL, C1), line and paragraph separators,
/// bidirectional marks and overrides and zero-width characters written as Rust escapes (`\n`, `\u{1b}`).
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{61c}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{2028}'..='\u{202e}'
                    | '\u{2060}'..='\u{2069}'
                    | '\u{feff}'
            )
    };
    if !text.contains(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The log filter: `AECL_LOG` when set, else `default_filter`.
fn log_filter(var: Option<&str>, default_filter: &str) -> Result<EnvFilter> {
    match var.map(str::trim).filter(|v| !v.is_empty()) {
        Some(text) => EnvFilter::try_new(text).with_context(|| {
            format!("{FILTER_VAR}=`{text}` is not a log filter (e.g. `info` or `warn,aecl::decision=info`)")
        }),
        None => Ok(EnvFilter::new(default_filter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_that_does_not_parse_is_an_error_naming_the_variable() {
        let error = log_filter(Some("info,[[["), "info").unwrap_err();
        assert!(format!("{error:#}").contains("AECL_LOG"), "{error:#}");
    }

    #[test]
    fn control_characters_in_a_field_are_escaped() {
        assert_eq!(escape_controls("r1"), "r1");
        assert_eq!(escape_controls("é and ✓"), "é and ✓");
        let forged = "r1\n2026-11-28T00:00:00Z INFO aecl::approval: outcome=approved";
        assert_eq!(escape_controls(forged).lines().count(), 1);
        assert_eq!(escape_controls("c1\u{1b}[8m"), "c1\\u{1b}[8m");
        assert_eq!(escape_controls("a\rb\u{85}c\u{202e}d"), "a\\rb\\u{85}c\\u{202e}d");
    }

    #[test]
    fn an_unset_or_blank_variable_takes_the_default() {
        assert_eq!(log_filter(None, "warn").unwrap().to_string(), "warn");
        assert_eq!(log_filter(Some("  "), "info").unwrap().to_string(), "info");
        assert_eq!(
            log_filter(Some("aecl::decision=info"), "warn").unwrap().to_string(),
            "aecl::decision=info"
        );
    }
}
