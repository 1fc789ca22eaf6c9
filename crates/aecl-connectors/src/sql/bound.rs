//! The bounds of an undo record (red team F6): at most `max_undo_rows` rows changed and
//! `max_undo_bytes` bytes kept, for every reversible write, on both backends.
//!
//! A record without a bound let one allowed statement (`UPDATE m SET v = zeroblob(3e8)`)
//! cost the server gigabytes of memory and the database as much again. So the rows a write
//! would change are counted and measured by the database, in the write's own transaction,
//! before anything runs and before any of them is read (their keys and sizes only); the
//! rows the statement changed are measured the same way before they are read; and the
//! record itself is serialised through a writer that stops at the bound. A write whose
//! record would be too large is refused, or rolled back when only its result shows it, and
//! never runs without its record. The sizes the database gives are of the values (SQLite's
//! `octet_length`, PostgreSQL's row as JSON text), which the record can only exceed
//! (base64, escapes, names), so the first checks never refuse a record the last would keep.

use std::io;

use serde::Serialize;

/// The bounds of one undo record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UndoBounds {
    /// The most rows one write may change.
    pub rows: usize,
    /// The most bytes its record may hold.
    pub bytes: u64,
}

/// Whether the statement has run yet: what a refusal says of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Nothing was executed.
    Before,
    /// The statement ran; its transaction is rolled back.
    After,
}

impl Stage {
    fn outcome(self) -> &'static str {
        match self {
            Stage::Before => "nothing was executed",
            Stage::After => "the statement was rolled back; nothing was changed",
        }
    }
}

/// The rows and bytes of a capture so far, against the bounds.
#[derive(Debug)]
pub(crate) struct Tally {
    bounds: UndoBounds,
    bytes: u64,
}

impl Tally {
    pub fn new(bounds: UndoBounds) -> Tally {
        Tally { bounds, bytes: 0 }
    }

    /// Refuses `rows` rows changed (or selected) past the bound.
    pub fn rows(&self, rows: usize, stage: Stage) -> Result<(), String> {
        if rows <= self.bounds.rows {
            return Ok(());
        }
        Err(format!(
            "not_undoable: the statement changes more than {} rows, the most one undo record \
             keeps (`max_undo_rows`); {}",
            self.bounds.rows,
            stage.outcome()
        ))
    }

    pub fn bounds(&self) -> UndoBounds {
        self.bounds
    }

    /// The bytes the record may still hold.
    pub fn left(&self) -> u64 {
        self.bounds.bytes.saturating_sub(self.bytes)
    }

    /// The rows one more than the bound: what a query asks for, to tell "too many".
    pub fn rows_asked(&self) -> usize {
        self.bounds.rows.saturating_add(1)
    }

    /// Counts `bytes` more of the record; refused past the bound.
    pub fn bytes(&mut self, bytes: u64, stage: Stage) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes <= self.bounds.bytes {
            return Ok(());
        }
        Err(too_large(self.bounds, stage))
    }
}

/// The refusal of a record over `bounds.bytes`.
pub(crate) fn too_large(bounds: UndoBounds, stage: Stage) -> String {
    format!(
        "not_undoable: the undo record would exceed {} bytes (`max_undo_bytes`); {}",
        bounds.bytes,
        stage.outcome()
    )
}

/// `record` as JSON text, refused past `bounds.bytes` bytes: the writer stops there, so no
/// more is ever held. Called after the statement ran (a refusal rolls it back).
pub(crate) fn record_text<T: Serialize>(record: &T, bounds: UndoBounds) -> Result<String, String> {
    let limit = usize::try_from(bounds.bytes).unwrap_or(usize::MAX);
    let mut capped = Capped { out: Vec::new(), limit };
    match serde_json::to_writer(&mut capped, record) {
        Ok(()) => String::from_utf8(capped.out).map_err(|e| format!("undo record: {e}")),
        Err(e) if e.is_io() => Err(too_large(bounds, Stage::After)),
        Err(e) => Err(format!("undo record: {e}")),
    }
}

/// A buffer that refuses to grow past `limit` bytes.
struct Capped {
    out: Vec<u8>,
    limit: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len().saturating_add(buf.len()) > self.limit {
            return Err(io::Error::other("the undo record is over its bound"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: UndoBounds = UndoBounds { rows: 2, bytes: 16 };

    #[test]
    fn rows_and_bytes_past_the_bounds_are_refused_naming_the_limit() {
        let mut tally = Tally::new(BOUNDS);
        assert!(tally.rows(2, Stage::Before).is_ok());
        let error = tally.rows(3, Stage::Before).unwrap_err();
        assert!(error.contains("more than 2 rows") && error.contains("nothing was executed"));
        assert!(tally.bytes(10, Stage::Before).is_ok());
        assert!(tally.bytes(6, Stage::After).is_ok());
        let error = tally.bytes(1, Stage::After).unwrap_err();
        assert!(
            error.contains("would exceed 16 bytes") && error.contains("rolled back"),
            "{error}"
        );
    }

    #[test]
    fn the_record_is_serialised_up_to_its_bound_only() {
        assert_eq!(record_text(&["abc"], BOUNDS).unwrap(), r#"["abc"]"#);
        let error = record_text(&["a".repeat(15)], BOUNDS).unwrap_err();
        assert!(error.contains("would exceed 16 bytes"), "{error}");
    }
}
