//! Targets over the pure parsers: shell and SQL analysis, tool-output parsing, and
//! published checkpoints.

use aecl_core::Decision;
use aecl_core::output::{OutputField, OutputFormat, pieces};
use aecl_core::policy::{DataClass, OutputSpec, Trust};
use aecl_core::shell::{self, CommandPattern, ProgramGuard, ShellRules};
use aecl_core::sql::{self, SqlDialect};
use serde_json::Value;

const DIALECTS: [SqlDialect; 4] =
    [SqlDialect::Generic, SqlDialect::Sqlite, SqlDialect::Postgres, SqlDialect::Mysql];

/// Text through the shell analyser, the whole shell check (program table, redirections
/// and write paths included), the command-pattern parser and the SQL analyser in every
/// dialect.
pub fn shell_sql(data: &[u8]) {
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
}

/// Text as a tool's output in every format, with per-field trust paths of each shape
/// (plain, array element, any key, top-level array).
pub fn output_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fields = ["id", "items[].recipient", "*.subject", "[].memo"]
        .iter()
        .zip([Trust::Trusted, Trust::Trusted, Trust::Untrusted, Trust::Untrusted])
        .filter_map(|(path, trust)| OutputField::parse(path).map(|f| (f, trust)))
        .collect();
    let mut spec = OutputSpec {
        trust: Trust::Untrusted,
        data_class: DataClass::Internal,
        fields,
        format: OutputFormat::Auto,
    };
    for format in [
        OutputFormat::Auto,
        OutputFormat::Json,
        OutputFormat::Yaml,
        OutputFormat::Csv,
        OutputFormat::Kv,
    ] {
        spec.format = format;
        let _ = pieces(&spec, &Value::String(text.to_owned()));
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = pieces(&spec, &value);
    }
}

/// Text as a published checkpoint (a tlog-witness `add-checkpoint` body): what parses must
/// print back to a body that parses.
pub fn checkpoint_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(body) = aecl_audit::AddCheckpoint::parse(text) {
        let again = aecl_audit::AddCheckpoint::parse(&body.to_text());
        assert!(again.is_ok(), "a parsed body did not round-trip");
    }
}
