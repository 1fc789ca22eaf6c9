//! The re-serialisation runs only when it is the text decided: common statements of both
//! dialects pass, and printing that changes a token's spelling is refused.

use crate::sql::statement::{Backend, plan};

fn runs(backend: Backend, sql: &str) {
    if let Err(error) = plan(backend, sql) {
        panic!("{backend:?}: `{sql}` refused: {error}");
    }
}

fn refused(backend: Backend, sql: &str, naming: &str) {
    match plan(backend, sql) {
        Err(error) => assert!(error.contains(naming), "{backend:?}: `{sql}`: {error}"),
        Ok(plan) => panic!("{backend:?}: `{sql}` planned as {plan:?}"),
    }
}

/// The red team's F3: SQLite's `0x10` is an integer (16); sqlparser prints it `X'10'`, a
/// blob, so `SELECT 0x10 + 1` would answer 1 and `WHERE id = 0x10` match nothing.
#[test]
fn a_hexadecimal_integer_printed_as_a_blob_is_refused() {
    refused(Backend::Sqlite, "SELECT 0x10 + 1 AS v", "`0x10`");
    refused(Backend::Sqlite, "SELECT count(*) AS v FROM t WHERE id = 0x10", "X'10'");
    refused(Backend::Sqlite, "DELETE FROM t WHERE id = 0x10", "`0x10`");
    // PostgreSQL 16 reads `0x10` as 16 too; sqlparser prints a bit string.
    refused(Backend::Postgres, "SELECT 0x10", "`0x10`");
    // Printed in another form of the same meaning, still not the text decided: refused.
    refused(Backend::Sqlite, "SELECT a FROM t WHERE a NOTNULL", "`NOTNULL`");
    // sqlparser prints a Unicode escape string with its escapes decoded: refused, however
    // harmless this one, since a decoded quote or backslash would change the statement.
    refused(Backend::Postgres, "SELECT U&'d\\0061t\\+000061'", "U&'data'");
    // SQLite's `REPLACE INTO` is printed `INSERT OR REPLACE INTO`: the same statement, but
    // not the same tokens, so it is refused, naming the word to write.
    refused(Backend::Sqlite, "REPLACE INTO users (id) VALUES (1)", "`REPLACE`");
    // The blob literal as written is the blob literal printed.
    runs(Backend::Sqlite, "SELECT X'10' AS v");
    runs(Backend::Sqlite, "SELECT x'0a' AS v");
}

#[test]
fn common_statements_run_as_written() {
    for sql in [
        "SELECT * FROM users",
        "select id, name from users where id = 1",
        "SELECT count(*) FROM users WHERE last_login < '2023-01-01' AND name LIKE 'a%'",
        "SELECT u.id FROM users AS u JOIN orders AS o ON o.user_id = u.id ORDER BY u.id DESC LIMIT 10 OFFSET 5",
        "SELECT name FROM users WHERE id IN (SELECT user_id FROM orders) GROUP BY name HAVING count(*) > 1",
        "SELECT 'it''s', 1.5, -2, 1e3, NULL, TRUE",
        "SELECT * FROM users WHERE name != 'x' AND id <> 2",
        "SELECT * FROM users WHERE name == 'x'",
        "SELECT CAST(id AS TEXT) FROM \"Users\"",
        "SELECT coalesce(name, '') || '!' FROM users -- a comment\n",
        "/* leading */ SELECT 1;",
        "SELECT 1;;",
        "WITH recent AS (SELECT * FROM users WHERE id > ?) SELECT * FROM recent",
        "DELETE FROM users WHERE last_login < '2023-01-01'",
        "UPDATE users SET name = 'x', balance = balance + 1 WHERE id = 1",
        "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT OR REPLACE INTO users (id) VALUES (1)",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "DROP TABLE users",
        "SELECT * FROM users WHERE id BETWEEN 1 AND 3 AND name IS NOT NULL",
        "SELECT CASE WHEN id > 1 THEN 'a' ELSE 'b' END FROM users",
    ] {
        runs(Backend::Sqlite, sql);
    }
    for sql in [
        "SELECT * FROM public.users WHERE id = $1",
        "SELECT id::text, profile->>'k' FROM users WHERE tags @> ARRAY['a']",
        "SELECT E'a\\nb'",
        "SELECT $$dollar$$, $q$quoted$q$",
        "UPDATE public.\"Users\" SET name = 'x' WHERE id = 1",
        "DELETE FROM users WHERE id = ANY('{1,2}'::int[])",
        "INSERT INTO users (id, name) VALUES (1, 'a') ON CONFLICT (id) DO NOTHING",
        "SELECT now() - INTERVAL '1 day'",
        "SELECT * FROM users WHERE name ILIKE 'a%' AND id != 3",
    ] {
        runs(Backend::Postgres, sql);
    }
}

/// Comments never reach the database: the statement printed has none, and what the
/// connector parsed as a comment does not run.
#[test]
fn comments_are_left_out_and_the_rest_compared() {
    let Ok(plan) = plan(Backend::Sqlite, "SELECT 1 /* DELETE FROM t */ -- x\n") else {
        panic!("refused");
    };
    assert_eq!(plan.text(), "SELECT 1");
}
