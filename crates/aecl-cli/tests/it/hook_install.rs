//! `aecl hook install` and `aecl hook doctor` on a temporary project and home: the
//! settings each agent reads get aecl's hooks next to what was there, a second install
//! changes nothing, and doctor runs the installed command for real.

use std::path::Path;

use serde_json::{Value, json};

use crate::{Outcome, repo, run_with_stdin_env, temp_dir};

fn policy() -> String {
    repo("crates/aecl-cli/tests/claude_code/policy").display().to_string()
}

fn aecl_in(home: &Path, args: &[&str]) -> Outcome {
    let home = home.display().to_string();
    run_with_stdin_env(args, "", &[("HOME", Some(&home))])
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the settings")).expect("JSON")
}

#[test]
fn install_merges_into_claude_code_settings_and_is_idempotent() {
    let project = temp_dir();
    let settings = project.path().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let before = json!({
        "model": "opus",
        "permissions": {"allow": ["Bash(ls:*)"]},
        "hooks": {"PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "prettier --write"}]}]}
    });
    std::fs::write(&settings, before.to_string()).unwrap();
    let dir = project.path().display().to_string();
    let args = [
        "hook",
        "install",
        "claude-code",
        "--project",
        &dir,
        "--policy",
        &policy(),
        "--agent",
        "coder",
    ];
    let out = aecl_in(project.path(), &args);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let after = read(&settings);
    assert_eq!(after["model"], "opus");
    assert_eq!(after["permissions"], before["permissions"]);
    let post = after["hooks"]["PostToolUse"].as_array().unwrap();
    assert_eq!(post.len(), 2, "{after:#}");
    assert_eq!(post[0]["hooks"][0]["command"], "prettier --write");
    assert_eq!(post[1]["matcher"], "*");
    for event in ["PreToolUse", "PostToolUse", "UserPromptSubmit", "SessionEnd"] {
        let groups = after["hooks"][event].as_array().unwrap();
        let command = groups.last().unwrap()["hooks"][0]["command"].as_str().unwrap();
        assert!(command.starts_with('/'), "{command}");
        assert!(command.contains(" hook claude-code --policy /"), "{command}");
    }
    assert!(after["hooks"]["UserPromptSubmit"][0].get("matcher").is_none());
    // Fail closed before a call; never block the session after one.
    let pre = after["hooks"]["PreToolUse"].as_array().unwrap().last().unwrap();
    assert_eq!(pre["hooks"][0]["onFailure"], "block", "{after:#}");
    for event in ["PostToolUse", "UserPromptSubmit", "SessionEnd"] {
        let entry = &after["hooks"][event].as_array().unwrap().last().unwrap()["hooks"][0];
        assert!(entry.get("onFailure").is_none(), "{event}: {entry}");
    }
    let text = std::fs::read_to_string(&settings).unwrap();
    let again = aecl_in(project.path(), &args);
    assert_eq!(again.code, Some(0), "{again:#?}");
    assert!(again.stdout.contains("not changed"), "{again:#?}");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), text);
    // The installed hook works.
    let doctor = aecl_in(project.path(), &["hook", "doctor", "claude-code", "--project", &dir]);
    assert_eq!(doctor.code, Some(0), "{doctor:#?}");
    assert_eq!(doctor.stdout.lines().filter(|l| l.starts_with("ok ")).count(), 5, "{doctor:#?}");
    // Settings that kept only the call's hook (the events after it removed): the outputs
    // the agent reads, a failed command's among them, would go unrecorded.
    let mut kept: Value = read(&settings);
    for event in ["PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "SessionEnd"] {
        kept["hooks"].as_object_mut().unwrap().remove(event);
    }
    std::fs::write(&settings, kept.to_string()).unwrap();
    let doctor = aecl_in(project.path(), &["hook", "doctor", "claude-code", "--project", &dir]);
    assert_eq!(doctor.code, Some(1), "{doctor:#?}");
    let line = doctor.stdout.lines().find(|l| l.starts_with("FAIL  events")).unwrap_or_default();
    for event in ["PostToolUse", "PostToolUseFailure", "UserPromptSubmit"] {
        assert!(line.contains(&format!("`hooks.{event}`")), "{doctor:#?}");
    }
    assert!(!line.contains("SessionEnd"), "{doctor:#?}");
}

#[test]
fn install_for_the_user_writes_codex_and_gemini_settings_under_home() {
    let home = temp_dir();
    let token = home.path().join("agent.token");
    std::fs::write(&token, "t").unwrap();
    let token = token.display().to_string();
    for agent in ["codex", "gemini"] {
        let args = [
            "hook",
            "install",
            agent,
            "--user",
            "--server",
            "http://127.0.0.1:9",
            "--token-file",
            &token,
        ];
        let out = aecl_in(home.path(), &args);
        assert_eq!(out.code, Some(0), "{out:#?}");
    }
    let codex = read(&home.path().join(".codex/hooks.json"));
    for event in ["PreToolUse", "PostToolUse", "UserPromptSubmit"] {
        let command = codex["hooks"][event][0]["hooks"][0]["command"].as_str().unwrap();
        assert!(
            command.contains(" hook codex --server http://127.0.0.1:9 --token-file /"),
            "{command}"
        );
    }
    let gemini = read(&home.path().join(".gemini/settings.json"));
    assert_eq!(gemini["hooks"]["BeforeTool"][0]["matcher"], ".*");
    assert_eq!(gemini["hooks"]["BeforeTool"][0]["hooks"][0]["timeout"], 30000);
    for event in ["AfterTool", "BeforeAgent", "SessionEnd"] {
        assert!(gemini["hooks"][event][0]["hooks"][0]["command"].is_string(), "{gemini:#}");
    }
    // Nothing answers on port 9: doctor says so and fails.
    let doctor = aecl_in(home.path(), &["hook", "doctor", "gemini", "--user"]);
    assert_eq!(doctor.code, Some(1), "{doctor:#?}");
    assert!(doctor.stdout.contains("FAIL  policy or server"), "{doctor:#?}");
    assert!(doctor.stdout.contains("ok    configured"), "{doctor:#?}");
}

#[test]
fn doctor_fails_when_nothing_is_installed_or_the_policy_is_broken() {
    let project = temp_dir();
    let dir = project.path().display().to_string();
    let out = aecl_in(project.path(), &["hook", "doctor", "claude-code", "--project", &dir]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stdout.contains("FAIL  configured"), "{out:#?}");
    // A policy directory that no longer loads.
    let broken = project.path().join("policy");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("policy.toml"), "this is = = not toml").unwrap();
    let broken = broken.display().to_string();
    let args = [
        "hook",
        "install",
        "claude-code",
        "--project",
        &dir,
        "--policy",
        &broken,
        "--agent",
        "coder",
    ];
    assert_eq!(aecl_in(project.path(), &args).code, Some(0));
    let out = aecl_in(project.path(), &["hook", "doctor", "claude-code", "--project", &dir]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stdout.contains("FAIL  policy or server"), "{out:#?}");
    // The hook still answers, with a well-formed deny: the agent blocks every call.
    assert!(out.stdout.contains("answered `deny` (exit 2)"), "{out:#?}");
    // Settings that are not JSON are left alone.
    let settings = project.path().join(".claude/settings.json");
    std::fs::write(&settings, "{ not json").unwrap();
    let out = aecl_in(project.path(), &args);
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{ not json");
}
