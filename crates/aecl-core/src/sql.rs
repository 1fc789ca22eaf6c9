//! SQL arguments, classified with a real SQL parser (`sqlparser`), statement by statement.
//!
//! String matching on SQL is trivially bypassed (comments, case, several statements in one
//! string, writes hidden in a CTE, a side effect hidden in a function call), so every
//! statement is parsed and classified from its syntax tree. Text that does not parse is
//! blocked. Databases disagree on where comments and strings end, so text is judged as
//! every reading of its dialect would run it (`generic`, the database unknown: as every
//! supported database would), and passes only if each reading that parses passes.
//!
//! - `readings`: how each database (and server setting) reads the text;
//! - `classify`: what one statement does (its classes, bulk, unknown functions);
//! - `functions`: what calling a function does (built-in lists and the policy's);
//! - `filter` and `scope`: whether an `UPDATE`/`DELETE` filter bounds its rows (else bulk);
//! - `pragma`: SQLite's `PRAGMA`, read or write.

use std::fmt;

use crate::decision::Decision;
use crate::violation::{ValueFacts, Violation};

mod classify;
mod filter;
pub mod functions;
mod pragma;
pub mod readings;
mod scope;

pub use filter::MAX_BOUND_VALUES;
pub use functions::FunctionLists;
pub use readings::{Outcome, Read, Reading};

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

    /// The reading of this dialect with its database's default settings.
    fn usual_reading(self) -> Reading {
        match self {
            SqlDialect::Generic => Reading::Generic,
            SqlDialect::Sqlite => Reading::Sqlite,
            SqlDialect::Postgres => Reading::Postgres,
            SqlDialect::Mysql => Reading::Mysql,
        }
    }
}

/// The class of one SQL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementClass {
    Select,
    /// Row and table locks: `SELECT ... FOR UPDATE/SHARE`, `LOCK`, advisory locks.
    Lock,
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
    /// Changes to the connection's state: `SET`, `set_config`, `RESET`, `USE`, tuning
    /// `PRAGMA`s.
    Session,
    /// Reaches outside the database's tables: server files (`pg_read_file`, `COPY ... TO
    /// 'file'`, `lo_import`, `ATTACH`), programs (`COPY ... PROGRAM`), other servers
    /// (`dblink`), other sessions (`pg_terminate_backend`), code (`load_extension`,
    /// `LOAD`, `CREATE EXTENSION`), roles (`SET ROLE`), and `PRAGMA` writes that lift a
    /// safety check.
    Privileged,
    /// Everything else (`EXPLAIN`, `VACUUM`, `pg_sleep`, a `CALL` of an unlisted
    /// procedure, ...).
    Other,
}

impl StatementClass {
    pub const ALL: [StatementClass; 15] = [
        StatementClass::Select,
        StatementClass::Lock,
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
        StatementClass::Session,
        StatementClass::Privileged,
        StatementClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatementClass::Select => "select",
            StatementClass::Lock => "lock",
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
            StatementClass::Session => "session",
            StatementClass::Privileged => "privileged",
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementInfo {
    /// Every class the statement contains: a `SELECT` with a data-modifying CTE has both, and
    /// so has a `SELECT` that calls `nextval`.
    pub classes: Vec<StatementClass>,
    /// The classes that come from a part of the statement rather than its kind, with the
    /// part (`calls \`pg_read_file\``, `SELECT ... FOR UPDATE ...`).
    pub because: Vec<(StatementClass, String)>,
    /// An `UPDATE` or `DELETE` whose filter does not pin its rows to a few constants
    /// (see `filter`), a `MERGE` or a `TRUNCATE`.
    pub bulk: bool,
    /// Functions and table functions it calls that are on no list, as written.
    pub unknown_functions: Vec<String>,
}

/// Parses `sql` as `dialect`'s database reads it with its default settings, and classifies
/// each statement with the built-in function lists. The error is the parser's message.
/// (A policy's check reads the text in every reading of its dialect: [`SqlRules::check`].)
pub fn analyse(dialect: SqlDialect, sql: &str) -> Result<Vec<StatementInfo>, String> {
    analyse_with(dialect, &FunctionLists::default(), sql)
}

/// [`analyse`] with a policy's additions to the function lists.
pub fn analyse_with(
    dialect: SqlDialect,
    functions: &FunctionLists,
    sql: &str,
) -> Result<Vec<StatementInfo>, String> {
    let reading = dialect.usual_reading();
    let statements = reading.parse(reading.tokenize(sql)?)?;
    Ok(statements.iter().map(|s| classify::classify(dialect, functions, s)).collect())
}

/// Which statement classes an argument may contain, and what happens to each.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRules {
    pub dialect: SqlDialect,
    pub allow: Vec<StatementClass>,
    pub require_approval: Vec<StatementClass>,
    /// Listed for clarity; any class not in `allow` or `require_approval` is blocked too.
    pub block: Vec<StatementClass>,
    /// For a call of a function on no list (default: `RequireApproval`).
    pub unknown_function: Decision,
    /// The policy's additions to the built-in function lists.
    pub functions: FunctionLists,
}

impl Default for SqlRules {
    fn default() -> Self {
        SqlRules {
            dialect: SqlDialect::default(),
            allow: Vec::new(),
            require_approval: Vec::new(),
            block: Vec::new(),
            unknown_function: Decision::RequireApproval,
            functions: FunctionLists::default(),
        }
    }
}

impl SqlRules {
    /// Every statement that some reading of this policy's dialect finds in `sql`,
    /// classified with the policy's function lists: a statement is here if any database
    /// the policy may face would run it. The error, when no reading parses the text, is
    /// the usual reading's.
    pub fn analyse(&self, sql: &str) -> Result<Vec<StatementInfo>, String> {
        let mut all: Vec<StatementInfo> = Vec::new();
        let mut error = None;
        for read in readings::read(self.dialect, &self.functions, sql) {
            match read.outcome {
                Outcome::Parsed { statements, .. } => {
                    for statement in statements {
                        if !all.contains(&statement) {
                            all.push(statement);
                        }
                    }
                }
                Outcome::Unparsable { error: e, .. } | Outcome::Unreadable(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        match error {
            Some(e) if all.is_empty() => Err(e),
            _ => Ok(all),
        }
    }

    /// Each reading of this policy's dialect, and what it made of `sql`.
    pub fn read(&self, sql: &str) -> Vec<Read> {
        readings::read(self.dialect, &self.functions, sql)
    }

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

    /// Checks an SQL argument: in every reading of the dialect that parses it, statement by
    /// statement; a reading that finds other code and cannot parse it is blocked, and so
    /// is text no reading parses.
    pub fn check(&self, sql: &str, out: &mut Vec<Violation>, facts: &mut ValueFacts) {
        let reads = self.read(sql);
        let parsed: Vec<(Reading, &[StatementInfo], &[String])> = reads
            .iter()
            .filter_map(|read| match &read.outcome {
                Outcome::Parsed { statements, words } => {
                    Some((read.reading, statements.as_slice(), words.as_slice()))
                }
                _ => None,
            })
            .collect();
        if parsed.is_empty() {
            let error = reads.iter().find_map(|read| match &read.outcome {
                Outcome::Unparsable { error, .. } | Outcome::Unreadable(error) => Some(error),
                Outcome::Parsed { .. } => None,
            });
            out.push(Violation {
                rule: "sql",
                decision: Decision::Block,
                message: format!("not valid SQL: {}", error.map_or("", String::as_str)),
            });
            return;
        }
        // The same finding in several readings is reported once, with the readings that
        // made it when not all did.
        let mut found: Vec<(Violation, Vec<Reading>)> = Vec::new();
        for (reading, statements, _) in &parsed {
            facts.bulk |= statements.iter().any(|s| s.bulk);
            for violation in self.violations(statements) {
                match found.iter_mut().find(|(v, _)| *v == violation) {
                    Some((_, readers)) => readers.push(*reading),
                    None => found.push((violation, vec![*reading])),
                }
            }
        }
        for (mut violation, readers) in found {
            if readers.len() < parsed.len() {
                let names: Vec<&str> = readers.iter().map(|r| r.name()).collect();
                let verb = if readers.len() == 1 { "reads" } else { "read" };
                violation.message =
                    format!("{} (as {} {verb} it)", violation.message, names.join(", "));
            }
            out.push(violation);
        }
        for read in &reads {
            let Outcome::Unparsable { error, words } = &read.outcome else { continue };
            // A reading that found the same code as one that parses is a gap in the
            // parser's grammar, not another program: the other reading judged it.
            if parsed.iter().any(|(_, _, w)| w == words) {
                continue;
            }
            out.push(Violation {
                rule: "sql",
                decision: Decision::Block,
                message: format!(
                    "{} reads this text differently from {} and its reading does not parse \
                     ({error}), so what it would run is unknown: name the SQL rules' `dialect`, \
                     or write the text so that databases read it alike",
                    read.reading.name(),
                    parsed.iter().map(|(r, _, _)| r.name()).collect::<Vec<_>>().join(", "),
                ),
            });
        }
    }

    /// What one reading's statements break of the rules.
    fn violations(&self, statements: &[StatementInfo]) -> Vec<Violation> {
        let mut out = Vec::new();
        if statements.is_empty() {
            out.push(Violation {
                rule: "sql",
                decision: Decision::Block,
                message: "no SQL statement".to_owned(),
            });
        }
        for (index, info) in statements.iter().enumerate() {
            for class in &info.classes {
                let decision = self.decision_for(*class);
                if decision > Decision::Allow {
                    let parts: Vec<&str> = info
                        .because
                        .iter()
                        .filter(|(c, _)| c == class)
                        .map(|(_, what)| what.as_str())
                        .collect();
                    let source = if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", parts.join("; "))
                    };
                    out.push(Violation {
                        rule: "sql",
                        decision,
                        message: format!(
                            "statement {} is `{class}`{source}, which {}",
                            index + 1,
                            verb(decision)
                        ),
                    });
                }
            }
            if self.unknown_function > Decision::Allow && !info.unknown_functions.is_empty() {
                out.push(Violation {
                    rule: "sql",
                    decision: self.unknown_function,
                    message: format!(
                        "statement {} calls `{}`, on no function list (`unknown_function`), which {}",
                        index + 1,
                        info.unknown_functions.join("`, `"),
                        verb(self.unknown_function)
                    ),
                });
            }
        }
        out
    }
}

fn verb(decision: Decision) -> &'static str {
    if decision == Decision::Block { "is not allowed" } else { "needs approval" }
}

#[cfg(test)]
mod tests;
