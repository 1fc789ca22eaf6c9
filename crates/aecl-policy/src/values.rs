//! Lowering of the typed-value fields of the catalog: an argument's `kind`, `scan`,
//! `max_copied_from_untrusted` and `email_local_part_case`, the kinds implied by the
//! schema's `format`, and an action's `authoritative_for`.

use aecl_core::path::FieldPath;
use aecl_core::policy::{ArgSchema, ArgSpec, ArgValues, EffectClass};
use aecl_core::provenance::MIN_SUBSTRING_LEN;
use aecl_core::values::ValueKind;
use serde_json::Value;

use crate::error::Problem;
use crate::format::{ActionFile, ArgFile, CaseName, ReversibilityName};
use crate::location::Step;
use crate::lower::FileCtx;

/// The typed-value rules of one argument (`at` is its key path).
pub(crate) fn lower_arg(
    file: &ArgFile,
    schema: Option<&ArgSchema>,
    path: &FieldPath,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> ArgValues {
    let key = |name: &str| {
        let mut p = at.to_vec();
        p.push(Step::from(name));
        p
    };
    let kind = match &file.kind {
        Some(name) => kind_named(name).or_else(|| {
            problems.push(ctx.problem(
                &key("kind"),
                format!(
                    "`{name}` is not a kind: one of {} or a custom name of lower-case \
                     letters, digits and `_`",
                    ValueKind::BUILT_IN.join(", ")
                ),
            ));
            None
        }),
        None => schema.and_then(|s| implied_kind(&s.source, path.segments())),
    };
    let mut scan = Vec::new();
    for name in &file.scan {
        match kind_named(name).filter(ValueKind::scannable) {
            Some(kind) if !scan.contains(&kind) => scan.push(kind),
            Some(_) => {}
            None => problems.push(ctx.problem(
                &key("scan"),
                format!("`scan` finds `url`, `email`, `iban` and `phone` values, not `{name}`"),
            )),
        }
    }
    let least = MIN_SUBSTRING_LEN - 1;
    if let Some(n) = file.max_copied_from_untrusted
        && n < least
    {
        problems.push(ctx.problem(
            &key("max_copied_from_untrusted"),
            format!("`max_copied_from_untrusted` must be at least {least}: shorter runs are words"),
        ));
    }
    let replaces = file.replaces.as_deref().and_then(|text| {
        let parsed = FieldPath::parse(text);
        if parsed.is_none() {
            problems.push(ctx.problem(
                &key("replaces"),
                format!("`replaces` = `{text}` is not an argument's path (`old_string`, `edits.old_string`)"),
            ));
        }
        parsed
    });
    ArgValues {
        kind,
        scan,
        replaces,
        max_copied_from_untrusted: file.max_copied_from_untrusted.map(|n| n.max(least)),
        email_local_part_insensitive: file
            .email_local_part_case
            .map(|case| case == CaseName::Insensitive),
    }
}

/// Arguments the catalog does not list but whose schema `format` (`uri`, `email`) implies a
/// kind: they are added with that kind and no other rule.
pub(crate) fn implied_args(schema: Option<&ArgSchema>, args: &mut Vec<ArgSpec>) {
    let Some(schema) = schema else { return };
    let mut found = Vec::new();
    walk_formats(&schema.source, &mut Vec::new(), &mut found, 0);
    for (segments, kind) in found {
        let Some(path) = FieldPath::parse(&segments.join(".")) else { continue };
        if args.iter().any(|a| a.path == path) {
            continue;
        }
        args.push(ArgSpec {
            path,
            control: false,
            sink: false,
            constraints: Vec::new(),
            values: ArgValues { kind: Some(kind), ..ArgValues::default() },
        });
    }
}

/// `authoritative_for`, allowed only on `read` actions with no effect.
pub(crate) fn lower_authoritative(
    name: &str,
    file: &ActionFile,
    effect: EffectClass,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> Vec<ValueKind> {
    if file.authoritative_for.is_empty() {
        return Vec::new();
    }
    let mut key = at.to_vec();
    key.push(Step::from("authoritative_for"));
    let reads = effect == EffectClass::Read
        && matches!(file.reversibility, None | Some(ReversibilityName::None));
    if !reads {
        problems.push(ctx.problem(
            &key,
            format!(
                "`authoritative_for` on action `{name}`, which has effect `{}`: only a read-only \
                 action (`effect = \"read\"`) can be authoritative, or a write or echo tool would confirm what it was given",
                effect.as_str()
            ),
        ));
        return Vec::new();
    }
    let mut kinds = Vec::new();
    for text in &file.authoritative_for {
        match kind_named(text) {
            Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
            Some(_) => {}
            None => problems.push(ctx.problem(&key, format!("`{text}` is not a kind name"))),
        }
    }
    kinds
}

/// A kind by name: built-in, or custom when it is lower-case letters, digits and `_`.
fn kind_named(name: &str) -> Option<ValueKind> {
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    well_formed.then(|| ValueKind::parse(name))
}

/// The kind the schema's `format` implies at `segments` (through `properties`, and the
/// `items` of arrays).
fn implied_kind(schema: &Value, segments: &[String]) -> Option<ValueKind> {
    let mut here = schema;
    for segment in segments {
        here = here.get("properties")?.get(segment)?;
        if let Some(items) = here.get("items").filter(|_| here.get("properties").is_none()) {
            here = items;
        }
    }
    format_kind(here)
}

fn format_kind(schema: &Value) -> Option<ValueKind> {
    let schema = schema.get("items").unwrap_or(schema);
    match schema.get("format")?.as_str()? {
        "uri" | "url" | "iri" | "uri-reference" => Some(ValueKind::Url),
        "email" | "idn-email" => Some(ValueKind::Email),
        _ => None,
    }
}

fn walk_formats(
    schema: &Value,
    segments: &mut Vec<String>,
    found: &mut Vec<(Vec<String>, ValueKind)>,
    depth: usize,
) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    if depth > 6 {
        return;
    }
    for (name, property) in properties {
        segments.push(name.clone());
        if let Some(kind) = format_kind(property) {
            found.push((segments.clone(), kind));
        }
        let inner = property.get("items").unwrap_or(property);
        walk_formats(inner, segments, found, depth + 1);
        segments.pop();
    }
}
