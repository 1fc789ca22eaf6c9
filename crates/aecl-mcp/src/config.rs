//! The gateway configuration file (`aecl mcp --config gateway.toml`): the MCP servers one
//! gateway puts behind its one endpoint, each over stdio (`command`, `args`, `env`, `cwd`)
//! or streamable HTTP (`url`, `headers`), each with its own catalog prefix.
//!
//! ```toml
//! [servers.fs]
//! command = "npx"
//! args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/notes"]
//! env = { NODE_ENV = "production", API_KEY = { env = "FS_API_KEY" } }
//!
//! [servers.search]
//! url = "https://search.example.com/mcp"
//! headers = { Authorization = { file = "/run/secrets/search" } }
//! sessions = "shared"
//! ```
//!
//! This module reads text only: secrets stay references ([`Setting::Env`],
//! [`Setting::File`]) that the binary resolves ([`ServerConfig::resolve`]), and a value
//! that looks like a secret written inline is refused, so a gateway file can be committed
//! and shown in logs. Every error names the file, the line and the field.
//!
//! INVARIANT: the names of servers and the prefixes of their actions cannot be confused:
//! a server's name has no `__` and does not end in `_` (so `NAME__TOOL` splits at its first
//! `__` into one server), and no prefix starts another (so one catalog action belongs to
//! one server's tool).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::naming::{valid_prefix, valid_server_name};
use crate::servers::{Launch, ServerSpec, Sharing};
use crate::upstream::Handshake;

/// A gateway file's servers, in the order of their names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayFile {
    pub servers: Vec<ServerConfig>,
}

/// One server as the file describes it, its secrets not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The name its tools are exposed under (`NAME__TOOL`).
    pub name: String,
    /// Put before a tool's name to make its catalog action (default `NAME__`).
    pub prefix: String,
    pub transport: Transport,
    pub handshake: Handshake,
    pub sharing: Sharing,
    /// Where the server's table starts, for errors found later (a secret not set).
    pub line: usize,
}

/// How the gateway reaches a server, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Stdio {
        command: String,
        args: Vec<String>,
        /// Set in the server's environment, over the gateway's own.
        env: Vec<(String, Setting)>,
        cwd: Option<PathBuf>,
    },
    Http {
        url: String,
        headers: Vec<(String, Setting)>,
    },
}

/// A value of an environment variable or a header: written inline (not a secret), or a
/// reference to where the secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Literal(String),
    /// The value of this variable of the gateway's environment.
    Env(String),
    /// The contents of this file, trimmed.
    File(PathBuf),
}

/// A problem in a gateway file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses the gateway file `text`, read from `path`: relative `cwd` and `command` paths
/// and secret files are taken from `path`'s directory.
pub fn parse(text: &str, path: &Path) -> Result<GatewayFile, ConfigError> {
    let file = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new(""));
    let error = |span: Option<Range<usize>>, message: String| ConfigError {
        file: file.clone(),
        line: line_of(text, span.map_or(0, |s| s.start)),
        message,
    };
    let format: FileFormat = toml::from_str(text).map_err(|e| {
        let field = e.span().and_then(|s| key_on_line(text, s.start));
        let message = match field {
            Some(key) => format!("field `{key}`: {}", e.message().trim()),
            None => e.message().trim().to_owned(),
        };
        error(e.span(), message)
    })?;
    if format.servers.is_empty() {
        return Err(error(None, "no `[servers.NAME]` table: list at least one MCP server".into()));
    }
    let mut servers = Vec::with_capacity(format.servers.len());
    for (name, server) in format.servers {
        let span = name.span();
        let name = name.into_inner();
        let at = |field: &str, span: Range<usize>, why: String| {
            error(Some(span), format!("servers.{name}.{field}: {why}"))
        };
        if !valid_server_name(&name) {
            return Err(error(
                Some(span),
                format!(
                    "servers.{name}: a server's name is lower-case letters, digits, `-` and \
                     single `_` inside, at most 32 characters (it is the `NAME__` of its tools)"
                ),
            ));
        }
        let prefix = match server.prefix {
            Some(prefix) => {
                let span = prefix.span();
                let prefix = prefix.into_inner();
                if !valid_prefix(&prefix) {
                    return Err(at(
                        "prefix",
                        span,
                        format!(
                            "`{prefix}` is not an action prefix (letters, digits, `_`, `-`, `.`)"
                        ),
                    ));
                }
                prefix
            }
            None => format!("{name}__"),
        };
        let handshake = match server.protocol.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
            None | Some(("negotiate", _)) => Handshake::Negotiate,
            Some(("2025-11-25", _)) => Handshake::Legacy,
            Some((other, span)) => {
                return Err(at(
                    "protocol",
                    span,
                    format!("`{other}`: expected `negotiate` or `2025-11-25`"),
                ));
            }
        };
        let sharing = match server.sessions.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("per-session", _)) => Sharing::PerSession,
            Some(("shared", _)) => Sharing::Shared,
            Some((other, span)) => {
                return Err(at(
                    "sessions",
                    span,
                    format!("`{other}`: expected `per-session` or `shared`"),
                ));
            }
        };
        let transport = match (server.command, server.url) {
            (Some(command), None) => {
                if let Some(headers) = &server.headers {
                    return Err(at("headers", headers.span(), "headers go with `url` only".into()));
                }
                let command_span = command.span();
                let command = command.into_inner();
                if command.trim().is_empty() {
                    return Err(at("command", command_span, "empty".into()));
                }
                // A relative path with a directory is the file's neighbour; a bare name is
                // looked up in PATH as a shell would.
                let command = if command.contains('/') && Path::new(&command).is_relative() {
                    base.join(&command).display().to_string()
                } else {
                    command
                };
                let env = settings(server.env, "env", &name, &error)?;
                let cwd = server.cwd.map(|cwd| base.join(cwd.into_inner()));
                Transport::Stdio { command, args: server.args.unwrap_or_default(), env, cwd }
            }
            (None, Some(url)) => {
                for (field, present) in [
                    ("args", server.args.is_some()),
                    ("env", server.env.is_some()),
                    ("cwd", server.cwd.is_some()),
                ] {
                    if present {
                        return Err(at(
                            field,
                            span.clone(),
                            format!("`{field}` goes with `command` only"),
                        ));
                    }
                }
                let url_span = url.span();
                let url = url.into_inner();
                if let Err(why) = check_url(&url) {
                    return Err(at("url", url_span, why));
                }
                let headers = settings(server.headers, "headers", &name, &error)?;
                for (header, _) in &headers {
                    if hyper::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                        return Err(at(
                            "headers",
                            url_span,
                            format!("`{header}` is not a header name"),
                        ));
                    }
                }
                Transport::Http { url, headers }
            }
            (Some(_), Some(url)) => {
                return Err(at(
                    "url",
                    url.span(),
                    "give either `command` or `url`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(error(
                    Some(span),
                    format!("servers.{name}: give `command` (stdio) or `url` (streamable HTTP)"),
                ));
            }
        };
        let secret_files = |setting: &mut Setting| {
            if let Setting::File(path) = setting {
                *path = base.join(&*path);
            }
        };
        let mut transport = transport;
        match &mut transport {
            Transport::Stdio { env, .. } => env.iter_mut().for_each(|(_, s)| secret_files(s)),
            Transport::Http { headers, .. } => {
                headers.iter_mut().for_each(|(_, s)| secret_files(s));
            }
        }
        servers.push(ServerConfig {
            line: line_of(text, span.start),
            name,
            prefix,
            transport,
            handshake,
            sharing,
        });
    }
    // One action, one server's tool: no prefix may start another.
    for (i, a) in servers.iter().enumerate() {
        for b in servers.iter().skip(i + 1) {
            let (short, long) = if a.prefix.len() <= b.prefix.len() { (a, b) } else { (b, a) };
            if long.prefix.starts_with(&short.prefix) {
                return Err(ConfigError {
                    file: file.clone(),
                    line: long.line,
                    message: format!(
                        "servers.{}.prefix: `{}` starts with server `{}`'s prefix `{}`: one \
                         catalog action could then name a tool of either",
                        long.name, long.prefix, short.name, short.prefix
                    ),
                });
            }
        }
    }
    Ok(GatewayFile { servers })
}

impl ServerConfig {
    /// The server ready to start, its secrets read by `lookup` (an error names the
    /// reference, never a value).
    pub fn resolve(
        &self,
        file: &str,
        lookup: impl Fn(&Setting) -> Result<String, String>,
    ) -> Result<ServerSpec, ConfigError> {
        let error = |field: &str, key: &str, why: String| ConfigError {
            file: file.to_owned(),
            line: self.line,
            message: format!("servers.{}.{field}.{key}: {why}", self.name),
        };
        let resolve = |field: &str, pairs: &[(String, Setting)]| {
            pairs
                .iter()
                .map(|(key, setting)| match lookup(setting) {
                    Ok(value) => Ok((key.clone(), value)),
                    Err(why) => Err(error(field, key, why)),
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let launch = match &self.transport {
            Transport::Stdio { command, args, env, cwd } => Launch::Command {
                program: command.clone(),
                args: args.clone(),
                env: resolve("env", env)?,
                env_remove: Vec::new(),
                cwd: cwd.clone(),
            },
            Transport::Http { url, headers } => {
                Launch::Http { url: url.clone(), headers: resolve("headers", headers)? }
            }
        };
        Ok(ServerSpec {
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            launch,
            handshake: self.handshake,
            sharing: self.sharing,
            resolve_paths_from: None,
        })
    }
}

impl GatewayFile {
    /// The variables of the gateway's environment that hold some server's secret: no
    /// server inherits them (each gets its own under the names its `env` gives).
    pub fn secret_variables(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .servers
            .iter()
            .flat_map(|server| match &server.transport {
                Transport::Stdio { env, .. } => env.iter(),
                Transport::Http { headers, .. } => headers.iter(),
            })
            .filter_map(|(_, setting)| match setting {
                Setting::Env(var) => Some(var.clone()),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    servers: BTreeMap<Spanned<String>, ServerFormat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFormat {
    command: Option<Spanned<String>>,
    args: Option<Vec<String>>,
    env: Option<Spanned<BTreeMap<Spanned<String>, Spanned<SettingFormat>>>>,
    cwd: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    headers: Option<Spanned<BTreeMap<Spanned<String>, Spanned<SettingFormat>>>>,
    prefix: Option<Spanned<String>>,
    sessions: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SettingFormat {
    Literal(String),
    Reference(ReferenceFormat),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceFormat {
    env: Option<String>,
    file: Option<String>,
}

type Table = Option<Spanned<BTreeMap<Spanned<String>, Spanned<SettingFormat>>>>;

/// The settings of an `env` or `headers` table; a literal value whose name looks like a
/// secret's is refused.
fn settings(
    table: Table,
    field: &str,
    server: &str,
    error: &impl Fn(Option<Range<usize>>, String) -> ConfigError,
) -> Result<Vec<(String, Setting)>, ConfigError> {
    let Some(table) = table else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (key, value) in table.into_inner() {
        let span = value.span();
        let key = key.into_inner();
        let at = |why: String| {
            error(Some(span.clone()), format!("servers.{server}.{field}.{key}: {why}"))
        };
        let setting = match value.into_inner() {
            SettingFormat::Literal(value) if looks_secret(&key) => {
                let _ = value;
                return Err(at(
                    "looks like a secret: give it as `{ env = \"VAR\" }` or `{ file = \"PATH\" }`, \
                     never inline"
                        .into(),
                ));
            }
            SettingFormat::Literal(value) => Setting::Literal(value),
            SettingFormat::Reference(ReferenceFormat { env: Some(var), file: None }) => {
                if var.is_empty() || var.contains('=') || var.contains('\0') {
                    return Err(at(format!("`{var}` is not an environment variable's name")));
                }
                Setting::Env(var)
            }
            SettingFormat::Reference(ReferenceFormat { env: None, file: Some(path) }) => {
                Setting::File(PathBuf::from(path))
            }
            SettingFormat::Reference(_) => {
                return Err(at("give exactly one of `env = \"VAR\"` and `file = \"PATH\"`".into()));
            }
        };
        if field == "env" && (key.is_empty() || key.contains('=') || key.contains('\0')) {
            return Err(at("not an environment variable's name".into()));
        }
        out.push((key, setting));
    }
    Ok(out)
}

/// Whether a variable or header of this name carries a credential.
fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "token", "secret", "password", "passwd", "key", "cookie", "credential", "session"]
        .iter()
        .any(|word| name.contains(word))
}

/// `url` is an `http://` or `https://` URL with a host and no user information.
fn check_url(url: &str) -> Result<(), String> {
    let parsed: hyper::Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
        return Err("expected an `http://` or `https://` URL with a host".to_owned());
    }
    if parsed.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("credentials go in `headers` (from `env` or `file`), not in the URL".to_owned());
    }
    Ok(())
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len())).unwrap_or(text).matches('\n').count() + 1
}

/// The key assigned on the line holding byte `offset` (`key = ...`), to name the field of
/// an error.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let start = text.get(..offset.min(text.len()))?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_owned())
}

#[cfg(test)]
mod tests;
