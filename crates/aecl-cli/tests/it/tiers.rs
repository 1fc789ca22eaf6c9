//! Sandbox tiers chosen by policy, end to end through `aecl serve` and the `shell`
//! connector: a build agent's commands run in the process tier until the run has read
//! untrusted content (a command's own output, here), then in gVisor; an agent whose
//! manifest demands a microVM is blocked on a host that cannot boot one, with the probe's
//! reason, and nothing runs. The answers and the audit records name the tier.

use std::path::Path;

use serde_json::{Value, json};

use crate::rollback::http;
use crate::serve::{issue, keys, request, serve};
use crate::{copy_dir, repo, temp_dir, write};

const BUILDER_RULE: &str = r#"
[[sandbox.rules]]
effects = ["exec"]
when = "untrusted_content"
tier = "gvisor"
"#;

const STRANGER: &str = r#"
agent_id = "stranger"
description = "Runs commands from content nobody vouches for: only ever in a VM."
allowed_actions = ["run_command"]

[sandbox]
tier = "microvm"
"#;

fn execute(address: &str, agent: &str, run: &str, id: &str, command: &str) -> Value {
    let call =
        json!({ "run": run, "id": id, "action": "run_command", "args": { "command": command } });
    let (status, answer) = http(address, "/v1/execute", agent, &[], &call);
    assert_eq!(status, 200, "{answer}");
    answer
}

#[test]
fn the_policy_picks_the_tier_and_a_tier_the_host_lacks_blocks_the_call() {
    let aecl = Path::new(env!("CARGO_BIN_EXE_aecl"));
    assert!(aecl.with_file_name("aecl-sandbox").is_file(), "build the aecl-sandbox helper first");
    let dir = temp_dir();
    keys(dir.path());
    let example = dir.path().join("example");
    copy_dir(&repo("examples/sandbox"), &example);
    let builder = example.join("policy/agents/builder.toml");
    let manifest = std::fs::read_to_string(&builder).unwrap() + BUILDER_RULE;
    std::fs::write(&builder, manifest).unwrap();
    write(&example.join("policy/agents"), "stranger.toml", STRANGER);
    // The microVM image named is not there: the tier cannot work, whatever the host.
    let connectors = write(
        &example,
        "connectors.toml",
        "[connectors.sandbox]\nkind = \"shell\"\ntimeout_secs = 20\nmicrovm_image = \"no-image\"\n",
    );
    let policy = example.join("policy").display().to_string();
    let builder = issue(dir.path(), &["--agent", "builder", "--policy", &policy]);
    let stranger = issue(dir.path(), &["--agent", "stranger", "--policy", &policy]);
    let admin = issue(dir.path(), &["--admin", "root"]);
    let connectors = connectors.display().to_string();
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);

    // Nothing untrusted read yet: the process tier.
    let first = execute(&address, &builder, "build-1", "c1", "echo first");
    assert_eq!(first["decision"], "allow", "{first}");
    assert!(first.get("sandbox").is_none(), "no tier is required yet: {first}");
    assert_eq!(first["effect"]["result"]["sandbox"]["tier"], "process", "{first}");

    // The first command's output is untrusted content: the run's next command runs in gVisor.
    let second = execute(&address, &builder, "build-1", "c2", "echo second; cat /proc/version");
    assert_eq!(second["decision"], "allow", "{second}");
    assert_eq!(second["sandbox"]["tier"], "gvisor", "{second}");
    assert!(second["sandbox"]["because"].as_str().unwrap().contains("untrusted"), "{second}");
    let result = &second["effect"]["result"];
    assert_eq!(result["sandbox"]["tier"], "gvisor", "{second}");
    assert!(result["stdout"].as_str().unwrap().starts_with("second\n"), "{second}");

    // A tier this host cannot run blocks the call before anything runs.
    let blocked = execute(&address, &stranger, "other-1", "c1", "echo never");
    assert_eq!(blocked["decision"], "block", "{blocked}");
    assert!(blocked.get("effect").is_none_or(Value::is_null), "{blocked}");
    let reason = blocked["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "sandbox.tier_unavailable")
        .unwrap_or_else(|| panic!("no sandbox reason: {blocked}"));
    assert_eq!(reason["stage"], "sandbox");
    let message = reason["message"].as_str().unwrap();
    assert!(message.contains("`microvm`") && message.contains("no-image/vmlinuz"), "{message}");

    // The audit log says which tier each call was to run in and ran in.
    let (status, records) =
        request(&address, "GET", "/v1/audit/records?limit=1000", Some(&admin), &[], "");
    assert_eq!(status, 200, "{records}");
    let records: Vec<&Value> =
        records["records"].as_array().unwrap().iter().map(|r| &r["record"]).collect();
    let find = |kind: &str, run: &str, call: &str| {
        records
            .iter()
            .find(|r| r["kind"] == kind && r["run"] == run && r["call_id"] == call)
            .unwrap_or_else(|| panic!("no {kind} record of {run}/{call}"))
    };
    assert_eq!(find("outcome", "build-1", "c1")["sandbox_id"], "process");
    assert_eq!(find("decision", "build-1", "c2")["sandbox_id"], "gvisor");
    assert_eq!(find("outcome", "build-1", "c2")["sandbox_id"], "gvisor");
    let refused = find("decision", "other-1", "c1");
    assert_eq!(refused["decision"], "block");
    assert_eq!(refused["sandbox_id"], Value::Null);
    assert!(
        !records.iter().any(|r| r["kind"] == "outcome" && r["run"] == "other-1"),
        "nothing ran for the blocked call"
    );
}
