//! aecl's own files out of every connector's reach: what decides (the policy), what signs
//! (the audit key), what admits (the token key), what injects credentials (the secrets
//! file) and what remembers (the store). An agent that reaches one through a connector
//! reads or changes aecl itself, so the server refuses to start with such a setup:
//!
//! - an `fs` connector's root or a `shell` connector's bind that holds one of them or lies
//!   inside it (red team round 27, escape E4), and an `fs` connector's `undo_dir` likewise
//!   (round 24, escape E3: an agent could read a file's earlier content or plant an undo
//!   record);
//! - a `sql` connector whose SQLite file is one of them or inside the policy directory,
//!   or whose PostgreSQL database is the store's (round 28, escape T1: `database =
//!   "aecl.db"` read every grant, approval and run history);
//! - one of them with another name (a hard link), which no comparison of paths sees
//!   (round 28, escape T2: the audit key linked into a shell bind was read there);
//! - a `sql` connector's SQLite file in a directory a `shell` connector binds writable,
//!   where the agent could swap it for a link to one of them (round 29, tamper H1).

use std::path::{Path, PathBuf};

use crate::config::{ConnectorConfig, ConnectorsFile};
use crate::error::ConnectorError;

/// The most entries of a private directory (the policy's) whose names are counted.
const MAX_ENTRIES: usize = 10_000;

/// Refuses `file`'s connectors when one of `private` (each with what it is) is reached by a
/// connector, or has more than one name; see the module's documentation.
pub fn refuse_reaching(
    file: &ConnectorsFile,
    private: &[(&str, PathBuf)],
) -> Result<(), ConnectorError> {
    // A path that does not exist yet (a database made later, a checkpoint directory) is
    // placed by its existing parents (`real_path.rs`).
    let real = |path: &Path| crate::real_path::real_path(&file.resolve(path));
    let mut reach: Vec<(&str, &str, PathBuf)> = Vec::new();
    for (name, config) in &file.connectors {
        match config {
            ConnectorConfig::Fs(c) => {
                reach.extend(c.roots.iter().map(|r| (name.as_str(), "root", real(r))))
            }
            ConnectorConfig::Shell(c) => reach.extend(
                c.binds.iter().chain(&c.ro_binds).map(|b| (name.as_str(), "bind", real(b))),
            ),
            ConnectorConfig::Sql(c) => {
                reach.extend(c.sqlite_file(file).map(|db| (name.as_str(), "database", real(&db))))
            }
            ConnectorConfig::Http(_) | ConnectorConfig::Webhook(_) => {}
        }
    }
    for (what, path) in private {
        let private = real(path);
        if let Some((other, kind, place)) =
            reach.iter().find(|(_, _, p)| private.starts_with(p) || p.starts_with(&private))
        {
            return Err(file.error(format!(
                "{what} `{}` and connector `{other}`'s {kind} `{}` overlap: an agent could \
                 read or change it through the connector; keep aecl's own files outside \
                 every connector's roots, binds and databases",
                private.display(),
                place.display()
            )));
        }
        if let Some((linked, names)) = linked_file(&private) {
            return Err(file.error(format!(
                "{what}: `{}` has {names} names (hard links): a connector may reach it under \
                 another one; give aecl's own files a single name",
                linked.display()
            )));
        }
    }
    // A SQLite database in a directory a shell connector may write: the agent could put
    // a link to another file in its place (red team round 29, tamper H1). The connector
    // opens only the file it started with (`sql/sqlite/pinned.rs`); this keeps the swap
    // from being tried at all.
    let writable: Vec<(&str, PathBuf)> = file
        .connectors
        .iter()
        .filter_map(|(name, config)| match config {
            ConnectorConfig::Shell(c) => Some((name.as_str(), &c.binds)),
            _ => None,
        })
        .flat_map(|(name, binds)| binds.iter().map(move |b| (name, real(b))))
        .collect();
    for (name, config) in &file.connectors {
        let ConnectorConfig::Sql(c) = config else { continue };
        let Some(db) = c.sqlite_file(file).map(|db| real(&db)) else { continue };
        let dir = db.parent().unwrap_or(Path::new("/"));
        if let Some((other, bind)) = writable.iter().find(|(_, bind)| dir.starts_with(bind)) {
            return Err(file.error(format!(
                "connectors.{name}: the SQLite database `{}` is in a directory connector \
                 `{other}` binds writable (`{}`): an agent could replace it with a link to \
                 another file; keep the database outside writable binds (a read-only bind \
                 is fine)",
                db.display(),
                bind.display()
            )));
        }
    }
    for (name, config) in &file.connectors {
        let ConnectorConfig::Fs(c) = config else { continue };
        let undo = real(&c.undo_dir);
        if let Some((other, what, place)) =
            reach.iter().find(|(_, _, p)| undo.starts_with(p) || p.starts_with(&undo))
        {
            return Err(file.error(format!(
                "connectors.{name}: undo_dir `{}` and connector `{other}`'s {what} `{}` overlap: \
                 keep the pre-images outside every connector's roots and binds",
                undo.display(),
                place.display()
            )));
        }
    }
    Ok(())
}

/// Refuses a `sql` connector on the PostgreSQL database the store `url` is in: the same
/// database name on the same server (its hosts, loopback names taken as one, and port).
pub fn refuse_store_database(file: &ConnectorsFile, url: &str) -> Result<(), ConnectorError> {
    let Some(store) = Place::of(url) else { return Ok(()) };
    for (name, config) in &file.connectors {
        let ConnectorConfig::Sql(c) = config else { continue };
        let Some(place) = c.postgres_url().and_then(Place::of) else { continue };
        if place.dbname == store.dbname
            && place.port == store.port
            && place.hosts.iter().any(|h| store.hosts.contains(h))
        {
            return Err(file.error(format!(
                "connectors.{name}.database: the database `{}` is the store's: an agent could \
                 read or change aecl's grants, approvals, run histories and audit log through \
                 the connector; give the connector another database",
                place.dbname
            )));
        }
    }
    Ok(())
}

/// Where a PostgreSQL URL connects: its hosts, its port and its database.
struct Place {
    hosts: Vec<String>,
    port: u16,
    dbname: String,
}

impl Place {
    fn of(url: &str) -> Option<Place> {
        use tokio_postgres::config::Host;
        let config = url.parse::<tokio_postgres::Config>().ok()?;
        let loopback = |name: &str| {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        };
        // No host is the local socket, as libpq takes it.
        let mut hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) if !loopback(name) => name.to_ascii_lowercase(),
                Host::Tcp(_) | Host::Unix(_) => "this machine".to_owned(),
            })
            .collect();
        if hosts.is_empty() {
            hosts.push("this machine".to_owned());
        }
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let dbname = config.get_dbname().or(config.get_user()).unwrap_or_default().to_owned();
        Some(Place { hosts, port, dbname })
    }
}

/// A regular file at or beneath `path` (a directory's entries, to [`MAX_ENTRIES`]) with
/// more than one name, and how many it has.
fn linked_file(path: &Path) -> Option<(PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut pending = vec![path.to_path_buf()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_file() && meta.nlink() > 1 {
            return Some((path, meta.nlink()));
        }
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_ENTRIES {
                    return None;
                }
                pending.push(entry.path());
            }
        }
    }
    None
}
