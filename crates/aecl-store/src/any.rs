//! One store type for front ends that choose the database at run time: a URL names it
//! (`postgres://...` or a SQLite file), and [`AnyStore`] forwards every method of the port
//! to the store it opened.

use std::path::PathBuf;

use aecl_engine::{Store, StoreError};

use crate::{AuditConfig, PostgresStore, SqliteStore};

/// Where the store is: a SQLite file or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, as given.
    Postgres(String),
}

impl StoreUrl {
    /// `postgres://...` and `postgresql://...` name a PostgreSQL database; `sqlite://PATH`
    /// or a plain path a SQLite file. Any other `scheme://` is refused rather than taken
    /// for a file name.
    pub fn parse(text: &str) -> Result<StoreUrl, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::Backend("empty store URL".to_owned()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Backend("`sqlite://` names no file".to_owned()));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(StoreError::Backend(format!(
                "unsupported store URL scheme `{scheme}` (use postgres://, postgresql:// or sqlite://)"
            )));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(text)))
    }
}

/// Never prints a PostgreSQL password (URLs end up in logs and error messages).
impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreUrl::Postgres(url) => {
                f.debug_tuple("Postgres").field(&without_password(url)).finish()
            }
        }
    }
}

/// `url` with the password of its user part replaced by `***`.
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The store a [`StoreUrl`] names.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens the store, creating or migrating its schema (see [`SqliteStore::open`] and
    /// [`PostgresStore::open`]).
    pub async fn open(url: &StoreUrl, audit: AuditConfig) -> Result<AnyStore, StoreError> {
        match url {
            // Opening SQLite blocks briefly (file open and migrations) on a file that is
            // local: not worth a blocking-pool hop.
            StoreUrl::Sqlite(path) => SqliteStore::open(path, audit).map(AnyStore::Sqlite),
            StoreUrl::Postgres(url) => {
                PostgresStore::open(url, audit).await.map(AnyStore::Postgres)
            }
        }
    }

    /// [`SqliteStore::set_caller_commits`]. PostgreSQL has no writer thread to skip (its
    /// transactions run on the caller's task, its audit committer on the same runtime):
    /// nothing changes there.
    pub fn set_caller_commits(&self, on: bool) {
        if let AnyStore::Sqlite(store) = self {
            store.set_caller_commits(on);
        }
    }
}

/// Hands one call to the store inside, whichever it is.
macro_rules! to_backend {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        match $self {
            AnyStore::Sqlite(store) => store.$method($($arg),*).await,
            AnyStore::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

aecl_engine::impl_store_by!({ impl Store for AnyStore } via to_backend);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_store() {
        let pg = "postgres://aecl@db:5432/aecl";
        assert_eq!(StoreUrl::parse(pg).unwrap(), StoreUrl::Postgres(pg.to_owned()));
        let pg = "postgresql://aecl@db/aecl?sslmode=require";
        assert_eq!(StoreUrl::parse(pg).unwrap(), StoreUrl::Postgres(pg.to_owned()));
        assert_eq!(
            StoreUrl::parse("sqlite:///var/lib/aecl.db").unwrap(),
            StoreUrl::Sqlite("/var/lib/aecl.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite://aecl.db").unwrap(),
            StoreUrl::Sqlite("aecl.db".into())
        );
        assert_eq!(
            StoreUrl::parse("data/aecl.db").unwrap(),
            StoreUrl::Sqlite("data/aecl.db".into())
        );
        assert!(StoreUrl::parse("mysql://db/aecl").is_err());
        assert!(StoreUrl::parse("sqlite://").is_err());
        assert!(StoreUrl::parse("  ").is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let url = StoreUrl::parse("postgres://aecl:s3cret@db:5432/aecl").unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://aecl:***@db:5432/aecl"), "{shown}");
    }
}
