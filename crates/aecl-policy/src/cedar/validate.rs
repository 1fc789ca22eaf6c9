//! Checking the `.cedar` rules against the catalog's Cedar schema with Cedar's validator in
//! strict mode: a misspelt action, attribute or entity type, a comparison of the wrong
//! types, or a condition that can never hold is a load error at `file:line:column`, never
//! a rule that silently stops matching.
//!
//! A `has` test of an attribute that no action the policy applies to declares
//! (`context.args has amout`) is an error at its place, naming the attribute
//! (`attributes.rs`): Cedar types it as `false` without a word.
//!
//! The validator's warnings are errors too: a policy that can never match, and confusable
//! or bidirectional text that would show a reviewer something other than what Cedar
//! compares.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::ffi::DetailedError;
use cedar_policy::{
    EntityId, EntityUid, PolicySet, Schema, ValidationError, ValidationMode, Validator,
};

use super::CedarError;
use super::attributes;
use super::parse::{Parsed, PolicyInfo};
use super::schema::CatalogSchema;
use crate::location::line_col;

/// Every problem the validator finds in `parsed`, in policy order, each at its place in its
/// file (`files`: name and text).
pub fn validate(
    catalog: &CatalogSchema,
    parsed: &Parsed,
    files: &[(String, String)],
) -> Vec<CedarError> {
    let internal = |message: String| {
        vec![CedarError { file: "(cedar schema)".to_owned(), line: 0, column: 0, message }]
    };
    let schema = match Schema::from_json_value(catalog.json.clone()) {
        Ok(schema) => schema,
        Err(e) => {
            let detailed = DetailedError::from(&e);
            return internal(format!(
                "the Cedar schema generated from the catalog is not valid: {}",
                detailed.message
            ));
        }
    };
    let set = match PolicySet::from_policies(parsed.policies.iter().map(|p| p.policy.clone())) {
        Ok(set) => set,
        Err(e) => return internal(format!("building the policy set: {e}")),
    };
    let infos: HashMap<&str, &PolicyInfo> =
        parsed.policies.iter().map(|p| (p.info.label.as_str(), &p.info)).collect();
    let texts: HashMap<&str, &str> =
        files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    let result = Validator::new(schema).validate(&set, ValidationMode::Strict);
    let mut found: Vec<(usize, CedarError)> = Vec::new();
    let mut failed: HashSet<String> = HashSet::new();
    for parsed in &parsed.policies {
        let (Some(offset), Some(source)) = (parsed.offset, parsed.policy.to_cedar()) else {
            continue;
        };
        let info = &parsed.info;
        let text = texts.get(info.file.as_str()).copied().unwrap_or_default();
        for undeclared in
            attributes::undeclared(&source, &parsed.policy.action_constraint(), catalog)
        {
            failed.insert(info.label.clone());
            let (line, column) = line_col(text, offset + undeclared.offset);
            let message = format!("for policy `{}`, {}", info.label, undeclared.message);
            found.push((info.order, CedarError { file: info.file.clone(), line, column, message }));
        }
    }
    let mut report = |id: &str, detailed: DetailedError, warning: bool| {
        let info = infos.get(id);
        let file = info.map_or_else(|| "(cedar)".to_owned(), |i| i.file.clone());
        let text = texts.get(file.as_str()).copied().unwrap_or_default();
        let (line, column) = detailed
            .source_locations
            .first()
            .map(|l| line_col(text, l.loc.start))
            .or_else(|| info.map(|i| (i.line, i.column)))
            .unwrap_or((0, 0));
        let mut message = detailed.message;
        if let Some(help) = detailed.help {
            message.push_str(&format!(" ({help})"));
        }
        if warning {
            message.push_str(
                "; aecl refuses what Cedar's validator only warns about: a rule that can \
                 never match, or text that reads other than it compares, would silently \
                 weaken the policy",
            );
        }
        let order = info.map_or(usize::MAX, |i| i.order);
        found.push((order, CedarError { file, line, column, message }));
    };
    for error in result.validation_errors() {
        let id: &str = error.policy_id().as_ref();
        failed.insert(id.to_owned());
        let mut detailed = DetailedError::from(error);
        if let ValidationError::UnrecognizedActionId(_) = error {
            let text = infos
                .get(id)
                .and_then(|info| texts.get(info.file.as_str()))
                .copied()
                .unwrap_or_default();
            let written =
                detailed.source_locations.first().and_then(|l| text.get(l.loc.start..l.loc.end));
            if let Some(written) = written {
                detailed.help = action_help(written, catalog, detailed.help.take());
            }
        }
        report(id, detailed, false);
    }
    // A policy with errors gets no warnings: they would only repeat them ("can never
    // match" because its action or an attribute it tests is misspelt).
    for warning in result.validation_warnings() {
        let id: &str = warning.policy_id().as_ref();
        if !failed.contains(id) {
            report(id, DetailedError::from(warning), true);
        }
    }
    found.sort_by_key(|(order, e)| (*order, e.line, e.column));
    // A rule that applies to several actions fails the same way for each: once is enough.
    found.dedup_by(|b, a| a.0 == b.0 && (a.1.line, a.1.column) == (b.1.line, b.1.column));
    found.into_iter().map(|(_, e)| e).collect()
}

/// The help for an action that is not in the catalog, written `written` (`Action::"refnd"`).
/// Cedar measures the distance from the bare name to each action's whole `Action::"..."`
/// text, which favours short names (it offers `refund` for `transfer_fund`) and always names
/// one, however far. Names are compared with names here, and only a close one is offered;
/// Cedar's other help (`Action::"Action::x"`) is kept.
fn action_help(written: &str, catalog: &CatalogSchema, cedar: Option<String>) -> Option<String> {
    let Ok(uid) = EntityUid::from_str(written) else { return cedar };
    let names = catalog.shapes.keys().cloned().collect();
    match attributes::suggestion(uid.id().unescaped(), &names) {
        Some(close) => {
            let close =
                EntityUid::from_type_name_and_id(uid.type_name().clone(), EntityId::new(close));
            Some(format!("did you mean `{close}`?"))
        }
        None => cedar.filter(|help| !help.starts_with("did you mean")),
    }
}
