//! SQL arguments, classified with a real SQL parser (`sqlparser`), statement by statement.
//!
//! String matching on SQL is trivially bypassed (comments, case, several statements in one
//! string, writes hidden in a CTE), so every statement is parsed and classified from its
//! syntax tree. Text that does not parse is blocked.

use std::fmt;

use sqlparser::ast::{BinaryOperator, Expr, Query, SetExpr, Statement, Value as SqlValue};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::constraint::{ValueFacts, Violation};
use crate::verdict::Decision;

/// The SQL dialect an argument is parsed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlDialect {
    #[default]
    Generic,
    Sqlite,
    Postgres,
    Mysql,
}

impl SqlDialect {
    pub fn parse(s: &str) -> Option<SqlDialect> {
        match s {
            "generic" => Some(SqlDialect::Generic),
            "sqlite" => Some(SqlDialect::Sqlite),
            "postgres" | "postgresql" => Some(SqlDialect::Postgres),
            "mysql" => Some(SqlDialect::Mysql),
            _ => None,
        }
    }

    fn dialect(self) -> Box<dyn Dialect> {
        match self {
            SqlDialect::Generic => Box::new(GenericDialect {}),
            SqlDialect::Sqlite => Box::new(SQLiteDialect {}),
            SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
            SqlDialect::Mysql => Box::new(MySqlDialect {}),
        }
    }
}

/// The class of one SQL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementClass {
    Select,
    Insert,
    Update,
    Delete,
    Merge,
    Create,
    Alter,
    Drop,
    Truncate,
    /// `GRANT`, `REVOKE`, `DENY`.
    Grant,
    /// `BEGIN`, `COMMIT`, `ROLLBACK`, savepoints.
    Transaction,
    /// Everything else (`PRAGMA`, `COPY`, `SET`, `EXPLAIN`, ...).
    Other,
}

impl StatementClass {
    pub const ALL: [StatementClass; 12] = [
        StatementClass::Select,
        StatementClass::Insert,
        StatementClass::Update,
        StatementClass::Delete,
        StatementClass::Merge,
        StatementClass::Create,
        StatementClass::Alter,
        StatementClass::Drop,
        StatementClass::Truncate,
        StatementClass::Grant,
        StatementClass::Transaction,
        StatementClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatementClass::Select => "select",
            StatementClass::Insert => "insert",
            StatementClass::Update => "update",
            StatementClass::Delete => "delete",
            StatementClass::Merge => "merge",
            StatementClass::Create => "create",
            StatementClass::Alter => "alter",
            StatementClass::Drop => "drop",
            StatementClass::Truncate => "truncate",
            StatementClass::Grant => "grant",
            StatementClass::Transaction => "transaction",
            StatementClass::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<StatementClass> {
        StatementClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for StatementClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one statement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInfo {
    /// Every class the statement contains: a `SELECT` with a data-modifying CTE has both.
    pub classes: Vec<StatementClass>,
    /// An `UPDATE` or `DELETE` without `WHERE` (or with an always-true one), or a `TRUNCATE`.
    pub bulk: bool,
}

/// Parses `sql` and classifies each statement. The error is the parser's message.
pub fn analyse(dialect: SqlDialect, sql: &str) -> Result<Vec<StatementInfo>, String> {
    let statements =
        Parser::parse_sql(dialect.dialect().as_ref(), sql).map_err(|e| e.to_string())?;
    Ok(statements.iter().map(classify).collect())
}

/// Which statement classes an argument may contain, and what happens to each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlRules {
    pub dialect: SqlDialect,
    pub allow: Vec<StatementClass>,
    pub require_approval: Vec<StatementClass>,
    /// Listed for clarity; any class not in `allow` or `require_approval` is blocked too.
    pub block: Vec<StatementClass>,
}

impl SqlRules {
    fn decision_for(&self, class: StatementClass) -> Decision {
        if self.block.contains(&class) {
            Decision::Block
        } else if self.allow.contains(&class) {
            Decision::Allow
        } else if self.require_approval.contains(&class) {
            Decision::RequireApproval
        } else {
            Decision::Block
        }
    }

    /// Checks an SQL argument, statement by statement.
    pub fn check(&self, sql: &str, out: &mut Vec<Violation>, facts: &mut ValueFacts) {
        let statements = match analyse(self.dialect, sql) {
            Ok(statements) => statements,
            Err(e) => {
                out.push(Violation {
                    rule: "sql",
                    decision: Decision::Block,
                    message: format!("not valid SQL: {e}"),
                });
                return;
            }
        };
        if statements.is_empty() {
            out.push(Violation {
                rule: "sql",
                decision: Decision::Block,
                message: "no SQL statement".to_owned(),
            });
        }
        for (index, info) in statements.iter().enumerate() {
            facts.bulk |= info.bulk;
            for class in &info.classes {
                let decision = self.decision_for(*class);
                if decision > Decision::Allow {
                    let verb = if decision == Decision::Block {
                        "is not allowed"
                    } else {
                        "needs approval"
                    };
                    out.push(Violation {
                        rule: "sql",
                        decision,
                        message: format!("statement {} is `{class}`, which {verb}", index + 1),
                    });
                }
            }
        }
    }
}

fn classify(statement: &Statement) -> StatementInfo {
    let mut classes = Vec::new();
    let mut bulk = false;
    classify_into(statement, &mut classes, &mut bulk);
    classes.sort();
    classes.dedup();
    StatementInfo { classes, bulk }
}

fn classify_into(statement: &Statement, classes: &mut Vec<StatementClass>, bulk: &mut bool) {
    use StatementClass as C;
    match statement {
        Statement::Query(query) => classify_query(query, classes, bulk),
        Statement::Insert(insert) => {
            classes.push(C::Insert);
            if let Some(source) = &insert.source {
                classify_query(source, classes, bulk);
            }
        }
        Statement::Update(update) => {
            classes.push(C::Update);
            *bulk |= is_unfiltered(update.selection.as_ref());
        }
        Statement::Delete(delete) => {
            classes.push(C::Delete);
            *bulk |= is_unfiltered(delete.selection.as_ref());
        }
        Statement::Merge(_) => {
            classes.push(C::Merge);
            *bulk = true;
        }
        Statement::Truncate(_) => {
            classes.push(C::Truncate);
            *bulk = true;
        }
        Statement::Drop { .. }
        | Statement::DropFunction(_)
        | Statement::DropDomain(_)
        | Statement::DropProcedure { .. }
        | Statement::DropSecret { .. }
        | Statement::DropPolicy(_)
        | Statement::DropTrigger(_)
        | Statement::DropExtension(_) => classes.push(C::Drop),
        Statement::CreateTable(_)
        | Statement::CreateView(_)
        | Statement::CreateIndex(_)
        | Statement::CreateVirtualTable { .. }
        | Statement::CreateSchema { .. }
        | Statement::CreateDatabase { .. }
        | Statement::CreateFunction(_)
        | Statement::CreateTrigger(_)
        | Statement::CreateProcedure { .. }
        | Statement::CreateSequence { .. }
        | Statement::CreateType { .. }
        | Statement::CreateRole(_)
        | Statement::CreateUser(_)
        | Statement::CreateExtension(_) => classes.push(C::Create),
        Statement::AlterTable(_)
        | Statement::AlterIndex { .. }
        | Statement::AlterView { .. }
        | Statement::AlterRole { .. }
        | Statement::AlterUser(_)
        | Statement::AlterSchema(_)
        | Statement::RenameTable(_) => classes.push(C::Alter),
        Statement::Grant(_) | Statement::Revoke(_) | Statement::Deny(_) => classes.push(C::Grant),
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => classes.push(C::Transaction),
        _ => classes.push(C::Other),
    }
}

fn classify_query(query: &Query, classes: &mut Vec<StatementClass>, bulk: &mut bool) {
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            classify_query(&cte.query, classes, bulk);
        }
    }
    classify_set_expr(&query.body, classes, bulk);
}

fn classify_set_expr(body: &SetExpr, classes: &mut Vec<StatementClass>, bulk: &mut bool) {
    match body {
        SetExpr::Select(_) | SetExpr::Values(_) | SetExpr::Table(_) => {
            classes.push(StatementClass::Select)
        }
        SetExpr::Query(query) => classify_query(query, classes, bulk),
        SetExpr::SetOperation { left, right, .. } => {
            classify_set_expr(left, classes, bulk);
            classify_set_expr(right, classes, bulk);
        }
        SetExpr::Insert(statement)
        | SetExpr::Update(statement)
        | SetExpr::Delete(statement)
        | SetExpr::Merge(statement) => classify_into(statement, classes, bulk),
    }
}

/// A missing `WHERE`, or one that is always true (`WHERE 1`, `WHERE TRUE`, `WHERE 1 = 1`).
fn is_unfiltered(selection: Option<&Expr>) -> bool {
    match selection {
        None => true,
        Some(expr) => is_constant_true(expr),
    }
}

/// Whether a row filter holds for every row: literals that are true, comparisons between
/// literals that hold (`2 > 1`, `'a' = 'a'`), an expression compared with itself (`id = id`),
/// `NOT` of a constant false, and `OR` / `AND` of these. Anything else is taken as a real
/// filter; this is a heuristic for the bulk risk factor, not a proof.
fn is_constant_true(expr: &Expr) -> bool {
    constant(expr) == Some(Literal::Bool(true))
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Bool(bool),
    Number(f64),
    Text(String),
}

fn constant(expr: &Expr) -> Option<Literal> {
    use BinaryOperator as Op;
    match expr {
        Expr::Nested(inner) => constant(inner),
        Expr::Value(v) => match &v.value {
            SqlValue::Boolean(b) => Some(Literal::Bool(*b)),
            SqlValue::Number(n, _) => n.parse::<f64>().ok().map(Literal::Number),
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => {
                Some(Literal::Text(s.clone()))
            }
            _ => None,
        },
        Expr::UnaryOp { op: sqlparser::ast::UnaryOperator::Not, expr } => match constant(expr)? {
            Literal::Bool(b) => Some(Literal::Bool(!b)),
            Literal::Number(n) => Some(Literal::Bool(n == 0.0)),
            Literal::Text(_) => None,
        },
        // Three-valued: `None` is "depends on the row".
        Expr::BinaryOp { left, op: Op::Or, right } => match (truth(left), truth(right)) {
            (Some(true), _) | (_, Some(true)) => Some(Literal::Bool(true)),
            (Some(false), Some(false)) => Some(Literal::Bool(false)),
            _ => None,
        },
        Expr::BinaryOp { left, op: Op::And, right } => match (truth(left), truth(right)) {
            (Some(false), _) | (_, Some(false)) => Some(Literal::Bool(false)),
            (Some(true), Some(true)) => Some(Literal::Bool(true)),
            _ => None,
        },
        Expr::BinaryOp { left, op, right } => {
            let same = left.to_string() == right.to_string();
            match (constant(left), constant(right)) {
                (Some(a), Some(b)) => compare(&a, op, &b).map(Literal::Bool),
                // `x = x`, `x >= x`, `x <= x` hold for every non-null x.
                _ if same && matches!(op, Op::Eq | Op::GtEq | Op::LtEq) => {
                    Some(Literal::Bool(true))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The truth of a constant condition, `None` when it depends on the row.
fn truth(expr: &Expr) -> Option<bool> {
    match constant(expr)? {
        Literal::Bool(b) => Some(b),
        Literal::Number(n) => Some(n != 0.0),
        Literal::Text(_) => None,
    }
}

fn compare(a: &Literal, op: &BinaryOperator, b: &Literal) -> Option<bool> {
    use BinaryOperator as Op;
    let ordering = match (a, b) {
        (Literal::Number(x), Literal::Number(y)) => x.partial_cmp(y)?,
        (Literal::Text(x), Literal::Text(y)) => x.cmp(y),
        (Literal::Bool(x), Literal::Bool(y)) => x.cmp(y),
        _ => return None,
    };
    Some(match op {
        Op::Eq => ordering.is_eq(),
        Op::NotEq => ordering.is_ne(),
        Op::Gt => ordering.is_gt(),
        Op::Lt => ordering.is_lt(),
        Op::GtEq => ordering.is_ge(),
        Op::LtEq => ordering.is_le(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(sql: &str) -> Vec<(Vec<StatementClass>, bool)> {
        analyse(SqlDialect::Sqlite, sql).unwrap().into_iter().map(|s| (s.classes, s.bulk)).collect()
    }

    #[test]
    fn delete_without_where_is_bulk_and_with_where_is_not() {
        assert_eq!(classes("DELETE FROM users"), vec![(vec![StatementClass::Delete], true)]);
        assert_eq!(
            classes("delete from users where last_login < '2023-01-01'"),
            vec![(vec![StatementClass::Delete], false)]
        );
        assert_eq!(
            classes("UPDATE t SET a = 1 WHERE 1 = 1"),
            vec![(vec![StatementClass::Update], true)]
        );
        assert_eq!(
            classes("DELETE FROM t WHERE 2 > 1"),
            vec![(vec![StatementClass::Delete], true)]
        );
        assert_eq!(
            classes("DELETE FROM t WHERE id = id OR x = 3"),
            vec![(vec![StatementClass::Delete], true)]
        );
        assert_eq!(
            classes("DELETE FROM t WHERE NOT FALSE"),
            vec![(vec![StatementClass::Delete], true)]
        );
        assert_eq!(
            classes("DELETE FROM t WHERE id = 3 AND 1 = 1"),
            vec![(vec![StatementClass::Delete], false)]
        );
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
        let got = analyse(
            SqlDialect::Postgres,
            "WITH gone AS (DELETE FROM users RETURNING *) SELECT * FROM gone",
        )
        .unwrap();
        assert!(got[0].classes.contains(&StatementClass::Delete));
        assert!(got[0].bulk);
    }

    #[test]
    fn unparsable_text_is_an_error() {
        assert!(analyse(SqlDialect::Generic, "DELEET FROM x").is_err());
    }
}
