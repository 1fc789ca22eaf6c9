//! The `aecl` binary: the operator CLI, and the only place that reads files, the clock and
//! the environment for the decision path.

mod agent_token;
mod approvals;
mod audit;
mod audit_tail;
mod check;
mod effects;
mod eval;
mod explain;
mod hook;
mod input;
mod keys;
mod log_reader;
mod logging;
mod mcp;
mod oidc;
mod otlp;
mod policy_tests;
mod progress;
mod proof;
mod record;
mod reload;
mod replay;
mod rollback;
mod sandbox;
mod serve;
mod table;
mod token;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: a decision allocates and frees a few hundred small
/// values on threads that hand them to each other (request parsing on a tokio worker, the
/// audit batch on the store's writer), where glibc's arenas and chunk consolidation took
/// 18 % of the server's CPU (bench/README.md, "session 12: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "aecl",
    version,
    about = "Agent Execution Control Layer: decides whether an agent's tool call should happen",
    after_help = "Logs go to standard error. AECL_LOG filters them, in the `tracing` EnvFilter \
                  syntax: `AECL_LOG=debug`, `AECL_LOG=warn,aecl::decision=info` (one line per \
                  decision), `AECL_LOG=info,aecl::approval=off`. Colour is used only when \
                  standard error is a terminal."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// The options of every command.
#[derive(Debug, clap::Args)]
struct Global {
    /// How log lines are written on standard error: `text`, or `json` (one object a line,
    /// for a log collector). Filtered by `AECL_LOG`.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a policy directory (Cedar rules validated against the catalog's schema), run
    /// the examples embedded in its catalog and the test files of `DIR/tests/`.
    Check {
        /// The policy directory.
        dir: PathBuf,
        /// Print the Cedar schema generated from the catalog, which the `.cedar` rules are
        /// validated against, and nothing else.
        #[arg(long)]
        emit_cedar_schema: bool,
    },
    /// Run the policy's test files (`DIR/tests/*.toml`): calls with the decision and rules
    /// each must get; exit 1 when any fails.
    Test(policy_tests::TestArgs),
    /// Decide one call and print the verdict.
    Eval(eval::EvalArgs),
    /// Run a recorded trace (JSON Lines) through a policy.
    Replay(replay::ReplayArgs),
    /// Manage the key that signs audit checkpoints.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Verify, export, follow and prove the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Serve the HTTP API.
    Serve(serve::ServeArgs),
    /// Answer approval requests through a running `aecl serve` (an approver token).
    Approvals(approvals::ApprovalsArgs),
    /// Undo an effect, or a run's effects newest first, through a running `aecl serve`.
    Rollback(rollback::RollbackArgs),
    /// Effects in the ledger: reconcile those left `outcome_unknown`, through a running
    /// `aecl serve`.
    #[command(subcommand)]
    Effects(effects::EffectsCommand),
    /// Keep the audit log's checkpoints outside its store: take each one that the log's key
    /// signed and that extends the last one held (C2SP tlog-witness `add-checkpoint`).
    Witness(witness::WitnessArgs),
    /// Mint tokens for agents, approvers and administrators.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Serve an MCP server through aecl: listed tools are callable ones, every call is
    /// decided, recorded and executed through the engine.
    Mcp(Box<mcp::McpArgs>),
    /// Answer an agent's pre-tool hook (stdin to stdout), locally from a policy or through
    /// a running `aecl serve`; fails closed.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Run one command in a sandbox (exit code and output passed through), or say which
    /// sandbox tiers work on this host.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
}

/// `aecl hook ...` parsed alone. An agent starts the hook afresh for every tool call, and
/// building [`Cli`]'s whole command tree (every subcommand's arguments and help) for it
/// was about a fifth of the hook's start. The same [`hook::HookCommand`] with the same
/// global option, so the two parse a hook's command line alike (a test checks).
#[derive(Debug, Parser)]
#[command(name = "aecl", bin_name = "aecl", version)]
struct HookCli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: HookOnly,
}

#[derive(Debug, Subcommand)]
enum HookOnly {
    /// Answer an agent's pre-tool hook (stdin to stdout), locally from a policy or through
    /// a running `aecl serve`; fails closed.
    #[command(subcommand)]
    Hook(hook::HookCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a signed, short-lived token (a JWT).
    Issue(token::IssueArgs),
    /// Revoke a token by its id, or an agent's key, through a running `aecl serve`.
    Revoke(token::RevokeArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a new Ed25519 key pair for checkpoints.
    Generate(keys::GenerateArgs),
}

/// Exit codes: 0 success, 1 `check` found problems, `test` a failing test, `replay --diff`
/// a differing decision; 2 bad input or usage.
fn main() -> ExitCode {
    // Started by the sandbox launcher as its helper (`argv[0]` is `aecl-sandbox`): the one
    // binary is then a complete install.
    if let Some(code) = aecl_sandbox::helper::run_as_helper() {
        return ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
    }
    if std::env::args_os().nth(1).is_some_and(|first| first == "hook") {
        let cli = HookCli::parse();
        logging::set_format(cli.global.log_format);
        let HookOnly::Hook(command) = cli.command;
        return exit_code(hook::run(&command));
    }
    let cli = Cli::parse();
    logging::set_format(cli.global.log_format);
    let result = match cli.command {
        Command::Check { dir, emit_cedar_schema } => check::run(&dir, emit_cedar_schema),
        Command::Test(args) => policy_tests::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Keys(KeysCommand::Generate(args)) => keys::generate(&args),
        Command::Audit(command) => audit::run(&command),
        Command::Token(TokenCommand::Issue(args)) => token::issue(&args),
        Command::Token(TokenCommand::Revoke(args)) => token::revoke(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Mcp(args) => mcp::run(&args),
        Command::Approvals(args) => approvals::run(&args),
        Command::Rollback(args) => rollback::run(&args),
        Command::Effects(command) => effects::run(&command),
        Command::Sandbox(command) => sandbox::run(&command),
        Command::Witness(args) => witness::run(&args),
        Command::Hook(command) => hook::run(&command),
    };
    exit_code(result)
}

/// The process's exit code for a command's result; an error is reported on stderr.
fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            #[expect(clippy::print_stderr, reason = "the binary reports its own errors")]
            {
                eprintln!("error: {error:#}");
            }
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command, HookCli, HookOnly};

    /// A parse: the hook command and log format, or the error's kind and text.
    type Parsed = Result<String, (clap::error::ErrorKind, String)>;

    /// Each line as the whole CLI reads it and as the hook's own parser does.
    fn both(line: &str) -> (Parsed, Parsed) {
        let argv: Vec<&str> = line.split(' ').collect();
        let whole =
            Cli::try_parse_from(&argv).map_err(|e| (e.kind(), e.to_string())).map(|cli| match cli
                .command
            {
                Command::Hook(command) => format!("{command:?} {:?}", cli.global.log_format),
                other => panic!("`{line}` parsed as {other:?}"),
            });
        let alone =
            HookCli::try_parse_from(&argv).map_err(|e| (e.kind(), e.to_string())).map(|cli| {
                let HookOnly::Hook(command) = cli.command;
                format!("{command:?} {:?}", cli.global.log_format)
            });
        (whole, alone)
    }

    #[test]
    fn the_hooks_own_parser_reads_a_hook_command_line_as_the_whole_cli_does() {
        HookCli::command().debug_assert();
        for line in [
            "aecl hook claude-code --policy p --agent coder",
            "aecl hook claude-code --policy p --agent coder --state-dir s --log-format json",
            "aecl hook codex --server http://127.0.0.1:1 --token-file t --timeout 3",
            "aecl hook gemini --server http://127.0.0.1:1 --agent-key k",
            "aecl hook install claude-code --project . --policy p --agent coder",
            "aecl hook doctor gemini --user",
            // Refused alike.
            "aecl hook claude-code",
            "aecl hook claude-code --policy p",
            "aecl hook claude-code --policy p --agent a --server http://x",
            "aecl hook codex --agent-key k --token-file t --server http://x",
            "aecl hook install claude-code --policy p --agent a",
            "aecl hook nope",
            "aecl hook",
            "aecl hook --help",
            "aecl hook claude-code --help",
        ] {
            let (whole, alone) = both(line);
            assert_eq!(whole, alone, "`{line}`");
        }
        assert!(both("aecl hook claude-code --policy p --agent coder").0.is_ok());
    }
}
