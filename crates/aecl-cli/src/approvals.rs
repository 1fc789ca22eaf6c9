//! `aecl approvals list | show | approve | reject | grant | grants | revoke-grant`: an
//! approver's side of the approval gate and of standing grants, through a running
//! `aecl serve`. The CLI holds no authority of its own: the server checks
//! the approver token (from `--token-file` or `AECL_TOKEN`, never the command line, where
//! other users could read it in the process list), its role, and that nobody answers their
//! own request.
//!
//! Output is a table with relative times by default; `--json` prints the server's JSON
//! as it is (a list of requests for `list`, one request with its `context` for `show`,
//! the answer of `approve` and `reject`; the shapes are the API's, see `GET /openapi.json`).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// The `aecl serve` to talk to.
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// A file holding an approver token (`aecl token issue --approver NAME`); without it,
    /// the `AECL_TOKEN` environment variable.
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// Print the server's JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// The pending requests, newest first (`--all`: answered ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One request with its context: why it needs a human, risk, the arguments.
    Show { id: String },
    /// Approve a request: the agent's retry of the same call will run, once.
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a request, with the reason the agent is given.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Give a standing grant: calls of AGENT to ACTION whose arguments meet every condition
    /// pass without asking, up to --max-uses times until --ttl runs out (or the policy
    /// changes). Values are JSON where they parse as JSON, else text.
    Grant {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        action: String,
        /// `PATH=VALUE`: the argument is exactly VALUE.
        #[arg(long, value_name = "PATH=VALUE")]
        equals: Vec<String>,
        /// `PATH=V1,V2,...`: the argument is one of these.
        #[arg(long, value_name = "PATH=V1,V2")]
        one_of: Vec<String>,
        /// `PATH=SUFFIX`: the argument is text ending with SUFFIX (case aside). A lexical
        /// check: for addresses use --email-domain (a suffix with an `@` is refused).
        #[arg(long, value_name = "PATH=SUFFIX")]
        ends_with: Vec<String>,
        /// `PATH=DOMAIN`: the argument is exactly one e-mail address of DOMAIN (or, as
        /// `*.DOMAIN`, of a subdomain), e.g. `to=example.com`.
        #[arg(long, value_name = "PATH=DOMAIN")]
        email_domain: Vec<String>,
        #[arg(long)]
        max_uses: u32,
        /// Lifetime in seconds (at most a day).
        #[arg(long, value_name = "SECONDS")]
        ttl: u64,
        #[arg(long)]
        reason: String,
    },
    /// The standing grants, newest first, with their use counts.
    Grants,
    /// Revoke a standing grant: it permits nothing more.
    RevokeGrant { id: String },
}

/// The `args` object of a standing grant from the command line's conditions.
fn conditions(
    equals: &[String],
    one_of: &[String],
    ends_with: &[String],
    email_domain: &[String],
) -> Result<Value> {
    let mut args = serde_json::Map::new();
    let mut add = |flag: &str, text: &str, condition: Value| -> Result<()> {
        if args.insert(path_of(flag, text)?.to_owned(), condition).is_some() {
            bail!("--{flag} `{text}`: a second condition on the same argument");
        }
        Ok(())
    };
    for text in equals {
        add("equals", text, json!({ "equals": value_of(text) }))?;
    }
    for text in one_of {
        let values: Vec<Value> = value_text(text).split(',').map(json_or_text).collect();
        add("one-of", text, json!({ "one_of": values }))?;
    }
    for text in ends_with {
        add("ends-with", text, json!({ "ends_with": value_text(text) }))?;
    }
    for text in email_domain {
        add("email-domain", text, json!({ "email_domain": value_text(text) }))?;
    }
    if args.is_empty() {
        bail!(
            "a standing grant needs at least one condition (--equals, --one-of, --ends-with, \
             --email-domain)"
        );
    }
    Ok(Value::Object(args))
}

fn path_of<'t>(flag: &str, text: &'t str) -> Result<&'t str> {
    match text.split_once('=') {
        Some((path, _)) if !path.is_empty() => Ok(path),
        _ => bail!("--{flag} `{text}`: expected PATH=VALUE"),
    }
}

fn value_text(text: &str) -> &str {
    text.split_once('=').map_or("", |(_, value)| value)
}

fn value_of(text: &str) -> Value {
    json_or_text(value_text(text))
}

fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Exit code 0 when the server did it, 1 when it refused (the reason is printed).
pub fn run(args: &ApprovalsArgs) -> Result<std::process::ExitCode> {
    let token = token(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let (method, path, body) = match &args.command {
        ApprovalsCommand::List { all } => {
            let status = if *all { "all" } else { "pending" };
            ("GET", format!("/v1/approvals?status={status}"), None)
        }
        ApprovalsCommand::Show { id } => ("GET", format!("/v1/approvals/{id}"), None),
        ApprovalsCommand::Approve { id, reason } => {
            ("POST", format!("/v1/approvals/{id}/approve"), Some(json!({ "reason": reason })))
        }
        ApprovalsCommand::Reject { id, reason } => {
            ("POST", format!("/v1/approvals/{id}/reject"), Some(json!({ "reason": reason })))
        }
        ApprovalsCommand::Grant {
            agent,
            action,
            equals,
            one_of,
            ends_with,
            email_domain,
            max_uses,
            ttl,
            reason,
        } => {
            let body = json!({
                "agent": agent,
                "action": action,
                "args": conditions(equals, one_of, ends_with, email_domain)?,
                "max_uses": max_uses,
                "ttl_seconds": ttl,
                "reason": reason,
            });
            ("POST", "/v1/standing-grants".to_owned(), Some(body))
        }
        ApprovalsCommand::Grants => ("GET", "/v1/standing-grants".to_owned(), None),
        ApprovalsCommand::RevokeGrant { id } => {
            ("POST", format!("/v1/standing-grants/{id}/revoke"), None)
        }
    };
    let (status, answer) =
        runtime.block_on(request(&args.server, method, &path, &token, body.as_ref()))?;
    if !(200..300).contains(&status) {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        let code = answer["error"]["code"].as_str().unwrap_or("error");
        #[expect(clippy::print_stderr, reason = "the CLI reports the server's refusal")]
        {
            eprintln!("refused ({status} {code}): {message}");
        }
        return Ok(std::process::ExitCode::from(1));
    }
    if args.json {
        #[expect(clippy::print_stdout, reason = "the CLI's output")]
        {
            println!("{}", serde_json::to_string_pretty(&answer)?);
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let now = crate::table::now_ms();
    #[expect(clippy::print_stdout, reason = "the CLI's output")]
    match &args.command {
        ApprovalsCommand::List { .. } => {
            let listed = answer.as_array().map(Vec::as_slice).unwrap_or_default();
            if listed.is_empty() {
                println!("nothing is waiting for an answer");
            } else {
                print!("{}", list_table(listed, now).render());
            }
        }
        ApprovalsCommand::Show { .. } => print!("{}", show_text(&answer, now)),
        ApprovalsCommand::Approve { id, .. } => println!("{}", approved_text(id, &answer)),
        ApprovalsCommand::Reject { id, .. } => println!("rejected {id}"),
        ApprovalsCommand::Grant { .. } => println!(
            "standing grant {} until {} ms",
            answer["id"].as_str().unwrap_or("?"),
            answer["expires_ms"]
        ),
        ApprovalsCommand::Grants => {
            for grant in answer.as_array().into_iter().flatten() {
                println!("{}", grant_summary(grant));
            }
        }
        ApprovalsCommand::RevokeGrant { id } => println!("revoked {id}"),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Longest value shown in the list, so that every summary argument fits on the line.
const MAX_VALUE_CHARS: usize = 32;

/// The arguments that matter, as `path=value` pairs. Each value is cut on its own (a
/// long one cannot push the next out of the column), and a string that could pass for
/// more than one value (a space, `=`, `,`, a quote, a control character) is quoted with
/// JSON escapes: `path="x.md amount=5"` cannot look like a second argument.
fn arguments(approval: &Value) -> String {
    let items = approval["summary"].as_array().map(Vec::as_slice).unwrap_or_default();
    let shown = |value: &Value| {
        let text = match value.as_str() {
            Some(s)
                if s.is_empty()
                    || s.contains(|c: char| {
                        c.is_whitespace() || c.is_control() || "=,\"'".contains(c)
                    }) =>
            {
                value.to_string()
            }
            Some(s) => s.to_owned(),
            None => value.to_string(),
        };
        if text.chars().count() > MAX_VALUE_CHARS {
            let cut: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            text
        }
    };
    items
        .iter()
        .map(|item| {
            let values: Vec<String> = item["values"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(shown)
                .collect();
            format!("{}={}", item["arg"].as_str().unwrap_or("?"), values.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// "1 of 2" while pending, who answered after.
fn approvals(approval: &Value) -> String {
    if approval["status"] == "pending" {
        let so_far = approval["approvals"].as_array().map_or(0, Vec::len);
        format!("{so_far} of {}", approval["approvals_required"].as_u64().unwrap_or(1))
    } else {
        approval["decided_by"].as_str().unwrap_or("-").to_owned()
    }
}

/// The table of `list`.
fn list_table(listed: &[Value], now: u64) -> crate::table::Table {
    let mut table = crate::table::Table::new(&[
        "ID",
        "STATUS",
        "AGENT",
        "ACTION",
        "ARGUMENTS",
        "APPROVALS",
        "REQUESTED",
        "EXPIRES",
    ]);
    for approval in listed {
        let field = |name: &str| approval[name].as_str().unwrap_or("-").to_owned();
        let at = |name: &str| {
            approval[name]
                .as_u64()
                .map_or_else(|| "-".to_owned(), |ms| crate::table::relative(now, ms))
        };
        table.row(vec![
            field("id"),
            field("status"),
            field("agent"),
            field("action"),
            arguments(approval),
            approvals(approval),
            at("requested_ms"),
            at("expires_ms"),
        ]);
    }
    table
}

/// `show` for people: the facts, why a human is needed, the risk, the arguments.
fn show_text(approval: &Value, now: u64) -> String {
    let field = |name: &str| approval[name].as_str().unwrap_or("-").to_owned();
    let at = |name: &str| {
        approval[name].as_u64().map_or_else(|| "-".to_owned(), |ms| crate::table::relative(now, ms))
    };
    let mut facts = crate::table::Table::new(&["REQUEST", &field("id")]);
    for (name, value) in [
        ("status", field("status")),
        ("agent", field("agent")),
        ("action", field("action")),
        ("run", field("run")),
        ("call", field("call_id")),
        ("arguments", arguments(approval)),
        ("approvals", approvals(approval)),
        ("requested", at("requested_ms")),
        ("expires", at("expires_ms")),
        ("reason", approval["reason"].as_str().unwrap_or("").to_owned()),
    ] {
        facts.row(vec![name.to_owned(), value]);
    }
    let mut out = facts.render();
    let verdict = &approval["context"]["verdict"];
    out.push_str(
        "
WHY IT NEEDS A HUMAN
",
    );
    for reason in verdict["reasons"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} {}: {}
",
            reason["decision"].as_str().unwrap_or("?"),
            reason["rule"].as_str().unwrap_or("?"),
            reason["message"].as_str().unwrap_or("").replace(char::is_control, "?")
        ));
    }
    out.push_str(&format!(
        "
RISK {}
",
        verdict["risk"]["score"]
    ));
    for part in verdict["risk"]["contributions"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  +{} {}
",
            part["weight"],
            part["factor"].as_str().unwrap_or("?")
        ));
    }
    let args =
        serde_json::to_string_pretty(&approval["context"]["call"]["args"]).unwrap_or_default();
    out.push_str(&format!(
        "
ARGUMENTS
{}
",
        aecl_core::visible::visible(&args)
    ));
    out
}

/// What `approve` did.
fn approved_text(id: &str, answer: &Value) -> String {
    match answer["outcome"].as_str() {
        Some("counted") => format!(
            "counted your approval of {id}: {}; it needs another approver",
            approvals(&answer["approval"])
        ),
        Some("not_needed") => format!(
            "{id}: the policy changed and now allows the call without approval; nothing granted"
        ),
        Some("blocked") => format!(
            "{id}: the policy changed and now blocks the call; the request is closed and the call \
             will not run"
        ),
        _ => format!(
            "approved {id}: grant {}; the agent's retry of the same call will run once",
            answer["grant_id"].as_str().unwrap_or("?")
        ),
    }
}

/// One line of `grants`.
fn grant_summary(grant: &Value) -> String {
    let field = |name: &str| grant[name].as_str().unwrap_or("-").to_owned();
    let state = if !grant["revoked_ms"].is_null() {
        "revoked"
    } else if grant["signature_valid"] != Value::Bool(true) {
        "INVALID-SIGNATURE"
    } else {
        "in-force"
    };
    format!(
        "{}  {state}  agent={}  action={}  used={}/{}  expires_ms={}  by={}  args={}",
        field("id"),
        field("agent"),
        field("action"),
        grant["used"],
        grant["max_uses"],
        grant["expires_ms"],
        field("created_by"),
        grant["args"]
    )
}

fn token(args: &ApprovalsArgs) -> Result<String> {
    read_token(args.token_file.as_deref())
}

/// The token (an approver's, or an agent's for `aecl hook`) from `token_file`, else from
/// `AECL_TOKEN`.
pub(crate) fn read_token(token_file: Option<&std::path::Path>) -> Result<String> {
    let token = match token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => std::env::var("AECL_TOKEN").map_err(|_| {
            anyhow!("no token: pass --token-file FILE or set AECL_TOKEN (aecl token issue --agent ID or --approver NAME)")
        })?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the token is empty");
    }
    Ok(token)
}

pub(crate) async fn request(
    server: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    request_with_headers(server, method, path, token, &[], body).await
}

/// `request` with extra headers.
pub(crate) async fn request_with_headers(
    server: &str,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    let uri = format!("{}{path}", server.trim_end_matches('/'));
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(&uri)
        .header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let bytes = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let request = builder.body(Full::new(bytes)).with_context(|| format!("a request to {uri}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response =
        client.request(request).await.with_context(|| format!("reaching aecl serve at {uri}"))?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.context("reading the answer")?.to_bytes();
    if bytes.is_empty() {
        return Ok((status, Value::Null));
    }
    let answer = serde_json::from_slice(&bytes).with_context(|| {
        format!("the server's answer ({status}) is not JSON: {}", String::from_utf8_lossy(&bytes))
    })?;
    Ok((status, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_is_its_condition() {
        let args = conditions(
            &["iban=\"DE89\"".to_owned()],
            &["currency=EUR,USD".to_owned()],
            &["file=.pdf".to_owned()],
            &["to=example.com".to_owned()],
        )
        .unwrap();
        assert_eq!(
            args,
            json!({
                "iban": {"equals": "DE89"},
                "currency": {"one_of": ["EUR", "USD"]},
                "file": {"ends_with": ".pdf"},
                "to": {"email_domain": "example.com"},
            })
        );
        let twice = conditions(&[], &[], &["to=@x".to_owned()], &["to=x".to_owned()]);
        assert!(twice.unwrap_err().to_string().contains("a second condition"));
    }

    #[test]
    fn a_summary_value_cannot_pass_for_another_argument_nor_push_one_out() {
        // The red team's F5 (stop 50): a path padded to hide the real amount behind it.
        let padded = format!("sp1.md amount=5{}", " ".repeat(60));
        let approval = json!({"summary": [
            {"arg": "path", "values": [padded]},
            {"arg": "amount", "values": [99999]},
            {"arg": "to", "values": ["bob@example.com", "x\u{1b}[8m"]},
        ]});
        let shown = arguments(&approval);
        assert!(shown.starts_with("path=\"sp1.md amount=5 "), "{shown}");
        assert!(shown.contains("…"), "{shown}");
        assert!(shown.contains(" amount=99999 "), "{shown}");
        assert!(shown.ends_with("to=bob@example.com,\"x\\u001b[8m\""), "{shown}");
    }
}
