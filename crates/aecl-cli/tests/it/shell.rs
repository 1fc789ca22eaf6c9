//! The `shell` connector end to end, against a real `aecl serve` with the policy of
//! `examples/sandbox`: an allowed command runs in the process-tier sandbox and the
//! answer and the audit record say which isolation layers were active; the network is
//! closed while the configured host works through the egress proxy (the issue's scenario
//! 3); the call's timeout ends the process tree and is recorded as such; a command the
//! policy blocks never reaches the sandbox.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use serde_json::{Value, json};

use crate::rollback::http;
use crate::serve::{issue, keys, request, serve};
use crate::{copy_dir, repo, temp_dir, write};

/// A one-answer-per-connection HTTP server on the host's loopback; returns its port.
fn serve_http(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// The example with its connector allowing `allowed_port` on the host and a 2 s timeout.
fn example(dir: &Path, allowed_port: u16) -> (String, String) {
    copy_dir(&repo("examples/sandbox"), dir);
    let connectors = write(
        dir,
        "connectors.toml",
        &format!(
            "[connectors.sandbox]\nkind = \"shell\"\ntimeout_secs = 2\n\
             allow_hosts = [\"127.0.0.1:{allowed_port}\"]\n"
        ),
    );
    (dir.join("policy").display().to_string(), connectors.display().to_string())
}

fn execute(address: &str, agent: &str, id: &str, command: &str) -> Value {
    execute_as(address, agent, id, "run_command", command)
}

fn execute_as(address: &str, agent: &str, id: &str, action: &str, command: &str) -> Value {
    let call =
        json!({ "run": "build-1", "id": id, "action": action, "args": { "command": command } });
    let (status, answer) = http(address, "/v1/execute", agent, &[], &call);
    assert_eq!(status, 200, "{answer}");
    answer
}

#[test]
fn commands_run_sandboxed_and_the_audit_says_how() {
    let aecl = Path::new(env!("CARGO_BIN_EXE_aecl"));
    assert!(aecl.with_file_name("aecl-sandbox").is_file(), "build the aecl-sandbox helper first");
    let allowed = serve_http("hello through the proxy");
    let dir = temp_dir();
    keys(dir.path());
    let (policy, connectors) = example(&dir.path().join("example"), allowed);
    // The same connector for an action declared `read`.
    let catalog = Path::new(&policy).join("catalog.toml");
    let mut text = std::fs::read_to_string(&catalog).unwrap();
    text.push_str(
        "\n[actions.inspect]\ndescription = \"Look at things.\"\neffect = \"read\"\n\
         reversibility = \"none\"\nconnector = \"sandbox\"\n\
         [actions.inspect.args.command]\ncontrol = true\n\
         [actions.inspect.args.command.shell]\nblock = [\"sudo\"]\nuploads = \"allow\"\n",
    );
    std::fs::write(&catalog, text).unwrap();
    let builder = Path::new(&policy).join("agents/builder.toml");
    let text = std::fs::read_to_string(&builder).unwrap();
    let text = text.replace(r#"["run_command"]"#, r#"["run_command", "inspect"]"#);
    std::fs::write(&builder, text).unwrap();
    let agent = issue(dir.path(), &["--agent", "builder", "--policy", &policy]);
    let admin = issue(dir.path(), &["--admin", "root"]);
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);

    // An ordinary command: it runs, in every layer.
    let done = execute(&address, &agent, "c1", "echo hello; hostname; ls /");
    assert_eq!(done["decision"], "allow", "{done}");
    assert_eq!(done["effect"]["state"], "succeeded", "{done}");
    let result = &done["effect"]["result"];
    assert_eq!(result["exit_code"], 0);
    assert!(result["stdout"].as_str().unwrap().starts_with("hello\naecl-sandbox\n"), "{result}");
    assert!(
        !result["stdout"].as_str().unwrap().contains("home"),
        "the host's / is not visible: {result}"
    );
    let layers = &result["sandbox"]["layers"];
    assert_eq!(layers["mode"], "namespaces", "{result}");
    assert_eq!(layers["seccomp"], true);
    assert_eq!(layers["landlock"], "fully_enforced");

    // Scenario 3: no network but the allowed host, through the egress proxy. The user names
    // it: curl's error below repeats it in untrusted output, which would otherwise make it
    // the output's for the next call (data flow reads a command's destinations).
    let user = json!({ "type": "user", "text": format!("check http://127.0.0.1:{allowed}/") });
    let (status, answer) = http(&address, "/v1/runs/build-1/events", &agent, &[], &user);
    assert_eq!(status, 200, "{answer}");
    let done = execute(
        &address,
        &agent,
        "c2",
        "curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:%PORT%/ || echo direct-refused; \
         curl -sS --max-time 5 http://127.0.0.1:%PORT%/"
            .replace("%PORT%", &allowed.to_string())
            .as_str(),
    );
    let stdout = done["effect"]["result"]["stdout"].as_str().unwrap_or_default().to_owned();
    assert!(stdout.contains("direct-refused"), "{done}");
    assert!(stdout.ends_with("hello through the proxy"), "{done}");
    let egress = &done["effect"]["result"]["sandbox"]["egress"];
    // The proxy connected to the address it checked (named explicitly by the allowed host).
    assert_eq!(
        egress,
        &json!([{ "host": "127.0.0.1", "port": allowed, "allowed": true, "address": "127.0.0.1" }])
    );

    // An action declared `read` reaches no host, the allowed one neither: through the
    // proxy it could `POST` or `DELETE` (red team round 27, escape E3). Its shell rules let
    // uploads through: the sandbox is what holds.
    let done = execute_as(
        &address,
        &agent,
        "c2r",
        "inspect",
        "curl -sS --max-time 5 -X POST http://127.0.0.1:%PORT%/ || echo read-refused"
            .replace("%PORT%", &allowed.to_string())
            .as_str(),
    );
    assert_eq!(done["decision"], "allow", "{done}");
    let result = &done["effect"]["result"];
    assert!(result["stdout"].as_str().unwrap_or_default().contains("read-refused"), "{done}");
    assert!(!result["stdout"].as_str().unwrap_or_default().contains("hello"), "{done}");

    // The call's timeout ends the command and is recorded as a timeout.
    let done = execute(&address, &agent, "c3", "sleep 30 & sleep 30");
    assert_eq!(done["effect"]["state"], "outcome_unknown", "{done}");
    let error = done["effect"]["error"].as_str().unwrap();
    assert!(error.starts_with("timed out: the call limit"), "{error}");
    assert!(error.contains("sandbox namespaces"), "the layers are named: {error}");

    // A blocked command never reaches the sandbox.
    let done = execute(&address, &agent, "c4", "sudo id");
    assert_eq!(done["decision"], "block", "{done}");
    assert!(done.get("effect").is_none_or(Value::is_null), "{done}");

    // The audit log: the outcome records carry what the answers said.
    let (status, records) =
        request(&address, "GET", "/v1/audit/records?limit=1000", Some(&admin), &[], "");
    assert_eq!(status, 200, "{records}");
    let outcomes: Vec<&Value> = records["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["record"])
        .filter(|r| r["kind"] == "outcome" && r["action"] == "run_command")
        .collect();
    assert_eq!(outcomes.len(), 3, "{records}");
    assert_eq!(outcomes[0]["output"]["sandbox"]["layers"]["mode"], "namespaces", "{}", outcomes[0]);
    assert_eq!(outcomes[2]["outcome"], "timed_out", "{}", outcomes[2]);
}
