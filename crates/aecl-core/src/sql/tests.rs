//! Unit tests of the SQL classifier: classes, bulk filters and function calls. The
//! data-driven corpus (`test_data/sql/`) checks whole decisions.

use super::*;
use crate::violation::ValueFacts;

fn classes(sql: &str) -> Vec<(Vec<StatementClass>, bool)> {
    analyse(SqlDialect::Sqlite, sql).unwrap().into_iter().map(|s| (s.classes, s.bulk)).collect()
}

fn pg(sql: &str) -> StatementInfo {
    let mut all = analyse(SqlDialect::Postgres, sql).unwrap();
    assert_eq!(all.len(), 1, "{sql}");
    all.remove(0)
}

fn bulk(sql: &str) -> bool {
    pg(sql).bulk
}

#[test]
fn delete_without_where_is_bulk_and_a_pinned_one_is_not() {
    assert_eq!(classes("DELETE FROM users"), vec![(vec![StatementClass::Delete], true)]);
    assert_eq!(
        classes("delete from users where id = 7"),
        vec![(vec![StatementClass::Delete], false)]
    );
    assert_eq!(
        classes("UPDATE t SET a = 1 WHERE 1 = 1"),
        vec![(vec![StatementClass::Update], true)]
    );
    assert_eq!(
        classes("DELETE FROM t WHERE id = 3 AND 1 = 1"),
        vec![(vec![StatementClass::Delete], false)]
    );
}

#[test]
fn filters_that_do_not_pin_rows_are_bulk() {
    for filter in [
        "1",
        "true",
        "1 = 1",
        "'a' = 'a'",
        "2 > 1",
        "NOT false",
        "id IS NOT NULL",
        "id = id",
        "id = id OR x = 3",
        "id = 3 OR 1 = 1",
        "id IN (SELECT id FROM t)",
        "id > 0",
        "last_login < '2023-01-01'",
        "id - id = 0",
        "lower(x) = lower(x)",
        "flag = true",
        "id <> 5",
        "id NOT IN (1, 2)",
        "name LIKE '%'",
        "id = (SELECT max(id) FROM t)",
        "id BETWEEN 1 AND 1000000",
        "a.id = b.id",
        "(id = 5) = true",
        "id = NULL OR 1",
        "NOT (id <> 5)",
        "coalesce(id, 1) = 1",
    ] {
        assert!(bulk(&format!("DELETE FROM t WHERE {filter}")), "{filter}");
    }
}

#[test]
fn filters_that_pin_rows_to_constants_are_not_bulk() {
    for filter in [
        "id = 5",
        "5 = id",
        "t.id = 'a'",
        "id = $1",
        "id = -1",
        "(id) = ('x')",
        "id IN (1, 2, 3)",
        "id = 1 OR id = 2",
        "(tenant, id) = ('a', 7)",
        "id = 5 AND x > 3",
        "x > 3 AND id = CAST('5' AS int)",
        "1 = 0",
        "id = DATE '2024-01-01'",
    ] {
        assert!(!bulk(&format!("DELETE FROM t WHERE {filter}")), "{filter}");
    }
    assert!(!analyse(SqlDialect::Sqlite, "UPDATE t SET a = ? WHERE id = ?").unwrap()[0].bulk);
    assert!(!analyse(SqlDialect::Sqlite, "DELETE FROM t WHERE id = :id").unwrap()[0].bulk);
}

#[test]
fn a_long_in_list_is_bulk() {
    let few: Vec<String> = (0..MAX_BOUND_VALUES).map(|i| i.to_string()).collect();
    let many: Vec<String> = (0..=MAX_BOUND_VALUES).map(|i| i.to_string()).collect();
    assert!(!bulk(&format!("DELETE FROM t WHERE id IN ({})", few.join(", "))));
    assert!(bulk(&format!("DELETE FROM t WHERE id IN ({})", many.join(", "))));
    let ors: Vec<String> = (0..=MAX_BOUND_VALUES).map(|i| format!("id = {i}")).collect();
    assert!(bulk(&format!("DELETE FROM t WHERE {}", ors.join(" OR "))));
}

#[test]
fn several_statements_are_classified_one_by_one() {
    assert_eq!(
        classes("SELECT 1; DROP TABLE users; -- hidden"),
        vec![(vec![StatementClass::Select], false), (vec![StatementClass::Drop], false)]
    );
}

#[test]
fn a_write_hidden_in_a_cte_is_seen() {
    let got = pg("WITH gone AS (DELETE FROM users RETURNING *) SELECT * FROM gone");
    assert!(got.classes.contains(&StatementClass::Delete));
    assert!(got.bulk);
}

#[test]
fn a_function_with_an_effect_is_seen_wherever_it_hides() {
    let privileged = |sql: &str| pg(sql).classes.contains(&StatementClass::Privileged);
    for sql in [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_catalog.pg_read_file('/etc/passwd')",
        "SELECT \"pg_read_file\"('/etc/passwd')",
        "SELECT PG_READ_FILE('/etc/passwd')",
        "SELECT id FROM t WHERE name = pg_read_file('x')",
        "SELECT id FROM t ORDER BY pg_read_file('x')",
        "WITH c AS (SELECT pg_read_file('x') AS f) SELECT * FROM c",
        "SELECT * FROM t WHERE id IN (SELECT length(pg_read_file('x')))",
        "SELECT CAST(pg_read_file('x') AS int)",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)",
        "SELECT lower(upper(pg_read_file('x')))",
        "VALUES (pg_read_file('x'))",
        "INSERT INTO t (a) VALUES (lo_import('/etc/passwd'))",
        "CREATE TABLE t (a text DEFAULT pg_read_file('x'))",
        "SELECT count(*) FILTER (WHERE pg_read_file('x') IS NULL) FROM t",
        "EXPLAIN ANALYZE SELECT pg_read_file('x')",
        "SELECT CASE WHEN true THEN dblink_exec('DELETE FROM t') END",
    ] {
        assert!(privileged(sql), "{sql}");
    }
}

#[test]
fn pure_functions_add_nothing_and_unknown_ones_are_reported() {
    let info = pg("SELECT lower(name), count(*), coalesce(a, 0), now() FROM t GROUP BY 1");
    assert_eq!(info.classes, vec![StatementClass::Select]);
    assert!(info.unknown_functions.is_empty());
    let info = pg("SELECT my_fn(1), evil.lower(name), \"LOWER\"(x) FROM t");
    assert_eq!(info.unknown_functions, vec!["\"LOWER\"", "evil.lower", "my_fn"]);
}

#[test]
fn statements_are_classified_as_what_they_do() {
    let has = |dialect: SqlDialect, sql: &str, class: StatementClass| {
        let all = analyse(dialect, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(all.iter().any(|s| s.classes.contains(&class)), "{sql}: {all:?}");
    };
    use SqlDialect::{Postgres as P, Sqlite as S};
    use StatementClass as C;
    has(P, "SELECT * FROM t WHERE id = 1 FOR UPDATE", C::Lock);
    has(P, "SELECT * FROM t FOR SHARE SKIP LOCKED", C::Lock);
    has(P, "SELECT * INTO backup FROM t", C::Create);
    has(P, "COPY t TO PROGRAM 'curl x'", C::Privileged);
    has(P, "COPY t FROM '/etc/passwd'", C::Privileged);
    has(P, "COPY (SELECT 1) TO '/tmp/x'", C::Privileged);
    has(P, "COPY t FROM STDIN", C::Insert);
    has(P, "SET search_path = evil", C::Session);
    has(P, "SET ROLE postgres", C::Privileged);
    has(P, "SELECT set_config('search_path', 'evil', false)", C::Session);
    has(P, "SELECT nextval('s')", C::Update);
    has(P, "CALL do_things()", C::Other);
    has(P, "INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2", C::Update);
    has(P, "LOCK TABLE t", C::Lock);
    has(P, "CREATE EXTENSION plpython3u", C::Privileged);
    has(S, "ATTACH DATABASE '/tmp/x.db' AS x", C::Privileged);
    has(S, "PRAGMA writable_schema = 1", C::Privileged);
    has(S, "PRAGMA cache_size = 100", C::Session);
    has(S, "PRAGMA table_info('users')", C::Select);
    has(S, "PRAGMA user_version", C::Select);
    has(S, "PRAGMA wal_checkpoint", C::Other);
    has(S, "SELECT load_extension('/tmp/x.so')", C::Privileged);
    has(S, "INSERT OR REPLACE INTO t (id) VALUES (1)", C::Delete);
}

#[test]
fn unparsable_text_is_an_error() {
    assert!(analyse(SqlDialect::Generic, "DELEET FROM x").is_err());
}

fn decision(rules: &SqlRules, sql: &str) -> Decision {
    let mut out = Vec::new();
    rules.check(sql, &mut out, &mut ValueFacts::default());
    out.iter().map(|v| v.decision).max().unwrap_or(Decision::Allow)
}

fn bulk_in(dialect: SqlDialect, sql: &str) -> bool {
    let all = analyse(dialect, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    all.iter().any(|s| s.bulk)
}

/// Rules that allow reads and inserts, and block deletes (and everything else).
fn reads_and_inserts(dialect: SqlDialect) -> SqlRules {
    SqlRules {
        dialect,
        allow: vec![StatementClass::Select, StatementClass::Insert],
        block: vec![StatementClass::Delete],
        ..SqlRules::default()
    }
}

#[test]
fn a_delete_that_sqlite_reads_past_a_nested_comment_is_blocked() {
    // Generic and PostgreSQL nest comments and read `SELECT 1`; SQLite and MySQL end the
    // comment at the first `*/` and run the DELETE.
    let sql = "/* /* */ DELETE FROM t WHERE id = 1 -- */ SELECT 1";
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Generic), sql), Decision::Block);
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Sqlite), sql), Decision::Block);
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Mysql), sql), Decision::Block);
    // Named, the dialect is the database's: PostgreSQL really reads a SELECT.
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Postgres), sql), Decision::Allow);
}

#[test]
fn a_delete_after_a_carriage_return_in_a_dash_comment_is_blocked() {
    // PostgreSQL ends a `--` comment at `\r`; generic and SQLite only at `\n`.
    let sql = "--x\rWITH d AS (DELETE FROM f1 WHERE id = 2 RETURNING 1)\nSELECT 1";
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Generic), sql), Decision::Block);
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Postgres), sql), Decision::Block);
    assert_eq!(decision(&reads_and_inserts(SqlDialect::Sqlite), sql), Decision::Allow);
}

#[test]
fn a_double_quoted_name_that_sqlite_may_read_as_a_string_pins_nothing() {
    let sql = "DELETE FROM t WHERE \"zz\" = 'zz'";
    assert!(bulk_in(SqlDialect::Sqlite, sql));
    assert!(bulk_in(SqlDialect::Generic, sql));
    assert!(bulk_in(SqlDialect::Mysql, sql), "a string in MySQL");
    assert!(!bulk_in(SqlDialect::Postgres, sql), "always a name in PostgreSQL");
    // A qualified name, a backtick or a bracket is never a string to SQLite.
    for filter in ["t.\"zz\" = 'zz'", "`zz` = 'zz'", "[zz] = 'zz'"] {
        assert!(!bulk_in(SqlDialect::Sqlite, &format!("DELETE FROM t WHERE {filter}")), "{filter}");
    }
}

#[test]
fn session_keywords_pin_nothing() {
    for keyword in [
        "current_role",
        "current_schema",
        "current_catalog",
        "current_user",
        "session_user",
        "user",
        "system_user",
        "current_date",
        "current_time",
        "current_timestamp",
        "localtime",
        "localtimestamp",
        "CURRENT_ROLE",
    ] {
        let sql = format!("DELETE FROM t WHERE {keyword} = 'postgres'");
        assert!(bulk(&sql), "{sql}");
        assert!(bulk_in(SqlDialect::Generic, &sql), "{sql}");
    }
    // Quoted, it is a column's name.
    assert!(!bulk("DELETE FROM t WHERE \"current_role\" = 'x'"));
    // A MySQL variable is a value, not a column.
    assert!(bulk_in(SqlDialect::Mysql, "DELETE FROM t WHERE @v = 1"));
}

#[test]
fn a_column_of_another_source_pins_nothing() {
    for sql in [
        "DELETE FROM t USING (SELECT 1 AS k) s WHERE s.k = 1",
        "DELETE FROM t USING (SELECT 1 AS k) s WHERE k = 1",
        "UPDATE t SET name = 'x' FROM (SELECT 1 AS k) s WHERE s.k = 1",
        "UPDATE t SET name = 'x' FROM (SELECT 1 AS k) s WHERE k = 1",
        "UPDATE t SET a = 1 FROM u WHERE u.id = 1",
        "DELETE FROM t AS a USING t WHERE t.id = 1",
        "DELETE FROM t USING u WHERE id = 5",
        "DELETE FROM t USING t AS u WHERE u.id = 5",
        "DELETE FROM t WHERE other.id = 5",
    ] {
        assert!(bulk(sql), "{sql}");
    }
    for sql in [
        "UPDATE t JOIN u ON t.id = u.id SET u.x = 0 WHERE t.id = 1",
        "DELETE t, u FROM t JOIN u ON t.id = u.id WHERE t.id = 1",
        "DELETE t FROM t JOIN u ON t.id = u.id WHERE t.id = 1",
    ] {
        assert!(bulk_in(SqlDialect::Mysql, sql), "{sql}");
    }
    // The target, by its name or alias, still pins.
    for sql in [
        "DELETE FROM t USING u WHERE t.id = 5 AND t.x = u.x",
        "DELETE FROM t AS a USING u WHERE a.id = 5",
        "UPDATE t SET a = 1 FROM u WHERE t.id = 1 AND u.k = t.k",
        "DELETE FROM public.t WHERE public.t.id = 1",
        "DELETE FROM public.t WHERE t.id = 1",
        "UPDATE t AS a SET x = 1 WHERE a.id = 3",
    ] {
        assert!(!bulk(sql), "{sql}");
    }
}

#[test]
fn a_row_function_in_attribute_notation_pins_nothing() {
    // PostgreSQL reads `t.num_nulls` as `num_nulls(t)`, 0 for every row.
    for filter in ["t.num_nulls = 0", "t.num_nonnulls = 1", "t.pg_typeof = 't'::regtype"] {
        let sql = format!("DELETE FROM t WHERE {filter}");
        assert!(bulk(&sql), "{sql}");
        assert!(bulk_in(SqlDialect::Generic, &sql), "{sql}");
        assert!(!bulk_in(SqlDialect::Sqlite, &sql), "a column in SQLite: {sql}");
    }
    let mut rules = SqlRules { dialect: SqlDialect::Postgres, ..SqlRules::default() };
    rules.functions.add("wipe", Some(StatementClass::Update));
    let all = rules.analyse("DELETE FROM t WHERE t.wipe = 1").unwrap();
    assert!(all[0].bulk);
}

#[test]
fn attribute_notation_calls_a_listed_function() {
    let rules = |dialect: SqlDialect| {
        let mut rules = SqlRules {
            dialect,
            allow: vec![StatementClass::Select],
            unknown_function: Decision::Block,
            ..SqlRules::default()
        };
        rules.functions.add("wipe", Some(StatementClass::Update));
        rules
    };
    for sql in [
        "SELECT a.wipe FROM acct a",
        "SELECT (acct).wipe FROM acct",
        "SELECT (a).wipe.x FROM acct a",
        "SELECT ((a)).wipe FROM acct a",
        "SELECT (a.*).wipe FROM acct a",
        "SELECT public.acct.wipe FROM acct",
        "SELECT a.\"wipe\" FROM acct a",
        "SELECT a.WIPE FROM acct a",
        "SELECT id FROM acct a WHERE a.wipe = 1",
        "SELECT id FROM acct a ORDER BY a.wipe",
    ] {
        for dialect in [SqlDialect::Postgres, SqlDialect::Generic] {
            assert_eq!(decision(&rules(dialect), sql), Decision::Block, "{dialect:?}: {sql}");
        }
        // Only PostgreSQL has attribute notation (where the others parse the text).
        for dialect in [SqlDialect::Sqlite, SqlDialect::Mysql] {
            if analyse(dialect, sql).is_ok() {
                assert_eq!(decision(&rules(dialect), sql), Decision::Allow, "{dialect:?}: {sql}");
            }
        }
    }
    let info = pg("SELECT t.pg_terminate_backend FROM t");
    assert!(info.classes.contains(&StatementClass::Privileged));
    // The residual: an unlisted function in attribute notation reads as a column.
    assert_eq!(decision(&rules(SqlDialect::Postgres), "SELECT a.f FROM acct a"), Decision::Allow);
}
