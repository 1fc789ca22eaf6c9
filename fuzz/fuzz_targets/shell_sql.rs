//! Fuzz target: any text through the shell analyser, the whole shell check (program table,
//! redirections and write paths included), the command-pattern parser and the SQL analyser
//! in every dialect. Each must answer (an error is an answer), never panic.

#![no_main]

use aecl_core::Decision;
use aecl_core::shell::{self, CommandPattern, ProgramGuard, ShellRules};
use aecl_core::sql::{self, SqlDialect};
use libfuzzer_sys::fuzz_target;

const DIALECTS: [SqlDialect; 4] =
    [SqlDialect::Generic, SqlDialect::Sqlite, SqlDialect::Postgres, SqlDialect::Mysql];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = shell::analyse(text);
    let rules = ShellRules {
        block: Vec::new(),
        require_approval: Vec::new(),
        allow_programs: Vec::new(),
        unlisted: Decision::Block,
        dynamic: Decision::Block,
        guard: ProgramGuard::default(),
    };
    rules.check(text, &mut Vec::new());
    let _ = CommandPattern::parse(text);
    for dialect in DIALECTS {
        let _ = sql::analyse(dialect, text);
    }
});
