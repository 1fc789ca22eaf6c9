//! What one SQL statement will do, from its syntax tree: a read, a write whose pre-image
//! can be captured (a single-table `DELETE`, `UPDATE` or `INSERT`), or anything else.
//!
//! Only the shapes whose affected rows can be found exactly are undoable: no joins,
//! `USING` or `FROM` lists, aliases, `ORDER BY`/`LIMIT`, `RETURNING` of the agent's own,
//! upserts (`ON CONFLICT`, `OR REPLACE`, `REPLACE INTO`), writes inside a query (CTEs).
//! Whether the target table makes writes of its own (triggers, foreign-key actions,
//! `ON CONFLICT REPLACE`) is asked of the database, in `implicit.rs`.
//!
//! No statement of any action may name aecl's own `aecl_undo` table, anywhere in it: the
//! undo records are what rollback trusts, so reading, writing, altering or dropping them,
//! or creating a trigger or view over them, is refused before anything runs. The statement
//! that runs is the parsed one, re-serialised, so that what was classified is what
//! executes; and only when it is the text decided, token for token (`faithful.rs`).

use std::ops::ControlFlow;

use aecl_core::sql::{SqlDialect, StatementClass, analyse};
use sqlparser::ast::{
    AssignmentTarget, Delete, FromTable, Ident, Insert, ObjectName, ObjectNamePart, Statement,
    TableFactor, TableObject, TableWithJoins, Update, visit_relations,
};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// aecl's table of pre-images in each target database.
pub const UNDO_TABLE: &str = "aecl_undo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn dialect(self) -> Box<dyn Dialect> {
        match self {
            Backend::Sqlite => Box::new(SQLiteDialect {}),
            Backend::Postgres => Box::new(PostgreSqlDialect {}),
        }
    }

    /// The database's name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    pub(crate) fn core_dialect(self) -> SqlDialect {
        match self {
            Backend::Sqlite => SqlDialect::Sqlite,
            Backend::Postgres => SqlDialect::Postgres,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Delete,
    Update,
    Insert,
}

/// A single-table write whose affected rows can be captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub kind: WriteKind,
    /// The table as written (`users`, `public.users`, `"Users"`).
    pub table: String,
    /// Its last name part as written, for whole-row references (`to_jsonb(users)`).
    pub table_ref: String,
    /// The table's schema and name, unquoted.
    pub schema: Option<String>,
    pub name: String,
    /// The `WHERE` expression of an `UPDATE` or a `DELETE`, re-serialised.
    pub selection: Option<String>,
    /// The columns an `UPDATE` assigns, unquoted.
    pub assigned: Vec<String>,
    /// The statement to run.
    pub text: String,
}

/// What a statement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A query that only reads.
    Read { text: String },
    /// An undoable write.
    Write(Write),
    /// Anything else: it runs only for actions that are not reversible.
    Other { text: String, not_undoable: String },
}

impl Plan {
    pub fn text(&self) -> &str {
        match self {
            Plan::Read { text } | Plan::Other { text, .. } => text,
            Plan::Write(write) => &write.text,
        }
    }
}

/// Parses `sql` (exactly one statement) and plans it.
pub fn plan(backend: Backend, sql: &str) -> Result<Plan, String> {
    let statements =
        Parser::parse_sql(backend.dialect().as_ref(), sql).map_err(|e| format!("sql: {e}"))?;
    let [statement] = statements.as_slice() else {
        return Err(format!("sql: expected exactly one statement, found {}", statements.len()));
    };
    // What runs is the re-serialisation, and only when it is the text decided
    // (`faithful.rs` says why).
    let text = statement.to_string();
    refuse_undo_table(backend, statement, &text)?;
    super::faithful::check(backend.dialect().as_ref(), sql, &text)?;
    let classes = analyse(backend.core_dialect(), &text)
        .map_err(|e| format!("sql: the statement does not parse again: {e}"))?
        .into_iter()
        .flat_map(|info| info.classes)
        .collect::<Vec<_>>();
    let other = |why: &str| Plan::Other { text: text.clone(), not_undoable: why.to_owned() };
    let plan = match statement {
        Statement::Query(_) if classes.iter().all(|c| *c == StatementClass::Select) => {
            Plan::Read { text: text.clone() }
        }
        Statement::Query(_) => other("a write inside a query (a data-modifying CTE)"),
        Statement::Delete(delete) => delete_plan(delete, &text).unwrap_or_else(&other),
        Statement::Update(update) => update_plan(update, &text).unwrap_or_else(&other),
        Statement::Insert(insert) => insert_plan(insert, &text).unwrap_or_else(&other),
        _ => other("only single-table DELETE, UPDATE and INSERT statements can be undone"),
    };
    Ok(plan)
}

/// Refuses a statement that names `aecl_undo` anywhere. Two walks, each fail-closed:
///
/// - every relation of the syntax tree (`visit_relations`: tables read or written, in
///   subqueries, CTEs, `INSERT`/`UPDATE`/`DELETE` targets, DDL), by any schema prefix,
///   quoting or case;
/// - every token of the text that runs: identifiers (so that a name the tree does not
///   mark as a relation, in `DROP`, `ALTER ... RENAME`, a trigger's body, is caught too)
///   and string literals (so that SQL kept in a string, a PL/pgSQL `DO` block or function
///   body, is caught when it spells the name).
///
/// The name is matched case-insensitively, so that `"AECL_UNDO"` (another table on
/// PostgreSQL) is refused too: a refusal too many costs nothing here.
fn refuse_undo_table(backend: Backend, statement: &Statement, text: &str) -> Result<(), String> {
    let refused = || format!("sql: `{UNDO_TABLE}` is aecl's own table; no statement may use it");
    let named = visit_relations(statement, |relation: &ObjectName| {
        if relation.0.iter().any(part_names_undo_table) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if named.is_break() {
        return Err(refused());
    }
    let dialect = backend.dialect();
    let tokens = Tokenizer::new(dialect.as_ref(), text)
        .tokenize()
        .map_err(|e| format!("sql: the statement cannot be checked for `{UNDO_TABLE}`: {e}"))?;
    if tokens.iter().any(token_names_undo_table) {
        return Err(refused());
    }
    Ok(())
}

fn names_undo_table(text: &str) -> bool {
    text.to_ascii_lowercase().contains(UNDO_TABLE)
}

fn part_names_undo_table(part: &ObjectNamePart) -> bool {
    match part {
        ObjectNamePart::Identifier(ident) => names_undo_table(&ident.value),
        // A name computed by a function (`IDENTIFIER('...')`): judged by its text.
        ObjectNamePart::Function(_) => names_undo_table(&part.to_string()),
    }
}

/// Whether a token spells the name: an identifier's unquoted value, a string's unescaped
/// content, and in any case the token as written.
fn token_names_undo_table(token: &Token) -> bool {
    let inner = match token {
        Token::Word(word) => Some(word.value.as_str()),
        Token::SingleQuotedString(s)
        | Token::DoubleQuotedString(s)
        | Token::EscapedStringLiteral(s)
        | Token::UnicodeStringLiteral(s)
        | Token::NationalStringLiteral(s) => Some(s.as_str()),
        Token::DollarQuotedString(s) => Some(s.value.as_str()),
        _ => None,
    };
    inner.is_some_and(names_undo_table) || names_undo_table(&token.to_string())
}

fn delete_plan(delete: &Delete, text: &str) -> Result<Plan, &'static str> {
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
    let ([target], true, None, None, true, None) = (
        from.as_slice(),
        delete.tables.is_empty(),
        &delete.using,
        &delete.returning,
        delete.order_by.is_empty(),
        &delete.limit,
    ) else {
        return Err("a DELETE over several tables, with USING, RETURNING, ORDER BY or LIMIT");
    };
    let name = single_table(target)?;
    let selection = delete.selection.as_ref().map(ToString::to_string);
    Ok(Plan::Write(write(WriteKind::Delete, name, selection, Vec::new(), text)?))
}

fn update_plan(update: &Update, text: &str) -> Result<Plan, &'static str> {
    let (None, None, None, true, None) =
        (&update.from, &update.returning, &update.or, update.order_by.is_empty(), &update.limit)
    else {
        return Err("an UPDATE with FROM, RETURNING, OR ..., ORDER BY or LIMIT");
    };
    let name = single_table(&update.table)?;
    let mut assigned = Vec::new();
    for assignment in &update.assignments {
        match &assignment.target {
            AssignmentTarget::ColumnName(column) => assigned.push(last_ident(column)?),
            AssignmentTarget::Tuple(columns) => {
                for column in columns {
                    assigned.push(last_ident(column)?);
                }
            }
        }
    }
    let assigned = assigned.iter().map(|i| i.value.clone()).collect();
    let selection = update.selection.as_ref().map(ToString::to_string);
    Ok(Plan::Write(write(WriteKind::Update, name, selection, assigned, text)?))
}

fn insert_plan(insert: &Insert, text: &str) -> Result<Plan, &'static str> {
    let TableObject::TableName(name) = &insert.table else {
        return Err("an INSERT into a table function");
    };
    let (None, None, None, None, false, false) = (
        &insert.table_alias,
        &insert.or,
        &insert.on,
        &insert.returning,
        insert.replace_into,
        insert.ignore,
    ) else {
        return Err("an INSERT with an alias, OR ..., ON CONFLICT, RETURNING, REPLACE or IGNORE");
    };
    Ok(Plan::Write(write(WriteKind::Insert, name, None, Vec::new(), text)?))
}

fn single_table(target: &TableWithJoins) -> Result<&ObjectName, &'static str> {
    match &target.relation {
        TableFactor::Table { name, alias: None, args: None, .. } if target.joins.is_empty() => {
            Ok(name)
        }
        _ => Err("a write over a join, an aliased table or a table function"),
    }
}

fn last_ident(name: &ObjectName) -> Result<&Ident, &'static str> {
    name.0.last().and_then(|part| part.as_ident()).ok_or("a column name that is not an identifier")
}

fn write(
    kind: WriteKind,
    name: &ObjectName,
    selection: Option<String>,
    assigned: Vec<String>,
    text: &str,
) -> Result<Write, &'static str> {
    let parts: Vec<&Ident> = name
        .0
        .iter()
        .map(|part| part.as_ident().ok_or("a table name that is not an identifier"))
        .collect::<Result<_, _>>()?;
    let (schema, table) = match parts.as_slice() {
        [table] => (None, *table),
        [schema, table] => (Some(schema.value.clone()), *table),
        _ => return Err("a table name with more than a schema and a name"),
    };
    Ok(Write {
        kind,
        table: name.to_string(),
        table_ref: table.to_string(),
        schema,
        name: table.value.clone(),
        selection,
        assigned,
        text: text.to_owned(),
    })
}

/// `name` quoted as an SQL identifier (both SQLite and PostgreSQL).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(sql: &str) -> String {
        match plan(Backend::Sqlite, sql).unwrap() {
            Plan::Read { .. } => "read".to_owned(),
            Plan::Write(w) => format!("{:?} {}", w.kind, w.name),
            Plan::Other { not_undoable, .. } => format!("other: {not_undoable}"),
        }
    }

    #[test]
    fn single_table_writes_are_undoable_and_the_rest_is_not() {
        assert_eq!(kind_of("SELECT * FROM users"), "read");
        assert_eq!(kind_of("DELETE FROM users WHERE last_login < '2023-01-01'"), "Delete users");
        assert_eq!(kind_of("UPDATE users SET name = 'x' WHERE id = 1"), "Update users");
        assert_eq!(kind_of("INSERT INTO users (id, name) VALUES (1, 'a')"), "Insert users");
        assert!(kind_of("DELETE FROM users AS u WHERE u.id = 1").starts_with("other"));
        assert!(kind_of("INSERT OR REPLACE INTO users (id) VALUES (1)").starts_with("other"));
        assert!(
            kind_of("INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
                .starts_with("other")
        );
        assert!(kind_of("DELETE FROM users RETURNING *").starts_with("other"));
        assert!(kind_of("DROP TABLE users").starts_with("other"));
        assert!(
            kind_of("WITH gone AS (DELETE FROM users RETURNING id) SELECT * FROM gone")
                .starts_with("other")
        );
        assert!(plan(Backend::Sqlite, "DELETE FROM a; DELETE FROM b").is_err());
        assert!(plan(Backend::Sqlite, "DELETE FROM aecl_undo").is_err());
        assert!(plan(Backend::Sqlite, "DELEET FROM users").is_err());
    }

    #[test]
    fn an_update_names_the_columns_it_assigns() {
        let Plan::Write(write) = plan(
            Backend::Postgres,
            "UPDATE public.\"Users\" SET name = 'x', \"Id\" = 2 WHERE id = 1",
        )
        .unwrap() else {
            panic!("not a write");
        };
        assert_eq!(write.assigned, ["name", "Id"]);
        assert_eq!(write.schema.as_deref(), Some("public"));
        assert_eq!(write.name, "Users");
        assert_eq!(write.table_ref, "\"Users\"");
        assert_eq!(write.selection.as_deref(), Some("id = 1"));
    }

    /// Every way of naming `aecl_undo` the red team found, and more, on both dialects:
    /// refused before planning, whatever the statement's shape or the action.
    #[test]
    fn any_statement_naming_the_undo_table_is_refused() {
        let refused = |backend: Backend, sql: &str| match plan(backend, sql) {
            Err(error) => assert!(error.contains("aecl_undo"), "{sql}: {error}"),
            Ok(plan) => panic!("{sql}: planned as {plan:?}"),
        };
        for sql in [
            "DELETE FROM aecl_undo AS u WHERE u.id = 'x'",
            "UPDATE aecl_undo SET undone = 0 WHERE id = 'x' RETURNING id",
            "INSERT OR REPLACE INTO aecl_undo (id, record, sha256) VALUES ('x', '{}', 'y')",
            "REPLACE INTO aecl_undo (id, record, sha256) VALUES ('x', '{}', 'y')",
            "UPDATE main.aecl_undo AS a SET undone = 0",
            "UPDATE \"main\".\"AECL_UNDO\" SET undone = 0",
            "DELETE FROM [aecl_undo]",
            "DELETE FROM `Aecl_Undo`",
            "SELECT * FROM aecl_undo",
            "SELECT (SELECT count(*) FROM main.aecl_undo) AS n",
            "SELECT * FROM users WHERE id IN (SELECT id FROM aecl_undo)",
            "WITH u AS (SELECT * FROM aecl_undo) SELECT * FROM u",
            "DELETE FROM users WHERE EXISTS (SELECT 1 FROM aecl_undo)",
            "UPDATE users SET name = (SELECT record FROM aecl_undo LIMIT 1)",
            "INSERT INTO users (id, name) SELECT 1, record FROM aecl_undo",
            "DROP TABLE aecl_undo",
            "DROP TABLE IF EXISTS main.aecl_undo",
            "ALTER TABLE aecl_undo RENAME TO old_undo",
            "ALTER TABLE users RENAME TO aecl_undo",
            "CREATE VIEW v AS SELECT * FROM aecl_undo",
            "CREATE TRIGGER t AFTER INSERT ON users BEGIN DELETE FROM aecl_undo; END",
            "CREATE TABLE aecl_undo (id TEXT)",
            "CREATE INDEX i ON aecl_undo (id)",
        ] {
            refused(Backend::Sqlite, sql);
        }
        for sql in [
            "DELETE FROM public.aecl_undo",
            "TRUNCATE aecl_undo",
            "UPDATE \"aecl_undo\" SET undone = FALSE",
            // SQL kept in strings, as a function body or for `EXECUTE`, when it spells
            // the name (escapes included).
            "CREATE FUNCTION f() RETURNS void AS 'DELETE FROM aecl_undo' LANGUAGE sql",
            "CREATE FUNCTION f() RETURNS void AS $b$ DELETE FROM aecl_undo $b$ LANGUAGE sql",
            "SELECT * FROM users WHERE name = E'aecl\\137undo'",
            "LOCK TABLE aecl_undo",
        ] {
            refused(Backend::Postgres, sql);
        }
        // What sqlparser cannot parse never runs at all.
        for sql in [
            "DO $$ BEGIN DELETE FROM aecl_undo; END $$",
            "CREATE RULE r AS ON INSERT TO users DO ALSO DELETE FROM aecl_undo",
        ] {
            assert!(plan(Backend::Postgres, sql).is_err(), "{sql}");
        }
        // Other tables are planned as before.
        assert_eq!(kind_of("DELETE FROM undo_log WHERE id = 1"), "Delete undo_log");
    }
}
