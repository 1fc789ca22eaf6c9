//! Where an agent's shell tool runs its command: the hook input's `cwd`, unless a field of
//! the tool's input names another directory (Gemini CLI's `dir_path`, Codex's `workdir`).
//! Write targets, path arguments and the state guard read relative paths from there, so
//! a field that moves the command elsewhere must never be ignored: one that is not a
//! string, two that disagree, or one the tool does not take (and so might be read by an
//! agent aecl does not know) refuse the call.

use serde_json::Value;

use super::HookInput;
use crate::error::PolicyError;

/// The agents' shell tools, each with the fields of its input that set the directory its
/// command runs in (relative to the hook input's `cwd`).
const SHELL_TOOLS: [(&str, &[&str]); 7] = [
    // Claude Code's `Bash` (and Codex's, through its hooks) runs in the session's `cwd`.
    ("Bash", &[]),
    // Gemini CLI: `dir_path`, formerly `directory`, relative to the project's root.
    ("run_shell_command", &["dir_path", "directory"]),
    // Codex's own tools: `shell` (an argv), `shell_command` and `exec_command` (a line),
    // `container.exec` (the older name of `shell`).
    ("shell", &["workdir"]),
    ("shell_command", &["workdir"]),
    ("exec_command", &["workdir"]),
    ("container.exec", &["workdir"]),
    // Codex's `local_shell` action: `{"type": "exec", "command": [...], ...}`.
    ("local_shell", &["working_directory"]),
];

/// Every name the agents give such a field; on a tool that takes another, it is refused.
const DIR_FIELDS: [&str; 5] = ["dir_path", "directory", "workdir", "working_directory", "cwd"];

/// Whether `tool` (as the agent names it) is one of the agents' shell tools.
pub fn is_shell_tool(tool: &str) -> bool {
    SHELL_TOOLS.iter().any(|(name, _)| *name == tool)
}

impl HookInput {
    /// The directory the tool's command runs in as its input names it, relative to `cwd`
    /// (`None`: `cwd` itself, also for a field that is `null` or empty, which the agents
    /// read as absent). Only shell tools have one; an error refuses the call.
    pub fn command_dir(&self) -> Result<Option<String>, PolicyError> {
        let Some((tool, fields)) = SHELL_TOOLS.iter().find(|(name, _)| *name == self.tool_name)
        else {
            return Ok(None);
        };
        // Codex's `local_shell` nests its parameters in `action`.
        let objects = [Some(&self.tool_input), self.tool_input.get("action")];
        let mut found: Option<(&str, &str)> = None;
        for object in objects.into_iter().flatten().filter_map(Value::as_object) {
            for field in DIR_FIELDS {
                let value = match object.get(field) {
                    None | Some(Value::Null) => continue,
                    Some(value) => value,
                };
                if !fields.contains(&field) {
                    return Err(PolicyError::Hook(format!(
                        "`{tool}` takes no `{field}`, which could set the directory its command \
                         runs in: aecl cannot tell where it runs"
                    )));
                }
                let Value::String(dir) = value else {
                    return Err(PolicyError::Hook(format!(
                        "`{field}` of `{tool}` is not a string: aecl cannot tell where the \
                         command runs"
                    )));
                };
                match found {
                    Some((first, seen)) if seen != dir => {
                        return Err(PolicyError::Hook(format!(
                            "`{first}` and `{field}` of `{tool}` name different directories: \
                             aecl cannot tell where the command runs"
                        )));
                    }
                    _ => found = Some((field, dir.as_str())),
                }
            }
        }
        Ok(found.map(|(_, dir)| dir.to_owned()).filter(|dir| !dir.is_empty()))
    }
}
