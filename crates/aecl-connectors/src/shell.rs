//! The `shell` connector: the call's command runs under `/bin/sh -c` in a fresh
//! process-tier sandbox (`aecl-sandbox`): its own namespaces, a read-only root, an
//! ephemeral work dir, Landlock, seccomp, rlimits and a cgroup, an environment of exactly
//! what this configuration names, and no network but the configured hosts through the
//! egress proxy. Irreversible: nothing is kept to undo a command. The writable `binds` are
//! mounted read-only for an action declared `read`.
//!
//! However the command ended, the effect's result (the answer to the agent and the audit
//! record) is the sandbox's structured report: the exit code (or the signal), stdout and
//! stderr (capped) as data, and the sandbox's outcome, tier, layers and egress attempts.
//! The error of a call that did not succeed is aecl's own words (the outcome and the
//! layers in one line), never anything the command printed. How the command ended maps
//! onto the effect ledger as follows: exit 0 is `succeeded`; a non-zero exit is `failed`
//! (`ConnectorOutcome::RanAndFailed`: it ran to its end, so its outcome is known, and its
//! budget stays spent); a sandbox that could not be built or refused the program is
//! `failed` with nothing run; a timeout is `timed_out` and a kill by a signal
//! `outcome_unknown` (the ledger's `outcome_unknown` both), because the command may have
//! done part of its work before the sandbox ended its whole tree.
//!
//! The engine waits for the sandbox's own deadline ([`Connector::deadline`]: the call's
//! or the sandbox's lifetime, whichever is earlier, and the time the tier takes to kill
//! what is left), so a `timeout_secs` longer than the engine's per-call timeout ends in
//! the sandbox's own timeout, reported; and a run the engine stops waiting for all the
//! same is dropped, which kills its tree.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aecl_core::constraint::Constraint;
use aecl_core::policy::EffectClass;
use aecl_core::{ActionSpec, SandboxTier};
use aecl_engine::{BoxFuture, Connector, ConnectorOutcome, Invocation, Sandboxed};
use aecl_sandbox::{
    Bind, Deadlines, Enforcement, Execution, HostPattern, IpNet, Isolation, Layers, Limits,
    MicrovmConfig, Outcome, Request, Sandbox, SandboxConfig, Tier,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::binding::{self, RuleKind, Target};
use crate::config::ConnectorsFile;
use crate::error::ConnectorError;

/// Runs tracked for the per-run timeout at most; the oldest are forgotten first.
const MAX_TRACKED_RUNS: usize = 4096;

/// `[connectors.NAME] kind = "shell"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellConfig {
    /// The argument holding the command line (default `command`).
    #[serde(default = "default_command_arg")]
    pub command_arg: String,
    /// The argument holding the command's stdin, if any (default `stdin`).
    #[serde(default = "default_stdin_arg")]
    pub stdin_arg: String,
    /// Hosts the command may reach through the egress proxy; empty: no network.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Addresses or CIDR ranges the egress proxy may connect to although they are not
    /// public (loopback, private, link-local, metadata, this host's own): an allowed host
    /// resolving to one is refused unless it is named here (`["10.0.0.0/8"]`).
    #[serde(default)]
    pub allow_cidrs: Vec<String>,
    /// `enforced` (default): a limit this host cannot enforce (no cgroup for memory and
    /// pids, no tmpfs for the work dir) fails the call; `best_effort`: run with
    /// per-process rlimits in its place, named in the result's layers.
    #[serde(default)]
    pub limits: LimitsName,
    /// Host directories bound read-write, and read-only, at the same paths.
    #[serde(default)]
    pub binds: Vec<PathBuf>,
    #[serde(default)]
    pub ro_binds: Vec<PathBuf>,
    /// The command's environment, beside `PATH` and `HOME`. Nothing of aecl's own
    /// environment reaches the sandbox unless named in `pass_env`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// The three timeouts, in seconds: one call, all calls of one run (from its first
    /// command here), and any sandbox's life.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    pub run_timeout_secs: Option<u64>,
    #[serde(default = "default_lifetime")]
    pub lifetime_secs: u64,
    #[serde(default = "default_memory")]
    pub memory_mib: u64,
    #[serde(default = "default_pids")]
    pub pids: u64,
    #[serde(default = "default_work")]
    pub work_mib: u64,
    /// The most bytes of stdout and of stderr each kept in the answer.
    #[serde(default = "default_output_cap")]
    pub output_cap_bytes: usize,
    /// `auto` (namespaces, else the Landlock fallback), `namespaces` or `landlock`.
    #[serde(default)]
    pub isolation: IsolationName,
    /// The least tier commands run in (`process`, `gvisor` or `microvm`; default
    /// `process`). The policy can require a stronger one per call; never a weaker one.
    #[serde(default)]
    pub tier: TierName,
    /// The `microvm` tier's guest image (a directory made by `aecl sandbox
    /// microvm-image`); default: the one `AECL_MICROVM_IMAGE` names, if any.
    pub microvm_image: Option<PathBuf>,
    /// The sandbox helper; default: `aecl-sandbox` beside the running `aecl`.
    pub helper: Option<PathBuf>,
    /// Sandboxes kept built ahead of time (default 1): a command is handed to a sandbox
    /// that is already built and restricted, and a replacement is built after it. 0
    /// builds each sandbox on the call's path.
    #[serde(default = "default_warm")]
    pub warm: usize,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierName {
    #[default]
    Process,
    Gvisor,
    Microvm,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitsName {
    #[default]
    Enforced,
    BestEffort,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationName {
    #[default]
    Auto,
    Namespaces,
    Landlock,
}

fn default_command_arg() -> String {
    "command".to_owned()
}
fn default_stdin_arg() -> String {
    "stdin".to_owned()
}
fn default_timeout() -> u64 {
    30
}
fn default_lifetime() -> u64 {
    300
}
fn default_memory() -> u64 {
    512
}
fn default_pids() -> u64 {
    256
}
fn default_work() -> u64 {
    64
}
fn default_warm() -> usize {
    1
}
fn default_output_cap() -> usize {
    1 << 20
}

/// The `shell` connector.
#[derive(Debug)]
pub struct ShellConnector {
    config: ShellConfig,
    sandbox: Sandbox,
    allow_hosts: Vec<HostPattern>,
    allow_cidrs: Vec<IpNet>,
    binds: Vec<Bind>,
    env: Vec<(String, String)>,
    /// When each run's first command started here, for the per-run timeout.
    runs: Mutex<HashMap<String, Instant>>,
}

impl ShellConnector {
    pub fn new(
        file: &ConnectorsFile,
        name: &str,
        config: &ShellConfig,
    ) -> Result<ShellConnector, ConnectorError> {
        let error = |message: String| file.error(format!("connectors.{name}: {message}"));
        let allow_hosts = config
            .allow_hosts
            .iter()
            .map(|h| HostPattern::parse(h).map_err(|e| error(format!("allow_hosts: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let allow_cidrs = config
            .allow_cidrs
            .iter()
            .map(|c| aecl_sandbox::parse_cidr(c).map_err(|e| error(format!("allow_cidrs: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        // Canonical, and never through a link inside a writable bind: a command of an
        // earlier run (before a restart) may have made it there.
        let requested: Vec<_> = [(&config.binds, true), (&config.ro_binds, false)]
            .into_iter()
            .flat_map(|(dirs, writable)| dirs.iter().map(move |dir| (file.resolve(dir), writable)))
            .collect();
        let binds = aecl_sandbox::resolve_binds(&requested).map_err(error)?;
        for (what, value) in
            [("timeout_secs", config.timeout_secs), ("lifetime_secs", config.lifetime_secs)]
        {
            if value == 0 || value > 86_400 {
                return Err(error(format!("{what}: expected 1 to 86400 seconds")));
            }
        }
        let mut env = vec![
            ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("HOME".to_owned(), aecl_sandbox::spec::WORK_DIR.to_owned()),
        ];
        for (key, value) in &config.env {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        for key in &config.pass_env {
            if let Ok(value) = std::env::var(key) {
                env.retain(|(k, _)| k != key);
                env.push((key.clone(), value));
            }
        }
        let mut sandbox_config =
            SandboxConfig::beside_current_exe().map_err(|e| error(format!("sandbox: {e}")))?;
        if let Some(helper) = &config.helper {
            sandbox_config.helper = file.resolve(helper);
        }
        sandbox_config.warm = config.warm.min(16);
        if let Some(dir) = &config.microvm_image {
            let dir = file.resolve(dir);
            sandbox_config.tiers.microvm = Some(MicrovmConfig::new(
                dir.join(aecl_sandbox::MICROVM_KERNEL_FILE),
                dir.join(aecl_sandbox::MICROVM_INITRD_FILE),
            ));
        }
        let sandbox = Sandbox::new(sandbox_config).map_err(|e| error(e.to_string()))?;
        Ok(ShellConnector {
            config: config.clone(),
            sandbox,
            allow_hosts,
            allow_cidrs,
            binds,
            env,
            runs: Mutex::new(HashMap::new()),
        })
    }

    /// The connector's own least tier.
    fn floor(&self) -> SandboxTier {
        match self.config.tier {
            TierName::Process => SandboxTier::Process,
            TierName::Gvisor => SandboxTier::Gvisor,
            TierName::Microvm => SandboxTier::Microvm,
        }
    }

    /// Runs the call in `tier` (the stronger of it and the connector's own floor).
    async fn run_in(&self, invocation: Invocation<'_>, tier: SandboxTier) -> Sandboxed {
        let mut request = match self.request(invocation) {
            Ok(request) => request,
            Err(error) => return Sandboxed::unstarted(ConnectorOutcome::Failed { error }),
        };
        request.tier = sandbox_tier(tier.max(self.floor()));
        // Dropped (the engine stopped waiting), this run kills the sandbox's tree.
        match self.sandbox.run(request).await {
            Ok(done) => ended(&done),
            Err(e) => {
                Sandboxed::unstarted(ConnectorOutcome::Failed { error: format!("setup: {e}") })
            }
        }
    }

    /// The deadlines of a command of this connector, before the run's own (which only
    /// ever ends a command earlier).
    fn deadlines(&self) -> Deadlines {
        Deadlines {
            call_ms: self.config.timeout_secs * 1000,
            run_ms: None,
            lifetime_ms: self.config.lifetime_secs * 1000,
        }
    }

    /// Whether `action` may be bound to this connector: its shell rules, if it has any,
    /// are on the argument the command is read from (`binding.rs`).
    pub fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        let target =
            Target { arg: &self.config.command_arg, key: "command_arg", role: "the command" };
        binding::check_targets(action, RuleKind::Shell, &[target])
    }

    fn request(&self, invocation: Invocation<'_>) -> Result<Request, String> {
        let action = invocation.spec()?;
        // Again on every call: a policy never checked against this configuration must not
        // run a command its rules did not judge.
        self.check_action(action)
            .map_err(|why| format!("not_configured: {why}; nothing was run"))?;
        let args = &invocation.call.args;
        let command = match args.get(&self.config.command_arg) {
            Some(Value::String(command)) if !command.trim().is_empty() => command.clone(),
            _ => {
                return Err(format!(
                    "argument `{}`: expected a command line",
                    self.config.command_arg
                ));
            }
        };
        let stdin = match args.get(&self.config.stdin_arg) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(_) => {
                return Err(format!("argument `{}`: expected a string", self.config.stdin_arg));
            }
        };
        let reads = action.effect == EffectClass::Read;
        Ok(Request {
            argv: vec!["/bin/sh".to_owned(), "-c".to_owned(), command],
            env: self.env.clone(),
            stdin,
            // An action declared `read` gets every bind read-only: the catalog's effect, not
            // the command the agent wrote, says whether host files may change.
            binds: self
                .binds
                .iter()
                .map(|bind| Bind { path: bind.path.clone(), writable: bind.writable && !reads })
                .collect(),
            // No network either: the proxy cannot see inside an HTTPS tunnel, so any host
            // it lets a command reach may be changed through it (a `POST`, a `DELETE`);
            // only an action that may change things gets the configured hosts (red team
            // round 27, escape E3).
            allow_hosts: if reads { Vec::new() } else { self.allow_hosts.clone() },
            allow_cidrs: if reads { Vec::new() } else { self.allow_cidrs.clone() },
            enforcement: match self.config.limits {
                LimitsName::Enforced => Enforcement::Enforced,
                LimitsName::BestEffort => Enforcement::BestEffort,
            },
            limits: Limits {
                memory_bytes: self.config.memory_mib << 20,
                pids: self.config.pids,
                work_bytes: self.config.work_mib << 20,
                ..Limits::default()
            },
            deadlines: Deadlines {
                run_ms: self.run_left(&invocation.call.run),
                ..self.deadlines()
            },
            isolation: match self.config.isolation {
                IsolationName::Auto => Isolation::Auto,
                IsolationName::Namespaces => Isolation::Namespaces,
                IsolationName::Landlock => Isolation::Landlock,
            },
            output_cap: self.config.output_cap_bytes,
            tier: Tier::Process,
        })
    }

    /// What is left of the run's time, counted from its first command in this instance.
    fn run_left(&self, run: &str) -> Option<u64> {
        let limit = Duration::from_secs(self.config.run_timeout_secs?);
        let mut runs = self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if runs.len() >= MAX_TRACKED_RUNS && !runs.contains_key(run) {
            // Forget runs whose time is up (a later command of theirs gets a fresh
            // budget only after they left the table: an approximation that errs towards
            // ending commands, never towards running them longer than one budget each).
            runs.retain(|_, started| started.elapsed() < limit);
            if runs.len() >= MAX_TRACKED_RUNS {
                let oldest = runs.iter().min_by_key(|(_, s)| **s).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    runs.remove(&oldest);
                }
            }
        }
        let started = *runs.entry(run.to_owned()).or_insert_with(Instant::now);
        let left = limit.saturating_sub(started.elapsed());
        Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1))
    }
}

impl Connector for ShellConnector {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move { self.run_in(invocation, self.floor()).await.outcome })
    }

    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        ShellConnector::check_action(self, action)
    }

    fn placement<'a>(
        &'a self,
        _: Invocation<'a>,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        Box::pin(async move {
            let tier = required.max(self.floor());
            let status = self.sandbox.tier(sandbox_tier(tier)).await;
            if status.available { Ok(tier) } else { Err(status.detail) }
        })
    }

    fn execute_in<'a>(
        &'a self,
        invocation: Invocation<'a>,
        tier: SandboxTier,
    ) -> BoxFuture<'a, Sandboxed> {
        Box::pin(self.run_in(invocation, tier))
    }

    /// The sandbox's own deadline in the tier the command will run in, with the time
    /// that tier takes at most to end the tree and report.
    fn deadline(&self, _: Invocation<'_>, tier: Option<SandboxTier>) -> Option<Duration> {
        let tier = sandbox_tier(tier.unwrap_or(SandboxTier::Process).max(self.floor()));
        Some(self.sandbox.longest_run(tier, &self.deadlines()))
    }

    /// The sandbox sees the host's files at the same paths (its read-only root and the
    /// binds), so absolute paths resolve as they will be opened. Relative ones start where
    /// the shell rules say the command is (`working_dir`, else the first write path), else
    /// at `/`: a relative path then resolves outside any root but `/`, which blocks a
    /// path check rather than guessing.
    fn local_fs_cwd(&self, invocation: Invocation<'_>) -> Option<PathBuf> {
        let guard =
            invocation.action?.args.iter().flat_map(|arg| &arg.constraints).find_map(|c| match c {
                Constraint::Shell(rules) => Some(&rules.guard),
                _ => None,
            });
        let start = guard.and_then(|g| g.working_dir.as_ref().or(g.write_paths.first()));
        Some(start.map_or_else(|| PathBuf::from("/"), PathBuf::from))
    }
}

fn sandbox_tier(tier: SandboxTier) -> Tier {
    match tier {
        SandboxTier::Process => Tier::Process,
        SandboxTier::Gvisor => Tier::Gvisor,
        SandboxTier::Microvm => Tier::Microvm,
    }
}

fn core_tier(tier: Tier) -> SandboxTier {
    match tier {
        Tier::Process => SandboxTier::Process,
        Tier::Gvisor => SandboxTier::Gvisor,
        Tier::Microvm => SandboxTier::Microvm,
    }
}

/// The ledger's view of a finished sandbox run (see the module's documentation), with
/// the sandbox's report.
fn ended(done: &Execution) -> Sandboxed {
    let report = report(done);
    let ran_in = Some(core_tier(done.tier));
    let layers = summary(&done.layers);
    let outcome = match &done.outcome {
        Outcome::Exited { code: 0 } => {
            // A success's result is the report.
            let outcome = ConnectorOutcome::Succeeded { result: report, rollback_token: None };
            return Sandboxed { outcome, ran_in, report: None };
        }
        Outcome::Setup { error } => {
            ConnectorOutcome::Failed { error: format!("setup: {error} [{layers}]") }
        }
        // Nothing ran: the sandbox reports a refusal only from a channel the command
        // never holds (the process tier's status pipe, gVisor's report pipe), so a
        // command cannot claim one and have its budget released.
        Outcome::Denied { reason } => {
            ConnectorOutcome::Failed { error: format!("denied: {reason} [{layers}]") }
        }
        Outcome::Exited { code } => ConnectorOutcome::RanAndFailed {
            error: format!("failed: exit code {code}{} [{layers}]", reached(done)),
        },
        Outcome::TimedOut { limit, after_ms } => ConnectorOutcome::TimedOut {
            error: format!(
                "timed out: the {} limit ended the process tree after {after_ms} ms{} [{layers}]",
                limit.as_str(),
                reached(done)
            ),
        },
        Outcome::Killed { signal, cause } => ConnectorOutcome::Unknown {
            error: format!(
                "killed({signal}){}{} [{layers}]",
                cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default(),
                reached(done)
            ),
        },
    };
    Sandboxed { outcome, ran_in, report: Some(report) }
}

/// The sandbox's report of one run, for every ending: what the command left (its exit
/// code or signal, its output as data) and what the sandbox says of it (`sandbox`: the
/// tier, the outcome's label and in full, the layers, the egress attempts, the limits it
/// ran into). A success's result has had this shape from the start; the keys added
/// since (`signal`, `sandbox.ended`, `sandbox.limits_reached`, `sandbox.elapsed_ms`)
/// only add to it.
fn report(done: &Execution) -> Value {
    let exit_code = match done.outcome {
        Outcome::Exited { code } => Value::from(code),
        _ => Value::Null,
    };
    let mut report = json!({
        "exit_code": exit_code,
        "stdout": String::from_utf8_lossy(&done.stdout),
        "stderr": String::from_utf8_lossy(&done.stderr),
        "stdout_dropped_bytes": done.stdout_dropped,
        "stderr_dropped_bytes": done.stderr_dropped,
        "sandbox": {
            "tier": done.tier.as_str(),
            "outcome": done.outcome.label(),
            "ended": done.outcome,
            "layers": done.layers,
            "egress": done.egress,
            "limits_reached": done.limits_reached,
            "elapsed_ms": done.elapsed_ms,
        },
    });
    if let Outcome::Killed { signal, .. } = done.outcome {
        report["signal"] = Value::from(signal);
    }
    report
}

/// The limits the command ran into (`; the process limit (64) was reached: ...`).
fn reached(done: &Execution) -> String {
    done.limits_reached.iter().map(|r| format!("; {r}")).collect()
}

/// The layers in one line, for error texts (the report holds them in full).
fn summary(layers: &Layers) -> String {
    let mut parts = vec![format!("sandbox {}", layers.mode)];
    if !layers.namespaces.is_empty() {
        parts.push(format!("namespaces {}", layers.namespaces.join(",")));
    }
    parts.push(format!("landlock {}", layers.landlock));
    if layers.seccomp {
        parts.push("seccomp".to_owned());
    }
    parts.push(format!("cgroup {}", layers.cgroup));
    if !layers.limits_unenforced.is_empty() {
        parts.push(format!("limits not enforced: {}", layers.limits_unenforced.join(", ")));
    }
    if let Some(reason) = &layers.fallback_reason {
        parts.push(format!("fallback: {reason}"));
    }
    parts.join("; ")
}
