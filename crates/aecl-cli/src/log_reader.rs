//! Reading a stored audit log, SQLite or PostgreSQL, without the signing key: what the
//! `aecl audit` commands verify, export and prove.

use std::path::PathBuf;

use aecl_audit::StoredRecord;
use aecl_store::{PostgresReader, PostgresStore, SqliteReader, SqliteStore, StoreUrl};
use anyhow::{Context, Result};

/// Records read per query.
pub const PAGE: usize = 10_000;

pub enum LogReader {
    Sqlite(SqliteReader),
    Postgres(Box<PostgresReader>, tokio::runtime::Runtime),
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogReader::Sqlite(_) => "LogReader::Sqlite",
            LogReader::Postgres(..) => "LogReader::Postgres",
        })
    }
}

impl LogReader {
    /// Opens the store at `db`: a SQLite file (a path or `sqlite://PATH`) or
    /// `postgres://...`.
    pub fn open(db: &str) -> Result<LogReader> {
        match StoreUrl::parse(db).with_context(|| format!("`{db}` is not a store"))? {
            StoreUrl::Sqlite(path) => Ok(LogReader::Sqlite(open_sqlite(path)?)),
            StoreUrl::Postgres(url) => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let reader = runtime
                    .block_on(PostgresStore::open_reader(&url))
                    .context("connecting to PostgreSQL")?;
                Ok(LogReader::Postgres(Box::new(reader), runtime))
            }
        }
    }

    pub fn records(&self, from: u64, limit: usize) -> Result<Vec<StoredRecord>> {
        Ok(match self {
            LogReader::Sqlite(r) => r.audit_records(from, limit)?,
            LogReader::Postgres(r, rt) => rt.block_on(r.audit_records(from, limit))?,
        })
    }

    pub fn checkpoints(&self) -> Result<Vec<String>> {
        Ok(match self {
            LogReader::Sqlite(r) => r.audit_checkpoints()?,
            LogReader::Postgres(r, rt) => rt.block_on(r.audit_checkpoints())?,
        })
    }

    /// The log's head as the store keeps it.
    pub fn head(&self) -> Result<aecl_audit::LogState> {
        Ok(match self {
            LogReader::Sqlite(r) => r.audit_head()?,
            LogReader::Postgres(r, rt) => rt.block_on(r.audit_head())?,
        })
    }

    /// Every record from `from` on, page by page. A read error ends the stream and is
    /// kept in `error`, so that a verification over it does not pass silently.
    pub fn stream(&self, from: u64) -> Pages<'_> {
        Pages { reader: self, next: from, page: Vec::new().into_iter(), done: false, error: None }
    }
}

fn open_sqlite(path: PathBuf) -> Result<SqliteReader> {
    SqliteStore::open_read_only(&path).with_context(|| format!("opening `{}`", path.display()))
}

#[derive(Debug)]
pub struct Pages<'a> {
    reader: &'a LogReader,
    next: u64,
    page: std::vec::IntoIter<StoredRecord>,
    done: bool,
    pub error: Option<anyhow::Error>,
}

impl Iterator for Pages<'_> {
    type Item = StoredRecord;

    fn next(&mut self) -> Option<StoredRecord> {
        loop {
            if let Some(record) = self.page.next() {
                // Page by the stored numbers, whatever they are: verification judges them.
                self.next = record.0.saturating_add(1);
                return Some(record);
            }
            if self.done {
                return None;
            }
            match self.reader.records(self.next, PAGE) {
                Ok(page) => {
                    self.done = page.len() < PAGE;
                    self.page = page.into_iter();
                }
                Err(e) => {
                    self.error = Some(e);
                    self.done = true;
                }
            }
        }
    }
}
