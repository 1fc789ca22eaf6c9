//! The `fs` connector: read, write, delete or move files beneath configured roots, keeping
//! the pre-image of every change for undo.
//!
//! Operation: what a call does is the action's operation, bound in the catalog
//! (`operation = "read"`, or implied by `effect`), never the agent's choice. Arguments (names
//! configurable): `path`, `content` (write, text), `to` (move); `op` may be given but must
//! name the bound operation, or the call fails (`operation_mismatch`; the policy already
//! blocks it at validation). Relative paths are relative to the first root.
//!
//! Containment ([`beneath`]): a path is normalised lexically (a `..` that would climb above
//! the root is refused outright) and split into a root and a relative path; every operation
//! then goes through the root's directory handle, beneath which the kernel resolves the
//! path (`openat2(RESOLVE_BENEATH)`), so a symlink — placed there before, or swapped in for
//! a directory while the call runs — can never take a read, a write, a delete, a move, a
//! pre-image or an undo outside the root. A symlink at the last component is refused, and
//! so is a file with more than one name (a hard link) wherever its content is opened.
//!
//! Policy ([`arguments`]): the action's path rules must be on the arguments read here, and
//! a move's destination is judged by the rules of its source as well.
//!
//! Undo: before a write, delete or move, the previous content (or its absence) is copied
//! into `undo_dir/EFFECT_ID/` (through a handle on `undo_dir`); the rollback token names the
//! operation, the paths and the SHA-256 of the content the effect left. The compensation
//! first checks that content (a written file still holds what was written, a deleted path
//! is still absent, a moved file is still at its destination and its source still free)
//! and otherwise answers `undo_conflict` without touching anything. Neither a change nor an
//! undo replaces a file it did not check: a file that appears or changes between the check
//! and the rename makes it a conflict, and is left in place (see [`beneath`]). After the
//! pre-image and before the change, the token is also recorded as the effect's intent
//! (`fs/reconcile.rs`), so that an effect a crash left `outcome_unknown` is reconciled from
//! the intent and the files.
//!
//! Permissions ([`meta`]): a replaced file keeps its mode (less set-id bits), owner and
//! group, applied to the new file before it takes the old one's place; an undo restores the
//! mode, owner and group recorded with the pre-image (in the token); a new file gets
//! `new_file_mode` (default `0600`); a file whose owner aecl could not give back is not
//! changed. The undo directory is private to aecl's user ([`undo_store`]).

mod arguments;
mod beneath;
mod meta;
mod reconcile;
mod undo_store;

use std::path::{Path, PathBuf};

use aecl_core::ActionSpec;
use aecl_core::operation::Operation;
use aecl_engine::{
    BoxFuture, Compensated, Connector, ConnectorOutcome, Effect, Invocation, Reconciled,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::ConnectorsFile;
use crate::error::ConnectorError;
use beneath::{Beneath, ChangeError, Expected, Kind, Located, Roots};
use meta::{FileMeta, Ownership};
use undo_store::UndoStore;

/// The largest file whose content is kept as a pre-image (or hashed for a move or an
/// undo check). A change whose pre-image would be larger is refused: it could not be undone.
pub const MAX_PREIMAGE_BYTES: u64 = 64 * 1024 * 1024;

/// `[connectors.NAME] kind = "fs"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsConfig {
    /// The folders the connector may touch (they must exist).
    pub roots: Vec<PathBuf>,
    /// Where pre-images are kept (created `0700` if missing; private to aecl's user; outside
    /// the roots).
    pub undo_dir: PathBuf,
    /// The argument in which an agent may name the operation; it must agree with the
    /// catalog's `operation_arg` (checked when the policy is loaded against this file).
    #[serde(default = "default_op_arg")]
    pub op_arg: String,
    #[serde(default = "default_path_arg")]
    pub path_arg: String,
    #[serde(default = "default_content_arg")]
    pub content_arg: String,
    #[serde(default = "default_to_arg")]
    pub to_arg: String,
    /// The largest file `read` returns, in bytes.
    #[serde(default = "default_max_read")]
    pub max_read_bytes: u64,
    /// The permission bits of a file a write creates where none was (`0o600` by default;
    /// TOML reads `0o644`), set exactly, whatever the umask. A file replaced keeps its own.
    #[serde(default = "default_new_file_mode")]
    pub new_file_mode: u32,
}

fn default_op_arg() -> String {
    "op".to_owned()
}
fn default_path_arg() -> String {
    "path".to_owned()
}
fn default_content_arg() -> String {
    "content".to_owned()
}
fn default_to_arg() -> String {
    "to".to_owned()
}
fn default_max_read() -> u64 {
    1024 * 1024
}
/// Private: what an agent writes may be a secret, and nothing says who else should read it.
fn default_new_file_mode() -> u32 {
    0o600
}

/// The `fs` connector.
#[derive(Debug)]
pub struct FsConnector {
    roots: Roots,
    undo: UndoStore,
    config: FsConfig,
}

/// What undoing a change needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum FsToken {
    Write {
        path: PathBuf,
        /// Whether the file existed before (its content is `undo_dir/EFFECT/before`).
        existed: bool,
        before_sha256: Option<String>,
        after_sha256: String,
        undo: String,
        /// The mode, owner and group of the file replaced, which the undo gives it back.
        /// Absent from tokens of earlier versions: their undo gives `new_file_mode`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before_meta: Option<FileMeta>,
    },
    Delete {
        path: PathBuf,
        before_sha256: String,
        undo: String,
        /// As for a write.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before_meta: Option<FileMeta>,
    },
    Move {
        from: PathBuf,
        to: PathBuf,
        sha256: String,
    },
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl FsConnector {
    pub fn new(
        file: &ConnectorsFile,
        name: &str,
        config: &FsConfig,
    ) -> Result<FsConnector, ConnectorError> {
        let mut config = config.clone();
        config.roots = config.roots.iter().map(|r| file.resolve(r)).collect();
        config.undo_dir = file.resolve(&config.undo_dir);
        FsConnector::with(config).map_err(|e| file.error(format!("connectors.{name}: {e}")))
    }

    /// A connector over `config` as given (absolute paths). Each root (and `undo_dir`) is
    /// opened now: later operations go through these handles, never through the paths.
    pub fn with(config: FsConfig) -> Result<FsConnector, String> {
        if config.new_file_mode & !0o777 != 0 {
            return Err(format!(
                "`new_file_mode` {:#o}: only permission bits (at most 0o777) may be given",
                config.new_file_mode
            ));
        }
        let roots = Roots::open(&config.roots)?;
        let undo_path = UndoStore::create(&config.undo_dir)?;
        // A pre-image under a root could be read (or a root under the store written) by
        // the agent whose change it undoes.
        if let Some(root) = roots.overlapping(&undo_path) {
            return Err(format!(
                "undo_dir `{}` and root `{}` overlap: keep the pre-images outside the roots",
                undo_path.display(),
                root.display()
            ));
        }
        let undo = UndoStore::open(undo_path)?;
        Ok(FsConnector { roots, undo, config })
    }

    /// `raw` as a path under a root (lexically: `..` resolved, the root found), or why
    /// not. Symlinks are dealt with when the path is used, beneath the root's handle.
    pub fn contain(&self, raw: &str) -> Result<PathBuf, String> {
        self.roots.locate(raw).map(|located| located.shown)
    }

    /// Whether `action` can be bound to this connector: it must have an operation, and name
    /// it in the argument this connector reads. `aecl serve` refuses a policy otherwise.
    pub fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        let Some(binding) = &action.operation else {
            return Err(format!(
                "action `{}` has effect `{}`, which implies no file operation: set \
                 `operation` (read, write, delete or move) with a matching `effect`",
                action.name,
                action.effect.as_str()
            ));
        };
        if binding.arg != self.config.op_arg {
            return Err(format!(
                "action `{}` names its operation in argument `{}`, this connector in `{}` \
                 (`op_arg`): make them agree (`operation_arg` in the catalog)",
                action.name, binding.arg, self.config.op_arg
            ));
        }
        arguments::check_rules_placed(&self.config, action, binding.operation)
    }

    /// The operation of `invocation`: its action's binding. An `op` argument naming another
    /// one fails the call (the policy blocks it first; this holds in `monitor` mode too).
    fn operation(&self, invocation: &Invocation<'_>) -> Result<Operation, String> {
        let action = invocation.spec()?;
        let binding = action.operation.as_ref().ok_or_else(|| {
            format!("not_configured: action `{}` binds no file operation", action.name)
        })?;
        // Again on every call: a policy never checked against this configuration must not
        // act on a path its rules did not judge.
        arguments::check_rules_placed(&self.config, action, binding.operation)
            .map_err(|why| format!("not_configured: {why}; nothing was done"))?;
        for arg in [&binding.arg, &self.config.op_arg] {
            if let Some(named) = invocation.call.args.get(arg)
                && named.as_str() != Some(binding.operation.as_str())
            {
                return Err(format!(
                    "operation_mismatch: action `{}` is bound to operation `{}`; the call asks \
                     for {named} in `{arg}`; nothing was done",
                    action.name, binding.operation
                ));
            }
        }
        Ok(binding.operation)
    }

    fn at<'r>(&'r self, located: &'r Located) -> Result<Beneath<'r>, String> {
        self.roots.beneath(located)
    }

    /// `located`, to be opened only where `path` (a token's) names.
    fn undo_at<'r>(&'r self, located: &'r Located, path: &'r Path) -> Result<Beneath<'r>, String> {
        Ok(self.at(located)?.decided_at(Some(path)))
    }

    fn run(
        &self,
        invocation: &Invocation<'_>,
    ) -> Result<(serde_json::Value, Option<String>), String> {
        let operation = self.operation(invocation)?;
        let args = &invocation.call.args;
        let text = |name: &str| -> Result<&str, String> {
            args.get(name)
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("bad_request: argument `{name}` is missing or not text"))
        };
        // Where the engine resolved each path when it judged the call; what is opened must
        // be there (`Beneath::decided`).
        let decided = |raw: &str| invocation.call.paths.lookup(raw).ok().flatten().map(Path::new);
        let raw = text(&self.config.path_arg)?;
        let located = self.roots.locate(raw)?;
        let path = &located.shown;
        let at = self.at(&located)?.decided_at(decided(raw));
        // A token names where the change was made, as the kernel reached it: the undo acts
        // there and nowhere else (`undo`), even when the agent's path went through a link.
        let physical = |raw: &str, shown: &Path| decided(raw).unwrap_or(shown).to_path_buf();
        let effect = invocation.effect_id;
        match operation {
            Operation::Read => {
                let bytes = at
                    .read("read", self.config.max_read_bytes)?
                    .ok_or_else(|| format!("read `{}`: no such file", path.display()))?;
                let content = String::from_utf8_lossy(&bytes).into_owned();
                Ok((json!({ "path": path, "content": content, "bytes": bytes.len() }), None))
            }
            Operation::Write => {
                let content = text(&self.config.content_arg)?;
                let before = at.read_kept("write", MAX_PREIMAGE_BYTES)?;
                if let Some((bytes, meta)) = &before {
                    owner_kept("write", path, meta)?;
                    self.undo.keep(effect, bytes)?;
                }
                let token = FsToken::Write {
                    path: physical(raw, path),
                    existed: before.is_some(),
                    before_sha256: before.as_ref().map(|(bytes, _)| sha256_hex(bytes)),
                    after_sha256: sha256_hex(content.as_bytes()),
                    undo: effect.to_owned(),
                    before_meta: before.as_ref().map(|(_, meta)| *meta),
                };
                // After the pre-image, before the change (`fs/reconcile.rs`).
                self.intend(effect, &token)?;
                // Only the file read above is replaced, and only an absent one created: a
                // file that changed or appeared since is a conflict, never overwritten. The
                // file replaced must still have the mode and owner read with it, which the
                // new file is given.
                match &before {
                    Some((bytes, meta)) => {
                        let expected = Expected { sha256: sha256_hex(bytes), meta: Some(*meta) };
                        let given = Ownership::As(meta.for_new_content());
                        at.replace_checked(content.as_bytes(), &expected, given)?;
                    }
                    None => at.create(content.as_bytes(), self.new_file())?,
                }
                Ok((json!({ "path": path, "bytes": content.len() }), token_text(&token)))
            }
            Operation::Delete => {
                regular_file("delete", path, &at)?;
                let (before, meta) = at
                    .read_kept("delete", MAX_PREIMAGE_BYTES)?
                    .ok_or_else(|| format!("delete `{}`: no such file", path.display()))?;
                // The undo must be able to give the file back its owner.
                owner_kept("delete", path, &meta)?;
                self.undo.keep(effect, &before)?;
                let token = FsToken::Delete {
                    path: physical(raw, path),
                    before_sha256: sha256_hex(&before),
                    undo: effect.to_owned(),
                    before_meta: Some(meta),
                };
                self.intend(effect, &token)?;
                at.remove_checked(&Expected { sha256: sha256_hex(&before), meta: Some(meta) })?;
                Ok((json!({ "path": path, "deleted": true }), token_text(&token)))
            }
            Operation::Move => {
                arguments::check_destination(&self.config, invocation.spec()?, invocation.call)?;
                let to_raw = text(&self.config.to_arg)?;
                let to_located = self.roots.locate(to_raw)?;
                let to = self.at(&to_located)?.decided_at(decided(to_raw));
                regular_file("move", path, &at)?;
                if to.kind()? != Kind::Absent {
                    return Err(format!("move: `{}` exists already", to_located.shown.display()));
                }
                let bytes = at
                    .read("move", MAX_PREIMAGE_BYTES)?
                    .ok_or_else(|| format!("move `{}`: no such file", path.display()))?;
                let token = FsToken::Move {
                    from: physical(raw, path),
                    to: physical(to_raw, &to_located.shown),
                    sha256: sha256_hex(&bytes),
                };
                self.intend(effect, &token)?;
                // The check above is for the message; the rename itself refuses to replace
                // a file that appeared at `to` since.
                // A rename keeps the file itself, its mode and owner with it.
                at.rename_checked(&to, &sha256_hex(&bytes))?;
                Ok((json!({ "from": path, "to": to_located.shown }), token_text(&token)))
            }
        }
    }

    fn undo(&self, token: &FsToken) -> Compensated {
        let conflict = |detail: String| Compensated::Conflict { detail };
        let failed = |error: String| Compensated::Failed { error };
        // Paths come from a token aecl wrote, but are located again: the roots may have
        // changed since, and every access goes through a root's handle.
        let locate = |path: &Path| {
            self.roots
                .locate(&path.to_string_lossy())
                .map_err(|_| format!("`{}` is no longer under a root", path.display()))
        };
        // The token names where the change was made (no link in it, as the kernel reached
        // it): the undo acts only there. A directory on the way swapped for a link since
        // (to a folder the agent's calls may not touch, say) makes the undo a failure that
        // names both places, never a change somewhere nobody judged.
        let at = |located, path| self.undo_at(located, path);
        let digest_of = |at: &Beneath<'_>| {
            at.read("undo", MAX_PREIMAGE_BYTES).ok().flatten().map(|b| sha256_hex(&b))
        };
        let kept = |undo: &str, expected: Option<&str>| -> Result<Vec<u8>, String> {
            let before = self
                .undo
                .kept(undo, MAX_PREIMAGE_BYTES)?
                .ok_or_else(|| format!("the pre-image of `{undo}` is missing"))?;
            if expected != Some(sha256_hex(&before).as_str()) {
                return Err("the pre-image does not match its token".to_owned());
            }
            Ok(before)
        };
        match token {
            FsToken::Write { path, existed, before_sha256, after_sha256, undo, before_meta } => {
                let located = match locate(path) {
                    Ok(located) => located,
                    Err(e) => return failed(e),
                };
                let at = match at(&located, path) {
                    Ok(at) => at,
                    Err(e) => return failed(e),
                };
                if digest_of(&at).as_ref() != Some(after_sha256) {
                    return conflict(format!("`{}` changed since it was written", path.display()));
                }
                let expected = &Expected::content(after_sha256);
                let restored = if *existed {
                    match kept(undo, before_sha256.as_deref()) {
                        Ok(before) => {
                            at.replace_checked(&before, expected, self.restored(before_meta))
                        }
                        Err(e) => return failed(e),
                    }
                } else {
                    at.remove_checked(expected)
                };
                let how = if *existed { "previous content" } else { "absent" };
                settled(restored, json!({ "path": path, "restored": how }))
            }
            FsToken::Delete { path, before_sha256, undo, before_meta } => {
                let located = match locate(path) {
                    Ok(located) => located,
                    Err(e) => return failed(e),
                };
                let at = match at(&located, path) {
                    Ok(at) => at,
                    Err(e) => return failed(e),
                };
                match at.kind() {
                    Ok(Kind::Absent) => {}
                    Ok(_) => return conflict(format!("`{}` exists again", path.display())),
                    Err(e) => return failed(e),
                }
                match kept(undo, Some(before_sha256)) {
                    Ok(before) => settled(
                        at.create(&before, self.restored(before_meta)),
                        json!({ "path": path, "restored": "previous content" }),
                    ),
                    Err(e) => failed(e),
                }
            }
            FsToken::Move { from, to, sha256 } => {
                let (Ok(from_located), Ok(to_located)) = (locate(from), locate(to)) else {
                    return failed("a path is no longer under a root".to_owned());
                };
                let (Ok(source), Ok(destination)) = (at(&from_located, from), at(&to_located, to))
                else {
                    return failed("a root is no longer open".to_owned());
                };
                match source.kind() {
                    Ok(Kind::Absent) => {}
                    Ok(_) => return conflict(format!("`{}` exists again", from.display())),
                    Err(e) => return failed(e),
                }
                if digest_of(&destination).as_ref() != Some(sha256) {
                    return conflict(format!("`{}` changed since the move", to.display()));
                }
                // The checks above are for the messages: the rename refuses to replace a
                // file that appeared at the source since, and a destination file changed
                // since is moved back.
                settled(
                    destination.rename_checked(&source, sha256),
                    json!({ "path": from, "restored": "moved back" }),
                )
            }
        }
    }
}

impl FsConnector {
    /// What a file created where none was is given.
    fn new_file(&self) -> Ownership {
        Ownership::New { mode: self.config.new_file_mode }
    }

    /// What a restored file is given: what was recorded with its pre-image (a token of an
    /// earlier version recorded none: then what a new file is given, never more).
    fn restored(&self, recorded: &Option<FileMeta>) -> Ownership {
        recorded.map_or_else(|| self.new_file(), Ownership::As)
    }
}

/// Refuses to change a file whose owner and group aecl could not give back (fail closed:
/// the file would become aecl's, and its undo could not restore the owner).
fn owner_kept(what: &str, path: &Path, meta: &FileMeta) -> Result<(), String> {
    meta.check_can_be_given()
        .map_err(|why| format!("{what} `{}`: {why}; nothing was done", path.display()))
}

/// The compensation a change of an undo came to: `result` once made, a conflict when the
/// file was not as checked.
fn settled(change: Result<(), ChangeError>, result: serde_json::Value) -> Compensated {
    match change {
        Ok(()) => Compensated::Restored { result },
        Err(ChangeError::Conflict(detail)) => Compensated::Conflict { detail },
        Err(ChangeError::Io(error)) => Compensated::Failed { error },
    }
}

/// Refuses anything at `at` but a regular file (a symlink is refused, not followed).
fn regular_file(what: &str, path: &Path, at: &Beneath<'_>) -> Result<(), String> {
    match at.kind()? {
        Kind::File => Ok(()),
        Kind::Absent => Err(format!("{what} `{}`: no such file", path.display())),
        Kind::Symlink => Err(format!("{what} `{}`: the path is a symlink", path.display())),
        Kind::Other => Err(format!("{what} `{}`: not a regular file", path.display())),
    }
}

fn token_text(token: &FsToken) -> Option<String> {
    serde_json::to_string(token).ok()
}

impl Connector for FsConnector {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move {
            // Small files, local disk: done inline rather than on a blocking thread.
            match self.run(&invocation) {
                Ok((result, rollback_token)) => {
                    ConnectorOutcome::Succeeded { result, rollback_token }
                }
                Err(error) => ConnectorOutcome::Failed { error },
            }
        })
    }

    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        FsConnector::check_action(self, action)
    }

    /// Relative paths are the first root's, as [`FsConnector::run`] takes them: its
    /// canonical path, as the connector opened it (a root written relative, as the
    /// quickstart does, is no working directory the engine can resolve from).
    fn local_fs_cwd(&self, _: Invocation<'_>) -> Option<PathBuf> {
        self.roots.first().map(Path::to_path_buf)
    }

    fn reconcile<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, Reconciled> {
        Box::pin(async move { self.reconcile_effect(invocation.effect_id) })
    }

    fn compensate<'a>(
        &'a self,
        _: &'a Effect,
        _: &'a ActionSpec,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        Box::pin(async move {
            match serde_json::from_str::<FsToken>(rollback_token) {
                Ok(token) => self.undo(&token),
                Err(e) => Compensated::Failed { error: format!("bad rollback token: {e}") },
            }
        })
    }
}
