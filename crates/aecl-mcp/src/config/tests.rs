//! The gateway file: what it accepts, and errors that name the file, the line and the
//! field.

use std::path::Path;

use super::*;

const FILE: &str = "/etc/aecl/gateway.toml";

fn parsed(text: &str) -> GatewayFile {
    parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("{e}"))
}

/// The error of `text`, as shown.
fn error(text: &str) -> String {
    match parse(text, Path::new(FILE)) {
        Ok(file) => panic!("accepted: {file:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn servers_over_stdio_and_http_with_their_prefixes() {
    let file = parsed(
        r#"
[servers.fs]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv"]
env = { NODE_ENV = "production", API_KEY = { env = "FS_KEY" } }
cwd = "work"

[servers.search]
url = "https://search.example.com/mcp"
headers = { Authorization = { file = "secrets/search" }, X-Tenant = "acme" }
prefix = "web."
sessions = "shared"
protocol = "2025-11-25"

[servers.local]
command = "bin/server"
"#,
    );
    let names: Vec<&str> = file.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fs", "local", "search"]);
    let fs = &file.servers[0];
    assert_eq!(fs.prefix, "fs__");
    assert_eq!(fs.sharing, Sharing::PerSession);
    assert_eq!(fs.handshake, Handshake::Negotiate);
    assert_eq!(fs.line, 2);
    assert_eq!(
        fs.transport,
        Transport::Stdio {
            command: "npx".into(),
            args: vec![
                "-y".into(),
                "@modelcontextprotocol/server-filesystem".into(),
                "/srv".into()
            ],
            env: vec![
                ("API_KEY".into(), Setting::Env("FS_KEY".into())),
                ("NODE_ENV".into(), Setting::Literal("production".into())),
            ],
            cwd: Some("/etc/aecl/work".into()),
        }
    );
    // A relative command with a directory is the file's neighbour.
    assert!(matches!(&file.servers[1].transport,
        Transport::Stdio { command, .. } if command == "/etc/aecl/bin/server"));
    let search = &file.servers[2];
    assert_eq!((search.prefix.as_str(), search.sharing), ("web.", Sharing::Shared));
    assert_eq!(search.handshake, Handshake::Legacy);
    assert_eq!(
        search.transport,
        Transport::Http {
            url: "https://search.example.com/mcp".into(),
            headers: vec![
                ("Authorization".into(), Setting::File("/etc/aecl/secrets/search".into())),
                ("X-Tenant".into(), Setting::Literal("acme".into())),
            ],
        }
    );
    assert_eq!(file.secret_variables(), ["FS_KEY"]);
}

#[test]
fn errors_name_the_file_the_line_and_the_field() {
    let cases = [
        // A typo in a field.
        ("[servers.fs]\ncomand = \"x\"\n", ":2: field `comand`: unknown field"),
        // A value of the wrong type.
        ("[servers.fs]\ncommand = \"x\"\nargs = \"-y\"\n", ":3: field `args`"),
        ("[servers.fs]\n", ":1: servers.fs: give `command` (stdio) or `url`"),
        (
            "[servers.fs]\ncommand = \"x\"\nurl = \"https://a.example/mcp\"\n",
            ":3: servers.fs.url: give either",
        ),
        ("[servers.Fs]\ncommand = \"x\"\n", ":1: servers.Fs: a server's name is lower-case"),
        ("[servers.my__fs]\ncommand = \"x\"\n", ":1: servers.my__fs: a server's name"),
        ("[servers.fs_]\ncommand = \"x\"\n", ":1: servers.fs_: a server's name"),
        (
            "[servers.fs]\ncommand = \"x\"\nsessions = \"pooled\"\n",
            ":3: servers.fs.sessions: `pooled`",
        ),
        ("[servers.fs]\ncommand = \"x\"\nprotocol = \"2024\"\n", ":3: servers.fs.protocol: `2024`"),
        ("[servers.fs]\ncommand = \"x\"\nprefix = \"f s\"\n", ":3: servers.fs.prefix: `f s`"),
        ("[servers.w]\nurl = \"ftp://a.example/\"\n", ":2: servers.w.url: expected an `http://`"),
        (
            "[servers.w]\nurl = \"https://me:pw@a.example/\"\n",
            ":2: servers.w.url: credentials go in `headers`",
        ),
        (
            "[servers.w]\nurl = \"https://a.example/\"\nargs = []\n",
            "servers.w.args: `args` goes with `command` only",
        ),
        (
            "[servers.fs]\ncommand = \"x\"\nheaders = {}\n",
            ":3: servers.fs.headers: headers go with `url` only",
        ),
        // Secrets are never written inline.
        (
            "[servers.fs]\ncommand = \"x\"\nenv = { GITHUB_TOKEN = \"ghp_x\" }\n",
            ":3: servers.fs.env.GITHUB_TOKEN: looks like a secret",
        ),
        (
            "[servers.w]\nurl = \"https://a.example/\"\nheaders = { Authorization = \"Bearer x\" }\n",
            ":3: servers.w.headers.Authorization: looks like a secret",
        ),
        (
            "[servers.fs]\ncommand = \"x\"\nenv = { A = { env = \"X\", file = \"y\" } }\n",
            ":3: servers.fs.env.A: give exactly one",
        ),
        (
            "[servers.fs]\ncommand = \"x\"\n[servers.fs2]\ncommand = \"y\"\nprefix = \"fs__x\"\n",
            ":3: servers.fs2.prefix: `fs__x` starts with server `fs`'s prefix `fs__`",
        ),
        (
            "[servers.a]\ncommand = \"x\"\nprefix = \"p\"\n[servers.b]\ncommand = \"y\"\nprefix = \"p\"\n",
            "starts with server",
        ),
        ("", ":1: no `[servers.NAME]` table"),
        ("[server.fs]\ncommand = \"x\"\n", ":1: unknown field `server`"),
    ];
    for (text, expected) in cases {
        let shown = error(text);
        assert!(shown.starts_with(FILE), "{shown}");
        assert!(shown.contains(expected), "{text:?}: `{shown}` lacks `{expected}`");
        // A secret's value is never repeated.
        assert!(!shown.contains("ghp_x") && !shown.contains("Bearer x"), "{shown}");
    }
}

#[test]
fn a_secret_is_resolved_by_the_binary_and_its_reference_named_when_missing() {
    let file = parsed(
        "[servers.w]\nurl = \"https://a.example/mcp\"\nheaders = { Authorization = { env = \"W_TOKEN\" } }\n",
    );
    let server = &file.servers[0];
    let spec = server
        .resolve(FILE, |setting| match setting {
            Setting::Env(var) if var == "W_TOKEN" => Ok("Bearer s3cret".into()),
            other => Err(format!("{other:?} unknown")),
        })
        .expect("resolved");
    assert!(
        matches!(&spec.launch, Launch::Http { headers, .. } if headers[0].1 == "Bearer s3cret")
    );
    // Shown in logs, the launch names its headers, not their values.
    assert!(!format!("{spec:?}").contains("s3cret"), "{spec:?}");
    let missing = server.resolve(FILE, |_| Err("`W_TOKEN` is not set".into())).unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!("{FILE}:1: servers.w.headers.Authorization: `W_TOKEN` is not set")
    );
}
