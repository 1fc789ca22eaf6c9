//! Lowering: the format types of one file into the validated types of `aecl-core`.
//!
//! Every check that can fail names the key path it is about, so `aecl check` can print
//! `file:line:column`. Lowering never stops at the first problem: it collects them all.

use std::collections::{HashMap, HashSet};

use aecl_core::Decision;
use aecl_core::path::FieldPath;
use aecl_core::policy::{
    ActionSpec, AgentManifest, ApprovalSpec, ArgSchema, ArgSpec, Budgets, ContextRule,
    CustomRiskFactor, DataClass, DataFlowSettings, EffectClass, IntentSettings, OutputSpec,
    Reversibility, RiskCondition, RiskSettings, ScopeArgs, Trust,
};
use aecl_core::tier::SandboxSettings;
use aecl_core::verdict::Mode;

use crate::error::Problem;
use crate::format::{
    ActionFile, CaseName, DataClassName, DataFlowFile, DecisionName, EffectName, IntentFile,
    ManifestFile, ModeName, OutputFormatName, ReversibilityName, RiskFactorFile, RiskFile,
    SettingsFile, StrictDecisionName, TrustName,
};
use crate::load::Checks;
use crate::location::{Step, locate_json, locate_toml};

/// The file being lowered, for locating problems.
#[derive(Debug)]
pub(crate) struct FileCtx<'a> {
    pub name: &'a str,
    pub text: &'a str,
    pub json: bool,
}

impl FileCtx<'_> {
    pub fn problem(&self, path: &[Step], message: impl Into<String>) -> Problem {
        let (line, column) =
            if self.json { locate_json(self.text, path) } else { locate_toml(self.text, path) };
        Problem { file: self.name.to_owned(), line, column, message: message.into() }
    }
}

/// Builds key paths tersely: `path!["actions", name, "effect"]`.
macro_rules! path {
    ($($step:expr),* $(,)?) => { [$(Step::from($step)),*] };
}

// After `path!`, which it uses.
mod constraints;
use constraints::lower_constraints;

pub(crate) fn mode(name: ModeName) -> Mode {
    match name {
        ModeName::Enforce => Mode::Enforce,
        ModeName::Monitor => Mode::Monitor,
        ModeName::DryRun => Mode::DryRun,
    }
}

pub(crate) fn decision(name: DecisionName) -> Decision {
    match name {
        DecisionName::Allow => Decision::Allow,
        DecisionName::RequireApproval => Decision::RequireApproval,
        DecisionName::Block => Decision::Block,
    }
}

fn strict(name: StrictDecisionName) -> Decision {
    match name {
        StrictDecisionName::RequireApproval => Decision::RequireApproval,
        StrictDecisionName::Block => Decision::Block,
    }
}

/// The defaults every manifest starts from: the built-in ones, overridden by `policy.toml`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub mode: Mode,
    pub risk: RiskSettings,
    pub data_flow: DataFlowSettings,
    pub intent: IntentSettings,
    /// `[audit] redact`: field paths the audit log never holds.
    pub audit_redact: Vec<String>,
    /// `[sandbox]`, which every manifest's own is added to.
    pub sandbox: SandboxSettings,
    /// `[runs]`: bounds on open run states.
    pub runs: aecl_core::run_bounds::RunLimits,
    /// `[approval] rejected_cooldown`, when set.
    pub rejected_cooldown_secs: Option<u64>,
    /// `[tokens]`: the longest token lifetime per role.
    pub tokens: aecl_core::policy::TokenLimits,
}

pub(crate) fn lower_settings(
    file: &SettingsFile,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> Defaults {
    let mut defaults = Defaults::default();
    if let Some(m) = file.mode {
        defaults.mode = mode(m);
    }
    if let Some(runs) = &file.runs {
        defaults.runs = crate::runs::lower_runs(runs, ctx, problems);
    }
    if let Some(tokens) = &file.tokens {
        defaults.tokens = crate::identity::lower_tokens(tokens, ctx, problems);
    }
    if let Some(approval) = &file.approval {
        defaults.rejected_cooldown_secs = crate::approval::lower_settings(approval, ctx, problems);
    }
    if let Some(risk) = &file.risk {
        apply_risk(&mut defaults.risk, risk, ctx, &[], problems);
    }
    if let Some(flow) = &file.data_flow {
        apply_data_flow(&mut defaults.data_flow, flow, ctx, problems);
    }
    if let Some(intent) = &file.intent {
        apply_intent(&mut defaults.intent, intent);
    }
    if let Some(audit) = &file.audit {
        for (i, path) in audit.redact.iter().enumerate() {
            let segments: Vec<&str> = path.split('.').collect();
            if segments.contains(&"") || segments.last() == Some(&"**") {
                problems.push(ctx.problem(
                    &path!["audit", "redact", i],
                    format!(
                        "redact path `{path}`: expected dotted keys, `*` or `**`, not ending in \
                         `**` (as \"headers.*\" or \"**.password\")"
                    ),
                ));
            }
        }
        defaults.audit_redact.clone_from(&audit.redact);
    }
    defaults
}

fn apply_risk(
    settings: &mut RiskSettings,
    file: &RiskFile,
    ctx: &FileCtx<'_>,
    prefix: &[Step],
    problems: &mut Vec<Problem>,
) {
    let mut unit = |key: &str, value: Option<f64>, slot: &mut f64| {
        if let Some(v) = value {
            if (0.0..=1.0).contains(&v) {
                *slot = v;
            } else {
                let mut path = prefix.to_vec();
                path.extend(path!["risk", key]);
                problems
                    .push(ctx.problem(&path, format!("`{key}` must be between 0 and 1, got {v}")));
            }
        }
    };
    unit("amount_weight", file.amount_weight, &mut settings.amount_weight);
    unit("irreversible_weight", file.irreversible_weight, &mut settings.irreversible_weight);
    unit("production_weight", file.production_weight, &mut settings.production_weight);
    unit("bulk_weight", file.bulk_weight, &mut settings.bulk_weight);
    unit(
        "untrusted_input_weight",
        file.untrusted_input_weight,
        &mut settings.untrusted_input_weight,
    );
    unit("approval_threshold", file.approval_threshold, &mut settings.approval_threshold);
    if let Some(block) = file.block_threshold {
        let mut slot = 0.0;
        unit("block_threshold", Some(block), &mut slot);
        if (0.0..=1.0).contains(&block) {
            settings.block_threshold = Some(block);
        }
    }
    if let Some(threshold) = file.amount_threshold {
        if threshold.is_finite() && threshold >= 0.0 {
            settings.amount_threshold = threshold;
        } else {
            let mut path = prefix.to_vec();
            path.extend(path!["risk", "amount_threshold"]);
            problems.push(ctx.problem(&path, "`amount_threshold` must be a number of at least 0"));
        }
    }
    if let Some(envs) = &file.production_environments {
        settings.production_environments = envs.clone();
    }
}

fn apply_data_flow(
    settings: &mut DataFlowSettings,
    file: &DataFlowFile,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) {
    if let Some(d) = file.untrusted_control_argument {
        settings.untrusted_control_argument = strict(d);
    }
    if let Some(d) = file.unseen_control_argument {
        settings.unseen_control_argument = Some(strict(d));
    }
    if let Some(d) = file.exfiltration {
        settings.exfiltration = strict(d);
    }
    if let Some(case) = file.email_local_part_case {
        settings.values.email_local_part_insensitive = case == CaseName::Insensitive;
    }
    if let Some(region) = &file.default_phone_region {
        match aecl_core::values::region_code(region) {
            Some(code) => settings.values.phone_country_code = Some(code),
            None => problems.push(ctx.problem(
                &path!["data_flow", "default_phone_region"],
                format!(
                    "`default_phone_region` `{region}` is not a region aecl knows (ISO 3166 \
                     codes such as `GB`)"
                ),
            )),
        }
    }
}

fn apply_intent(settings: &mut IntentSettings, file: &IntentFile) {
    if let Some(on) = file.keyword_check {
        settings.keyword_check = on;
    }
    if let Some(words) = &file.write_keywords {
        settings.write_keywords = words.clone();
    }
    if let Some(d) = file.keyword_mismatch {
        settings.keyword_mismatch = strict(d);
    }
    if let Some(d) = file.scope_crossing {
        settings.scope_crossing = strict(d);
    }
}

/// Lowers a manifest. `actions` is the whole catalog, to check the action names; `None` when
/// a catalog file failed to parse, so that its actions are not reported missing again.
pub(crate) fn lower_manifest(
    file: &ManifestFile,
    defaults: &Defaults,
    actions: Option<&HashMap<String, ActionSpec>>,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> AgentManifest {
    for (i, name) in file.allowed_actions.iter().enumerate() {
        if actions.is_some_and(|actions| !actions.contains_key(name)) {
            let message = format!("allowed action `{name}` is not in the action catalog");
            problems.push(ctx.problem(&path!["allowed_actions", i], message));
        }
    }
    let mut context_rules = aecl_core::hash::HashMap::default();
    for (action, rule) in &file.context_rules {
        let decision = match rule.as_str() {
            "block" | "deny" => Some(Decision::Block),
            "require_approval" => Some(Decision::RequireApproval),
            r if r.starts_with("requires_") && r.len() > "requires_".len() => {
                Some(Decision::RequireApproval)
            }
            _ => None,
        };
        match decision {
            Some(decision) => {
                context_rules.insert(action.clone(), ContextRule { name: rule.clone(), decision });
            }
            None => problems.push(ctx.problem(
                &path!["context_rules", action],
                format!(
                    "context rule `{rule}` for `{action}`: expected `requires_human_approval` \
                     (or another `requires_...`), `require_approval` or `block`; a context \
                     rule can only tighten"
                ),
            )),
        }
    }
    let ttl = file.token_ttl_seconds.unwrap_or(900);
    if ttl == 0 {
        problems.push(
            ctx.problem(&path!["token_ttl_seconds"], "`token_ttl_seconds` must be at least 1"),
        );
    }
    let (public_keys, request_rate) =
        crate::identity::lower_agent(file, &defaults.tokens, ctx, problems);
    let mut risk = defaults.risk.clone();
    if let Some(r) = &file.risk {
        apply_risk(&mut risk, r, ctx, &[], problems);
    }
    let mut data_flow = defaults.data_flow.clone();
    if let Some(f) = &file.data_flow {
        apply_data_flow(&mut data_flow, f, ctx, problems);
    }
    let mut intent = defaults.intent.clone();
    if let Some(i) = &file.intent {
        apply_intent(&mut intent, i);
    }
    let mut sandbox = defaults.sandbox.clone();
    if let Some(s) = &file.sandbox {
        crate::sandbox::apply(&mut sandbox, s, actions, ctx, problems);
    }
    let budgets = file.budgets.as_ref().map_or_else(Budgets::default, |b| Budgets {
        max_amount_per_call: b.max_amount_per_call,
        max_amount_per_run: b.max_amount_per_run,
    });
    AgentManifest {
        id: file.agent_id.clone(),
        mode: file.mode.map_or(defaults.mode, mode),
        allowed_actions: file.allowed_actions.iter().cloned().collect(),
        blocked_actions: file.blocked_actions.iter().cloned().collect(),
        context_rules,
        credential_scope: file.credential_scope.clone(),
        token_ttl_seconds: ttl,
        public_keys,
        request_rate,
        max_tool_calls_per_run: file.max_tool_calls_per_run,
        limits: crate::limits::lower(file.limits.as_ref(), ctx, &[], problems),
        budgets,
        risk,
        data_flow,
        intent,
        sandbox,
    }
}

/// Lowers one catalog action. Cross-action checks (compensations) are done by the caller.
pub(crate) fn lower_action(
    name: &str,
    file: &ActionFile,
    checks: Checks,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> ActionSpec {
    let at = |rest: &[Step]| {
        let mut path = vec![Step::from("actions"), Step::from(name)];
        path.extend(rest.iter().cloned());
        path
    };
    let effect = effect_class(file.effect);
    let reversibility = match (file.reversibility, &file.compensation) {
        (Some(ReversibilityName::Reversible), Some(c)) if !c.is_empty() => {
            Reversibility::Reversible { compensation: c.clone() }
        }
        (Some(ReversibilityName::Reversible), _) => {
            problems.push(ctx.problem(
                &at(&path!["reversibility"]),
                "a `reversible` action must name its `compensation`",
            ));
            Reversibility::Irreversible
        }
        (Some(other), Some(_)) => {
            problems.push(ctx.problem(
                &at(&path!["compensation"]),
                format!("`compensation` is only for `reversible` actions, this one is {other:?}"),
            ));
            Reversibility::Irreversible
        }
        (Some(ReversibilityName::Irreversible), None) => Reversibility::Irreversible,
        (Some(ReversibilityName::None), None) => Reversibility::NoEffect,
        (None, _) if effect == EffectClass::Read => Reversibility::NoEffect,
        (None, _) => {
            problems.push(ctx.problem(
                &at(&path!["effect"]),
                format!(
                    "a `{}` action must say its `reversibility`: `reversible` (with a \
                     `compensation`) or `irreversible`",
                    effect.as_str()
                ),
            ));
            Reversibility::Irreversible
        }
    };
    let schema = file.schema.as_ref().and_then(|source| {
        if !source.is_object() {
            problems
                .push(ctx.problem(&at(&path!["schema"]), "`schema` must be a JSON Schema object"));
            return None;
        }
        // Files `load` accepted had every schema compile: the schema is then compiled only
        // when a call of the action needs it (`aecl hook` decides one call per process).
        let compiled = match checks {
            Checks::Full => ArgSchema::compile(source.clone()),
            Checks::Validated => Ok(ArgSchema::lazy(source.clone())),
        };
        match compiled {
            Ok(schema) => Some(schema),
            Err(e) => {
                problems
                    .push(ctx.problem(&at(&path!["schema"]), format!("invalid JSON Schema: {e}")));
                None
            }
        }
    });
    let field = |key: &str, text: &str, problems: &mut Vec<Problem>| {
        let parsed = FieldPath::parse(text);
        if parsed.is_none() {
            problems.push(ctx.problem(
                &at(&path![key]),
                format!("`{text}` is not an argument path (names separated by dots)"),
            ));
        }
        parsed
    };
    let mut args = Vec::new();
    for (path_text, arg) in &file.args {
        let Some(path) = field("args", path_text, problems) else { continue };
        let constraints = lower_constraints(arg, ctx, &at(&path!["args", path_text]), problems);
        let values = crate::values::lower_arg(
            arg,
            schema.as_ref(),
            &path,
            ctx,
            &at(&path!["args", path_text]),
            problems,
        );
        args.push(ArgSpec { path, control: arg.control, sink: arg.sink, constraints, values });
    }
    crate::values::implied_args(schema.as_ref(), &mut args);
    // What an action's output holds by default: a read's, a command's or an
    // administrative action's may be anything the system holds; a write's, a delete's, a
    // send's or a payment's acknowledges the effect (`Message sent.`, an id), which reveals
    // nothing the call did not carry (red team round 25, flow F4: every send's own
    // acknowledgement marked the run as having read private data, and the next send was an
    // exfiltration). Its trust stays untrusted: the values it shows are not vouched for.
    let data_class = match effect {
        EffectClass::Read | EffectClass::Exec | EffectClass::Admin => DataClass::Internal,
        EffectClass::Write | EffectClass::Delete | EffectClass::Send | EffectClass::Payment => {
            DataClass::Public
        }
    };
    let output = file.output.as_ref().map_or_else(
        || OutputSpec { data_class, ..OutputSpec::default() },
        |o| {
        let mut fields = Vec::new();
        for (list, trust) in
            [(&o.trusted_fields, Trust::Trusted), (&o.untrusted_fields, Trust::Untrusted)]
        {
            for text in list {
                match aecl_core::output::OutputField::parse(text) {
                    Some(path) => fields.push((path, trust)),
                    None => problems.push(ctx.problem(
                        &at(&path!["output"]),
                        format!(
                            "`{text}` is not an output field path (keys separated by dots, `[]` for the elements of a list, `*` for any key)"
                        ),
                    )),
                }
            }
        }
        OutputSpec {
            trust: match o.trust.unwrap_or(TrustName::Untrusted) {
                TrustName::Trusted => Trust::Trusted,
                TrustName::Untrusted => Trust::Untrusted,
            },
            data_class: match o.data_class {
                None => data_class,
                Some(DataClassName::Public) => DataClass::Public,
                Some(DataClassName::Internal) => DataClass::Internal,
                Some(DataClassName::Secret) => DataClass::Secret,
            },
            fields,
            format: o.format.map_or(aecl_core::output::OutputFormat::Auto, OutputFormatName::lower),
        }
    },
    );
    let scope_args = file.scope.as_ref().map_or_else(ScopeArgs::default, |s| ScopeArgs {
        tenant: s.tenant.as_deref().and_then(|t| field("scope", t, problems)),
        environment: s.environment.as_deref().and_then(|t| field("scope", t, problems)),
        resources: s.resources.iter().filter_map(|t| field("scope", t, problems)).collect(),
    });
    let risk_factors = file
        .risk
        .iter()
        .enumerate()
        .filter_map(|(i, factor)| lower_risk_factor(factor, ctx, &at(&path!["risk", i]), problems))
        .collect();
    let approval = file.approval.as_ref().map_or_else(ApprovalSpec::default, |a| {
        if let Some(r) = a.risk_above
            && !(0.0..=1.0).contains(&r)
        {
            problems.push(ctx.problem(
                &at(&path!["approval", "risk_above"]),
                "`risk_above` must be between 0 and 1",
            ));
        }
        if a.expires_secs == Some(0) {
            problems.push(ctx.problem(
                &at(&path!["approval", "expires_secs"]),
                "`expires_secs` must be at least 1",
            ));
        }
        if a.waive_irreversible.as_deref().is_some_and(|r| r.trim().is_empty()) {
            problems.push(ctx.problem(
                &at(&path!["approval", "waive_irreversible"]),
                "`waive_irreversible` takes the reason the waiver is safe",
            ));
        }
        ApprovalSpec {
            always: a.always,
            risk_above: a.risk_above,
            expires_secs: a.expires_secs.unwrap_or(3600),
            waive_irreversible: a.waive_irreversible.is_some(),
            ..ApprovalSpec::default()
        }
    });
    let outward =
        file.outward.unwrap_or(effect == EffectClass::Send || args.iter().any(|a| a.sink));
    ActionSpec {
        name: name.to_owned(),
        effect,
        reversibility,
        output,
        schema,
        args,
        amount_arg: file.amount_arg.as_deref().and_then(|t| field("amount_arg", t, problems)),
        scope_args,
        risk_factors,
        approval,
        connector: file.connector.clone(),
        outward,
        limits: crate::limits::lower(file.limits.as_ref(), ctx, &at(&[]), problems),
        sandbox: file.sandbox.map(crate::sandbox::tier),
        operation: crate::operation::lower(file, effect, ctx, &at(&[]), problems),
        authoritative_for: crate::values::lower_authoritative(
            name,
            file,
            effect,
            ctx,
            &at(&[]),
            problems,
        ),
    }
}

pub(crate) fn effect_class(name: EffectName) -> EffectClass {
    match name {
        EffectName::Read => EffectClass::Read,
        EffectName::Write => EffectClass::Write,
        EffectName::Delete => EffectClass::Delete,
        EffectName::Send => EffectClass::Send,
        EffectName::Exec => EffectClass::Exec,
        EffectName::Payment => EffectClass::Payment,
        EffectName::Admin => EffectClass::Admin,
    }
}

fn lower_risk_factor(
    file: &RiskFactorFile,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> Option<CustomRiskFactor> {
    let mut conditions = Vec::new();
    if let Some(v) = file.greater_than {
        conditions.push(RiskCondition::GreaterThan(v));
    }
    if let Some(v) = file.less_than {
        conditions.push(RiskCondition::LessThan(v));
    }
    if let Some(v) = &file.equals {
        conditions.push(RiskCondition::Equals(v.clone()));
    }
    if let Some(v) = &file.one_of {
        conditions.push(RiskCondition::OneOf(v.clone()));
    }
    if let Some(v) = &file.not_one_of {
        conditions.push(RiskCondition::NotOneOf(v.clone()));
    }
    if file.present == Some(true) {
        conditions.push(RiskCondition::Present);
    }
    if file.first_seen == Some(true) {
        conditions.push(RiskCondition::FirstSeen);
    }
    let weight_ok = (0.0..=1.0).contains(&file.weight);
    if !weight_ok {
        let mut path = at.to_vec();
        path.push(Step::from("weight"));
        problems.push(ctx.problem(
            &path,
            format!("risk factor `{}`: `weight` must be between 0 and 1", file.name),
        ));
    }
    let arg = FieldPath::parse(&file.arg);
    if arg.is_none() {
        let mut path = at.to_vec();
        path.push(Step::from("arg"));
        problems.push(ctx.problem(&path, format!("`{}` is not an argument path", file.arg)));
    }
    if conditions.len() != 1 {
        problems.push(ctx.problem(
            at,
            format!(
                "risk factor `{}` needs exactly one condition (greater_than, less_than, equals, \
                 one_of, not_one_of, present, first_seen), found {}",
                file.name,
                conditions.len()
            ),
        ));
    }
    let condition = conditions.pop()?;
    (weight_ok && conditions.is_empty()).then_some(())?;
    Some(CustomRiskFactor { name: file.name.clone(), arg: arg?, condition, weight: file.weight })
}

/// Checks that every compensation names an action of the catalog.
pub(crate) fn check_compensations<'f>(
    actions: &HashMap<String, ActionSpec>,
    located: &HashMap<String, usize>,
    ctx: impl Fn(usize) -> FileCtx<'f>,
    problems: &mut Vec<Problem>,
) {
    let names: HashSet<&String> = actions.keys().collect();
    let mut sorted: Vec<&ActionSpec> = actions.values().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for action in sorted {
        if let Reversibility::Reversible { compensation } = &action.reversibility
            && !names.contains(compensation)
        {
            let file = located.get(&action.name).copied().unwrap_or_default();
            problems.push(ctx(file).problem(
                &path!["actions", &action.name],
                format!(
                    "the compensation `{compensation}` of `{}` is not in the action catalog",
                    action.name
                ),
            ));
        }
    }
}
