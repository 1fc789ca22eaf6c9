//! The compiled policy: agent manifests and the action catalog, validated and immutable.
//!
//! These are meaning, not format: `aecl-policy` parses the files users write and lowers them
//! into these types by hand, so every value here has already been checked.
//!
//! `rules.rs` is the port for the rules the manifest form cannot say: a policy holds a rule
//! set, and the rule set reads the policy's action specs.

pub mod rules;

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::Value;

use self::rules::RuleSet;
pub use crate::class::{DataClass, EffectClass, Reversibility, Trust};
use crate::constraint::Constraint;
use crate::decision::{Decision, Mode};
use crate::hash::{HashMap, HashSet};
use crate::limits::{Limits, RateLimit};
use crate::output::{OutputField, OutputFormat};
use crate::path::FieldPath;
use crate::tier::{SandboxSettings, SandboxTier};

/// The hash of a policy's canonical form: two policies with the same revision decide alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Revision(pub String);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A loaded policy bundle.
#[derive(Debug, Clone)]
pub struct Policy {
    pub revision: Revision,
    pub agents: HashMap<String, Arc<AgentManifest>>,
    pub actions: HashMap<String, Arc<ActionSpec>>,
    /// Rules the manifest form cannot say (Cedar policies), evaluated on every call.
    pub rules: Option<Arc<dyn RuleSet>>,
    /// `[tokens]`: the longest life of a token per role.
    pub tokens: TokenLimits,
}

impl Policy {
    /// The agent whose run `run` is by its name alone: the longest `:AGENT` ending of `run`
    /// that names an agent of this policy. The MCP gateway names each agent's run
    /// `RUN:AGENT`, and an agent learns `RUN` from its own run's name: were a run only the
    /// first caller's, another agent could open `RUN:victim` first and so shut the victim
    /// out of its own gateway run. The longest ending wins, so an agent `b` cannot claim
    /// the run `r:a:b` of an agent `a:b`.
    pub fn agent_named_by_run(&self, run: &str) -> Option<&str> {
        run.match_indices(':')
            .filter_map(|(at, _)| run.get(at + 1..))
            .find_map(|name| self.agents.get_key_value(name).map(|(name, _)| name.as_str()))
    }

    /// The agent `run` belongs to, when that is not `agent`: the agent that opened it
    /// (`opened_by`), or else the agent its name ends in ([`Policy::agent_named_by_run`]).
    /// `None`: `agent` may use the run.
    pub fn other_owner_of_run<'a>(
        &'a self,
        run: &str,
        opened_by: Option<&'a str>,
        agent: &str,
    ) -> Option<&'a str> {
        [opened_by, self.agent_named_by_run(run)]
            .into_iter()
            .flatten()
            .find(|owner| *owner != agent)
    }
}

/// The longest lifetime, in seconds, a token of each role may have (`[tokens] max_ttl`):
/// longer ones are neither minted nor accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLimits {
    pub agent_max_ttl_secs: u64,
    pub approver_max_ttl_secs: u64,
    pub admin_max_ttl_secs: u64,
}

impl Default for TokenLimits {
    /// A day for agents (a bearer token; agents with a key mint five-minute ones), a working
    /// day for people.
    fn default() -> TokenLimits {
        TokenLimits {
            agent_max_ttl_secs: 86_400,
            approver_max_ttl_secs: 12 * 3600,
            admin_max_ttl_secs: 12 * 3600,
        }
    }
}

/// The API requests an agent may make when its manifest sets no `rate_limit`: a Claude Code
/// hook fires two requests per tool call and a busy session bursts hundreds of calls in
/// seconds, so 400 at once, then 20 a second.
pub const DEFAULT_AGENT_REQUEST_RATE: RateLimit =
    RateLimit { count: 1200, per_ms: 60_000, burst: 400 };

/// One agent's permission boundary.
#[derive(Debug, Clone)]
pub struct AgentManifest {
    pub id: String,
    pub mode: Mode,
    pub allowed_actions: HashSet<String>,
    pub blocked_actions: HashSet<String>,
    /// Per-action rules such as `transfer_funds = "requires_human_approval"`.
    pub context_rules: HashMap<String, ContextRule>,
    pub credential_scope: Option<String>,
    pub token_ttl_seconds: u64,
    pub max_tool_calls_per_run: Option<u32>,
    /// Rate and concurrency over all of the agent's runs.
    pub limits: Limits,
    pub budgets: Budgets,
    pub risk: RiskSettings,
    pub data_flow: DataFlowSettings,
    pub intent: IntentSettings,
    /// Which sandbox tier the agent's calls run in.
    pub sandbox: SandboxSettings,
    /// Ed25519 public keys (`aecl keys generate --agent` text form) with which the agent
    /// signs its own short tokens.
    pub public_keys: Vec<String>,
    /// The agent's requests to the API, over all its tokens (`rate_limit`).
    pub request_rate: RateLimit,
}

/// A context rule as written (`requires_human_approval`) and what it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRule {
    pub name: String,
    pub decision: Decision,
}

/// Per-run money budgets, summed over the amount argument of the actions that have one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Budgets {
    pub max_amount_per_call: Option<f64>,
    pub max_amount_per_run: Option<f64>,
}

/// Weights and thresholds of the built-in risk factors. The defaults are the seed's table.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskSettings {
    /// An amount strictly above this adds `amount_weight`.
    pub amount_threshold: f64,
    pub amount_weight: f64,
    pub irreversible_weight: f64,
    pub production_weight: f64,
    pub bulk_weight: f64,
    pub untrusted_input_weight: f64,
    /// A score strictly above this requires approval.
    pub approval_threshold: f64,
    /// A score strictly above this is blocked.
    pub block_threshold: Option<f64>,
    /// Environment names that count as production (compared case-insensitively).
    pub production_environments: Vec<String>,
}

impl Default for RiskSettings {
    fn default() -> RiskSettings {
        RiskSettings {
            amount_threshold: 50_000.0,
            amount_weight: 0.5,
            irreversible_weight: 0.3,
            production_weight: 0.4,
            bulk_weight: 0.3,
            untrusted_input_weight: 0.2,
            approval_threshold: 0.6,
            block_threshold: None,
            production_environments: vec!["production".to_owned(), "prod".to_owned()],
        }
    }
}

/// What the data-flow stage does with its two findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFlowSettings {
    /// A control argument whose value was found only in untrusted content.
    pub untrusted_control_argument: Decision,
    /// A control argument whose value appears nowhere in a run that has read untrusted
    /// content (`None`: not checked, the default).
    pub unseen_control_argument: Option<Decision>,
    /// Private data read, untrusted content read, and now an outward sink.
    pub exfiltration: Decision,
    /// How typed argument values are normalised (`email_local_part_case`,
    /// `default_phone_region`).
    pub values: crate::values::ValueOptions,
}

impl Default for DataFlowSettings {
    fn default() -> DataFlowSettings {
        DataFlowSettings {
            untrusted_control_argument: Decision::RequireApproval,
            unseen_control_argument: None,
            exfiltration: Decision::RequireApproval,
            values: crate::values::ValueOptions::default(),
        }
    }
}

/// Checks that the action fits the run's declared task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentSettings {
    /// The seed's keyword check: an action whose name contains one of `write_keywords` must
    /// be named in the run's goal.
    pub keyword_check: bool,
    pub write_keywords: Vec<String>,
    pub keyword_mismatch: Decision,
    /// An action outside the run's declared `scope.actions`, a tenant crossing or an
    /// environment crossing. Never looser than `require_approval`.
    pub scope_crossing: Decision,
}

impl Default for IntentSettings {
    fn default() -> IntentSettings {
        IntentSettings {
            keyword_check: false,
            write_keywords: ["delete", "transfer", "update", "modify", "deploy"]
                .map(str::to_owned)
                .to_vec(),
            keyword_mismatch: Decision::RequireApproval,
            scope_crossing: Decision::RequireApproval,
        }
    }
}

/// How far an action's output can be believed, as a whole and per field.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub trust: Trust,
    pub data_class: DataClass,
    /// Fields of a structured output whose trust differs from the whole (see
    /// `crate::output` for how they match).
    pub fields: Vec<(OutputField, Trust)>,
    /// How the output is written: JSON, YAML, CSV, `key: value` lines, text, or auto.
    pub format: OutputFormat,
}

impl Default for OutputSpec {
    fn default() -> OutputSpec {
        // Unknown output is the worst case: untrusted, and private enough to matter.
        OutputSpec {
            trust: Trust::Untrusted,
            data_class: DataClass::Internal,
            fields: Vec::new(),
            format: OutputFormat::Auto,
        }
    }
}

/// Rules for one argument of an action.
#[derive(Debug, Clone)]
pub struct ArgSpec {
    pub path: FieldPath,
    /// The argument steers where the effect lands (recipient, URL, IBAN, path, command, SQL).
    pub control: bool,
    /// The argument carries data out of the organisation.
    pub sink: bool,
    pub constraints: Vec<Constraint>,
    /// Typed values: the argument's kind, the kinds scanned for in its free text, the copy
    /// limit.
    pub values: ArgValues,
}

/// How an argument's values are matched by provenance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArgValues {
    /// `kind`: values are normalised as this kind before matching (also implied by the
    /// schema's `format: uri|email`).
    pub kind: Option<crate::values::ValueKind>,
    /// `scan`: every value of these kinds inside the text is checked like a control
    /// argument.
    pub scan: Vec<crate::values::ValueKind>,
    /// `max_copied_from_untrusted`: a longer verbatim copy of untrusted content needs
    /// approval.
    pub max_copied_from_untrusted: Option<usize>,
    /// Per-argument `email_local_part_case`, over the manifest's.
    pub email_local_part_insensitive: Option<bool>,
    /// `replaces`: the argument holding the text this one replaces (an edit's `old_string`).
    /// A scanned value it also holds was in the file already: the edit keeps it, it does
    /// not write it anew.
    pub replaces: Option<FieldPath>,
}

/// Which arguments name the tenant, environment and resources a call targets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScopeArgs {
    pub tenant: Option<FieldPath>,
    pub environment: Option<FieldPath>,
    pub resources: Vec<FieldPath>,
}

/// A risk factor declared in the catalog: `weight` is added when `condition` holds for the
/// value at `arg`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomRiskFactor {
    pub name: String,
    pub arg: FieldPath,
    pub condition: RiskCondition,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RiskCondition {
    GreaterThan(f64),
    LessThan(f64),
    Equals(Value),
    OneOf(Vec<Value>),
    NotOneOf(Vec<Value>),
    /// The argument is present (and not null).
    Present,
    /// The value was not used for this argument earlier in the run.
    FirstSeen,
}

/// When a call of this action needs a human.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalSpec {
    pub always: bool,
    /// Overrides the manifest's approval threshold for this action.
    pub risk_above: Option<f64>,
    pub expires_secs: u64,
    /// Irreversible actions require approval unless the policy waives it here (with the
    /// reason written beside it).
    pub waive_irreversible: bool,
    /// The arguments an approver sees in the list of requests; empty: the control
    /// arguments.
    pub summary: Vec<FieldPath>,
    /// Distinct approvers a request needs, none of them the agent (at least 1).
    pub approvals_required: u32,
    /// How long a rejected call, resubmitted unchanged, is answered `rejected` without a
    /// new request (0: never).
    pub rejected_cooldown_secs: u64,
    /// `when`: conditions on the arguments, any of which asks for approval.
    pub when: Vec<crate::condition::ArgCondition>,
}

/// The default of `rejected_cooldown`: ten minutes.
pub const DEFAULT_REJECTED_COOLDOWN_SECS: u64 = 600;

impl Default for ApprovalSpec {
    fn default() -> ApprovalSpec {
        ApprovalSpec {
            always: false,
            risk_above: None,
            expires_secs: 3600,
            waive_irreversible: false,
            summary: Vec::new(),
            approvals_required: 1,
            rejected_cooldown_secs: DEFAULT_REJECTED_COOLDOWN_SECS,
            when: Vec::new(),
        }
    }
}

/// One typed entry of the action catalog.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub name: String,
    pub effect: EffectClass,
    pub reversibility: Reversibility,
    pub output: OutputSpec,
    pub schema: Option<ArgSchema>,
    pub args: Vec<ArgSpec>,
    /// The argument holding a money amount, for budgets and the amount risk factor.
    pub amount_arg: Option<FieldPath>,
    pub scope_args: ScopeArgs,
    pub risk_factors: Vec<CustomRiskFactor>,
    pub approval: ApprovalSpec,
    /// The connector that executes the action (used from the execution stage on).
    pub connector: Option<String>,
    /// Data can leave the organisation through this action: the sink of the exfiltration
    /// pattern.
    pub outward: bool,
    /// Rate and concurrency over every call of the action, from any agent.
    pub limits: Limits,
    /// The least sandbox tier every call of the action runs in.
    pub sandbox: Option<SandboxTier>,
    /// The one operation its connector performs (`operation`, or implied by `effect`), never
    /// the agent's choice.
    pub operation: Option<crate::operation::OperationBinding>,
    /// `authoritative_for`: the kinds of value this (read-only) action's output confirms.
    pub authoritative_for: Vec<crate::values::ValueKind>,
}

impl ActionSpec {
    pub fn arg(&self, path: &FieldPath) -> Option<&ArgSpec> {
        self.args.iter().find(|a| &a.path == path)
    }

    /// The money a call of this action moves: the sum of every number at the amount
    /// argument (a batch may carry several). Negative values count as zero, so they never
    /// refill a budget. `Err` when a value is not a number: budgets must not be skipped by
    /// sending `"150"`.
    pub fn amount(&self, args: &Value) -> Result<Option<f64>, String> {
        let Some(path) = &self.amount_arg else { return Ok(None) };
        let mut total = None;
        let mut not_a_number = None;
        path.for_each_value(args, &mut |value| match value.as_f64() {
            Some(n) if n.is_finite() => *total.get_or_insert(0.0) += n.max(0.0),
            // The first value that is not a number is the one reported.
            _ => {
                not_a_number.get_or_insert(value);
            }
        });
        match not_a_number {
            Some(value) => Err(format!("the amount `{path}` must be a number, got {value}")),
            None => Ok(total),
        }
    }
}

/// A JSON Schema for an action's arguments, compiled on first use.
///
/// Compiling a schema (and checking it against the draft 2020-12 meta-schema, which
/// jsonschema always does) costs far more than a decision, and `aecl hook` starts a process
/// per call that needs at most one action's schema: compiling every action's at load was
/// about a tenth of the hook's time. The full policy load still compiles every schema, to
/// refuse an invalid one with its file and action ([`ArgSchema::compile`]); a load of files
/// that load accepted before makes them [`ArgSchema::lazy`].
///
/// Clones share one compilation: the cell is behind an `Arc`, so `aecl serve`'s threads
/// compile each schema once (`OnceLock` lets one thread compile while the others wait).
#[derive(Clone)]
pub struct ArgSchema {
    pub source: Value,
    compiled: Arc<OnceLock<Result<jsonschema::Validator, String>>>,
}

impl fmt::Debug for ArgSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgSchema").field("source", &self.source).finish_non_exhaustive()
    }
}

impl ArgSchema {
    /// Compiles `source` now; the error names what is wrong with the schema.
    pub fn compile(source: Value) -> Result<ArgSchema, String> {
        let schema = ArgSchema::lazy(source);
        if let Err(e) = schema.validator() {
            return Err(e.to_owned());
        }
        Ok(schema)
    }

    /// Keeps `source` uncompiled until [`ArgSchema::validator`] first needs it. An invalid
    /// schema is found only then, so a call of its action must be blocked (`decide` does).
    pub fn lazy(source: Value) -> ArgSchema {
        ArgSchema { source, compiled: Arc::new(OnceLock::new()) }
    }

    /// The compiled validator, compiling it on the first call; or why the schema does not
    /// compile (the same answer on every call).
    ///
    /// `pattern`s run on the `regex` crate: linear time whatever the input (arguments are
    /// the agent's, and may be an injected attacker's), and several times cheaper per match
    /// than the backtracking engine. Only a schema whose patterns need backtracking
    /// (look-around, back-references) falls back to jsonschema's default engine, with its
    /// backtrack limit.
    pub fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        let compiled = self.compiled.get_or_init(|| {
            let linear = jsonschema::options()
                .with_pattern_options(jsonschema::PatternOptions::regex())
                .build(&self.source);
            match linear {
                Ok(validator) => Ok(validator),
                Err(_) => jsonschema::validator_for(&self.source).map_err(|e| e.to_string()),
            }
        });
        compiled.as_ref().map_err(String::as_str)
    }

    /// What is wrong with `args` against the schema, as (argument path, message) pairs:
    /// none if they are valid. `Err` if the schema does not compile.
    pub fn errors(&self, args: &Value) -> Result<Vec<(Option<String>, String)>, &str> {
        let validator = self.validator()?;
        // `is_valid` first: it stops at the first failure and builds no errors, and most
        // calls are valid.
        if validator.is_valid(args) {
            return Ok(Vec::new());
        }
        let errors = validator.iter_errors(args).map(|error| {
            let pointer = error.instance_path().to_string();
            let field = pointer.trim_start_matches('/').replace('/', ".");
            (Some(field).filter(|f| !f.is_empty()), format!("schema: {error}"))
        });
        Ok(errors.collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ArgSchema;

    #[test]
    fn patterns_run_on_the_linear_engine() {
        let schema = ArgSchema::compile(json!({
            "type": "object",
            "properties": {"iban": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"}}
        }))
        .unwrap();
        assert!(schema.validator().unwrap().is_valid(&json!({"iban": "DE44500105175407000003"})));
        assert!(!schema.validator().unwrap().is_valid(&json!({"iban": "de44 5001"})));
    }

    #[test]
    fn a_pattern_that_needs_backtracking_still_compiles_and_validates() {
        // Look-ahead is outside the linear engine: the schema falls back to the
        // backtracking one rather than being refused.
        let schema = ArgSchema::compile(json!({
            "type": "object",
            "properties": {"password": {"type": "string", "pattern": "^(?=.*[0-9]).{8,}$"}}
        }))
        .unwrap();
        assert!(schema.validator().unwrap().is_valid(&json!({"password": "abcdefg1"})));
        assert!(!schema.validator().unwrap().is_valid(&json!({"password": "abcdefgh"})));
    }

    #[test]
    fn an_invalid_schema_is_refused_with_the_reason() {
        let error = ArgSchema::compile(json!({"type": "no-such-type"})).unwrap_err();
        assert!(error.contains("no-such-type"), "{error}");
    }

    #[test]
    fn a_lazy_schema_compiles_once_on_first_use_and_clones_share_it() {
        let schema = ArgSchema::lazy(json!({"type": "object", "required": ["to"]}));
        assert!(schema.compiled.get().is_none(), "nothing is compiled before a call needs it");
        let clone = schema.clone();
        assert!(!schema.validator().unwrap().is_valid(&json!({})));
        assert!(clone.compiled.get().is_some(), "the clone sees the one compilation");
        assert!(std::ptr::eq(schema.validator().unwrap(), clone.validator().unwrap()));
    }

    #[test]
    fn a_lazy_invalid_schema_is_accepted_and_refused_at_first_use() {
        let schema = ArgSchema::lazy(json!({"type": "no-such-type"}));
        let error = schema.validator().unwrap_err();
        assert!(error.contains("no-such-type"), "{error}");
        assert_eq!(schema.validator().unwrap_err(), error, "the same answer every time");
    }

    #[test]
    fn compiled_schemas_are_shared_across_threads() {
        // `aecl serve` decides concurrently from one `Arc<Policy>`.
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ArgSchema>();
        send_sync::<super::Policy>();
    }
}
