//! Loading a policy directory: parse every file, lower it, cross-check, and compute the
//! revision. Callers pass the files' names and texts; this crate reads no files itself.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use aecl_core::Policy;
use aecl_core::canonical::canonical_json;
use aecl_core::policy::{ActionSpec, Revision};
use aecl_core::rules::RuleSet;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cedar::{CedarError, CedarRules};
use crate::compiled::{Compiled, FileKind, digest};
use crate::error::{PolicyError, Problem};
use crate::format::{CatalogFile, ExampleFile, ManifestFile, SettingsFile};
use crate::location::{Step, TomlSpans, line_col};
use crate::lower::{self, Defaults, FileCtx};
use crate::sandbox;

/// One file of a policy directory: its path relative to the directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// An example embedded in the catalog, with where it is written.
#[derive(Debug, Clone)]
pub struct Example {
    pub action: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub spec: ExampleFile,
}

/// A loaded, validated policy and the examples to run against it.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    pub policy: Policy,
    pub examples: Vec<Example>,
    /// `policy.toml`'s `[audit] redact`: field paths the audit log never holds (checked
    /// here; the engine applies them).
    pub audit_redact: Vec<String>,
    /// `policy.toml`'s `[runs]`: bounds on open run states (applied by the engine and
    /// `aecl replay`).
    pub runs: aecl_core::run_bounds::RunLimits,
    /// The policy's compiled form, for [`load_compiled`] to load the same files from later.
    pub compiled: Compiled,
}

/// Whether a file of the directory is part of the policy: TOML, JSON and Cedar files.
pub fn is_policy_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("toml" | "json" | "cedar"))
}

enum Parsed {
    Settings(Box<SettingsFile>),
    Manifest(Box<ManifestFile>),
    Catalog(CatalogFile),
    Cedar,
    /// A test file (`[[tests]]`, `aecl test`): beside the policy, not part of it.
    Tests,
}

/// How much of a policy's loading is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checks {
    /// Every check.
    Full,
    /// The files passed [`Checks::Full`] in this build, and a compiled form of them says
    /// what the full load found ([`load_compiled`]): checks that only refuse, and cost much,
    /// are skipped (Cedar's strict validation against the catalog's schema, compiling the
    /// actions' argument schemas, which is left to a call that needs one).
    Validated,
}

/// Loads a policy from its files. Every problem of every file is reported, with its place.
/// A directory without any agent manifest is an error: there is no allow-all default.
pub fn load(files: &[SourceFile]) -> Result<LoadedPolicy, PolicyError> {
    load_with(files, None)
}

/// Loads a policy from its files and the compiled form a full [`load`] of these exact names
/// and bytes made in this build of aecl (`compiled.rs`): the same [`LoadedPolicy`] (same
/// revision, same decisions), with each TOML file parsed once, no `.cedar` file read (the
/// rules are parsed from the canonical texts the form holds, all in one parse), and without
/// the checks that can only refuse and cost the most (Cedar's schema and strict validator;
/// the actions' argument schemas are compiled at their first call, not here). A form made
/// from other files (its digest) or naming another revision than the one computed again
/// from what was built is refused: a damaged or altered one fails here, it does not load.
///
/// INVARIANT: called only with the compiled form of these files, as vouched for by a record
/// the caller keeps where no agent can write (`aecl hook`'s policy cache). Given another
/// one, it may accept a policy `load` refuses: a Cedar rule that tests a misspelt
/// attribute would then never match, so a forbid would silently stop forbidding. (An
/// argument schema that does not compile fails closed: every call of its action is
/// blocked.)
pub fn load_compiled(
    files: &[SourceFile],
    compiled: Compiled,
) -> Result<LoadedPolicy, PolicyError> {
    load_with(files, Some(compiled))
}

fn load_with(
    files: &[SourceFile],
    compiled: Option<Compiled>,
) -> Result<LoadedPolicy, PolicyError> {
    let checks = if compiled.is_some() { Checks::Validated } else { Checks::Full };
    let mut problems = Vec::new();
    let mut parsed: Vec<(usize, Parsed)> = Vec::new();
    let mut kinds = Vec::with_capacity(files.len());
    let mut unparsed = false;
    if let Some(compiled) = &compiled
        && (compiled.sources != digest(files) || compiled.files.len() != files.len())
    {
        return Err(not_compiled_from(files, "other files"));
    }
    for (index, file) in files.iter().enumerate() {
        let known = compiled.as_ref().and_then(|c| c.files.get(index).copied());
        let result = match known {
            Some(kind) => parse_as(file, kind, &mut problems),
            None => parse_file(file, &mut problems),
        };
        kinds.push(result.as_ref().map_or(FileKind::Ignored, Parsed::kind));
        match result {
            Some(p) => parsed.push((index, p)),
            // A TOML file that may have been a catalog failed: its actions are unknown, so
            // manifests are not told that their actions are missing. A broken manifest
            // (it names `agent_id`) hides nothing.
            None => unparsed |= file.path.ends_with(".toml") && !names_agent(&file.text),
        }
    }
    let ctx = |index: usize| {
        let file = files.get(index);
        FileCtx {
            name: file.map_or("", |f| f.path.as_str()),
            text: file.map_or("", |f| f.text.as_str()),
            json: file.is_some_and(|f| f.path.ends_with(".json")),
        }
    };

    let mut defaults = Defaults::default();
    let mut settings_canonical = serde_json::Value::Null;
    for (index, p) in &parsed {
        if let Parsed::Settings(s) = p {
            defaults = lower::lower_settings(s, &ctx(*index), &mut problems);
            settings_canonical = serde_json::to_value(s).unwrap_or_default();
        }
    }

    let mut actions: HashMap<String, ActionSpec> = HashMap::new();
    let mut action_files: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    // Each action's file: a problem found across files is located in it.
    let mut located: HashMap<String, usize> = HashMap::new();
    let mut examples = Vec::new();
    for (index, p) in &parsed {
        let Parsed::Catalog(catalog) = p else { continue };
        let c = ctx(*index);
        let spans = TomlSpans::new(c.text);
        for (name, action) in &catalog.actions {
            if let Some(other) = located.get(name) {
                let first = files.get(*other).map_or("", |f| f.path.as_str());
                problems.push(c.problem(
                    &[Step::from("actions"), Step::from(name)],
                    format!("action `{name}` is already defined in {first}"),
                ));
                continue;
            }
            located.insert(name.clone(), *index);
            let mut spec = lower::lower_action(name, action, checks, &c, &mut problems);
            let cooldown = defaults.rejected_cooldown_secs;
            crate::approval::lower_action(&mut spec, action, cooldown, &c, &mut problems);
            crate::approval_when::lower(&mut spec, action, &c, &mut problems);
            actions.insert(name.clone(), spec);
            action_files.insert(name.clone(), serde_json::to_value(action).unwrap_or_default());
            for (i, example) in action.examples.iter().enumerate() {
                let path = [
                    Step::from("actions"),
                    Step::from(name),
                    Step::from("examples"),
                    Step::Index(i),
                ];
                let (line, column) = spans.locate(&path);
                examples.push(Example {
                    action: name.clone(),
                    file: c.name.to_owned(),
                    line,
                    column,
                    spec: example.clone(),
                });
            }
        }
    }
    lower::check_compensations(&actions, &located, ctx, &mut problems);
    crate::keystrokes::inherit(&mut actions);
    crate::written_text::scan(&mut actions);
    // The directory's sandbox rules name actions: lowered once the catalog is known.
    let catalog = (!unparsed).then_some(&actions);
    for (index, p) in &parsed {
        if let Parsed::Settings(settings) = p
            && let Some(file) = &settings.sandbox
        {
            sandbox::apply(&mut defaults.sandbox, file, catalog, &ctx(*index), &mut problems);
        }
    }

    let mut agents = aecl_core::hash::HashMap::default();
    let mut manifest_files: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut agent_files: HashMap<String, usize> = HashMap::new();
    for (index, p) in &parsed {
        let Parsed::Manifest(m) = p else { continue };
        let c = ctx(*index);
        if let Some(other) = agent_files.get(&m.agent_id) {
            let first = files.get(*other).map_or("", |f| f.path.as_str());
            problems.push(c.problem(
                &[Step::from("agent_id")],
                format!("agent `{}` is already defined in {first}", m.agent_id),
            ));
            continue;
        }
        agent_files.insert(m.agent_id.clone(), *index);
        let catalog = (!unparsed).then_some(&actions);
        let manifest = lower::lower_manifest(m, &defaults, catalog, &c, &mut problems);
        agents.insert(m.agent_id.clone(), Arc::new(manifest));
        manifest_files.insert(m.agent_id.clone(), serde_json::to_value(m).unwrap_or_default());
    }
    if agents.is_empty() && problems.is_empty() {
        problems.push(Problem {
            file: "(policy directory)".to_owned(),
            line: 0,
            column: 0,
            message: "no agent manifest: a policy must define at least one agent \
                      (agents/NAME.toml with `agent_id` and `allowed_actions`)"
                .to_owned(),
        });
    }

    // A compiled load reads no `.cedar` file.
    let cedar_sources: Vec<(String, String)> = match compiled {
        Some(_) => Vec::new(),
        None => parsed
            .iter()
            .filter(|(_, p)| matches!(p, Parsed::Cedar))
            .filter_map(|(index, _)| files.get(*index).map(|f| (f.path.clone(), f.text.clone())))
            .collect(),
    };
    let cedar_problem = |e: CedarError| Problem {
        file: e.file,
        line: e.line,
        column: e.column,
        message: e.message,
    };
    let mut rules = if let Some(compiled) = &compiled {
        // The `.cedar` files are not read (the digest checked above covers their bytes): the
        // rules are the form's canonical texts, which the revision below hashes.
        if compiled.rules.is_empty() {
            None
        } else {
            match CedarRules::from_compiled(&compiled.rules, &actions) {
                Ok(rules) => Some(rules),
                Err(errors) => {
                    problems.extend(errors.into_iter().map(cedar_problem));
                    None
                }
            }
        }
    } else if cedar_sources.is_empty() {
        // No rules: Cedar is not started at all (its parser tables and extensions cost a
        // hook call more than the rest of the load). The revision is the same, as no
        // rules have the empty canonical text.
        None
    } else if unparsed {
        // Rules are validated against the catalog only when every catalog file parsed: else
        // the actions of the broken file would read as misspelt.
        problems.extend(CedarRules::syntax_errors(&cedar_sources).into_iter().map(cedar_problem));
        None
    } else {
        match CedarRules::from_sources(&cedar_sources, &actions) {
            Ok(rules) => Some(rules),
            Err(errors) => {
                problems.extend(errors.into_iter().map(cedar_problem));
                None
            }
        }
    };

    if !problems.is_empty() {
        return Err(PolicyError::Invalid(problems));
    }
    let cedar_text = rules.as_ref().map(CedarRules::canonical_text).unwrap_or_default();
    let canonical = json!({
        "settings": settings_canonical,
        "agents": manifest_files,
        "actions": action_files,
        "cedar": cedar_text,
    });
    let revision = Revision(hex(&Sha256::digest(canonical_json(&canonical).as_bytes())));
    let compiled = match compiled {
        Some(compiled) if compiled.revision != revision.0 => {
            return Err(not_compiled_from(files, "another revision"));
        }
        Some(compiled) => compiled,
        None => Compiled {
            revision: revision.0.clone(),
            sources: digest(files),
            files: kinds,
            rules: rules.as_mut().map(CedarRules::take_compiled).unwrap_or_default(),
        },
    };
    let rules: Option<Arc<dyn RuleSet>> =
        rules.filter(|r| !r.is_empty()).map(|r| Arc::new(r) as Arc<dyn RuleSet>);
    let policy = Policy {
        revision,
        agents,
        actions: actions.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        rules,
        tokens: defaults.tokens,
    };
    Ok(LoadedPolicy {
        policy,
        examples,
        audit_redact: defaults.audit_redact.clone(),
        runs: defaults.runs,
        compiled,
    })
}

/// The error of a compiled form that is not one of `files`.
fn not_compiled_from(files: &[SourceFile], why: &str) -> PolicyError {
    let file = files.first().map_or("(policy directory)", |f| f.path.as_str());
    PolicyError::Invalid(vec![Problem {
        file: file.to_owned(),
        line: 0,
        column: 0,
        message: format!("the compiled policy is not these files' ({why})"),
    }])
}

fn hex(bytes: &[u8]) -> String {
    aecl_core::call::hex(bytes)
}

impl Parsed {
    fn kind(&self) -> FileKind {
        match self {
            Parsed::Settings(_) => FileKind::Settings,
            Parsed::Manifest(_) => FileKind::Manifest,
            Parsed::Catalog(_) => FileKind::Catalog,
            Parsed::Cedar => FileKind::Cedar,
            Parsed::Tests => FileKind::Tests,
        }
    }
}

/// Parses `file` as a file of `kind`: TOML once, typed. A file that is not of that kind is
/// a problem, with its place. A compiled load takes the kinds a full load found
/// ([`parse_file`] tells the kind, which costs a TOML file a second parse).
fn parse_as(file: &SourceFile, kind: FileKind, problems: &mut Vec<Problem>) -> Option<Parsed> {
    let result = match kind {
        FileKind::Ignored => return None,
        FileKind::Cedar => return Some(Parsed::Cedar),
        FileKind::Tests => return Some(Parsed::Tests),
        FileKind::Manifest if file.path.ends_with(".json") => {
            return match serde_json::from_str(&file.text) {
                Ok(m) => Some(Parsed::Manifest(Box::new(m))),
                Err(e) => {
                    let message =
                        format!("invalid agent manifest: {}", strip_position(&e.to_string()));
                    problems.push(Problem {
                        file: file.path.clone(),
                        line: e.line(),
                        column: e.column(),
                        message,
                    });
                    None
                }
            };
        }
        FileKind::Settings => toml::from_str(&file.text).map(|s| Parsed::Settings(Box::new(s))),
        FileKind::Manifest => toml::from_str(&file.text).map(|m| Parsed::Manifest(Box::new(m))),
        FileKind::Catalog => toml::from_str(&file.text).map(Parsed::Catalog),
    };
    match result {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            problems.push(toml_problem(file, &e));
            None
        }
    }
}

/// A TOML error of `file` at its place.
fn toml_problem(file: &SourceFile, e: &toml::de::Error) -> Problem {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(&file.text, s.start));
    Problem { file: file.path.clone(), line, column, message: e.message().to_owned() }
}

/// Tells `file`'s kind from its name and, for TOML, its top-level keys; then parses it.
fn parse_file(file: &SourceFile, problems: &mut Vec<Problem>) -> Option<Parsed> {
    let name = Path::new(&file.path);
    let kind = match name.extension().and_then(|e| e.to_str()) {
        Some("cedar") => FileKind::Cedar,
        Some("json") => FileKind::Manifest,
        Some("toml") => {
            let table: toml::Table = match toml::from_str(&file.text) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(toml_problem(file, &e));
                    return None;
                }
            };
            if name.file_name().and_then(|n| n.to_str()) == Some("policy.toml") {
                FileKind::Settings
            } else if table.contains_key("agent_id") {
                FileKind::Manifest
            } else if table.contains_key("actions") {
                FileKind::Catalog
            } else if table.contains_key("tests") {
                // Read and run by `aecl test` and `aecl check`; it neither adds to the
                // policy nor changes its revision.
                FileKind::Tests
            } else {
                problems.push(Problem {
                    file: file.path.clone(),
                    line: 1,
                    column: 1,
                    message: "neither an agent manifest (with `agent_id`), an action catalog \
                              (with `[actions.NAME]` tables), nor `policy.toml`"
                        .to_owned(),
                });
                return None;
            }
        }
        _ => FileKind::Ignored,
    };
    parse_as(file, kind, problems)
}

/// The Cedar schema the `.cedar` rules of a policy with these files are validated against,
/// in Cedar's schema syntax (`aecl check --emit-cedar-schema`). It comes from the catalog
/// alone, so it can be printed while the rules are still wrong; only catalog problems are
/// errors.
pub fn cedar_schema(files: &[SourceFile]) -> Result<String, PolicyError> {
    let mut problems = Vec::new();
    let mut actions: HashMap<String, ActionSpec> = HashMap::new();
    for file in files {
        let mut found = Vec::new();
        let parsed = parse_file(file, &mut found);
        let catalog = match parsed {
            Some(Parsed::Catalog(catalog)) => catalog,
            // A TOML file that failed and may have been a catalog: its problems count.
            None if file.path.ends_with(".toml")
                && !names_agent(&file.text)
                && !file.path.ends_with("policy.toml") =>
            {
                problems.extend(found);
                continue;
            }
            _ => continue,
        };
        let ctx = FileCtx { name: &file.path, text: &file.text, json: false };
        for (name, action) in &catalog.actions {
            actions.insert(
                name.clone(),
                lower::lower_action(name, action, Checks::Full, &ctx, &mut problems),
            );
        }
    }
    if !problems.is_empty() {
        return Err(PolicyError::Invalid(problems));
    }
    crate::cedar::schema_text(&actions).map_err(|message| {
        PolicyError::Invalid(vec![Problem {
            file: "(cedar schema)".to_owned(),
            line: 0,
            column: 0,
            message,
        }])
    })
}

/// Whether a TOML text that failed to load still reads as a manifest.
fn names_agent(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("agent_id"))
}

/// serde_json appends " at line L column C" to its messages; the position is printed
/// in front instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message.get(..cut).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}
