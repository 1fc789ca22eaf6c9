//! `connectors.toml` and the registry: errors name the file and the key, and a call whose
//! action has no configured connector fails closed.

use std::path::Path;

use aecl_connectors::{ConnectorConfig, Connectors, ConnectorsFile};
use serde_json::json;

use crate::{execute, failed, policy};

#[test]
fn unknown_keys_and_kinds_are_named_with_the_file() {
    let error = ConnectorsFile::parse(
        "[connectors.db]\nkind = \"sql\"\ndatabase = \"x.db\"\nstatment_arg = \"q\"\n",
        "connectors.toml",
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("connectors.toml:"), "{error}");
    assert!(error.contains("statment_arg"), "{error}");
    let error =
        ConnectorsFile::parse("[connectors.db]\nkind = \"ftp\"\n", "c.toml", Path::new("."))
            .unwrap_err()
            .to_string();
    assert!(error.contains("ftp"), "{error}");
    let file = ConnectorsFile::parse(
        "[connectors.db]\nkind = \"sql\"\ndatabase = \"x.db\"\n",
        "c.toml",
        Path::new("/srv"),
    )
    .unwrap();
    assert_eq!(file.connectors["db"].kind(), "sql");
}

#[test]
fn the_undo_bounds_and_the_new_file_mode_are_read_with_their_defaults() {
    let parse = |text: &str| ConnectorsFile::parse(text, "c.toml", Path::new("/srv")).unwrap();
    let file = parse(
        "[connectors.db]\nkind = \"sql\"\ndatabase = \"x.db\"\nmax_undo_rows = 50\n\
         max_undo_bytes = 1048576\n[connectors.files]\nkind = \"fs\"\nroots = [\"/srv/a\"]\n\
         undo_dir = \"/var/undo\"\nnew_file_mode = 0o640\n",
    );
    let (ConnectorConfig::Sql(sql), ConnectorConfig::Fs(fs)) =
        (&file.connectors["db"], &file.connectors["files"])
    else {
        panic!("not an sql and an fs connector");
    };
    assert_eq!((sql.max_undo_rows, sql.max_undo_bytes, fs.new_file_mode), (50, 1 << 20, 0o640));
    let file = parse(
        "[connectors.db]\nkind = \"sql\"\ndatabase = \"x.db\"\n[connectors.files]\n\
         kind = \"fs\"\nroots = [\"/srv/a\"]\nundo_dir = \"/var/undo\"\n",
    );
    let (ConnectorConfig::Sql(sql), ConnectorConfig::Fs(fs)) =
        (&file.connectors["db"], &file.connectors["files"])
    else {
        panic!("not an sql and an fs connector");
    };
    assert_eq!((sql.max_undo_rows, sql.max_undo_bytes, fs.new_file_mode), (1000, 64 << 20, 0o600));
}

#[tokio::test]
async fn actions_without_a_configured_connector_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    // The undo directory is beside the root: one under a root is refused.
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let text = format!(
        "[connectors.files]\nkind = \"fs\"\nroots = [\"{root}\"]\nundo_dir = \"undo\"\n",
        root = root.display()
    );
    let file = ConnectorsFile::parse(&text, "connectors.toml", dir.path()).unwrap();
    let policy = policy();
    let connectors = Connectors::from_config(&file).unwrap();
    let registry = crate::Registry { connectors, policy: policy.clone() };
    assert!(dir.path().join("undo").is_dir(), "undo_dir is relative to the file");
    // The policy names `db`, `hook`, `api` and `nowhere`, which this file does not define.
    let error = registry.check_policy(&policy, "connectors.toml").unwrap_err().to_string();
    assert!(error.contains("connectors.toml does not define"), "{error}");
    for action in ["sql_write", "unbound", "dangling", "not_in_catalog"] {
        let (outcome, _) = execute(&registry, action, json!({ "query": "SELECT 1" })).await;
        assert!(failed(&outcome).starts_with("not_configured"), "{action}");
    }
}

/// An `fs` connector's undo directory inside another connector's root or a shell
/// connector's bind is refused at start-up: an agent could read a file's earlier content
/// there (red team round 24, escape E3). Beside every root and bind, it is taken.
#[test]
fn an_undo_directory_another_connector_reaches_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b", "shared"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let fs = |name: &str, root: &str, undo: &str| {
        format!("[connectors.{name}]\nkind = \"fs\"\nroots = [\"{root}\"]\nundo_dir = \"{undo}\"\n")
    };
    let shell = "[connectors.run]\nkind = \"shell\"\nbinds = [\"shared\"]\n";
    let cases = [
        (format!("{}{}", fs("one", "a", "b/undo"), fs("two", "b", "undo2")), Some("`two`'s root")),
        (format!("{}{shell}", fs("one", "a", "shared/undo")), Some("`run`'s bind")),
        (format!("{}{}{shell}", fs("one", "a", "undo1"), fs("two", "b", "undo2")), None),
    ];
    for (text, refused) in cases {
        let file = ConnectorsFile::parse(&text, "connectors.toml", dir.path()).unwrap();
        match (Connectors::from_config(&file), refused) {
            (Err(e), Some(what)) => {
                let e = e.to_string();
                assert!(e.contains("undo_dir") && e.contains(what), "{e}");
            }
            (Ok(_), None) => {}
            (Err(e), None) => panic!("{text}: {e}"),
            (Ok(_), Some(what)) => panic!("{text}: taken, though the undo_dir is in {what}"),
        }
    }
}

/// aecl's own files inside a connector's reach are refused at start-up (red team round 27,
/// escape E4): the secrets file under an `fs` root, and what `aecl serve` names (its
/// policy, keys and store) under a root or a shell connector's bind, read-only too; a
/// root that holds them is refused as one inside them is.
#[test]
fn aecls_own_files_inside_a_connectors_reach_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["data", "data/secrets", "keys", "policy", "undo"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("data/secrets/secrets.toml"), "").unwrap();
    std::fs::write(dir.path().join("keys/secrets.toml"), "").unwrap();
    let text = |secrets: &str, root: &str| {
        format!(
            "[secrets]\nfile = \"{secrets}\"\n[connectors.files]\nkind = \"fs\"\n\
             roots = [\"{root}\"]\nundo_dir = \"undo\"\n"
        )
    };
    let parse = |text: &str| ConnectorsFile::parse(text, "connectors.toml", dir.path()).unwrap();
    let refused = Connectors::from_config(&parse(&text("data/secrets/secrets.toml", "data")));
    let Err(error) = refused else { panic!("taken, though the secrets file is inside the root") };
    let error = error.to_string();
    assert!(error.contains("secrets file") && error.contains("`files`'s root"), "{error}");
    let file = parse(&text("keys/secrets.toml", "data"));
    Connectors::from_config(&file).unwrap();

    let private = |path: &str| vec![("the audit signing key", dir.path().join(path))];
    for (config, path) in [
        (text("keys/secrets.toml", "data"), "data/audit.key"),
        (text("keys/secrets.toml", "data/secrets"), "data"),
        (
            "[connectors.run]\nkind = \"shell\"\nro_binds = [\"keys\"]\n".to_owned(),
            "keys/audit.key",
        ),
    ] {
        let error = aecl_connectors::refuse_reaching(&parse(&config), &private(path))
            .expect_err(&format!("{config}: {path} is reached"))
            .to_string();
        assert!(error.contains("audit signing key"), "{error}");
    }
    aecl_connectors::refuse_reaching(&file, &private("keys/audit.key")).unwrap();
}

/// A `sql` connector on aecl's own store, or on a SQLite file inside the policy directory,
/// is refused at start-up as a root is (red team round 28, escape T1: `database =
/// "aecl.db"` read every grant, approval and run history); a link to the store is the
/// store. On PostgreSQL, the store's database on the same server is refused, `localhost`
/// and `127.0.0.1` being one; another database is not.
#[test]
fn a_sql_connector_on_aecls_own_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policy")).unwrap();
    std::fs::write(dir.path().join("aecl.db"), "").unwrap();
    std::fs::write(dir.path().join("users.db"), "").unwrap();
    std::fs::write(dir.path().join("policy/x.db"), "").unwrap();
    std::os::unix::fs::symlink(dir.path().join("aecl.db"), dir.path().join("alias.db")).unwrap();
    let parse = |database: &str| {
        let text = format!("[connectors.db]\nkind = \"sql\"\ndatabase = \"{database}\"\n");
        ConnectorsFile::parse(&text, "connectors.toml", dir.path()).unwrap()
    };
    let private = vec![
        ("the store", dir.path().join("aecl.db")),
        ("the policy directory", dir.path().join("policy")),
    ];
    for (database, what) in [
        ("aecl.db", "the store"),
        ("sqlite://aecl.db", "the store"),
        ("alias.db", "the store"),
        ("policy/x.db", "the policy directory"),
    ] {
        let error = aecl_connectors::refuse_reaching(&parse(database), &private)
            .expect_err(&format!("{database} is taken"))
            .to_string();
        assert!(error.contains(what) && error.contains("`db`'s database"), "{error}");
    }
    aecl_connectors::refuse_reaching(&parse("users.db"), &private).unwrap();

    let store = "postgres://aecl:pw@localhost:5433/aecl";
    for database in [
        "postgres://app:pw@127.0.0.1:5433/aecl",
        "postgresql://aecl@localhost:5433/aecl?sslmode=disable",
    ] {
        let error = aecl_connectors::refuse_store_database(&parse(database), store)
            .expect_err(&format!("{database} is taken"))
            .to_string();
        assert!(error.contains("connectors.db.database") && error.contains("store"), "{error}");
    }
    for database in ["postgres://app@localhost:5433/shop", "postgres://aecl@localhost:5432/aecl"] {
        aecl_connectors::refuse_store_database(&parse(database), store).unwrap();
    }
}

/// A SQLite database in a directory a shell connector binds writable is refused at
/// start-up: the agent could swap it for a link to aecl's store, which the connector would
/// then open (red team round 29, tamper H1). A read-only bind, or one beside it, is fine.
#[test]
fn a_sqlite_database_a_shell_may_replace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["data", "work"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("data/users.db"), "").unwrap();
    let parse = |shell: &str| {
        let text = format!(
            "[connectors.db]\nkind = \"sql\"\ndatabase = \"data/users.db\"\n\
             [connectors.sandbox]\nkind = \"shell\"\n{shell}\n"
        );
        ConnectorsFile::parse(&text, "connectors.toml", dir.path()).unwrap()
    };
    // Missing at start and named through another directory: placed where it really is
    // (second pass, T-H1).
    std::fs::create_dir_all(dir.path().join("notes")).unwrap();
    let missing = |shell: &str| {
        let text = format!(
            "[connectors.db]\nkind = \"sql\"\ndatabase = \"notes/../data/new.db\"\n\
             [connectors.sandbox]\nkind = \"shell\"\n{shell}\n"
        );
        ConnectorsFile::parse(&text, "connectors.toml", dir.path()).unwrap()
    };
    let error = aecl_connectors::refuse_reaching(&missing("binds = [\"data\"]"), &[])
        .expect_err("a missing database in the bind")
        .to_string();
    assert!(error.contains("`sandbox`"), "{error}");
    for shell in ["binds = [\"data\"]", "binds = [\".\"]"] {
        let error = aecl_connectors::refuse_reaching(&parse(shell), &[])
            .expect_err(&format!("{shell}: the database may be replaced"))
            .to_string();
        assert!(error.contains("connectors.db") && error.contains("`sandbox`"), "{error}");
    }
    for shell in ["ro_binds = [\"data\"]", "binds = [\"work\"]"] {
        aecl_connectors::refuse_reaching(&parse(shell), &[]).unwrap();
    }
}

/// aecl's own files with a second name (a hard link) are refused at start-up, wherever
/// the other name is: a path comparison does not see it (red team round 28, escape T2:
/// the audit key linked into a shell bind was read there). A file of the policy directory
/// is looked at too.
#[test]
fn aecls_own_files_with_another_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["keys", "notes", "policy/agents"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("keys/audit.key"), "key").unwrap();
    std::fs::write(dir.path().join("policy/agents/a.toml"), "").unwrap();
    let file = ConnectorsFile::parse(
        "[connectors.run]\nkind = \"shell\"\nro_binds = [\"notes\"]\n",
        "connectors.toml",
        dir.path(),
    )
    .unwrap();
    let private = vec![
        ("the audit signing key", dir.path().join("keys/audit.key")),
        ("the policy directory", dir.path().join("policy")),
    ];
    aecl_connectors::refuse_reaching(&file, &private).unwrap();
    std::fs::hard_link(dir.path().join("keys/audit.key"), dir.path().join("notes/k.md")).unwrap();
    let error = aecl_connectors::refuse_reaching(&file, &private).unwrap_err().to_string();
    assert!(error.contains("audit signing key") && error.contains("2 names"), "{error}");
    std::fs::remove_file(dir.path().join("notes/k.md")).unwrap();
    std::fs::hard_link(dir.path().join("policy/agents/a.toml"), dir.path().join("notes/a.toml"))
        .unwrap();
    let error = aecl_connectors::refuse_reaching(&file, &private).unwrap_err().to_string();
    assert!(error.contains("policy directory") && error.contains("a.toml"), "{error}");
}
