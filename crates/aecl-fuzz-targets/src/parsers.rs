//! Targets over the pure parsers: shell and SQL analysis, tool-output parsing, path
//! patterns, and published checkpoints.

use aecl_core::Decision;
use aecl_core::constraint::{Constraint, ValueFacts};
use aecl_core::output::{OutputField, OutputFormat, pieces};
use aecl_core::path_glob::PathGlobs;
use aecl_core::path_pattern::{self, GlobMeets};
use aecl_core::policy::{DataClass, OutputSpec, Trust};
use aecl_core::resolved::PathView;
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

/// Text as a policy glob (the first line) and a path value a tool may read as a pattern
/// (the rest, or the same text): brace expansion, both glob readers, `path_glob` and
/// `path_under` on the value. A concrete path the glob matches must be one the pattern
/// reading may match: the reading only ever adds matches.
pub fn path_pattern(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (glob, value) = text.split_once('\n').unwrap_or((text, text));
    let expansions = path_pattern::expand(value).unwrap_or_default();
    let mut budget = path_pattern::MAX_PAIRS;
    for case_insensitive in [true, false] {
        if let Ok(meets) = GlobMeets::new(glob, case_insensitive) {
            for expansion in &expansions {
                let _ = meets.may_match(expansion, &mut budget);
            }
            let matcher = globset::GlobBuilder::new(glob)
                .case_insensitive(case_insensitive)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| g.compile_matcher());
            if let Ok(matcher) = matcher
                && value.starts_with('/')
                && !path_pattern::is_pattern(value)
                && !value.contains("//")
                && !value.ends_with('/')
                && matcher.is_match(value)
            {
                let mut budget = path_pattern::MAX_PAIRS;
                assert!(
                    meets.may_match(value, &mut budget),
                    "`{value}` matches `{glob}` but may not meet it"
                );
            }
        }
    }
    if let Ok(globs) = PathGlobs::new(&[glob.to_owned()], &[], true) {
        globs.check(value, &PathView::Unseen, &mut Vec::new());
    }
    let under = Constraint::PathUnder(vec!["/ws".to_owned()]);
    under.check(&Value::String(value.to_owned()), &mut Vec::new(), &mut ValueFacts::default());
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
