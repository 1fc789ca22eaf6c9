//! Lowering an argument's constraints (`[actions.NAME.args.ARG]`): the value checks, and
//! the SQL and shell rules with their program guards, into `aecl_core::constraint`.

use aecl_core::Decision;
use aecl_core::constraint::Constraint;
use aecl_core::path_glob::PathGlobs;
use aecl_core::shell::{CommandPattern, ProgramGuard, ProgramSpec, ShellRules, Writes};
use aecl_core::sql::{FunctionLists, SqlDialect, SqlRules, StatementClass};

use super::{FileCtx, decision, strict};
use crate::error::Problem;
use crate::format::{ArgFile, ShellFile, SqlFile, WritesName};
use crate::location::Step;

pub(super) fn lower_constraints(
    arg: &ArgFile,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> Vec<Constraint> {
    let here = |key: &str| {
        let mut path = at.to_vec();
        path.push(Step::from(key));
        path
    };
    let mut out = Vec::new();
    if arg.min.is_some() || arg.max.is_some() {
        if let (Some(min), Some(max)) = (arg.min, arg.max)
            && min > max
        {
            problems.push(ctx.problem(&here("min"), format!("`min` {min} is above `max` {max}")));
        }
        out.push(Constraint::Range { min: arg.min, max: arg.max });
    }
    if let Some(values) = &arg.one_of {
        out.push(Constraint::OneOf(values.clone()));
    }
    if let Some(limit) = arg.max_length {
        out.push(Constraint::MaxLength(limit));
    }
    let mut non_empty = |key: &str, list: &Option<Vec<String>>| -> Option<Vec<String>> {
        let list = list.as_ref()?;
        if list.is_empty() {
            problems.push(ctx.problem(&here(key), format!("`{key}` must list at least one entry")));
        }
        Some(list.clone())
    };
    let roots = non_empty("path_under", &arg.path_under);
    let hosts = non_empty("url_hosts", &arg.url_hosts);
    let domains = non_empty("email_domains", &arg.email_domains);
    if let Some(roots) = roots {
        if let Some(relative) = roots.iter().find(|r| !r.starts_with('/')) {
            problems.push(ctx.problem(
                &here("path_under"),
                format!("root `{relative}` must be an absolute path"),
            ));
        }
        out.push(Constraint::PathUnder(roots));
    }
    if let Some(globs) = &arg.path_glob {
        if globs.block.is_empty() && globs.require_approval.is_empty() {
            problems.push(
                ctx.problem(
                    &here("path_glob"),
                    "`path_glob` must list at least one pattern in `block` or `require_approval`"
                        .to_owned(),
                ),
            );
        }
        let case_insensitive = globs.case_insensitive.unwrap_or(true);
        match PathGlobs::new(&globs.block, &globs.require_approval, case_insensitive) {
            Ok(compiled) => out.push(Constraint::PathGlob(compiled)),
            Err(message) => problems.push(ctx.problem(&here("path_glob"), message)),
        }
    }
    if let Some(hosts) = hosts {
        for error in hosts.iter().filter_map(|h| aecl_core::constraint::url_host_pattern_error(h)) {
            problems.push(ctx.problem(&here("url_hosts"), error));
        }
        out.push(Constraint::UrlHosts(hosts));
    }
    if let Some(domains) = domains {
        out.push(Constraint::EmailDomains(domains));
    }
    if let Some(sql) = &arg.sql {
        out.push(Constraint::Sql(lower_sql(sql, ctx, &here("sql"), problems)));
    }
    if let Some(shell) = &arg.shell {
        out.push(Constraint::Shell(lower_shell(shell, ctx, &here("shell"), problems)));
    }
    out
}

fn lower_sql(
    file: &SqlFile,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> SqlRules {
    let dialect = match file.dialect.as_deref() {
        None => SqlDialect::Generic,
        Some(name) => SqlDialect::parse(name).unwrap_or_else(|| {
            let mut path = at.to_vec();
            path.push(Step::from("dialect"));
            problems.push(ctx.problem(
                &path,
                format!(
                    "unknown SQL dialect `{name}`: expected generic, sqlite, postgres or mysql"
                ),
            ));
            SqlDialect::Generic
        }),
    };
    let mut classes = |key: &str, names: &[String]| -> Vec<StatementClass> {
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match StatementClass::parse(name) {
                Some(class) => out.push(class),
                None => {
                    let mut path = at.to_vec();
                    path.extend(path![key, i]);
                    let all: Vec<&str> = StatementClass::ALL.iter().map(|c| c.as_str()).collect();
                    problems.push(ctx.problem(
                        &path,
                        format!(
                            "unknown statement class `{name}`: expected one of {}",
                            all.join(", ")
                        ),
                    ));
                }
            }
        }
        out
    };
    let allow = classes("allow", &file.allow);
    let require_approval = classes("require_approval", &file.require_approval);
    let block = classes("block", &file.block);
    SqlRules {
        dialect,
        allow,
        require_approval,
        block,
        unknown_function: file.unknown_function.map_or(Decision::RequireApproval, decision),
        functions: lower_sql_functions(file, ctx, at, problems),
    }
}

/// `functions = { pure = [...], update = [...], ... }`: each key is `pure` or a statement
/// class, each name `fn` or `schema.fn`.
fn lower_sql_functions(
    file: &SqlFile,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> FunctionLists {
    let mut lists = FunctionLists::default();
    for (key, names) in &file.functions {
        let effect = match key.as_str() {
            "pure" => None,
            other => match StatementClass::parse(other) {
                Some(class) => Some(class),
                None => {
                    let mut path = at.to_vec();
                    path.extend(path!["functions", key.as_str()]);
                    let all: Vec<&str> = StatementClass::ALL.iter().map(|c| c.as_str()).collect();
                    problems.push(ctx.problem(
                        &path,
                        format!(
                            "unknown function list `{key}`: expected pure or one of {}",
                            all.join(", ")
                        ),
                    ));
                    continue;
                }
            },
        };
        for (i, name) in names.iter().enumerate() {
            let parts: Vec<&str> = name.split('.').collect();
            let valid = parts.len() <= 3
                && parts.iter().all(|part| {
                    !part.is_empty()
                        && part.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                });
            if valid {
                lists.add(name, effect);
            } else {
                let mut path = at.to_vec();
                path.extend(path!["functions", key.as_str(), i]);
                problems.push(ctx.problem(
                    &path,
                    format!("bad function name `{name}`: expected `name` or `schema.name`"),
                ));
            }
        }
    }
    lists
}

fn lower_shell(
    file: &ShellFile,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> ShellRules {
    let mut patterns = |key: &str, texts: &[String]| -> Vec<CommandPattern> {
        let mut out = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            match CommandPattern::parse(text) {
                Ok(p) => out.push(p),
                Err(e) => {
                    let mut path = at.to_vec();
                    path.extend(path![key, i]);
                    problems.push(ctx.problem(&path, format!("bad command pattern `{text}`: {e}")));
                }
            }
        }
        out
    };
    ShellRules {
        block: patterns("block", &file.block),
        require_approval: patterns("require_approval", &file.require_approval),
        allow_programs: file.allow_programs.clone(),
        unlisted: file.unlisted.map_or(Decision::Block, strict),
        dynamic: file.dynamic.map_or(Decision::Block, strict),
        guard: lower_program_guard(file, ctx, at, problems),
    }
}

/// The shell rules' program guard: decisions, write paths, and the policy's program
/// entries, each starting from the built-in entry of its name (or of `like`).
fn lower_program_guard(
    file: &ShellFile,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> ProgramGuard {
    let mut problem = |steps: &[Step], message: String| {
        let mut path = at.to_vec();
        path.extend_from_slice(steps);
        problems.push(ctx.problem(&path, message));
    };
    for (i, root) in file.write_paths.iter().enumerate() {
        if !root.starts_with('/') {
            problem(&path!["write_paths", i], format!("write path `{root}` must be absolute"));
        }
    }
    if let Some(dir) = file.working_dir.as_ref().filter(|d| !d.starts_with('/')) {
        problem(&path!["working_dir"], format!("working directory `{dir}` must be absolute"));
    }
    let defaults = ProgramGuard::default();
    let mut programs = std::collections::BTreeMap::new();
    for (name, entry) in &file.programs {
        let base = entry.like.as_deref().unwrap_or(name);
        let mut spec = match aecl_core::shell::programs::builtin(base) {
            Some(spec) => spec.clone(),
            None if entry.like.is_some() => {
                problem(
                    &path!["programs", name.as_str(), "like"],
                    format!("`{base}` is not in the built-in program table"),
                );
                ProgramSpec::default()
            }
            None => ProgramSpec::default(),
        };
        let lists = [
            ("value_options", &entry.value_options, &mut spec.value_options),
            ("runs_code_options", &entry.runs_code_options, &mut spec.runs_code_options),
            ("upload_options", &entry.upload_options, &mut spec.upload_options),
            ("write_options", &entry.write_options, &mut spec.write_options),
            ("in_place_options", &entry.in_place_options, &mut spec.in_place_options),
        ];
        for (key, given, into) in lists {
            for (i, option) in given.iter().enumerate() {
                if !option.starts_with('-') || option == "-" || option == "--" {
                    problem(
                        &path!["programs", name.as_str(), key, i],
                        format!("`{option}` is not an option: write it with its dashes"),
                    );
                }
                into.push(option.clone());
            }
        }
        spec.runs_code_subcommands.extend(entry.runs_code_subcommands.iter().cloned());
        spec.upload_subcommands.extend(entry.upload_subcommands.iter().cloned());
        spec.network_subcommands.extend(entry.network_subcommands.iter().cloned());
        spec.network |= entry.network;
        spec.runs_code |= entry.runs_code;
        spec.uploads |= entry.uploads;
        spec.stdin_code |= entry.stdin_code;
        spec.options_end_at_positional |= entry.options_end_at_positional;
        spec.long_prefixes |= entry.long_prefixes;
        if let Some(writes) = entry.writes {
            spec.writes = match writes {
                WritesName::None => spec.writes,
                WritesName::All => Writes::All,
                WritesName::Last => Writes::Last,
                WritesName::AfterFirst => Writes::AfterFirst,
                WritesName::Second => Writes::Second,
            };
        }
        programs.insert(aecl_core::shell::program_name(name), spec);
    }
    ProgramGuard {
        programs,
        unknown: file.unknown.map_or(defaults.unknown, decision),
        runs_code: file.runs_code.map_or(defaults.runs_code, decision),
        uploads: file.uploads.map_or(defaults.uploads, decision),
        writes_outside: file.writes_outside.map_or(defaults.writes_outside, decision),
        write_paths: file.write_paths.clone(),
        working_dir: file.working_dir.clone(),
    }
}
