//! Argument constraints: ranges, enumerations, paths under allowed roots, URL hosts, e-mail
//! domains, SQL statement classes and shell command rules.

use serde_json::Value;

use crate::canonical::json_equal;
use crate::decision::Decision;
use crate::email::email_domain;
use crate::path_glob::PathGlobs;
use crate::path_pattern;
use crate::resolved::PathView;
use crate::resolved::normalise_path;
use crate::shell::ShellRules;
use crate::sql::SqlRules;
pub use crate::violation::{ValueFacts, Violation};

/// One constraint on the values at an argument path.
#[derive(Debug, Clone)]
pub enum Constraint {
    /// A number within `[min, max]` (either bound optional).
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// One of the listed JSON values.
    OneOf(Vec<Value>),
    /// A string of at most this many characters.
    MaxLength(usize),
    /// A path that, after lexical normalisation of `.`, `..` and repeated `/`, lies under one
    /// of these roots. A relative path is taken relative to the first root. When an adapter
    /// resolved the path on the filesystem (`Call::paths`), the resolution must lie under
    /// a root too (as written, or as the adapter resolved the root).
    PathUnder(Vec<String>),
    /// Glob lists matched against every form of a path (`path_glob.rs`).
    PathGlob(PathGlobs),
    /// An `http` or `https` URL whose host and port are listed (`url_hosts.rs`): `host` for its
    /// scheme's default port, `host:8443` for that port, `host:*` for any;
    /// `*.example.com` matches subdomains.
    UrlHosts(Vec<String>),
    /// E-mail addresses (one, or a comma-separated list) whose domains are listed;
    /// `*.example.com` matches subdomains.
    EmailDomains(Vec<String>),
    Sql(SqlRules),
    Shell(ShellRules),
}

impl Constraint {
    /// Checks one value lexically (no adapter resolved its paths), appending violations
    /// and recording facts.
    pub fn check(&self, value: &Value, out: &mut Vec<Violation>, facts: &mut ValueFacts) {
        self.check_with(value, &PathView::Unseen, out, facts);
    }

    /// Checks one value, with what the adapter found path strings to resolve to.
    pub fn check_with(
        &self,
        value: &Value,
        paths: &PathView,
        out: &mut Vec<Violation>,
        facts: &mut ValueFacts,
    ) {
        match self {
            Constraint::Range { min, max } => check_range(*min, *max, value, out),
            Constraint::OneOf(allowed) => {
                if !allowed.iter().any(|a| json_equal(a, value)) {
                    let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                    out.push(block("one_of", format!("{value} is not one of {}", list.join(", "))));
                }
            }
            Constraint::MaxLength(limit) => match value.as_str() {
                Some(s) if s.chars().count() > *limit => {
                    out.push(block("max_length", format!("longer than {limit} characters")))
                }
                Some(_) => {}
                None => out.push(block("max_length", format!("expected a string, got {value}"))),
            },
            Constraint::PathUnder(roots) => match value.as_str() {
                Some(text) => for_each_path(text, "path_under", out, &mut |path, out| {
                    check_path(roots, path, paths, out)
                }),
                None => {
                    out.push(block("path_under", format!("expected a path string, got {value}")))
                }
            },
            Constraint::PathGlob(globs) => match value.as_str() {
                Some(text) => for_each_path(text, "path_glob", out, &mut |path, out| {
                    globs.check(path, paths, out)
                }),
                None => {
                    out.push(block("path_glob", format!("expected a path string, got {value}")))
                }
            },
            Constraint::UrlHosts(hosts) => match value.as_str() {
                Some(url) => url_hosts::check_url(hosts, url, out),
                None => out.push(block("url_hosts", format!("expected a URL string, got {value}"))),
            },
            Constraint::EmailDomains(domains) => match value.as_str() {
                Some(list) => check_emails(domains, list, out),
                None => {
                    out.push(block("email_domains", format!("expected an address, got {value}")))
                }
            },
            Constraint::Sql(rules) => match value.as_str() {
                Some(sql) => rules.check(sql, out, facts),
                None => out.push(block("sql", format!("expected SQL text, got {value}"))),
            },
            Constraint::Shell(rules) => match value.as_str() {
                Some(command) => {
                    if let Some(reach) = rules.check_reaching(command, paths, out) {
                        // A client of the line outweighs a runner of another argument's.
                        let stronger = !reach.project_code_only;
                        if facts.network.is_none() || (stronger && facts.network_project_code_only)
                        {
                            facts.network = Some(reach.command);
                            facts.network_project_code_only = reach.project_code_only;
                        }
                    }
                }
                None => out.push(block("shell", format!("expected a command string, got {value}"))),
            },
        }
    }
}

/// The paths a path argument names: itself, or each file a patch in it writes
/// (`crate::patch`; Codex's `apply_patch`). A patch that does not parse is refused.
pub fn for_each_path(
    text: &str,
    rule: &'static str,
    out: &mut Vec<Violation>,
    check: &mut dyn FnMut(&str, &mut Vec<Violation>),
) {
    match crate::patch::targets(text) {
        None => check(text, out),
        Some(Ok(targets)) => targets.iter().for_each(|target| check(target.path, out)),
        Some(Err(why)) => out.push(block(rule, format!("a patch that does not parse: {why}"))),
    }
}

fn block(rule: &'static str, message: String) -> Violation {
    Violation { rule, decision: Decision::Block, message }
}

fn check_range(min: Option<f64>, max: Option<f64>, value: &Value, out: &mut Vec<Violation>) {
    let Some(n) = value.as_f64() else {
        out.push(block("range", format!("expected a number, got {value}")));
        return;
    };
    if let Some(min) = min
        && n < min
    {
        out.push(block("range", format!("{n} is below the minimum {min}")));
    }
    if let Some(max) = max
        && n > max
    {
        out.push(block("range", format!("{n} is above the maximum {max}")));
    }
}

/// Checks a path value, and each path its braces expand to when a tool reads it as a
/// pattern (`{..,x}/*` is `../*` to Claude Code's `Glob`): each must lie under a root.
fn check_path(roots: &[String], path: &str, paths: &PathView, out: &mut Vec<Violation>) {
    check_one_path(roots, path, paths, out);
    if path.len() > path_pattern::MAX_PATTERN_BYTES {
        if path_pattern::is_pattern(path) {
            out.push(block("path_under", path_pattern::too_long(path)));
        }
        return;
    }
    if !path_pattern::expands(path) {
        return;
    }
    match path_pattern::expand(path) {
        Ok(expansions) => {
            for expansion in expansions.iter().filter(|e| *e != path) {
                let mut found = Vec::new();
                check_one_path(roots, expansion, paths, &mut found);
                out.extend(found.into_iter().map(|v| Violation {
                    message: format!("`{path}` may be read as `{expansion}`: {}", v.message),
                    ..v
                }));
            }
        }
        Err(reason) => out.push(block("path_under", reason)),
    }
}

fn check_one_path(roots: &[String], path: &str, paths: &PathView, out: &mut Vec<Violation>) {
    if path.contains('\0') {
        out.push(block("path_under", "path contains a NUL byte".to_owned()));
        return;
    }
    // `~/.bashrc` and `~root/x` are home directories to shells and to many tools (MCP
    // filesystem servers expand a leading `~`), not `ROOT/~/...`; `file:` URIs are paths
    // to others. Neither is read one way, so neither is taken.
    if path.starts_with('~') || path.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("file:")) {
        out.push(block(
            "path_under",
            format!(
                "`{path}` is not a plain path (a leading `~` or a `file:` URI): write it in full"
            ),
        ));
        return;
    }
    let base = roots.first().map(String::as_str).unwrap_or("/");
    let full = if path.starts_with('/') { path.to_owned() } else { format!("{base}/{path}") };
    let Some(normal) = normalise_path(&full) else {
        out.push(block("path_under", format!("`{path}` climbs above the file system root")));
        return;
    };
    let lexical_roots: Vec<String> =
        roots.iter().map(|root| normalise_path(root).unwrap_or_default()).collect();
    if !under_any(&lexical_roots, &normal) {
        out.push(block(
            "path_under",
            format!(
                "`{path}` resolves to `{normal}`, outside the allowed roots {}",
                roots.join(", ")
            ),
        ));
        return;
    }
    // The path as written is inside; where it really points must be too, read from the
    // working directory and from every directory another argument names.
    let mut readings: Vec<(Option<&str>, Result<&str, String>)> = match paths.lookup(path) {
        Ok(None) => return,
        Ok(Some(resolved)) => vec![(None, Ok(resolved))],
        Err(reason) => vec![(None, Err(reason))],
    };
    readings.extend(paths.based_readings(path).map(|(dir, reading)| (Some(dir), reading)));
    // A root that is itself a symbolic link counts by its resolution as well, when the
    // adapter resolved it: a resolved path contains no links, so it can only be compared
    // with a root in the same form.
    let mut physical_roots = lexical_roots;
    for root in roots {
        if let Ok(Some(resolved_root)) = paths.lookup(root)
            && let Some(normal_root) = normalise_path(resolved_root)
        {
            physical_roots.push(normal_root);
        }
    }
    for (base, reading) in readings {
        let written = match base {
            None => format!("`{path}`"),
            Some(dir) => format!("`{path}` read from `{dir}` (a directory another argument names)"),
        };
        let resolved = match reading {
            Ok(resolved) => resolved,
            Err(reason) => {
                out.push(block("path_under", reason));
                continue;
            }
        };
        let Some(physical) = normalise_path(resolved).filter(|p| p.starts_with('/')) else {
            out.push(block(
                "path_under",
                format!("{written} was resolved to `{resolved}`, which is not an absolute path"),
            ));
            continue;
        };
        if !under_any(&physical_roots, &physical) {
            let how = if base.is_none() { " (through a symbolic link)" } else { "" };
            out.push(block(
                "path_under",
                format!(
                    "{written} resolves on the filesystem to `{physical}`{how}, outside the \
                     allowed roots {}",
                    roots.join(", ")
                ),
            ));
        }
    }
}

/// A path an action that is not a read writes into configuration that makes programs run
/// code (`.git/config`, `.git/hooks/`, `.envrc`, `.npmrc`, `.cargo/config.toml`, shell
/// start-up files, a `HEAD`), as written or as the adapter resolved it: refused as the
/// shell rules refuse a command writing it, even inside the roots (red team round 22,
/// R22-07: a `Write` of `.git/config` set `core.fsmonitor`, which the next allowed `git
/// status` ran). Only the part below the root counts, so a root inside such a place
/// (`path_under = ["/work/.vscode"]`) allows writing there.
pub fn writes_code_config(roots: &[String], path: &str, paths: &PathView) -> Option<Violation> {
    let base = roots.first().map(String::as_str).unwrap_or("/");
    let full = if path.starts_with('/') { path.to_owned() } else { format!("{base}/{path}") };
    let mut forms: Vec<String> = normalise_path(&full).into_iter().collect();
    if let Ok(Some(resolved)) = paths.lookup(path) {
        forms.extend(normalise_path(resolved));
    }
    let mut normal_roots: Vec<String> =
        roots.iter().filter_map(|root| normalise_path(root)).collect();
    for root in roots {
        if let Ok(Some(resolved)) = paths.lookup(root) {
            normal_roots.extend(normalise_path(resolved));
        }
    }
    for form in &forms {
        // Below the innermost root holding it; a path outside every root is refused by
        // `path_under` already.
        let below = normal_roots
            .iter()
            .filter_map(|root| below_root(root, form))
            .min_by_key(|rest| rest.len());
        if let Some(rest) = below
            && crate::shell::is_code_config(rest)
        {
            let named =
                if form == path { format!("`{path}`") } else { format!("`{path}` (`{form}`)") };
            return Some(block(
                "code_config",
                format!(
                    "{named} is configuration that makes programs run code: only a root of \
                     `path_under` inside it allows writing there"
                ),
            ));
        }
    }
    None
}

/// What of the normal absolute `path` lies below `root` (empty for the root itself).
fn below_root<'p>(root: &str, path: &'p str) -> Option<&'p str> {
    let root = root.trim_end_matches('/');
    if path == root {
        return Some("");
    }
    path.strip_prefix(root)?.strip_prefix('/')
}

/// Whether the normal absolute `path` is one of `roots` (normal forms) or lies below one.
fn under_any(roots: &[String], path: &str) -> bool {
    roots.iter().any(|root| {
        let root = root.trim_end_matches('/');
        root.is_empty()
            || path == root
            || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Whether `host` (already lower-case) matches a pattern: exact, or `*.suffix` for any
/// subdomain of `suffix` (not `suffix` itself).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
        None => host == pattern,
    }
}

/// Every address of `list` (separated by `,` or `;`), each read strictly as one address
/// (`crate::email`: a second `@`, a line break or a quoted local part is no address).
fn check_emails(domains: &[String], list: &str, out: &mut Vec<Violation>) {
    for address in list.split([',', ';']).filter(|a| !a.trim().is_empty()) {
        match email_domain(address) {
            Some(domain) if domains.iter().any(|p| host_matches(p, &domain)) => {}
            Some(domain) => out.push(block(
                "email_domains",
                format!("domain `{domain}` is not in the allowed domains {}", domains.join(", ")),
            )),
            None => out.push(block(
                "email_domains",
                format!("`{}` is not an e-mail address", address.trim()),
            )),
        }
    }
}

mod url_hosts;

pub use url_hosts::pattern_error as url_host_pattern_error;

#[cfg(test)]
mod tests;
