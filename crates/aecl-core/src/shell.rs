//! Shell command arguments: parsed and normalised before rules match.
//!
//! PLACEHOLDER until the shell analyser lands: every command is blocked (fail closed).

use crate::constraint::Violation;
use crate::verdict::Decision;

/// A command pattern such as `rm --recursive` or `git push --force`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandPattern {
    pub text: String,
}

impl CommandPattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<CommandPattern, String> {
        Ok(CommandPattern { text: text.to_owned() })
    }
}

/// The rules for a shell command argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellRules {
    pub block: Vec<CommandPattern>,
    pub require_approval: Vec<CommandPattern>,
    /// When not empty, only these programs may run; others get `unlisted`.
    pub allow_programs: Vec<String>,
    pub unlisted: Decision,
    /// A command whose program cannot be known without running it (`$(echo rm)`, `$CMD`).
    pub dynamic: Decision,
}

impl ShellRules {
    pub fn check(&self, command: &str, out: &mut Vec<Violation>) {
        out.push(Violation {
            rule: "shell",
            decision: Decision::Block,
            message: format!("shell analysis is not available; `{command}` is blocked"),
        });
    }
}
