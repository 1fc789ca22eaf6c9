//! `aecl check DIR`: exit 0 for a good policy; exit 1 and every problem as
//! `file:line:column: message` for a bad one.

use std::path::Path;

use crate::{finance, run, temp_dir, write};

#[test]
fn finance_example_checks_ok() {
    let out = run([Path::new("check"), &finance()]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{out:#?}");
    assert!(
        lines[0].starts_with(
            "ok: 2 agent(s), 9 action(s), 7 example(s) passed, 4 test(s) passed; revision "
        ),
        "{out:#?}"
    );
}

/// One file of a broken policy, with the one problem `aecl check` must report for it.
struct Broken {
    file: &'static str,
    text: &'static str,
    /// Where the problem is: line and column.
    at: (usize, usize),
    /// A part of the message.
    says: &'static str,
    /// Whether the problem is reported beside TOML files that fail to parse. The loader does
    /// not report allowed actions missing from the catalog then: the broken file might have
    /// been the catalog that defines them.
    beside_parse_errors: bool,
}

/// Every kind of problem a policy file can have, each in its own file.
const BROKEN: &[Broken] = &[
    Broken {
        file: "agents/unknown_field.toml",
        text: "agent_id = \"a_unknown_field\"\nallowed_actions = [\"read_invoice\"]\ncolour = \"blue\"\n",
        at: (3, 1),
        says: "unknown field `colour`",
        beside_parse_errors: true,
    },
    Broken {
        file: "agents/wrong_type.toml",
        text: "agent_id = \"a_wrong_type\"\nallowed_actions = \"read_invoice\"\n",
        at: (2, 19),
        says: "invalid type: string \"read_invoice\", expected a sequence",
        beside_parse_errors: true,
    },
    Broken {
        file: "agents/syntax.toml",
        text: "agent_id = \"a_syntax\"\nallowed_actions = [\"read_invoice\"\n",
        at: (2, 34),
        says: "unclosed array",
        beside_parse_errors: true,
    },
    Broken {
        file: "agents/missing_action.toml",
        text: "agent_id = \"a_missing_action\"\nallowed_actions = [\n  \"read_invoice\",\n  \"ghost_action\",\n]\n",
        at: (4, 3),
        says: "allowed action `ghost_action` is not in the action catalog",
        beside_parse_errors: false,
    },
    Broken {
        file: "agents/bad_context_rule.toml",
        text: "agent_id = \"a_bad_context_rule\"\nallowed_actions = [\"read_invoice\"]\n\n\
               [context_rules]\nread_invoice = \"please_be_careful\"\n",
        at: (5, 16),
        says: "context rule `please_be_careful` for `read_invoice`",
        beside_parse_errors: true,
    },
    Broken {
        file: "agents/seed.json",
        text: "{\n  \"agent_id\": \"a_seed\",\n  \"allowed_actions\": [\"read_invoice\"],\n  \
               \"flavour\": \"x\"\n}\n",
        at: (4, 11),
        says: "invalid agent manifest: unknown field `flavour`",
        beside_parse_errors: true,
    },
    Broken {
        file: "catalog/reversible.toml",
        text: "[actions.pay]\neffect = \"payment\"\nreversibility = \"reversible\"\n",
        at: (3, 17),
        says: "a `reversible` action must name its `compensation`",
        beside_parse_errors: true,
    },
    Broken {
        file: "catalog/compensation.toml",
        text: "[actions.refund]\neffect = \"payment\"\nreversibility = \"reversible\"\n\
               compensation = \"unpay\"\n",
        at: (1, 10),
        says: "the compensation `unpay` of `refund` is not in the action catalog",
        beside_parse_errors: true,
    },
    // A second catalog file that redefines an action (with a weaker effect) is refused,
    // placed in the file that came second, naming the first; nothing of the policy loads.
    Broken {
        file: "catalog/redefined.toml",
        text: "[actions.read_invoice]\neffect = \"read\"\n",
        at: (1, 10),
        says: "action `read_invoice` is already defined in ",
        beside_parse_errors: true,
    },
    Broken {
        file: "catalog/schema.toml",
        text: "[actions.query_schema]\neffect = \"read\"\nschema = { type = 12 }\n",
        at: (3, 1),
        says: "invalid JSON Schema",
        beside_parse_errors: true,
    },
    Broken {
        file: "catalog/sql.toml",
        text: "[actions.query]\neffect = \"read\"\n\n[actions.query.args.sql]\n\
               sql = { allow = [\"select\", \"explode\"] }\n",
        at: (5, 28),
        says: "unknown statement class `explode`",
        beside_parse_errors: true,
    },
    Broken {
        file: "catalog/shell.toml",
        text: "[actions.run_command]\neffect = \"exec\"\nreversibility = \"irreversible\"\n\n\
               [actions.run_command.args.command]\nshell = { block = [\"rm -r\", \"/bin/rm\"] }\n",
        at: (6, 29),
        says: "bad command pattern `/bin/rm`",
        beside_parse_errors: true,
    },
    Broken {
        file: "agents/bad_rate.toml",
        text: "agent_id = \"a_bad_rate\"\nallowed_actions = [\"read_invoice\"]\n\n\
               [limits]\nrate = \"10/fortnight\"\n",
        at: (5, 8),
        says: "rate `10/fortnight`: expected COUNT/UNIT",
        beside_parse_errors: true,
    },
    Broken {
        file: "catalog/concurrency.toml",
        text: "[actions.deploy]\neffect = \"read\"\n\n[actions.deploy.limits]\nconcurrency = 0\n",
        at: (5, 15),
        says: "`concurrency` must be at least 1",
        beside_parse_errors: true,
    },
    Broken {
        file: "rules.cedar",
        text: "// a forbid with a missing operand\n\
               forbid (principal, action == Action::\"pay\", resource)\n\
               when { context.args.amount > };\n",
        at: (3, 30),
        says: "unexpected token `}`",
        beside_parse_errors: true,
    },
    // Validated against the catalog's Cedar schema: only when every catalog file parsed.
    Broken {
        file: "rules_action.cedar",
        text: "// a misspelt action\nforbid (principal, action == Action::\"read_invoce\", resource);\n",
        at: (2, 30),
        says: "unrecognized action `Action::\"read_invoce\"`",
        beside_parse_errors: false,
    },
    Broken {
        file: "rules_attribute.cedar",
        text: "forbid (principal, action == Action::\"read_invoice\", resource)\n\
               when { context.args has invoice_id };\n",
        at: (2, 8),
        says: "attribute `invoice_id` is not declared in `context.args` for `Action::\"read_invoice\"`",
        beside_parse_errors: false,
    },
];

/// The one good catalog file the broken manifests point at.
const BASE_CATALOG: &str = "[actions.read_invoice]\neffect = \"read\"\n";

#[test]
fn every_problem_is_reported_with_its_file_line_and_column() {
    let dir = temp_dir();
    write(dir.path(), "catalog/base.toml", BASE_CATALOG);
    let together: Vec<&Broken> = BROKEN.iter().filter(|b| b.beside_parse_errors).collect();
    for broken in &together {
        write(dir.path(), broken.file, broken.text);
    }
    let out = run([Path::new("check"), dir.path()]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let lines = out.lines();
    for broken in &together {
        let path = dir.path().join(broken.file);
        let place = format!("{}:{}:{}: ", path.display(), broken.at.0, broken.at.1);
        let found = lines.iter().any(|l| l.starts_with(&place) && l.contains(broken.says));
        assert!(found, "expected `{place}{}...` in:\n{}", broken.says, out.stdout);
    }
    // Nothing else: one line per problem, then the count.
    assert_eq!(lines.len(), together.len() + 1, "{}", out.stdout);
    let summary = format!("{} problem(s) in {}", together.len(), dir.path().display());
    assert_eq!(lines.last().copied(), Some(summary.as_str()));
}

#[test]
fn each_problem_alone_fails_the_check() {
    for broken in BROKEN {
        let dir = temp_dir();
        write(dir.path(), "catalog/base.toml", BASE_CATALOG);
        write(
            dir.path(),
            "agents/good.toml",
            "agent_id = \"good\"\nallowed_actions = [\"read_invoice\"]\n",
        );
        write(dir.path(), broken.file, broken.text);
        let out = run([Path::new("check"), dir.path()]);
        assert_eq!(out.code, Some(1), "{}: {out:#?}", broken.file);
        let place =
            format!("{}:{}:{}: ", dir.path().join(broken.file).display(), broken.at.0, broken.at.1);
        assert!(out.stdout.starts_with(&place), "{}: {out:#?}", broken.file);
        assert!(out.stdout.contains(broken.says), "{}: {out:#?}", broken.file);
    }
}

#[test]
fn failing_embedded_example_is_reported_at_its_place() {
    let dir = temp_dir();
    let catalog = write(
        dir.path(),
        "catalog.toml",
        "[actions.read_invoice]\neffect = \"read\"\n\n\
         [[actions.read_invoice.examples]]\nname = \"reading is allowed\"\nargs = { invoice_id = \"INV-1\" }\n\
         expect = \"allow\"\n\n\
         [[actions.read_invoice.examples]]\nname = \"wrongly expected to block\"\n\
         args = { invoice_id = \"INV-1\" }\nexpect = \"block\"\n",
    );
    write(
        dir.path(),
        "agents/reader.toml",
        "agent_id = \"reader\"\nallowed_actions = [\"read_invoice\"]\n",
    );
    let out = run([Path::new("check"), dir.path()]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let expected = format!(
        "{}:9:1: example `wrongly expected to block` of `read_invoice`: expected `block`, got `allow`",
        catalog.display()
    );
    assert_eq!(
        out.lines(),
        [expected, format!("1 of 2 example(s) failed in {}", dir.path().display())]
    );
}

#[test]
fn empty_directory_is_an_error() {
    let dir = temp_dir();
    let out = run([Path::new("check"), dir.path()]);
    assert!(matches!(out.code, Some(1 | 2)), "{out:#?}");
    // (The path itself may contain "ok": look for the verdict line.)
    assert!(!out.stdout.lines().any(|l| l.starts_with("ok")), "{out:#?}");
    assert!(out.stdout.contains("no agent manifest"), "{out:#?}");
}

#[test]
fn directory_without_manifest_is_an_error() {
    let dir = temp_dir();
    write(dir.path(), "catalog.toml", BASE_CATALOG);
    write(dir.path(), "notes.txt", "not a policy file\n");
    let out = run([Path::new("check"), dir.path()]);
    assert!(matches!(out.code, Some(1 | 2)), "{out:#?}");
    // (The path itself may contain "ok": look for the verdict line.)
    assert!(!out.stdout.lines().any(|l| l.starts_with("ok")), "{out:#?}");
    assert!(out.stdout.contains("no agent manifest"), "{out:#?}");
}

#[test]
fn missing_directory_exits_2() {
    let dir = temp_dir();
    let missing = dir.path().join("nowhere");
    let out = run([Path::new("check"), &missing]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("is not a policy directory"), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
}

/// Runs `aecl args` with `stdin` to its end, or kills it after 20 s: a load that blocks on
/// a policy "file" must fail the test, not hang it.
fn run_bounded(args: &[&std::ffi::OsStr], stdin: &str) -> crate::Outcome {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = crate::aecl()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`aecl {args:?}` still runs after 20 s: the policy load blocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    crate::Outcome { code: status.code(), stdout, stderr }
}

/// A fifo (or any file that is not a regular file) named like a policy file: reading it
/// would block every load for ever (`check`, start-up, the reload watcher, a hook call,
/// which an agent may then run unguarded when its hook times out). It is refused at once,
/// named.
#[test]
fn a_policy_file_that_is_not_a_regular_file_is_refused_without_blocking() {
    let dir = temp_dir();
    crate::copy_dir(&finance(), dir.path());
    let fifo = dir.path().join("agents/z.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();

    let out = run_bounded(&["check".as_ref(), dir.path().as_os_str()], "");
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("z.toml") && out.stderr.contains("not a regular file"), "{out:#?}");

    let state = temp_dir();
    let input = r#"{"session_id":"s","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"tool_use_id":"t1"}"#;
    let args = [
        "hook".as_ref(),
        "claude-code".as_ref(),
        "--policy".as_ref(),
        dir.path().as_os_str(),
        "--agent".as_ref(),
        "finance_agent".as_ref(),
        "--state-dir".as_ref(),
        state.path().as_os_str(),
    ];
    let out = run_bounded(&args, input);
    assert_eq!(out.code, Some(2), "a deny: {out:#?}");
    assert!(
        out.stdout.contains("\"deny\"") && out.stdout.contains("not a regular file"),
        "{out:#?}"
    );
}
