//! The path corpus (`test_data/paths/*.toml`, described in its README): each case builds a
//! filesystem layout with real symbolic links in a temporary directory and sends one call
//! through `aecl hook claude-code --policy`, which resolves the path on that filesystem
//! before deciding. Also the issue's end-to-end cases: `work/outlink -> /outside` through
//! the hook with `--server`, and through the MCP gateway in front of a local server.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{repo, run_with_stdin};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile<C> {
    case: Vec<C>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    layout: Vec<String>,
    #[serde(default = "default_tool")]
    tool: String,
    cwd: Option<String>,
    path: String,
    /// The tool's own directory argument (`Glob`'s `path`), when the case gives one.
    base: Option<String>,
    expect: String,
    why: String,
}

fn default_tool() -> String {
    "Write".to_owned()
}

/// The policy of every case: `Write` and `Glob` under `$ROOT/ws` with globs, `Read` under
/// the link `$ROOT/wsl`, `Grep` with a case-sensitive glob and no root.
fn write_policy(dir: &Path, root: &Path) {
    let root = root.display();
    let catalog = format!(
        r#"[actions.Write]
description = "Create or overwrite a file."
effect = "write"
reversibility = "reversible"
compensation = "Write"
[actions.Write.args.file_path]
control = true
path_under = ["{root}/ws"]
path_glob = {{ block = ["*/.git/*", "*/.ssh/*"], require_approval = ["*/.env"] }}

[actions.Read]
description = "Read a file."
effect = "read"
[actions.Read.args.file_path]
path_under = ["{root}/wsl"]

[actions.Glob]
description = "List the files a pattern matches."
effect = "read"
[actions.Glob.args.file_path]
path_under = ["{root}/ws"]
path_glob = {{ block = ["*/.git/*", "*/.ssh/*"], require_approval = ["*/.env"] }}
[actions.Glob.args.pattern]
path_under = ["{root}/ws"]
path_glob = {{ block = ["*/.git/*", "*/.ssh/*"], require_approval = ["*/.env"] }}
[actions.Glob.args.path]
path_under = ["{root}/ws"]

[actions.Grep]
description = "Search a directory."
effect = "read"
[actions.Grep.args.file_path]
path_glob = {{ block = ["*/.git/*"], case_insensitive = false }}
[actions.Grep.args.path]
path_glob = {{ block = ["*/.git/*"], case_insensitive = false }}
"#
    );
    crate::write(dir, "catalog.toml", &catalog);
    crate::write(dir, "policy.toml", "mode = \"enforce\"\n");
    crate::write(
        dir,
        "agents/dev.toml",
        "agent_id = \"dev\"\nallowed_actions = [\"Write\", \"Read\", \"Glob\", \"Grep\"]\n",
    );
}

pub(crate) fn expand(text: &str, root: &Path) -> String {
    text.replace("$ROOT", &root.display().to_string()).replace("LONG", &"x".repeat(5000))
}

/// Makes the base layout and the case's lines under `root`.
pub(crate) fn make_layout(root: &Path, lines: &[String]) {
    for dir in ["ws/sub", "outside"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("ws/a.txt"), "a\n").unwrap();
    std::fs::write(root.join("outside/secret"), "secret\n").unwrap();
    for line in lines {
        let (kind, rest) = line.split_once(' ').unwrap_or_else(|| panic!("layout line `{line}`"));
        match kind {
            "dir" => std::fs::create_dir_all(root.join(rest)).unwrap(),
            "file" => {
                std::fs::create_dir_all(root.join(rest).parent().unwrap()).unwrap();
                std::fs::write(root.join(rest), "file\n").unwrap();
            }
            "link" => {
                let (at, target) = rest.split_once(" -> ").expect("link P -> TARGET");
                let at = root.join(at);
                std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                symlink(expand(target, root), at).unwrap();
            }
            // `hardlink P -> TARGET`: another name of an existing file.
            "hardlink" => {
                let (at, target) = rest.split_once(" -> ").expect("hardlink P -> TARGET");
                let at = root.join(at);
                std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                std::fs::hard_link(root.join(target), at).unwrap();
            }
            // `text P CONTENT`: a file of that line (or lines: a TOML `\n` is one).
            "text" => {
                let (at, content) = rest.split_once(' ').expect("text P CONTENT");
                std::fs::create_dir_all(root.join(at).parent().unwrap()).unwrap();
                std::fs::write(root.join(at), format!("{content}\n")).unwrap();
            }
            // `remove P`: a file removed (after a commit: git still holds it).
            "remove" => std::fs::remove_file(root.join(rest)).unwrap(),
            // `edit P`: a line appended to an existing file.
            "edit" => {
                let mut text = std::fs::read_to_string(root.join(rest)).unwrap();
                text.push_str("edited\n");
                std::fs::write(root.join(rest), text).unwrap();
            }
            // `git DIR`: a repository there, everything in it (not ignored) committed;
            // `commit DIR`: everything committed again; `git-run DIR ARGS...`: git run
            // there with those words (a branch made or switched to).
            "git" | "commit" | "git-run" => {
                let (dir, words) = match kind {
                    "git-run" => rest.split_once(' ').expect("git-run DIR ARGS"),
                    _ => (rest, ""),
                };
                let dir = root.join(dir);
                let words: Vec<&str> = words.split_whitespace().collect();
                // The first commit's message is `layout`, a later one's `again`.
                let steps: &[&[&str]] = match kind {
                    "git" => &[&["init", "-q", "."], &["add", "-A"], &["commit", "-qm", "layout"]],
                    "commit" => &[&["add", "-A"], &["commit", "-qm", "again"]],
                    _ => &[&words],
                };
                for args in steps {
                    let ok = std::process::Command::new("git")
                        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
                        .args(*args)
                        .current_dir(&dir)
                        .env_remove("GIT_DIR")
                        .env_remove("GIT_WORK_TREE")
                        .status()
                        .unwrap()
                        .success();
                    assert!(ok, "git {args:?} in {}", dir.display());
                }
            }
            other => panic!("layout kind `{other}` in `{line}`"),
        }
    }
}

/// The hook's input for a call of `tool` on `path` (with the directory argument `base`)
/// from `cwd`.
fn hook_input(tool: &str, path: &str, base: Option<&str>, cwd: &str) -> String {
    let mut input = json!({"file_path": path, "content": "x\n"});
    if let Some(base) = base {
        input["path"] = json!(base);
    }
    json!({
        "session_id": "paths",
        "cwd": cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": "toolu_paths",
    })
    .to_string()
}

/// Claude Code's decision in the hook's answer, and its reason.
pub(crate) fn decision(stdout: &str) -> (String, String) {
    let answer: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let output = &answer["hookSpecificOutput"];
    let text = |name: &str| output[name].as_str().unwrap_or_default().to_owned();
    (text("permissionDecision"), text("permissionDecisionReason"))
}

fn cases() -> Vec<(String, Case)> {
    corpus("test_data/paths")
}

/// Every `[[case]]` of the TOML files in the repository's directory `dir`, in file order,
/// each with its file's stem (shared by the path and shell-link corpora).
pub(crate) fn corpus<C: serde::de::DeserializeOwned>(dir: &str) -> Vec<(String, C)> {
    let dir = repo(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed: CaseFile<C> =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        out.extend(parsed.case.into_iter().map(|case| (stem.clone(), case)));
    }
    out
}

#[test]
fn path_corpus_is_decided_on_the_resolved_filesystem() {
    let cases = cases();
    assert!(cases.len() >= 80, "only {} path cases", cases.len());
    let mut failures = Vec::new();
    for (file, case) in &cases {
        assert!(
            ["allow", "ask", "deny"].contains(&case.expect.as_str()) && !case.why.is_empty(),
            "{file}: {}: expect must be allow, ask or deny, with a why",
            case.name
        );
        let temp = tempfile::tempdir().unwrap();
        // Canonical: the temporary directory itself must not sit behind a link.
        let root = temp.path().canonicalize().unwrap();
        make_layout(&root, &case.layout);
        let policy = root.join("policy");
        write_policy(&policy, &root);
        let cwd = expand(case.cwd.as_deref().unwrap_or("$ROOT/ws"), &root);
        let base = case.base.as_deref().map(|base| expand(base, &root));
        let input = hook_input(&case.tool, &expand(&case.path, &root), base.as_deref(), &cwd);
        let policy_arg = policy.display().to_string();
        let args = ["hook", "claude-code", "--policy", &policy_arg, "--agent", "dev"];
        let out = run_with_stdin(args, &input);
        let (got, reason) = decision(&out.stdout);
        if got != case.expect {
            failures.push(format!(
                "{file}: {}: expected {}, got {got} ({}): {reason} {}",
                case.name, case.expect, case.why, out.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Claude Code's `Glob` input as it sends it (`pattern`, and `path` for the directory):
/// a pattern that reaches `.git` or climbs out is denied with the rule that caught it; an
/// everyday one is allowed.
#[test]
fn claude_code_glob_patterns_are_checked_as_the_paths_they_match() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().canonicalize().unwrap();
    make_layout(&root, &["dir ws/.git".to_owned(), "link ws/outlink -> $ROOT/outside".to_owned()]);
    write_policy(&root.join("policy"), &root);
    let policy = root.join("policy").display().to_string();
    let ws = root.join("ws").display().to_string();
    let glob = |input: Value| {
        let call = json!({
            "session_id": "globs",
            "cwd": ws,
            "hook_event_name": "PreToolUse",
            "tool_name": "Glob",
            "tool_input": input,
            "tool_use_id": "toolu_glob",
        });
        let args = ["hook", "claude-code", "--policy", &policy, "--agent", "dev"];
        decision(&run_with_stdin(args, &call.to_string()).stdout)
    };
    for (input, rule) in [
        (json!({"pattern": ".gi[t]/*"}), "path_glob"),
        (json!({"pattern": "**/.g?t/config", "path": ws}), "path_glob"),
        (json!({"pattern": "{..,x}/*"}), "path_under"),
        (json!({"pattern": "{src,outlink}/**"}), "path_under"),
    ] {
        let (got, reason) = glob(input.clone());
        assert_eq!(got, "deny", "{input}: {reason}");
        assert!(reason.contains(rule), "{input}: {reason}");
    }
    let (got, reason) = glob(json!({"pattern": "**/.env*", "path": ws}));
    assert_eq!(got, "ask", "{reason}");
    for input in [json!({"pattern": "**/*.rs"}), json!({"pattern": "src/*.{ts,tsx}", "path": ws})] {
        let (got, reason) = glob(input.clone());
        assert_eq!(got, "allow", "{input}: {reason}");
    }
}

/// The issue's layout: a workspace with `outlink -> outside`, and the hook's answer to a
/// `Write` through it and to one beside it.
struct Outlink {
    _temp: tempfile::TempDir,
    root: PathBuf,
    policy: String,
}

impl Outlink {
    fn new() -> Outlink {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().canonicalize().unwrap();
        make_layout(&root, &["link ws/outlink -> $ROOT/outside".to_owned()]);
        write_policy(&root.join("policy"), &root);
        let policy = root.join("policy").display().to_string();
        Outlink { _temp: temp, root, policy }
    }

    fn input(&self, relative: &str) -> String {
        let cwd = self.root.join("ws").display().to_string();
        hook_input("Write", relative, None, &cwd)
    }
}

#[test]
fn claude_code_write_through_outlink_is_denied_locally() {
    let setup = Outlink::new();
    let args = ["hook", "claude-code", "--policy", &setup.policy, "--agent", "dev"];
    let out = run_with_stdin(args, &setup.input("outlink/x"));
    let (got, reason) = decision(&out.stdout);
    assert_eq!(got, "deny", "{reason}");
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(reason.contains("symbolic link"), "{reason}");
    assert!(reason.contains(&setup.root.join("outside/x").display().to_string()), "{reason}");
    assert!(!setup.root.join("outside/x").exists());
    let (got, reason) = decision(&run_with_stdin(args, &setup.input("notes/x")).stdout);
    assert_eq!(got, "allow", "{reason}");
}

#[test]
fn claude_code_write_through_outlink_is_denied_by_a_server() {
    use crate::serve::{issue, keys, serve};
    let setup = Outlink::new();
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let token = issue(dir.path(), &["--agent", "dev", "--policy", &setup.policy]);
    let token_file = dir.path().join("agent.token");
    std::fs::write(&token_file, &token).unwrap();
    let (_server, address) = serve(dir.path(), &setup.policy, &[]);
    let server = format!("http://{address}");
    let token_arg = token_file.display().to_string();
    let args = ["hook", "claude-code", "--server", &server, "--token-file", &token_arg];
    let (got, reason) = decision(&run_with_stdin(args, &setup.input("outlink/x")).stdout);
    assert_eq!(got, "deny", "{reason}");
    assert!(reason.contains("symbolic link"), "{reason}");
    let (got, reason) = decision(&run_with_stdin(args, &setup.input("notes/x")).stdout);
    assert_eq!(got, "allow", "{reason}");

    // The server cannot see the agent's filesystem: without the resolutions `aecl hook`
    // adds, Claude Code's own HTTP hook gets the lexical check alone (documented).
    let (status, answer) = crate::serve::request(
        &address,
        "POST",
        "/v1/hooks/claude-code",
        Some(&token),
        &[],
        &setup.input("outlink/x"),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "allow", "{answer}");
    // A client's resolutions can only tighten: claiming `/etc/passwd` resolves inside
    // changes nothing.
    let mut forged: Value = serde_json::from_str(&setup.input("/etc/passwd")).unwrap();
    let inside = setup.root.join("ws/passwd").display().to_string();
    forged["aecl_resolved_paths"] = json!({"/etc/passwd": {"path": inside}});
    let (status, answer) = crate::serve::request(
        &address,
        "POST",
        "/v1/hooks/claude-code",
        Some(&token),
        &[],
        &forged.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny", "{answer}");
}

#[test]
fn mcp_gateway_resolves_paths_for_a_local_server() {
    use crate::mcp::{Setup, python_client};
    let setup = Setup::new();
    let root = setup.root();
    let outside = setup.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, root.join("outlink")).unwrap();
    // The echo tool's `text` is held under the served root like a path argument.
    let catalog = setup.path().join("policy/catalog.toml");
    let mut text = std::fs::read_to_string(&catalog).unwrap();
    text.push_str(&format!(
        "\n[actions.fs__echo.args.text]\npath_under = [\"{}\"]\n",
        root.display()
    ));
    std::fs::write(&catalog, text).unwrap();
    let call = |path: &Path| json!({"tool": "echo", "arguments": {"text": path}});
    let plan = json!([call(&root.join("notes.txt")), call(&root.join("outlink/x"))]);
    let server = setup.echo_server("Echo the text.");
    let report = python_client("legacy", &plan, &setup.gateway("run-paths", &server));
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls[0]["isError"], false, "{report}");
    assert_eq!(calls[1]["isError"], true, "{report}");
    let refusal = calls[1]["text"].as_str().unwrap();
    assert!(refusal.contains("arguments.path_under"), "{refusal}");
    assert!(refusal.contains("symbolic link"), "{refusal}");
}
