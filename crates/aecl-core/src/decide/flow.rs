//! Steps 4 and 5 of `decide`: the run's declared scope and the intent check, and data
//! flow (untrusted values in arguments, and what an outward call would carry out).

use std::borrow::Cow;

use super::{Evaluation, shorten, values};
use crate::call::DeclaredSource;
use crate::constraint::Constraint;
use crate::path::{FieldPath, for_each_leaf};
use crate::policy::{ActionSpec, AgentManifest, ArgSpec};
use crate::resolved::normalise_path;
use crate::text::{leaf_text, value_text};
use crate::values::ValueKind;
use crate::verdict::{Decision, Stage};

/// A command of a shell argument that may reach other hosts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Network<'a> {
    pub command: &'a str,
    /// Only through the project's code it runs (`cargo test`, `make`).
    pub project_code_only: bool,
}

impl Evaluation<'_> {
    /// Step 4: the run's declared scope and the seed's keyword intent check. Returns the
    /// environments the call targets.
    pub(super) fn scope_and_intent(
        &mut self,
        agent: &AgentManifest,
        action: &ActionSpec,
    ) -> Vec<String> {
        let crossing = agent.intent.scope_crossing.max(Decision::RequireApproval);
        let declared = &self.run.scope;
        let name = &self.call.action;
        if !declared.actions.is_empty() && !declared.actions.contains(name) {
            let message =
                format!("`{name}` is outside the actions declared for run `{}`", self.run.run);
            self.reason(Stage::Scope, "scope.action", crossing, None, message);
        }
        // Where the call acts: what the agent declared for it and what the argument the
        // catalog names says, every one of them. The agent's word never stands in for the
        // argument: a call that declares `staging` and writes to `production` targets
        // production.
        let targets = |explicit: &Option<String>, path: &Option<FieldPath>| {
            let mut out: Vec<String> = explicit.iter().cloned().collect();
            let values = path.iter().flat_map(|p| p.values(&self.call.args));
            for text in values.filter_map(value_text) {
                if !out.contains(&text) {
                    out.push(text);
                }
            }
            out
        };
        let tenants = targets(&self.call.scope.tenant, &action.scope_args.tenant);
        let environments = targets(&self.call.scope.environment, &action.scope_args.environment);
        if let Some(declared) = &declared.tenant {
            for target in tenants.iter().filter(|t| *t != declared) {
                let message =
                    format!("the run works for tenant `{declared}`, the call targets `{target}`");
                self.reason(Stage::Scope, "scope.tenant", crossing, None, message);
            }
        }
        if let Some(declared) = &declared.environment {
            for target in environments.iter().filter(|t| !declared.eq_ignore_ascii_case(t)) {
                let message = format!("the run works in `{declared}`, the call targets `{target}`");
                self.reason(Stage::Scope, "scope.environment", crossing, None, message);
            }
        }
        if !declared.resources.is_empty() {
            let mut resources: Vec<(Option<String>, String)> =
                self.call.scope.resources.iter().map(|r| (None, r.clone())).collect();
            for path in &action.scope_args.resources {
                for value in path.values(&self.call.args) {
                    if let Some(text) = value_text(value) {
                        resources.push((Some(path.to_string()), text));
                    }
                }
            }
            for (field, resource) in resources {
                // Paths are compared after lexical normalisation, so `/srv/app/../billing`
                // is not inside `/srv/app/`; a path that climbs above the root is outside.
                let normal = match resource.split_once("://") {
                    Some((scheme, rest)) => {
                        normalise_path(rest).map(|r| format!("{scheme}://{r}")).unwrap_or_default()
                    }
                    None if resource.contains('/') => normalise_path(&resource).unwrap_or_default(),
                    None => resource.clone(),
                };
                let inside = !normal.is_empty()
                    && declared.resources.iter().any(|prefix| normal.starts_with(prefix.as_str()));
                if !inside {
                    let message = format!(
                        "resource `{resource}` is outside the declared prefixes {}",
                        declared.resources.join(", ")
                    );
                    self.reason(Stage::Scope, "scope.resource", crossing, field, message);
                }
            }
        }
        if agent.intent.keyword_check
            && agent.intent.write_keywords.iter().any(|k| name.contains(k.as_str()))
        {
            let goal = self.run.goal.as_deref().unwrap_or("").to_lowercase();
            if !goal.contains(name.as_str()) {
                let message = format!("`{name}` is a write the run's declared goal does not name");
                self.reason(
                    Stage::Scope,
                    "scope.intent_keyword",
                    agent.intent.keyword_mismatch,
                    None,
                    message,
                );
            }
        }
        environments
    }

    /// Step 5: provenance of every argument value, and the exfiltration pattern. `network`
    /// is a command of a shell argument that may reach other hosts: the call then sends
    /// data out even when its action is not `outward`. Returns the argument paths whose
    /// value came only from untrusted content.
    pub(super) fn data_flow(
        &mut self,
        agent: &AgentManifest,
        action: &ActionSpec,
        network: Option<Network<'_>>,
    ) -> Vec<String> {
        let mut untrusted: Vec<(String, String, Option<String>)> = Vec::new();
        // Control values the run never showed, once it has read untrusted content.
        let mut unseen: Vec<(String, String)> = Vec::new();
        let watch_unseen =
            agent.data_flow.unseen_control_argument.is_some() && self.run.read_untrusted.is_some();
        // Free texts under a `scan` or copy rule, and links given as control arguments
        // (what their path, query or fragment carries), each with its rules.
        let mut texts: Vec<(String, String, Cow<'_, ArgSpec>)> = Vec::new();
        let mut links: Vec<(String, String, Cow<'_, ArgSpec>)> = Vec::new();
        let is_control = |path: &str| {
            action.args.iter().any(|a| a.control && (a.path.is(path) || a.path.is_above(path)))
        };
        let mut visit = |path: &str, text: Cow<'_, str>| {
            let declared = self.call.provenance.get(path).copied();
            let found = spec_for(action, path);
            let spec = found.as_deref();
            if let Some(found) = found.as_ref().filter(|s| {
                !s.values.scan.is_empty() || s.values.max_copied_from_untrusted.is_some()
            }) {
                texts.push((path.to_owned(), text.clone().into_owned(), found.clone()));
            }
            let kind = values::kind_of(spec, &text);
            if let Some(found) = found.as_ref().filter(|s| s.control)
                && kind == Some(ValueKind::Url)
            {
                links.push((path.to_owned(), text.clone().into_owned(), found.clone()));
            }
            // The borrowed look-ups: a source is cloned only for a finding.
            let source = match kind {
                Some(kind) => {
                    self.run.provenance.source_of_kind(&kind, &text, &values::options(agent, spec))
                }
                None if is_control(path) => {
                    // A bare host (`db.example.net`, `10.0.0.5:5432`, `::ffff:203.0.113.7`)
                    // the run never showed as written is also looked up as a link to it: its
                    // look-alikes, its numeric forms and its site's other hosts are the
                    // page's too (red team round 20, F2). Only to make it untrusted, and
                    // never over the text itself seen: the user's `db.ourco.example:5432`
                    // stays theirs when a page later links to the host.
                    // Code (a shell command, SQL) is read by its words: its quotes, pipes
                    // and paths are syntax, whose pieces are not names.
                    let constrained = |by: &dyn Fn(&Constraint) -> bool| {
                        spec.is_some_and(|s| s.constraints.iter().any(by))
                    };
                    let shell = constrained(&|c| matches!(c, Constraint::Shell(_)));
                    let code = shell || constrained(&|c| matches!(c, Constraint::Sql(_)));
                    let parts = match code {
                        true => self.run.provenance.source_of_words(&text),
                        false => self.run.provenance.source_of_parts(&text),
                    };
                    // Where a command line connects, read as links whatever its `scan`
                    // says: a host of a site only a page named, spelt in a way no word
                    // of the page is (red team round 27, flow D3).
                    let destination = || {
                        let options = values::options(agent, spec);
                        values::shell_destinations(&text, &options).iter().find_map(|link| {
                            let found =
                                self.run.provenance.source_of_kind(&ValueKind::Url, link, &options);
                            found.filter(|source| !source.kind.is_trusted())
                        })
                    };
                    // Also for a line a trusted text holds: a note or a commit message
                    // that echoes the model's command vouches for none of its hosts (red
                    // team round 28, flow H1); the user's own link stays theirs there.
                    let parts = match parts {
                        Some(found) if !found.kind.is_trusted() => Some(found),
                        // Without untrusted content no destination is anyone's but the
                        // run's: the line is not parsed again for nothing.
                        parts if shell && self.run.provenance.has_untrusted() => {
                            destination().or(parts)
                        }
                        parts => parts,
                    };
                    parts.or_else(|| {
                        let link = values::bare_host_link(&text)?;
                        let options = values::options(agent, spec);
                        self.run
                            .provenance
                            .source_of_kind(&ValueKind::Url, &link, &options)
                            .filter(|source| !source.kind.is_trusted())
                    })
                }
                None => self.run.provenance.source_of(&text),
            };
            match source {
                Some(source) if !source.kind.is_trusted() => {
                    untrusted.push((path.to_owned(), text.into_owned(), Some(source.label.clone())))
                }
                _ if declared == Some(DeclaredSource::Untrusted) => {
                    untrusted.push((path.to_owned(), text.into_owned(), None))
                }
                // The run expired and lost its history: a value it cannot trace may have
                // come from the untrusted content it no longer knows (`RunState::expired`).
                None if self.run.expired.is_some() => {
                    let label = self.run.expired.as_ref().map(|s| s.label.clone());
                    untrusted.push((path.to_owned(), text.into_owned(), label))
                }
                // Seen nowhere: the model wrote it, maybe from untrusted content it read in
                // a form no look-up undoes (two halves, base64, reversed).
                None if watch_unseen && is_control(path) => {
                    unseen.push((path.to_owned(), text.into_owned()))
                }
                _ => {}
            }
        };
        for_each_leaf(&self.call.args, &mut |path, value| {
            if let Some(text) = leaf_text(value) {
                visit(path, text);
            }
        });
        // The keys of an object beneath a rule's argument are values too: a map from an
        // IBAN or an address to a name (`beneficiary = {"GB33...": "Vendor"}`, red team
        // round 2) names where the effect lands as a value would.
        for spec in action.args.iter().filter(|a| {
            a.control || !a.values.scan.is_empty() || a.values.max_copied_from_untrusted.is_some()
        }) {
            let mut keys = Vec::new();
            spec.path.for_each_value(&self.call.args, &mut |value| object_keys(value, &mut keys));
            // Only keys shaped like a value: a field's name (`email`, `iban`) is no value
            // any content supplied.
            for key in keys.into_iter().filter(|key| shaped_like_a_value(key)) {
                visit(&format!("{}.{key}", spec.path), Cow::Borrowed(key));
            }
        }
        if let (Some(decision), Some(read)) =
            (agent.data_flow.unseen_control_argument, &self.run.read_untrusted)
        {
            for (path, text) in &unseen {
                let message = format!(
                    "control argument `{path}` = `{}` appears nowhere in the run, which read \
                     untrusted content ({}): it may have been put together from it",
                    shorten(text),
                    read.label
                );
                let rule = "data_flow.unseen_control_argument";
                self.reason(Stage::DataFlow, rule, decision, Some(path.clone()), message);
            }
        }
        for (path, text, source) in &untrusted {
            if is_control(path) {
                let from = source.as_deref().map_or_else(
                    || "the client declared it untrusted".to_owned(),
                    |s| format!("it appears only in untrusted content ({s})"),
                );
                let message = format!("control argument `{path}` = `{}`: {from}", shorten(text));
                let decision =
                    agent.data_flow.untrusted_control_argument.max(Decision::RequireApproval);
                let rule = "data_flow.untrusted_control_argument";
                self.reason(Stage::DataFlow, rule, decision, Some(path.clone()), message);
            }
        }
        for (path, text, spec) in &texts {
            if self.scan_text(agent, spec, path, text)
                && !untrusted.iter().any(|(p, _, _)| p == path)
            {
                untrusted.push((path.clone(), text.clone(), None));
            }
        }
        // A link's own path, query or fragment may carry another link or an address
        // (`https://trusted.test/redirect?to=https://evil.test/c`, percent-encoded too): an
        // open redirect on a trusted host reaches them. Each is checked as `scan` checks
        // the values inside free text.
        for (path, text, spec) in links {
            if untrusted.iter().any(|(p, _, _)| *p == path) {
                continue;
            }
            let mut inner = spec.into_owned();
            inner.values.scan = vec![ValueKind::Url, ValueKind::Email];
            inner.values.max_copied_from_untrusted = None;
            let carried = beyond_authority(&text);
            let browser = as_a_browser_reads(&carried);
            if self.scan_text(agent, &inner, &path, &carried)
                || (browser != carried && self.scan_text(agent, &inner, &path, &browser))
            {
                untrusted.push((path, text, None));
            }
        }
        if (action.outward || network.is_some())
            && let (Some(private), Some(untrusted)) =
                (&self.run.read_private, &self.run.read_untrusted)
        {
            // Only through the project's code a build or test runs: what the agent may have
            // written there (a `Makefile` recipe, a `conftest.py`) can send the data out, but
            // most such runs are the work itself, so a person decides rather than the
            // exfiltration rule refusing every test run of the session.
            let project_code = !action.outward && network.is_some_and(|n| n.project_code_only);
            let how = match network {
                Some(network) if project_code => format!(
                    " (`{}` runs the project's code, which may reach other hosts)",
                    shorten(network.command)
                ),
                Some(network) if !action.outward => {
                    format!(" (`{}` may reach other hosts)", shorten(network.command))
                }
                _ => String::new(),
            };
            let message = format!(
                "private data ({}) and untrusted content ({}) were read, and `{}` sends data \
                 out{how}",
                private.label, untrusted.label, action.name
            );
            let decision = if project_code {
                Decision::RequireApproval
            } else {
                agent.data_flow.exfiltration.max(Decision::RequireApproval)
            };
            self.reason(Stage::DataFlow, "data_flow.exfiltration", decision, None, message);
        }
        untrusted.into_iter().map(|(path, _, _)| path).collect()
    }
}

/// Whether an object's key reads as a value rather than a field's name: an address, a
/// link, an IBAN, a number of seven digits or more, or text long enough to be a copy.
fn shaped_like_a_value(key: &str) -> bool {
    key.contains(['@', ':', '/'])
        || key.chars().filter(char::is_ascii_digit).count() >= 7
        || crate::values::iban_normal(key).is_some()
        || key.chars().count() >= 32
}

/// Every key of the objects in `value`, at any depth.
fn object_keys<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::Object(members) => {
            for (key, item) in members {
                out.push(key);
                object_keys(item, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| object_keys(item, out)),
        _ => {}
    }
}

/// The catalog's rules for the argument value at `path`: its own, or those of the nearest
/// argument above it. A rule on an object or a list of objects holds for every value
/// beneath (`to = [{email, name}]`, `beneficiary = {iban}`, `body = {text, html}`), as an
/// output path names the field and everything under it; the kind is then told by each
/// value's shape, since the one declared names the argument, not its parts.
fn spec_for<'a>(action: &'a ActionSpec, path: &str) -> Option<Cow<'a, ArgSpec>> {
    if let Some(spec) = action.args.iter().find(|a| a.path.is(path)) {
        return Some(Cow::Borrowed(spec));
    }
    let above = action
        .args
        .iter()
        .filter(|a| a.path.is_above(path))
        .max_by_key(|a| a.path.segments().len())?;
    let mut beneath = above.clone();
    beneath.values.kind = None;
    Some(Cow::Owned(beneath))
}

/// What a link's path, query or fragment carries as a browser or `fetch` resolves it
/// against the page: percent escapes decoded (UTF-8, up to three times: `%255C`), tabs
/// and line breaks dropped (WHATWG removes them anywhere in a URL), a backslash read as a
/// slash, a run of slashes as two, so that `?to=\\evil.test`, `?to=/%5Cevil.test`,
/// `?to=///evil.test` and `?to=%09//evil.test` read as the `//evil.test` they reach (red
/// team, 2026-11-30).
fn as_a_browser_reads(text: &str) -> String {
    let slashes: String = crate::values::percent_decoded(text)
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    // Any run of slashes starts an authority as two do (`///evil.test`).
    let mut out = String::with_capacity(slashes.len());
    for c in slashes.chars() {
        if !(c == '/' && out.ends_with("//")) {
            out.push(c);
        }
    }
    out
}

/// `url` with its scheme and authority blanked and its query and fragment separators
/// (`?`, `&`, `=`, `#`, `;`) turned to spaces, byte for byte, so that what its path, query
/// and fragment carry reads as words at the same offsets, and the link itself is not
/// found again.
fn beyond_authority(url: &str) -> String {
    // The scheme's `://` only where it comes before any path, query or fragment (in
    // `host/r?to=https://evil/c` the `://` is the inner link's); a backslash ends the
    // authority as browsers read it.
    let first_end = url.find(['/', '?', '#', '\\']).unwrap_or(url.len());
    let start = url.find("://").filter(|&i| i < first_end).map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?', '#', '\\']).map_or(url.len(), |i| start + i);
    let mut out = String::with_capacity(url.len());
    for (i, c) in url.char_indices() {
        match c {
            _ if i < end => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
            '?' | '&' | '=' | '#' | ';' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
