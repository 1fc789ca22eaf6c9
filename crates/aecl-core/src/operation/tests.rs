//! Unit tests of the operation binding: a named operation must be the bound one, exactly,
//! and a `read` action runs only reading SQL.

use serde_json::{Value, json};

use super::check::mismatches;
use super::*;
use crate::class::{EffectClass, Reversibility};
use crate::constraint::Constraint;
use crate::path::FieldPath;
use crate::policy::{ActionSpec, ArgSpec};
use crate::sql::{SqlDialect, SqlRules, StatementClass};

fn action(effect: EffectClass, operation: Option<Operation>) -> ActionSpec {
    ActionSpec {
        name: "files".to_owned(),
        effect,
        reversibility: Reversibility::NoEffect,
        output: Default::default(),
        schema: None,
        args: Vec::new(),
        amount_arg: None,
        scope_args: Default::default(),
        risk_factors: Vec::new(),
        approval: Default::default(),
        connector: Some("files".to_owned()),
        outward: false,
        limits: Default::default(),
        sandbox: None,
        operation: operation
            .map(|operation| OperationBinding { operation, arg: DEFAULT_OPERATION_ARG.to_owned() }),
        authoritative_for: Vec::new(),
    }
}

fn fields(action: &ActionSpec, args: Value) -> Vec<String> {
    mismatches(action, &args).into_iter().map(|m| m.field).collect()
}

#[test]
fn only_the_bound_operation_may_be_named_and_only_exactly() {
    let read = action(EffectClass::Read, Some(Operation::Read));
    assert!(fields(&read, json!({ "path": "a.txt" })).is_empty(), "absent is the binding");
    assert!(fields(&read, json!({ "op": "read", "path": "a.txt" })).is_empty());
    for other in [
        json!("delete"),
        json!("write"),
        json!("Read"),
        json!(" read"),
        json!("read\u{0}"),
        json!(["read"]),
        json!(null),
        json!({ "op": "read" }),
    ] {
        let args = json!({ "op": other, "path": "a.txt" });
        let found = mismatches(&read, &args);
        assert_eq!(found.len(), 1, "{args}");
        assert_eq!(found[0].field, "op");
        assert!(found[0].message.contains("bound to operation `read`"), "{}", found[0].message);
    }
}

#[test]
fn the_argument_name_comes_from_the_binding() {
    let mut write = action(EffectClass::Write, Some(Operation::Write));
    write.operation.as_mut().unwrap().arg = "mode".to_owned();
    assert_eq!(fields(&write, json!({ "mode": "delete" })), ["mode"]);
    assert!(fields(&write, json!({ "mode": "write", "op": "anything" })).is_empty());
}

#[test]
fn an_unbound_action_checks_no_argument() {
    let send = action(EffectClass::Send, None);
    assert!(fields(&send, json!({ "op": "delete" })).is_empty());
}

#[test]
fn effects_imply_operations_and_operations_require_effects() {
    assert_eq!(Operation::of_effect(EffectClass::Read), Some(Operation::Read));
    assert_eq!(Operation::of_effect(EffectClass::Delete), Some(Operation::Delete));
    assert_eq!(Operation::of_effect(EffectClass::Exec), None);
    assert_eq!(Operation::Move.effect(), EffectClass::Write);
    for operation in Operation::ALL {
        assert_eq!(Operation::parse(operation.as_str()), Some(operation));
    }
    assert_eq!(Operation::parse("Delete"), None);
}

#[test]
fn a_read_action_runs_only_reading_sql() {
    let mut read = action(EffectClass::Read, None);
    read.args.push(ArgSpec {
        path: FieldPath::parse("query").unwrap(),
        control: true,
        sink: false,
        constraints: vec![Constraint::Sql(SqlRules {
            dialect: SqlDialect::Sqlite,
            allow: vec![StatementClass::Select, StatementClass::Delete],
            ..SqlRules::default()
        })],
        values: Default::default(),
    });
    assert!(fields(&read, json!({ "query": "SELECT * FROM users" })).is_empty());
    assert_eq!(fields(&read, json!({ "query": "DELETE FROM users" })), ["query"]);
    assert_eq!(fields(&read, json!({ "query": "SELECT 1; DROP TABLE users" })), ["query"]);
    let cte = "WITH gone AS (DELETE FROM users RETURNING id) SELECT * FROM gone";
    assert_eq!(fields(&read, json!({ "query": cte })), ["query"]);
    // Without a connector the client runs its own statement: its SQL rules decide.
    let mut client = read.clone();
    client.connector = None;
    assert!(fields(&client, json!({ "query": "DELETE FROM users" })).is_empty());
    // The same statement is fine for a write action: its SQL rules decide.
    let mut write = read.clone();
    write.effect = EffectClass::Write;
    assert!(fields(&write, json!({ "query": "DELETE FROM users" })).is_empty());
}

#[test]
fn a_read_action_sees_the_policys_own_function_lists() {
    let mut read = action(EffectClass::Read, None);
    let mut rules = SqlRules { dialect: SqlDialect::Postgres, ..SqlRules::default() };
    // The policy says what its own function does; the read-only check must know it too.
    rules.functions.add("bump_counter", Some(StatementClass::Update));
    read.args.push(ArgSpec {
        path: FieldPath::parse("query").unwrap(),
        control: true,
        sink: false,
        constraints: vec![Constraint::Sql(rules)],
        values: Default::default(),
    });
    assert_eq!(fields(&read, json!({ "query": "SELECT bump_counter(1)" })), ["query"]);
    assert!(fields(&read, json!({ "query": "SELECT lower(name) FROM users" })).is_empty());
}

#[test]
fn a_read_action_sends_only_reading_http_methods() {
    let read = action(EffectClass::Read, Some(Operation::Read));
    for ok in ["GET", "get", "HEAD", "Options"] {
        assert!(fields(&read, json!({ "method": ok, "url": "https://a/" })).is_empty(), "{ok}");
    }
    assert!(fields(&read, json!({ "url": "https://a/" })).is_empty(), "absent is GET");
    // Attempts: another method, a spelling the connector might read differently, and a
    // non-string.
    for bad in [json!("POST"), json!("DELETE"), json!("get "), json!("GET\r\n"), json!(["POST"])] {
        let args = json!({ "method": bad, "url": "https://a/" });
        assert_eq!(fields(&read, args.clone()), ["method"], "{args}");
    }
    // A method-override header asks the server for another method.
    let args = json!({ "url": "https://a/", "headers": { "X-HTTP-Method-Override": "DELETE" } });
    assert_eq!(fields(&read, args), ["headers.X-HTTP-Method-Override"]);
    let args = json!({ "url": "https://a/", "headers": { " x-method-override": "put" } });
    assert_eq!(fields(&read, args).len(), 1);
    let args = json!({ "url": "https://a/", "headers": { "X-HTTP-Method": "GET" } });
    assert!(fields(&read, args).is_empty());
    // A write action may use any method.
    let write = action(EffectClass::Write, Some(Operation::Write));
    assert!(fields(&write, json!({ "method": "POST", "url": "https://a/" })).is_empty());
}
