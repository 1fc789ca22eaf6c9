//! Whether the row filter of an `UPDATE` or `DELETE` bounds the rows it touches.
//!
//! Proving that a filter is *not* always true is undecidable in general, and a list of
//! tautologies (`1 = 1`, `x = x`, `x IS NOT NULL`, `id IN (SELECT id FROM t)`,
//! `id - id = 0`...) is never complete. So the rule is the other way round: a filter is
//! bounded only when it pins a column to constants — `col = constant`, `col IN (constants)`,
//! `(a, b) = (1, 2)`, or a parameter (`$1`, `?`, `:id`) — in every branch of its `OR`s (an
//! `AND` is bounded when one side is). Everything else is bulk: ranges (`id > 0`,
//! `created < '2024-01-01'`), `LIKE`, `IS [NOT] NULL`, subqueries, comparisons between
//! columns, expressions of a column (`id - id = 0`, `lower(x) = 'a'`) and comparisons with
//! a boolean (`flag = true` splits a table in two). A filter that pins more than
//! [`MAX_BOUND_VALUES`] values is bulk too. A filter that is constant false matches nothing
//! and is not bulk. The pinned name must certainly be a column of the table written
//! (`scope`): not another source's, not a session keyword, not a string in disguise.

use sqlparser::ast::{BinaryOperator as Op, Expr, UnaryOperator, Value as SqlValue};

use super::scope::Scope;

/// The most values a filter may pin (an `IN` list, a chain of `OR`s) and not be bulk.
pub const MAX_BOUND_VALUES: usize = 100;

/// Whether a statement with this filter (`None`: no `WHERE`) may touch unboundedly many rows
/// of its target (`None`: it writes several tables, which no filter bounds).
pub(super) fn is_bulk(scope: Option<&Scope<'_>>, selection: Option<&Expr>) -> bool {
    let Some(filter) = selection else { return true };
    if truth(filter) == Some(false) {
        return false;
    }
    let Some(scope) = scope else { return true };
    !matches!(bound(scope, filter), Some(n) if n <= MAX_BOUND_VALUES)
}

/// How many constant values the filter pins a column to, or `None` when it pins none.
fn bound(scope: &Scope<'_>, expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Nested(inner) => bound(scope, inner),
        Expr::BinaryOp { left, op: Op::And, right } => {
            match (bound(scope, left), bound(scope, right)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        Expr::BinaryOp { left, op: Op::Or, right } => {
            Some(bound(scope, left)?.saturating_add(bound(scope, right)?))
        }
        Expr::BinaryOp { left, op: Op::Eq | Op::Spaceship, right }
        | Expr::IsNotDistinctFrom(left, right) => pins(scope, left, right).then_some(1),
        Expr::InList { expr, list, negated: false } => {
            (scope.is_target_column(expr) && list.iter().all(is_constant)).then_some(list.len())
        }
        _ => None,
    }
}

/// `column = constant` in either order, or a tuple of columns equal to a tuple of constants.
fn pins(scope: &Scope<'_>, left: &Expr, right: &Expr) -> bool {
    let is_column = |expr: &Expr| scope.is_target_column(expr);
    match (strip(left), strip(right)) {
        (Expr::Tuple(columns), Expr::Tuple(values)) => {
            !columns.is_empty()
                && columns.len() == values.len()
                && columns.iter().all(is_column)
                && values.iter().all(is_constant)
        }
        (a, b) => (is_column(a) && is_constant(b)) || (is_constant(a) && is_column(b)),
    }
}

fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

/// A literal (not a boolean, not NULL) or a parameter, possibly signed or cast.
fn is_constant(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Value(v) => !matches!(v.value, SqlValue::Boolean(_) | SqlValue::Null),
        Expr::TypedString(_) => true,
        Expr::UnaryOp { op: UnaryOperator::Minus | UnaryOperator::Plus, expr } => is_constant(expr),
        Expr::Cast { expr, .. } => is_constant(expr),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// The truth of a filter that does not depend on the row, `None` when it does.
fn truth(expr: &Expr) -> Option<bool> {
    match constant(expr)? {
        Literal::Bool(b) => Some(b),
        Literal::Number(n) => Some(n != 0.0),
        Literal::Text(_) => None,
    }
}

fn constant(expr: &Expr) -> Option<Literal> {
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
        Expr::UnaryOp { op: UnaryOperator::Not, expr } => truth(expr).map(|b| Literal::Bool(!b)),
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
            compare(&constant(left)?, op, &constant(right)?).map(Literal::Bool)
        }
        _ => None,
    }
}

fn compare(a: &Literal, op: &Op, b: &Literal) -> Option<bool> {
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
