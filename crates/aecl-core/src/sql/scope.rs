//! Which names in the filter of an `UPDATE` or `DELETE` are certainly columns of the table
//! it writes, so that pinning them to a constant bounds the rows it touches.
//!
//! A name in a filter is not always a column of the target: with `USING`, `FROM` or a join
//! an unqualified name may belong to another source (`DELETE FROM t USING (SELECT 1 AS k)
//! s WHERE k = 1` touches every row of `t`); a qualifier may name another source (`s.k`);
//! a session keyword reads as a name (`current_role`, `current_schema`); SQLite reads a
//! double-quoted name that is no column as a string (`"zz" = 'zz'`); MySQL's `@v` is a
//! variable; and PostgreSQL reads `t.f`, when `t` has no column `f`, as the call `f(t)`
//! (`t.num_nulls = 0` holds for every row). A pin counts only when none of these can be.

use sqlparser::ast::{
    Delete, Expr, FromTable, Ident, ObjectName, TableFactor, TableWithJoins, Update,
    UpdateTableFromKind,
};

use super::SqlDialect;
use super::functions::{FunctionLists, NamePart, attribute_call, takes_a_row};

/// The table an `UPDATE` or `DELETE` writes, and the other sources its filter can name.
pub(super) struct Scope<'a> {
    dialect: SqlDialect,
    functions: &'a FunctionLists,
    /// The lower-case names the target answers to: its alias, else its name, last part
    /// or whole. Empty when the target is not a plain table.
    target: Vec<String>,
    /// The lower-case names of the other sources (tables, subqueries, functions).
    others: Vec<String>,
    /// Whether the statement reads another source at all, named or not.
    has_others: bool,
}

impl<'a> Scope<'a> {
    /// The scope of a `DELETE`, or `None` when it deletes from several tables (MySQL's
    /// `DELETE t1, t2 FROM ...`): no one filter bounds them all.
    pub(super) fn of_delete(
        dialect: SqlDialect,
        functions: &'a FunctionLists,
        delete: &Delete,
    ) -> Option<Scope<'a>> {
        // `DELETE t1 FROM t1 JOIN t2` names its targets apart from its sources; which
        // source each is would take MySQL's resolution rules, so it is bulk.
        if !delete.tables.is_empty() {
            return None;
        }
        let from = match &delete.from {
            FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from) => from,
        };
        let [only] = from.as_slice() else { return None };
        let mut scope = Scope::new(dialect, functions, &only.relation);
        for join in &only.joins {
            scope.add_other(&join.relation);
        }
        for source in delete.using.iter().flatten() {
            scope.add_source(source);
        }
        Some(scope)
    }

    /// The scope of an `UPDATE`, or `None` when it may update several tables (MySQL's
    /// `UPDATE t1 JOIN t2 ... SET t2.x = ...`).
    pub(super) fn of_update(
        dialect: SqlDialect,
        functions: &'a FunctionLists,
        update: &Update,
    ) -> Option<Scope<'a>> {
        if !update.table.joins.is_empty() {
            return None;
        }
        let mut scope = Scope::new(dialect, functions, &update.table.relation);
        if let Some(UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from)) =
            &update.from
        {
            for source in from {
                scope.add_source(source);
            }
        }
        Some(scope)
    }

    /// Whether `expr` is certainly a column of the target table.
    pub(super) fn is_target_column(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Nested(inner) => self.is_target_column(inner),
            // With another source, an unqualified name may be that source's column.
            Expr::Identifier(ident) => !self.has_others && self.is_plain_column(ident),
            Expr::CompoundIdentifier(parts) => match parts.split_last() {
                Some((column, qualifier)) if !qualifier.is_empty() => {
                    self.names_target(qualifier) && !self.may_be_attribute_call(column)
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn new(dialect: SqlDialect, functions: &'a FunctionLists, target: &TableFactor) -> Self {
        let target = match target {
            TableFactor::Table { alias: Some(alias), .. } => vec![lower(&alias.name)],
            TableFactor::Table { name, alias: None, .. } => table_names(name),
            _ => Vec::new(),
        };
        Scope { dialect, functions, target, others: Vec::new(), has_others: false }
    }

    fn add_source(&mut self, source: &TableWithJoins) {
        self.add_other(&source.relation);
        for join in &source.joins {
            self.add_other(&join.relation);
        }
    }

    fn add_other(&mut self, factor: &TableFactor) {
        self.has_others = true;
        match factor {
            TableFactor::Table { alias: Some(alias), .. }
            | TableFactor::Derived { alias: Some(alias), .. }
            | TableFactor::TableFunction { alias: Some(alias), .. }
            | TableFactor::Function { alias: Some(alias), .. }
            | TableFactor::UNNEST { alias: Some(alias), .. }
            | TableFactor::JsonTable { alias: Some(alias), .. }
            | TableFactor::OpenJsonTable { alias: Some(alias), .. }
            | TableFactor::Pivot { alias: Some(alias), .. }
            | TableFactor::Unpivot { alias: Some(alias), .. }
            | TableFactor::MatchRecognize { alias: Some(alias), .. }
            | TableFactor::XmlTable { alias: Some(alias), .. }
            | TableFactor::SemanticView { alias: Some(alias), .. } => {
                self.others.push(lower(&alias.name))
            }
            // An unaliased table or function is named by its name.
            TableFactor::Table { name, .. } | TableFactor::Function { name, .. } => {
                self.others.extend(table_names(name))
            }
            TableFactor::NestedJoin { table_with_joins, alias } => {
                if let Some(alias) = alias {
                    self.others.push(lower(&alias.name));
                }
                self.add_source(table_with_joins);
            }
            // Sources without a name cannot be named by a qualifier.
            _ => {}
        }
    }

    /// Whether a name, unqualified, is a column rather than a value the database fills in.
    fn is_plain_column(&self, ident: &Ident) -> bool {
        match ident.quote_style {
            // SQLite (and so generic text) reads a double-quoted name that is no column as a
            // string: `"zz" = 'zz'` holds for every row.
            Some('"') => !matches!(self.dialect, SqlDialect::Sqlite | SqlDialect::Generic),
            Some(_) => true,
            None => !is_niladic(&ident.value) && !ident.value.starts_with('@'),
        }
    }

    /// Whether the qualifier names the target and no other source.
    fn names_target(&self, qualifier: &[Ident]) -> bool {
        let name = qualifier.iter().map(lower).collect::<Vec<_>>().join(".");
        self.target.contains(&name) && !self.others.contains(&name)
    }

    /// Whether PostgreSQL may read `t.column` as the call `column(t)`.
    fn may_be_attribute_call(&self, column: &Ident) -> bool {
        if !matches!(self.dialect, SqlDialect::Postgres | SqlDialect::Generic) {
            return false;
        }
        let part = NamePart { value: &column.value, quoted: column.quote_style.is_some() };
        takes_a_row(&column.value) || attribute_call(self.functions, &part).is_some()
    }
}

fn lower(ident: &Ident) -> String {
    ident.value.to_lowercase()
}

/// The names an unaliased table answers to: its last part, and its whole qualified name.
fn table_names(name: &ObjectName) -> Vec<String> {
    let parts: Vec<String> = name.0.iter().filter_map(|part| part.as_ident()).map(lower).collect();
    let mut names: Vec<String> = parts.last().cloned().into_iter().collect();
    if parts.len() > 1 {
        names.push(parts.join("."));
    }
    names
}

/// Keywords that read as a bare name but are values of the session or the clock:
/// PostgreSQL's, MySQL's and SQLite's niladic functions. Sorted.
const NILADIC: &[&str] = &[
    "current_catalog",
    "current_date",
    "current_path",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "localtime",
    "localtimestamp",
    "session_user",
    "system_user",
    "user",
    "utc_date",
    "utc_time",
    "utc_timestamp",
];

fn is_niladic(name: &str) -> bool {
    NILADIC.binary_search(&name.to_lowercase().as_str()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::NILADIC;

    #[test]
    fn the_niladic_list_is_sorted() {
        assert!(NILADIC.windows(2).all(|w| w[0] < w[1]));
    }
}
