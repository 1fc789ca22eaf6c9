//! Codex's `exec_command` names what it runs in more fields than `cmd` (red team round 27,
//! hooks K3): `kind = "script"` runs `script_body` (or `cmd`), `kind = "argv"` runs
//! `program` with `args` and no shell, `kind = "powershell_script"` runs PowerShell, and
//! `shell` picks the program that reads a script. The catalog's shell rules judge `cmd`,
//! so a call that put its command elsewhere ran it unjudged.
//!
//! Before a call is judged, its input is brought to the one shape the rules read: the
//! command that runs, as a line, in `cmd`. A call whose fields disagree (a `cmd` and a
//! different `script_body`), a kind aecl cannot read (PowerShell, a kind it does not
//! know), a `shell` that is not a POSIX shell from a system directory (`python3`,
//! `/tmp/x/bash`) or a command that runs in another environment (`environment_id`) is
//! refused: aecl cannot say what would run.

use serde_json::Value;

use super::HookInput;
use crate::error::PolicyError;

/// The tool with these fields, and the field the catalog's shell rules read.
const TOOL: &str = "exec_command";
const COMMAND: &str = "cmd";

/// The shells whose language the shell rules read.
const SHELLS: [&str; 4] = ["bash", "sh", "zsh", "dash"];

/// Where a `shell` given as a path may be: the system's own directories.
const SYSTEM_DIRS: [&str; 5] = ["/bin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/sbin"];

impl HookInput {
    /// Puts the command an `exec_command` call runs into its `cmd`, or refuses the call when
    /// what runs cannot be told (see the module's documentation). Other tools are left as
    /// they are.
    pub fn normalise_exec_command(&mut self) -> Result<(), PolicyError> {
        if self.tool_name != TOOL {
            return Ok(());
        }
        let Some(input) = self.tool_input.as_object_mut() else {
            return Ok(());
        };
        let refuse = |why: String| Err(PolicyError::Hook(format!("`{TOOL}`: {why}")));
        let text = |name: &str| -> Result<Option<String>, PolicyError> {
            match input.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(PolicyError::Hook(format!(
                    "`{TOOL}`: `{name}` must be a string, got {other}: aecl cannot tell what runs"
                ))),
            }
        };
        if let Some(environment) = text("environment_id")? {
            return refuse(format!(
                "the command runs in the environment `{environment}`, whose files and \
                 programs aecl cannot see"
            ));
        }
        let shell = text("shell")?;
        if let Some(shell) = &shell
            && !is_system_shell(shell)
        {
            return refuse(format!(
                "`shell` is `{shell}`: only bash, sh, zsh or dash, by name or from a system \
                 directory, read a script as the shell rules do"
            ));
        }
        let cmd = text(COMMAND)?;
        let line = match text("kind")?.as_deref() {
            None | Some("script") => match (cmd, text("script_body")?) {
                (Some(cmd), Some(body)) if cmd != body => {
                    return refuse(
                        "`cmd` and `script_body` name different commands: aecl cannot tell \
                         which runs"
                            .to_owned(),
                    );
                }
                (Some(line), _) | (None, Some(line)) => line,
                (None, None) => return Ok(()),
            },
            Some("argv") => {
                let Some(program) = text("program")? else {
                    return refuse("`kind` is `argv` without a `program`".to_owned());
                };
                let args = match input.get("args") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items.clone(),
                    Some(other) => {
                        return refuse(format!("`args` must be a list of strings, got {other}"));
                    }
                };
                let words = std::iter::once(Value::String(program)).chain(args);
                let mut quoted = Vec::new();
                for word in words {
                    let Value::String(word) = word else {
                        return refuse(format!("`args` must be a list of strings, got {word}"));
                    };
                    quoted.push(aecl_core::shell::quote_word(&word));
                }
                let line = quoted.join(" ");
                if cmd.as_ref().is_some_and(|cmd| *cmd != line) {
                    return refuse(
                        "`cmd` and `program` with `args` name different commands: aecl cannot \
                         tell which runs"
                            .to_owned(),
                    );
                }
                line
            }
            Some(kind) => {
                return refuse(format!(
                    "`kind` is `{kind}`: aecl reads scripts for POSIX shells and argv lists, \
                     not this"
                ));
            }
        };
        input.insert(COMMAND.to_owned(), Value::String(line));
        Ok(())
    }
}

/// Whether `shell` names a shell whose language the rules read: by name (found on the
/// `PATH` Codex runs with) or by its path in a system directory.
fn is_system_shell(shell: &str) -> bool {
    let (dir, name) = shell.rsplit_once('/').unwrap_or(("", shell));
    SHELLS.contains(&name) && (dir.is_empty() && !shell.contains('/') || SYSTEM_DIRS.contains(&dir))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::hook::HookInput;

    fn normalised(input: Value) -> Result<Value, String> {
        let text = json!({
            "session_id": "s1", "cwd": "/w", "hook_event_name": "PreToolUse",
            "tool_name": "exec_command", "tool_input": input,
        })
        .to_string();
        let mut hook = HookInput::parse(&text, "PreToolUse").map_err(|e| e.to_string())?;
        hook.normalise_exec_command().map_err(|e| e.to_string())?;
        Ok(hook.tool_input["cmd"].clone())
    }

    #[test]
    fn the_command_that_runs_is_the_one_judged() {
        for (input, cmd) in [
            (json!({"cmd": "git status"}), "git status"),
            (json!({"cmd": "ls", "shell": "/bin/bash", "login": true}), "ls"),
            (json!({"cmd": "ls", "shell": "zsh"}), "ls"),
            (json!({"kind": "script", "script_body": "rm -rf .git"}), "rm -rf .git"),
            (json!({"cmd": "ls", "script_body": "ls"}), "ls"),
            (json!({"kind": "argv", "program": "rm", "args": ["-rf", "a b"]}), "rm -rf 'a b'"),
            (json!({"kind": "argv", "program": "ls"}), "ls"),
        ] {
            assert_eq!(normalised(input.clone()).unwrap(), json!(cmd), "{input}");
        }
    }

    #[test]
    fn a_call_whose_command_cannot_be_told_is_refused() {
        for input in [
            json!({"cmd": "ls", "script_body": "rm -rf ~"}),
            json!({"cmd": "ls", "kind": "argv", "program": "rm", "args": ["-rf", "/"]}),
            json!({"kind": "argv", "args": ["x"]}),
            json!({"kind": "argv", "program": "rm", "args": "-rf /"}),
            json!({"kind": "argv", "program": "rm", "args": [1]}),
            json!({"kind": "powershell_script", "script_body": "Remove-Item -Recurse C:\\"}),
            json!({"kind": "lua", "cmd": "ls"}),
            json!({"cmd": "import os", "shell": "python3"}),
            json!({"cmd": "ls", "shell": "/tmp/evil/bash"}),
            json!({"cmd": "ls", "shell": "./bash"}),
            json!({"cmd": "ls", "shell": "pwsh"}),
            json!({"cmd": "ls", "environment_id": "remote-1"}),
            json!({"cmd": ["rm", "-rf", "/"]}),
        ] {
            assert!(normalised(input.clone()).is_err(), "{input}");
        }
    }
}
