//! `connectors.toml` and the registry: errors name the file and the key, and a call whose
//! action has no configured connector fails closed.

use std::path::Path;

use aecl_connectors::{Connectors, ConnectorsFile};
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

#[tokio::test]
async fn actions_without_a_configured_connector_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[connectors.files]\nkind = \"fs\"\nroots = [\"{root}\"]\nundo_dir = \"undo\"\n",
        root = dir.path().display()
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
