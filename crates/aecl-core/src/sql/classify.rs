//! What one parsed statement does: its classes, whether it is bulk, and the functions it
//! calls that no list knows.
//!
//! The statement is walked with sqlparser's derived `Visitor`, which reaches every nested
//! statement, query, expression and table factor (select lists, `WHERE`, `ORDER BY`, CTEs,
//! subqueries, `VALUES`, `DEFAULT`s, casts, `FROM` functions, `EXPLAIN`'s and `PREPARE`'s
//! statement...). A hand-written walk over sqlparser's large syntax tree would forget a
//! place, and the place it forgot is where a side effect would hide.

use std::ops::ControlFlow;

use sqlparser::ast::{
    AccessExpr, CopySource, CopyTarget, Expr, Function, Ident, LockType, ObjectName,
    OnConflictAction, OnInsert, Query, Select, SetExpr, SqliteOnConflict, Statement, TableFactor,
    TableObject, Value as SqlValue, Visit, Visitor,
};

use super::filter::is_bulk;
use super::functions::{FunctionLists, Lookup, NamePart, attribute_call, lookup};
use super::scope::Scope;
use super::{SqlDialect, StatementClass as C, StatementInfo, pragma};

/// Classifies one statement with the built-in function lists and the policy's additions.
pub(super) fn classify(
    dialect: SqlDialect,
    functions: &FunctionLists,
    statement: &Statement,
) -> StatementInfo {
    let mut classifier = Classifier { dialect, functions, info: StatementInfo::default() };
    // The visitor never breaks: every part of the statement is seen.
    let _ = statement.visit(&mut classifier);
    let mut info = classifier.info;
    info.classes.sort();
    info.classes.dedup();
    info.because.sort();
    info.because.dedup();
    info.unknown_functions.sort();
    info.unknown_functions.dedup();
    info
}

/// SQLite's FTS5 takes a row naming the table itself as a command: `INSERT INTO
/// docs(docs) VALUES ('delete-all')` empties its index, `'delete'` removes an entry,
/// `'rebuild'` remakes it. In an ordinary table a column may share the table's name
/// (`tag(tag)`): only a value that is such a command, or that is not known until the
/// statement runs (an expression, a query's row), is one. A placeholder is a value the
/// statement is given, never run by the connector (which binds none).
fn full_text_command(insert: &sqlparser::ast::Insert) -> Option<String> {
    const COMMANDS: [&str; 10] = [
        "delete-all",
        "delete",
        "rebuild",
        "optimize",
        "merge",
        "automerge",
        "crisismerge",
        "usermerge",
        "secure-delete",
        "integrity-check",
    ];
    let TableObject::TableName(table) = &insert.table else { return None };
    let name = table.0.last().and_then(|part| part.as_ident())?;
    let at = insert.columns.iter().position(|column| {
        column
            .0
            .last()
            .and_then(|part| part.as_ident())
            .is_some_and(|c| c.value.eq_ignore_ascii_case(&name.value))
    })?;
    let Some(SetExpr::Values(values)) = insert.source.as_ref().map(|q| q.body.as_ref()) else {
        return Some("a row computed by a query".to_owned());
    };
    values.rows.iter().find_map(|row| match row.get(at) {
        Some(Expr::Value(value)) => match &value.value {
            SqlValue::SingleQuotedString(text) | SqlValue::DoubleQuotedString(text) => {
                let command = text.trim().to_ascii_lowercase();
                COMMANDS.contains(&command.as_str()).then(|| format!("`'{command}'`"))
            }
            _ => None,
        },
        Some(Expr::Nested(_) | Expr::BinaryOp { .. } | Expr::Function(_) | Expr::Subquery(_)) => {
            Some("a value computed when it runs".to_owned())
        }
        _ => None,
    })
}

struct Classifier<'a> {
    dialect: SqlDialect,
    functions: &'a FunctionLists,
    info: StatementInfo,
}

impl Classifier<'_> {
    fn push(&mut self, class: C) {
        self.info.classes.push(class);
    }

    /// A class that comes from a part of the statement, with what it comes from.
    fn because(&mut self, class: C, what: impl Into<String>) {
        self.info.classes.push(class);
        self.info.because.push((class, what.into()));
    }

    /// A call of the function (or procedure) `name`.
    fn call(&mut self, name: &ObjectName) -> Lookup {
        let parts: Option<Vec<NamePart<'_>>> = name
            .0
            .iter()
            .map(|part| {
                part.as_ident().map(|ident| NamePart {
                    value: &ident.value,
                    quoted: ident.quote_style.is_some(),
                })
            })
            .collect();
        // A name computed at run time (`IDENTIFIER('...')`) cannot be looked up.
        let found = match parts {
            Some(parts) if !parts.is_empty() => lookup(self.dialect, self.functions, &parts),
            _ => Lookup::Unknown,
        };
        match found {
            Lookup::Known(Some(class)) => self.because(class, format!("calls `{name}`")),
            Lookup::Known(None) => {}
            Lookup::Unknown => self.info.unknown_functions.push(name.to_string()),
        }
        found
    }

    /// A name after a dot, which PostgreSQL may read as a call in attribute notation
    /// (`t.f`, `(t).f` call `f(t)`): counted when a list gives `f` an effect.
    fn attribute(&mut self, name: &Ident, written: &Expr) {
        if !matches!(self.dialect, SqlDialect::Postgres | SqlDialect::Generic) {
            return;
        }
        let part = NamePart { value: &name.value, quoted: name.quote_style.is_some() };
        if let Some(class) = attribute_call(self.functions, &part) {
            self.because(
                class,
                format!("`{written}` calls `{}` in attribute notation", name.value),
            );
        }
    }

    fn procedure(&mut self, function: &Function) {
        match self.call(&function.name) {
            Lookup::Known(Some(_)) => {}
            Lookup::Known(None) => self.push(C::Select),
            // What an unlisted procedure does is unknown: it is at least `other`.
            Lookup::Unknown => self.because(C::Other, format!("CALL `{}`", function.name)),
        }
    }

    fn statement(&mut self, statement: &Statement) {
        // The table `COPY t TO STDOUT` reads is not a relation the visitor meets.
        if let Statement::Copy { source: CopySource::Table { table_name, .. }, .. } = statement {
            self.server_files(table_name);
        }
        match statement {
            // Its queries, expressions and nested statements are visited one by one.
            Statement::Query(_) => {}
            Statement::Insert(insert) => {
                self.push(C::Insert);
                if insert.replace_into || insert.or == Some(SqliteOnConflict::Replace) {
                    self.because(C::Delete, "REPLACE deletes the rows it conflicts with");
                }
                match &insert.on {
                    Some(OnInsert::DuplicateKeyUpdate(_)) => {
                        self.because(C::Update, "ON DUPLICATE KEY UPDATE")
                    }
                    Some(OnInsert::OnConflict(c))
                        if matches!(c.action, OnConflictAction::DoUpdate(_)) =>
                    {
                        self.because(C::Update, "ON CONFLICT DO UPDATE")
                    }
                    _ => {}
                }
                if insert.overwrite {
                    self.because(C::Delete, "INSERT OVERWRITE replaces the table's rows");
                    self.info.bulk = true;
                }
                if let Some(command) = full_text_command(insert) {
                    self.because(C::Delete, format!("a full-text table's command ({command})"));
                }
                if let TableObject::TableFunction(function) = &insert.table {
                    self.call(&function.name);
                    self.because(C::Privileged, "INSERT INTO a table function");
                }
            }
            Statement::Update(update) => {
                self.push(C::Update);
                if update.or == Some(SqliteOnConflict::Replace) {
                    self.because(C::Delete, "UPDATE OR REPLACE deletes the rows it conflicts with");
                }
                let scope = Scope::of_update(self.dialect, self.functions, update);
                self.info.bulk |= is_bulk(scope.as_ref(), update.selection.as_ref());
            }
            Statement::Delete(delete) => {
                self.push(C::Delete);
                let scope = Scope::of_delete(self.dialect, self.functions, delete);
                self.info.bulk |= is_bulk(scope.as_ref(), delete.selection.as_ref());
            }
            Statement::Merge(_) => {
                self.push(C::Merge);
                self.info.bulk = true;
            }
            Statement::Truncate(_) => {
                self.push(C::Truncate);
                self.info.bulk = true;
            }
            Statement::Drop { .. }
            | Statement::DropFunction(_)
            | Statement::DropDomain(_)
            | Statement::DropProcedure { .. }
            | Statement::DropSecret { .. }
            | Statement::DropPolicy(_)
            | Statement::DropTrigger(_)
            | Statement::DropConnector { .. }
            | Statement::DropOperator(_)
            | Statement::DropOperatorFamily(_)
            | Statement::DropOperatorClass(_)
            | Statement::DropExtension(_) => self.push(C::Drop),
            Statement::CreateExtension(_) => {
                self.push(C::Create);
                self.because(C::Privileged, "CREATE EXTENSION loads code into the server");
            }
            Statement::CreateServer(_)
            | Statement::CreateSecret { .. }
            | Statement::CreateConnector(_) => {
                self.push(C::Create);
                self.because(C::Privileged, "a connection to another server");
            }
            Statement::CreateTable(_)
            | Statement::CreateView(_)
            | Statement::CreateIndex(_)
            | Statement::CreateVirtualTable { .. }
            | Statement::CreateSchema { .. }
            | Statement::CreateDatabase { .. }
            | Statement::CreateFunction(_)
            | Statement::CreateTrigger(_)
            | Statement::CreateProcedure { .. }
            | Statement::CreateMacro { .. }
            | Statement::CreateSequence { .. }
            | Statement::CreateType { .. }
            | Statement::CreateDomain(_)
            | Statement::CreatePolicy(_)
            | Statement::CreateRole(_)
            | Statement::CreateUser(_) => self.push(C::Create),
            Statement::AlterTable(_)
            | Statement::AlterIndex { .. }
            | Statement::AlterView { .. }
            | Statement::AlterRole { .. }
            | Statement::AlterUser(_)
            | Statement::AlterSchema(_)
            | Statement::AlterFunction(_)
            | Statement::AlterType(_)
            | Statement::AlterPolicy(_)
            | Statement::Comment { .. }
            | Statement::RenameTable(_) => self.push(C::Alter),
            Statement::Grant(_) | Statement::Revoke(_) | Statement::Deny(_) => self.push(C::Grant),
            Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. } => self.push(C::Transaction),
            Statement::Copy { to, target, .. } => match target {
                CopyTarget::Stdin => self.push(C::Insert),
                CopyTarget::Stdout => self.push(C::Select),
                CopyTarget::File { .. } => {
                    self.push(if *to { C::Select } else { C::Insert });
                    self.because(C::Privileged, "COPY reads or writes a file on the server");
                }
                CopyTarget::Program { .. } => {
                    self.push(if *to { C::Select } else { C::Insert });
                    self.because(C::Privileged, "COPY ... PROGRAM runs a program on the server");
                }
            },
            Statement::CopyIntoSnowflake { .. }
            | Statement::Unload { .. }
            | Statement::ExportData(_)
            | Statement::Directory { .. }
            | Statement::Put { .. }
            | Statement::List(_)
            | Statement::Remove(_) => {
                self.because(C::Privileged, "reads or writes files outside the database")
            }
            Statement::LoadData { .. } => {
                self.push(C::Insert);
                self.because(C::Privileged, "LOAD DATA reads a file");
            }
            Statement::Load { .. } | Statement::Install { .. } => {
                self.because(C::Privileged, "loads code into the server")
            }
            Statement::AttachDatabase { .. } | Statement::AttachDuckDBDatabase { .. } => {
                self.because(C::Privileged, "ATTACH opens or creates a database file")
            }
            Statement::Kill { .. } => self.because(C::Privileged, "KILL ends another session"),
            Statement::Pragma { name, value, .. } => {
                let (class, why) = pragma::classify(name, value.is_some());
                match why {
                    Some(why) => self.because(class, why),
                    None => self.push(class),
                }
            }
            Statement::Set(set) => {
                use sqlparser::ast::Set;
                match set {
                    Set::SetRole { .. } | Set::SetSessionAuthorization(_) => self.because(
                        C::Privileged,
                        "SET ROLE / SESSION AUTHORIZATION changes whose rights apply",
                    ),
                    _ => self.because(C::Session, "SET changes the session"),
                }
            }
            Statement::Reset(_)
            | Statement::Discard { .. }
            | Statement::Use(_)
            | Statement::Deallocate { .. }
            | Statement::LISTEN { .. }
            | Statement::UNLISTEN { .. }
            | Statement::DetachDuckDBDatabase { .. }
            | Statement::AlterSession { .. } => self.push(C::Session),
            Statement::Lock(_) | Statement::LockTables { .. } | Statement::UnlockTables => {
                self.because(C::Lock, "LOCK")
            }
            Statement::Call(function) => self.procedure(function),
            _ => self.push(C::Other),
        }
    }

    fn query(&mut self, query: &Query) {
        if reads(&query.body) {
            self.push(C::Select);
        }
        for lock in &query.locks {
            let what = match lock.lock_type {
                LockType::Update => "SELECT ... FOR UPDATE locks the rows it reads",
                LockType::Share => "SELECT ... FOR SHARE locks the rows it reads",
            };
            self.because(C::Lock, what);
        }
        if !query.pipe_operators.is_empty() {
            // Pipe syntax can call procedures (`|> CALL`) outside any expression.
            self.because(C::Other, "pipe syntax");
        }
    }

    fn select(&mut self, select: &Select) {
        if select.into.is_some() {
            self.because(C::Create, "SELECT ... INTO creates a table");
            self.because(C::Insert, "SELECT ... INTO fills a table");
        }
    }
}

/// Whether a query body reads rows itself (its nested queries and statements are visited
/// on their own).
fn reads(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(_) | SetExpr::Values(_) | SetExpr::Table(_) => true,
        SetExpr::SetOperation { left, right, .. } => reads(left) || reads(right),
        SetExpr::Query(_)
        | SetExpr::Insert(_)
        | SetExpr::Update(_)
        | SetExpr::Delete(_)
        | SetExpr::Merge(_) => false,
    }
}

impl Visitor for Classifier<'_> {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        self.statement(statement);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.query(query);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        self.select(select);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) => {
                self.call(&function.name);
            }
            // `a.f`, `s.a.f`: every part after the first may be a function of what precedes.
            Expr::CompoundIdentifier(parts) => {
                for part in parts.iter().skip(1) {
                    self.attribute(part, expr);
                }
            }
            // `(a).f`, `(a).f.g`.
            Expr::CompoundFieldAccess { access_chain, .. } => {
                for access in access_chain {
                    match access {
                        AccessExpr::Dot(Expr::Identifier(name)) => self.attribute(name, expr),
                        AccessExpr::Dot(Expr::CompoundIdentifier(names)) => {
                            for name in names {
                                self.attribute(name, expr);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    /// PostgreSQL's catalog views of the server's own files and of credentials: as
    /// privileged as `pg_read_file`, though they read like tables (red team, 2026-11-30:
    /// `SELECT * FROM pg_hba_file_rules` passed as a plain `select`).
    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.server_files(relation);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            // `FROM pg_ls_dir('.')`, `FROM dblink(...)`, `FROM json_each(x)`.
            TableFactor::Table { name, args: Some(_), .. } | TableFactor::Function { name, .. } => {
                self.call(name);
            }
            // `FROM ONLY pg_authid`, which sqlparser reads as a table `ONLY` named
            // `pg_authid`: the alias is the table PostgreSQL reads.
            TableFactor::Table { name, alias: Some(alias), .. }
                if name.0.len() == 1
                    && name.0.first().and_then(|p| p.as_ident()).is_some_and(|i| {
                        i.quote_style.is_none() && i.value.eq_ignore_ascii_case("only")
                    }) =>
            {
                self.server_files(&ObjectName::from(vec![alias.name.clone()]));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl Classifier<'_> {
    /// PostgreSQL's catalog views of the server's own files and of credentials: as
    /// privileged as `pg_read_file`, though they read like tables (red team, 2026-11-30:
    /// `SELECT * FROM pg_hba_file_rules` passed as a plain `select`; then `FROM ONLY`,
    /// `COPY ... TO STDOUT` and `information_schema.user_mapping_options`).
    fn server_files(&mut self, relation: &ObjectName) {
        const SERVER_FILES: [&str; 8] = [
            "pg_file_settings",
            "pg_hba_file_rules",
            "pg_ident_file_mappings",
            "pg_config",
            "pg_authid",
            "pg_shadow",
            "pg_user_mapping",
            "pg_user_mappings",
        ];
        const INFORMATION_SCHEMA: [&str; 2] = ["user_mapping_options", "user_mappings"];
        if !matches!(self.dialect, SqlDialect::Postgres | SqlDialect::Generic) {
            return;
        }
        let parts: Vec<&Ident> = relation.0.iter().filter_map(|part| part.as_ident()).collect();
        let folded = |ident: &Ident| {
            if ident.quote_style.is_some() {
                ident.value.clone()
            } else {
                ident.value.to_ascii_lowercase()
            }
        };
        if let [schema, name] = parts.as_slice()
            && folded(schema) == "information_schema"
            && INFORMATION_SCHEMA.contains(&folded(name).as_str())
        {
            self.because(C::Privileged, format!("reads `{relation}`, the server's credentials"));
            return;
        }
        // Unqualified or in `pg_catalog`; a quoted name only as the catalog spells it.
        let name = match parts.as_slice() {
            [name] => Some(*name),
            [schema, name] if schema.value.eq_ignore_ascii_case("pg_catalog") => Some(*name),
            _ => None,
        };
        if let Some(name) = name {
            let spelled = if name.quote_style.is_some() {
                name.value.clone()
            } else {
                name.value.to_ascii_lowercase()
            };
            if SERVER_FILES.contains(&spelled.as_str()) {
                self.because(
                    C::Privileged,
                    format!("reads `{relation}`, the server's files or credentials"),
                );
            }
        }
    }
}
