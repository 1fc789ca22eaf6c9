//! The readings against an adversarial corpus: texts that databases cut differently into
//! comments, strings and code, each with what every reading finds in it and the decision
//! in each dialect. Each case was also run on SQLite 3.40 and PostgreSQL 15 (`seen`):
//! wherever a database ran a write, the readings of its dialect and `generic` block it.

use proptest::prelude::*;

use super::*;
use crate::decision::Decision;
use crate::sql::{SqlRules, StatementClass};
use crate::violation::{ValueFacts, Violation};

/// One text, what each reading finds in it, and the verdicts.
struct Case {
    name: &'static str,
    sql: &'static str,
    /// Per reading (`g` generic, `s` SQLite, `p` PostgreSQL, `pb` PostgreSQL with
    /// `standard_conforming_strings` off, `m` MySQL, `ma` with `ANSI_QUOTES`, `mn` with
    /// `NO_BACKSLASH_ESCAPES`, `man` with both): the classes of its statements joined by
    /// `+`, `?` when its tokens do not parse, `!` when it cannot cut the text into tokens.
    reads: &'static str,
    /// The decision under rules that allow `select` and `insert` and block the rest, with
    /// the dialect `generic`, `sqlite`, `postgres`, `mysql`: `A` allow, `B` block.
    verdicts: &'static str,
    why: &'static str,
    /// What the databases did with the text (table `t`, rows 1 to 3).
    seen: &'static str,
}

const DIALECTS: [SqlDialect; 4] =
    [SqlDialect::Generic, SqlDialect::Sqlite, SqlDialect::Postgres, SqlDialect::Mysql];

fn code(reading: Reading) -> &'static str {
    match reading {
        Reading::Generic => "g",
        Reading::Sqlite => "s",
        Reading::Postgres => "p",
        Reading::PostgresBackslashEscapes => "pb",
        Reading::Mysql => "m",
        Reading::MysqlAnsiQuotes => "ma",
        Reading::MysqlNoBackslashEscapes => "mn",
        Reading::MysqlAnsiQuotesNoBackslashEscapes => "man",
    }
}

/// The `reads` column for `sql`.
fn reads(sql: &str) -> String {
    let found: Vec<String> = read(SqlDialect::Generic, &FunctionLists::default(), sql)
        .into_iter()
        .map(|read| {
            let what = match read.outcome {
                Outcome::Parsed { statements, .. } => {
                    let mut classes: Vec<StatementClass> =
                        statements.into_iter().flat_map(|s| s.classes).collect();
                    classes.sort();
                    classes.dedup();
                    let names: Vec<&str> = classes.iter().map(|c| c.as_str()).collect();
                    names.join("+")
                }
                Outcome::Unparsable { .. } => "?".to_owned(),
                Outcome::Unreadable(_) => "!".to_owned(),
            };
            format!("{}:{what}", code(read.reading))
        })
        .collect();
    found.join(" ")
}

fn rules(dialect: SqlDialect) -> SqlRules {
    SqlRules {
        dialect,
        allow: vec![StatementClass::Select, StatementClass::Insert],
        ..SqlRules::default()
    }
}

fn check(rules: &SqlRules, sql: &str) -> (Vec<Violation>, ValueFacts) {
    let mut out = Vec::new();
    let mut facts = ValueFacts::default();
    rules.check(sql, &mut out, &mut facts);
    (out, facts)
}

/// The `verdicts` column for `sql`.
fn verdicts(sql: &str) -> String {
    DIALECTS
        .iter()
        .map(|dialect| {
            let (out, _) = check(&rules(*dialect), sql);
            match out.iter().map(|v| v.decision).max() {
                None | Some(Decision::Allow) => 'A',
                Some(Decision::RequireApproval) => 'R',
                Some(Decision::Block) => 'B',
            }
        })
        .collect()
}

#[test]
fn every_reading_reads_the_corpus_as_its_database_does() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for case in CASES {
        let (got_reads, got_verdicts) = (reads(case.sql), verdicts(case.sql));
        if got_reads != case.reads || got_verdicts != case.verdicts {
            failures.push(format!(
                "{} ({}; {}):\n  reads    {}\n  expected {}\n  verdicts {got_verdicts}, expected {}",
                case.name, case.why, case.seen, got_reads, case.reads, case.verdicts
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_write_a_database_ran_is_blocked_in_its_dialect_and_in_generic() {
    for case in CASES {
        for (database, dialect) in
            [("SQLite", SqlDialect::Sqlite), ("PostgreSQL", SqlDialect::Postgres)]
        {
            if case.seen.contains(&format!("{database} 15 deletes"))
                || case.seen.contains(&format!("{database} 3.40 deletes"))
            {
                for dialect in [dialect, SqlDialect::Generic] {
                    let (out, _) = check(&rules(dialect), case.sql);
                    assert!(
                        out.iter().any(|v| v.decision == Decision::Block),
                        "{}: {database} deletes, {dialect:?} allows",
                        case.name
                    );
                }
            }
        }
    }
}

#[test]
fn a_finding_of_some_readings_names_them() {
    let (out, _) =
        check(&rules(SqlDialect::Generic), "/* /* */ DELETE FROM t WHERE id = 1 -- */ SELECT 1");
    let messages: Vec<&str> = out.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m
                .starts_with("statement 1 is `delete`, which is not allowed (as SQLite, MySQL")),
        "{messages:?}"
    );
    // A finding of every reading is reported once, as it always was.
    let (out, _) = check(&rules(SqlDialect::Generic), "DROP TABLE t");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].message, "statement 1 is `drop`, which is not allowed");
}

#[test]
fn a_reading_that_finds_other_code_and_cannot_parse_it_blocks() {
    // SQLite runs the DELETE (`$$` is a variable there); sqlparser's SQLite grammar cannot
    // parse the text, and what it found is not what PostgreSQL found.
    let (out, _) = check(&rules(SqlDialect::Generic), "SELECT $$ ; DELETE FROM t WHERE id = 1; $$");
    assert!(
        out.iter().any(|v| v.decision == Decision::Block
            && v.message.starts_with("SQLite reads this text differently")),
        "{out:?}"
    );
}

#[test]
fn bulk_in_any_reading_is_bulk() {
    // SQLite reads `"zz"` as a string when no column has that name; MySQL as a string.
    let writer = SqlRules {
        allow: vec![StatementClass::Select, StatementClass::Delete],
        ..SqlRules::default()
    };
    let (_, facts) = check(&writer, "DELETE FROM t WHERE \"zz\" = 'zz'");
    assert!(facts.bulk);
    let (_, facts) = check(&writer, "DELETE FROM t WHERE id = 'zz'");
    assert!(!facts.bulk);
}

#[test]
fn the_analysis_holds_the_statements_of_every_reading() {
    let rules = rules(SqlDialect::Generic);
    let all = rules.analyse("/* /* */ DELETE FROM t WHERE id = 1 -- */ SELECT 1").unwrap();
    let classes: Vec<StatementClass> = all.iter().flat_map(|s| s.classes.clone()).collect();
    assert!(classes.contains(&StatementClass::Delete) && classes.contains(&StatementClass::Select));
    assert!(rules.analyse("DELEET FROM t").is_err());
}

#[test]
fn settings_that_change_nothing_tokenize_as_the_database() {
    // The wrapper must ask the base for everything the tokenizer asks, or a reading with a
    // server setting would silently differ elsewhere too.
    let mysql = Settings { base: MySqlDialect {}, backslash_escapes: true, quoted_names: false };
    let postgres =
        Settings { base: PostgreSqlDialect {}, backslash_escapes: false, quoted_names: true };
    for case in CASES {
        assert_eq!(
            tokenize(&mysql, case.sql),
            tokenize(&MySqlDialect {}, case.sql),
            "{}",
            case.name
        );
        assert_eq!(
            tokenize(&postgres, case.sql),
            tokenize(&PostgreSqlDialect {}, case.sql),
            "{}",
            case.name
        );
    }
}

#[test]
fn each_dialect_is_read_with_its_server_settings_and_generic_with_all() {
    assert_eq!(Reading::of(SqlDialect::Generic), &Reading::ALL);
    for dialect in DIALECTS {
        let of = Reading::of(dialect);
        assert!(of.iter().all(|r| dialect == SqlDialect::Generic || r.dialect() == dialect));
        assert_eq!(of.first().map(|r| r.dialect()), Some(dialect));
    }
}

/// Pieces of text on which databases disagree, for random texts.
const FRAGMENTS: &[&str] = &[
    "SELECT 1",
    "DELETE FROM t WHERE id = 1",
    "INSERT INTO t VALUES (1)",
    "DROP TABLE t",
    ";",
    " ",
    "\n",
    "\r",
    "/*",
    "*/",
    "/*!",
    "/*M!",
    "--",
    "-- ",
    "--1",
    "#",
    "'",
    "\\'",
    "''",
    "\"",
    "\\\"",
    "`",
    "[",
    "]",
    "$$",
    "$a$",
    "E'",
    "X'",
    "a",
    "\\",
];

fn random_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 1..10).prop_map(|parts| parts.concat())
}

proptest! {
    /// Under `generic`, text is judged at least as strictly as each database's usual
    /// reading judges it, and is bulk when any of them finds bulk.
    #[test]
    fn generic_is_never_more_permissive_than_a_database(sql in random_text()) {
        let generic = rules(SqlDialect::Generic);
        let (out, facts) = check(&generic, &sql);
        let decided = out.iter().map(|v| v.decision).max().unwrap_or(Decision::Allow);
        for dialect in [SqlDialect::Sqlite, SqlDialect::Postgres, SqlDialect::Mysql] {
            let Ok(statements) = crate::sql::analyse(dialect, &sql) else { continue };
            let strictest = statements
                .iter()
                .flat_map(|s| &s.classes)
                .map(|c| if generic.allow.contains(c) { Decision::Allow } else { Decision::Block })
                .chain(statements.is_empty().then_some(Decision::Block))
                .max()
                .unwrap_or(Decision::Allow);
            prop_assert!(decided >= strictest, "{dialect:?} {strictest:?}, generic {decided:?}: {out:?}");
            prop_assert!(facts.bulk || !statements.iter().any(|s| s.bulk));
        }
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case {
        name: "nested_comment_sqlite_mysql_end_early",
        sql: "/* /* */ DELETE FROM t WHERE id = 1 -- */ SELECT 1",
        reads: "g:select s:delete p:select pb:select m:delete ma:delete mn:delete man:delete",
        verdicts: "BBAB",
        why: "PostgreSQL nests comments and reads SELECT 1; SQLite and MySQL end the comment at the first */ and run the DELETE",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 runs no write",
    },
    Case {
        name: "nested_comment_three_deep",
        sql: "/* /* /* */ DELETE FROM t WHERE id = 1; -- */ */ SELECT 1",
        reads: "g:select s:delete p:select pb:select m:delete ma:delete mn:delete man:delete",
        verdicts: "BBAB",
        why: "three deep: PostgreSQL reads one comment; SQLite and MySQL end it at the first */",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 runs no write",
    },
    Case {
        name: "postgres_ends_dash_comment_at_cr_cte",
        sql: "--x\rWITH d AS (DELETE FROM t WHERE id = 1 RETURNING 1)\nSELECT 1",
        reads: "g:select s:select p:select+delete pb:select+delete m:? ma:? mn:? man:?",
        verdicts: "BABB",
        why: "PostgreSQL ends a -- comment at \\r; the others only at \\n",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 deletes",
    },
    Case {
        name: "postgres_ends_dash_comment_at_cr_statement",
        sql: "SELECT 1 --\r; DELETE FROM t WHERE id = 1",
        reads: "g:select s:select p:select+delete pb:select+delete m:select ma:select mn:select man:select",
        verdicts: "BABA",
        why: "the DELETE after a \\r is code to PostgreSQL only",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 deletes",
    },
    Case {
        name: "keyword_after_crlf_is_an_alias",
        sql: "SELECT 1 -- x\r\nDELETE FROM t WHERE id = 1",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "\\r\\n ends the comment everywhere, and without a semicolon DELETE is the column's alias: PostgreSQL runs a SELECT",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },
    Case {
        name: "mysql_dash_dash_needs_space",
        sql: "SELECT 2 --1; DELETE FROM t WHERE id = 1",
        reads: "g:select s:select p:select pb:select m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BAAB",
        why: "MySQL reads --1 as minus minus one, so the DELETE is code to MySQL",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "mysql_hash_comment_hides_from_mysql",
        sql: "SELECT 1 # ; DELETE FROM t WHERE id = 1",
        reads: "g:? s:? p:? pb:? m:select ma:select mn:select man:select",
        verdicts: "BBBA",
        why: "MySQL reads # as a comment; the others see the DELETE",
        seen: "SQLite 3.40 fails; PostgreSQL 15 fails",
    },
    Case {
        name: "mysql_hash_comment_hides_from_others",
        sql: "SELECT 1 #\n; DELETE FROM t WHERE id = 1",
        reads: "g:select+delete s:? p:? pb:? m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BBBB",
        why: "the DELETE after a newline is code to all",
        seen: "SQLite 3.40 fails; PostgreSQL 15 fails",
    },
    Case {
        name: "mysql_executable_comment",
        sql: "SELECT 1 /*! ; DELETE FROM t WHERE id = 1 */",
        reads: "g:select+delete s:select p:select pb:select m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BAAB",
        why: "MySQL runs the text of /*! */; SQLite and PostgreSQL skip it",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "mysql_versioned_executable_comment",
        sql: "SELECT 1 /*!50000 ; DELETE FROM t WHERE id = 1 */",
        reads: "g:select+delete s:select p:select pb:select m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BAAB",
        why: "a versioned /*!50000 */ runs too",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "mariadb_executable_comment",
        sql: "SELECT 1 /*M! ; DELETE FROM t WHERE id = 1 */",
        reads: "g:select s:select p:select pb:select m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BAAB",
        why: "MariaDB runs the text of /*M! */",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "mariadb_versioned_executable_comment",
        sql: "SELECT 1 /*M!100100 ; DELETE FROM t WHERE id = 1 */",
        reads: "g:select s:select p:select pb:select m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BAAB",
        why: "and of /*M!100100 */",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "sqlite_comment_runs_to_the_end",
        sql: "SELECT 1 /* /* */ ; DELETE FROM t WHERE id = 1; /*",
        reads: "g:! s:select+delete p:! pb:! m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BBBB",
        why: "SQLite lets the last /* run to the end of the text and runs the DELETE; PostgreSQL's nested comment never closes",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 fails",
    },
    Case {
        name: "sqlite_unterminated_comment_benign",
        sql: "SELECT 1; /* note",
        reads: "g:! s:select p:! pb:! m:select ma:select mn:select man:select",
        verdicts: "AABA",
        why: "an unterminated comment at the end is fine to SQLite",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 fails",
    },
    Case {
        name: "comment_markers_inside_comment",
        sql: "SELECT 1 /* -- */ ; DELETE FROM t WHERE id = 1",
        reads: "g:select+delete s:select+delete p:select+delete pb:select+delete m:select+delete ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BBBB",
        why: "-- inside a block comment is nothing: the DELETE is code to all",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 deletes",
    },
    Case {
        name: "block_comment_inside_line_comment",
        sql: "-- /*\nDELETE FROM t WHERE id = 1 -- */",
        reads: "g:delete s:delete p:delete pb:delete m:delete ma:delete mn:delete man:delete",
        verdicts: "BBBB",
        why: "/* inside a line comment is nothing",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 deletes",
    },
    Case {
        name: "mysql_backslash_escaped_quote_hides_delete_from_mysql",
        sql: "SELECT 'a\\'; DELETE FROM t WHERE id = 1; -- '",
        reads: "g:select+delete s:select+delete p:select+delete pb:select m:select ma:select mn:select+delete man:select+delete",
        verdicts: "BBBB",
        why: "standard strings end at a\\'; MySQL reads \\' as a quote",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 deletes",
    },
    Case {
        name: "mysql_backslash_escaped_quote_shows_delete_to_mysql",
        sql: "SELECT 'a\\''; DELETE FROM t WHERE id = 1; -- '",
        reads: "g:select s:select p:select pb:select+delete m:select+delete ma:select+delete mn:select man:select",
        verdicts: "BABB",
        why: "MySQL (and PostgreSQL with standard_conforming_strings off) end the string after a\\''",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "postgres_escape_string",
        sql: "SELECT E'\\''; DELETE FROM t WHERE id = 1; -- '",
        reads: "g:select+delete s:select p:select+delete pb:select+delete m:select+delete ma:select+delete mn:select man:select",
        verdicts: "BABB",
        why: "PostgreSQL's E'' escapes a quote with a backslash",
        seen: "SQLite 3.40 fails; PostgreSQL 15 deletes",
    },
    Case {
        name: "postgres_escape_string_hides_from_postgres",
        sql: "SELECT E'\\'; DELETE FROM t WHERE id = 1; -- '",
        reads: "g:select s:select+delete p:select pb:select m:select ma:select mn:select+delete man:select+delete",
        verdicts: "BBAB",
        why: "an E string runs on to the last quote in PostgreSQL; SQLite reads E then '\\'",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },
    Case {
        name: "dollar_quote_hides_from_postgres",
        sql: "SELECT $$ ; DELETE FROM t WHERE id = 1; $$",
        reads: "g:select s:? p:select pb:select m:? ma:? mn:? man:?",
        verdicts: "BBAB",
        why: "PostgreSQL reads $$...$$ as a string; MySQL reads $$ as a name",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 runs no write",
    },
    Case {
        name: "tagged_dollar_quote",
        sql: "SELECT $a$ ; DELETE FROM t WHERE id = 1; $a$",
        reads: "g:select s:? p:select pb:select m:? ma:? mn:? man:?",
        verdicts: "BBAB",
        why: "a tagged dollar quote",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 runs no write",
    },
    Case {
        name: "double_quote_backslash_mysql",
        sql: "SELECT \"a\\\"; DELETE FROM t WHERE id = 1; -- \"",
        reads: "g:select+delete s:select+delete p:select+delete pb:select+delete m:select ma:select+delete mn:select+delete man:select+delete",
        verdicts: "BBBB",
        why: "MySQL reads \"...\" as a string with backslash escapes; the others as a name",
        seen: "SQLite 3.40 deletes; PostgreSQL 15 fails",
    },
    Case {
        name: "ansi_quotes_hybrid",
        sql: "SELECT \"x\\\" , 'a\\''; DELETE FROM t WHERE id = 1; -- \"",
        reads: "g:! s:! p:! pb:select+delete m:select ma:select+delete mn:! man:!",
        verdicts: "BBBB",
        why: "only MySQL with ANSI_QUOTES reads a name, then a string ending after a\\'', then the DELETE",
        seen: "SQLite 3.40 fails; PostgreSQL 15 fails",
    },
    Case {
        name: "backtick_name",
        sql: "SELECT 1 AS `x; DELETE FROM t WHERE id = 1; -- `",
        reads: "g:select s:select p:? pb:? m:select ma:select mn:select man:select",
        verdicts: "BABA",
        why: "a backtick name to SQLite and MySQL; PostgreSQL reads the backtick as an error",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 fails",
    },
    Case {
        name: "bracket_name_sqlite",
        sql: "SELECT 1 AS [x; DELETE FROM t WHERE id = 1; --]",
        reads: "g:? s:select p:? pb:? m:? ma:? mn:? man:?",
        verdicts: "BABB",
        why: "SQLite reads [x...] as a name",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 fails",
    },
    Case {
        name: "quote_doubling",
        sql: "SELECT 'it''s; DELETE FROM t WHERE id = 1; --'",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "a doubled quote stays in the string everywhere",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "double_quote_doubling",
        sql: "SELECT \"a\"\"; DELETE FROM t WHERE id = 1; --\"",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "a doubled double quote stays in the name or string everywhere",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 fails",
    },
    Case {
        name: "nul_ends_text_early",
        sql: "DELETE FROM t --\0\nWHERE id = 1",
        reads: "g:! s:! p:! pb:! m:! ma:! mn:! man:!",
        verdicts: "BBBB",
        why: "a client stops at the NUL: the DELETE runs without its filter",
        seen: "SQLite 3.40 fails; PostgreSQL 15 cannot be sent",
    },
    Case {
        name: "unicode_space_after_dashes",
        sql: "SELECT 1 --\u{a0}; DELETE FROM t WHERE id = 1",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "sqlparser reads --<no-break space> as a comment in MySQL; MySQL itself does not, reads a name and fails",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "control_character_after_dashes",
        sql: "SELECT 1 --\u{1}; DELETE FROM t WHERE id = 1",
        reads: "g:select s:select p:select pb:select m:? ma:? mn:? man:?",
        verdicts: "BAAB",
        why: "MySQL reads --<control> as a comment; sqlparser's MySQL does not",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "benign_read",
        sql: "SELECT id, name FROM t WHERE id = 1",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "read the same way by all",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "benign_double_quoted_names",
        sql: "SELECT \"id\" FROM \"t\" WHERE \"id\" = 1",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "names to most, strings to MySQL: the same code",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "benign_windows_path",
        sql: "SELECT 'C:\\dir\\'",
        reads: "g:select s:select p:select pb:! m:! ma:! mn:select man:select",
        verdicts: "AAAA",
        why: "a backslash before the closing quote: MySQL cannot read it, the others read a string",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "benign_dollar_quoted_string",
        sql: "SELECT $$it's$$",
        reads: "g:select s:! p:select pb:select m:! ma:! mn:! man:!",
        verdicts: "ABAB",
        why: "a dollar-quoted string: PostgreSQL's, unreadable elsewhere",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },
    Case {
        name: "benign_line_comment",
        sql: "SELECT 1 -- ; DELETE FROM t",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "a comment to all",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "benign_escape_string",
        sql: "SELECT E'a\\nb'",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "PostgreSQL's escape string",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },
    Case {
        name: "nested_comment_benign_in_postgres",
        sql: "SELECT 1 /* a /* b */ c */",
        reads: "g:select s:? p:select pb:select m:? ma:? mn:? man:?",
        verdicts: "BBAB",
        why: "nested to PostgreSQL; the rest is not SQL to SQLite and MySQL",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },
    Case {
        name: "semicolon_in_a_string",
        sql: "SELECT ';DELETE FROM t WHERE id = 1'",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "a string to all",
        seen: "SQLite 3.40 runs no write; PostgreSQL 15 runs no write",
    },
    Case {
        name: "unicode_escape_string",
        sql: "SELECT U&'\\0027; DELETE FROM t WHERE id = 1; --'",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "PostgreSQL's U& string: \\0027 is an escaped quote, not the end",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },
    Case {
        name: "generic_quote_delimited_string",
        sql: "SELECT q'['; DELETE FROM t WHERE id = 1; --]'",
        reads: "g:select s:select+delete p:select+delete pb:select+delete m:! ma:! mn:! man:!",
        verdicts: "BBBB",
        why: "sqlparser's generic dialect reads Oracle's q'[...]' string; the databases read q, a string and the DELETE",
        seen: "SQLite 3.40 fails; PostgreSQL 15 fails",
    },
    Case {
        name: "hex_string_backslash",
        sql: "SELECT X'\\'; DELETE FROM t WHERE id = 1; -- '",
        reads: "g:select s:select p:select pb:select m:select ma:select mn:select man:select",
        verdicts: "AAAA",
        why: "sqlparser reads a backslash in X'' as an escape in every dialect, the databases do not; but each refuses X'\\' before the DELETE runs",
        seen: "SQLite 3.40 fails; PostgreSQL 15 fails",
    },
    Case {
        name: "insert_hidden_in_nested_comment",
        sql: "/* /* */ INSERT INTO t VALUES (9) -- */ SELECT 1",
        reads: "g:select s:select+insert p:select pb:select m:select+insert ma:select+insert mn:select+insert man:select+insert",
        verdicts: "AAAA",
        why: "an allowed INSERT hidden the same way is still allowed",
        seen: "SQLite 3.40 fails; PostgreSQL 15 runs no write",
    },

];
