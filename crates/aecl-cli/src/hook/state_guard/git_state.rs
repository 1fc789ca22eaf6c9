//! Whether git holds a file committed as it is, for the guard's git tree writers (`git
//! clean`, `git stash`, `git checkout -- .`): they remove what git does not track, or
//! restore what it does over the changes made since.
//!
//! Git is asked only what it reads from its own objects, index and ignore rules:
//! `ls-tree`, `rev-parse`, `hash-object --no-filters`, `ls-files`, `check-ignore`, from
//! the work tree's top-level directory. None
//! of them runs a filter, a hook or `core.fsmonitor` (set off besides), so asking never
//! runs a command a repository's configuration names. The agent's `GIT_*` variables are
//! not passed on: the work tree decides the repository (a command that moves it is
//! refused before: `reach::git_tree`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// What git holds of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// HEAD holds it, as it is in the work tree.
    Committed,
    /// Git tracks it, but HEAD holds another version or none (a change, a staged file).
    Changed,
    /// Git does not track it, and no ignore rule names it.
    Untracked,
    /// Git does not track it, and an ignore rule names it.
    Ignored,
}

impl FileState {
    /// How a reason says it.
    pub fn describe(self) -> &'static str {
        match self {
            FileState::Committed => "committed as it is",
            FileState::Changed => "changed since its last commit",
            FileState::Untracked => "not tracked by git",
            FileState::Ignored => "ignored by git",
        }
    }
}

/// What git holds of `file`, an existing file beneath the work tree `root` (its top-level
/// directory): committed as it is when HEAD, the index and the file agree (and the index
/// marks it neither assume-unchanged nor skip-worktree). A file inside a nested repository
/// (a `.git` between `root` and it) is an error: which repository a command acts on is
/// then not certain.
pub fn of(root: &Path, file: &Path) -> Result<FileState, String> {
    let rel = relative(root, file)?;
    if std::fs::symlink_metadata(file).map_err(|e| e.to_string())?.is_symlink() {
        // Hashed through to its target's bytes, a link never matches: changed.
        return Ok(FileState::Changed);
    }
    let head = blob(root, "HEAD", &rel)?;
    // `H 100644 <id> 0\t<path>`: the tag says plain tracked (`h`, `S`: assume-unchanged,
    // skip-worktree).
    let index = succeeded(git(root, &["ls-files", "-z", "-s", "-v", "--", &rel])?)?;
    let index = String::from_utf8_lossy(&index);
    let entry: Vec<&str> =
        index.split('\t').next().unwrap_or_default().split(' ').filter(|p| !p.is_empty()).collect();
    if head.is_none() && entry.is_empty() {
        let ignore = git(root, &["check-ignore", "-q", "--", &rel])?;
        return match ignore.status.code() {
            Some(0) => Ok(FileState::Ignored),
            Some(1) => Ok(FileState::Untracked),
            _ => Err(failure(&ignore)),
        };
    }
    let work = succeeded(git(root, &["hash-object", "--no-filters", "--", &rel])?)?;
    let work = String::from_utf8_lossy(&work).trim().to_owned();
    let committed = matches!(entry.as_slice(), ["H", mode, id, "0"]
        if mode.starts_with("100") && head == Some(format!("{mode} {id}")) && *id == work);
    Ok(if committed { FileState::Committed } else { FileState::Changed })
}

/// Whether `revision` holds `file` (beneath `root`) otherwise than HEAD does, or, with
/// `parent`, otherwise than its own parent does (the change a commit makes). The word is
/// resolved to an object first, whatever its spelling (`:/message`, `@{-1}`, a tag); one
/// that names no revision: `false`.
pub fn differs(root: &Path, file: &Path, revision: &str, parent: bool) -> Result<bool, String> {
    let rel = relative(root, file)?;
    // `A..B`, `A...B`: the commits from A to B; their change is B's version against A's.
    if let Some((from, to)) = revision.split_once("..") {
        let to = to.strip_prefix('.').unwrap_or(to);
        let or_head =
            |end: &'_ str| if end.is_empty() { "HEAD".to_owned() } else { end.to_owned() };
        let (Some(from), Some(to)) = (resolve(root, &or_head(from))?, resolve(root, &or_head(to))?)
        else {
            // A range git would read and this check cannot: refused.
            return Ok(true);
        };
        return Ok(blob(root, &from, &rel)? != blob(root, &to, &rel)?);
    }
    let ours = |id: &str| {
        if parent { blob(root, &format!("{id}^"), &rel) } else { blob(root, "HEAD", &rel) }
    };
    // A name may be a branch and a tag at once, and commands differ on which they take:
    // every object the name may stand for is compared.
    let mut ids: Vec<String> = resolve(root, revision)?.into_iter().collect();
    let refs = git(
        root,
        &[
            "for-each-ref",
            "--format=%(objectname)",
            &format!("refs/heads/{revision}"),
            &format!("refs/tags/{revision}"),
            &format!("refs/remotes/{revision}"),
        ],
    )?;
    if refs.status.success() {
        ids.extend(String::from_utf8_lossy(&refs.stdout).lines().map(str::to_owned));
    }
    for id in ids {
        if blob(root, &id, &rel)? != ours(&id)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The object `revision` names, if it names one.
fn resolve(root: &Path, revision: &str) -> Result<Option<String>, String> {
    let out = git(root, &["rev-parse", "-q", "--verify", "--end-of-options", revision])?;
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
}

/// `file`'s path from `root`, refused when a directory between them holds a `.git`.
fn relative(root: &Path, file: &Path) -> Result<String, String> {
    let rel = file
        .strip_prefix(root)
        .map_err(|_| format!("`{}` is not beneath `{}`", file.display(), root.display()))?;
    let mut dir = file.parent();
    while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root) {
        if std::fs::symlink_metadata(d.join(".git")).is_ok() {
            return Err(format!("`{}` is a repository of its own", d.display()));
        }
        dir = d.parent();
    }
    rel.to_str().map(str::to_owned).ok_or_else(|| format!("`{}` is not UTF-8", file.display()))
}

/// The blob `revision` holds at `rel` (`MODE ID`), if any (`None` too when the revision does not
/// resolve: no commit yet).
fn blob(root: &Path, revision: &str, rel: &str) -> Result<Option<String>, String> {
    let out = git(root, &["ls-tree", "-z", "--full-tree", revision, "--", rel])?;
    if !out.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.split_once('\t').and_then(|(meta, _)| {
        let parts: Vec<&str> = meta.split(' ').collect();
        match parts.as_slice() {
            [mode, "blob", id] => Some(format!("{mode} {id}")),
            _ => None,
        }
    }))
}

/// The system's directories git is looked for in, in order: never the agent's `PATH`, where
/// a directory the agent may write (an activated `.venv/bin`, `node_modules/.bin`) can come
/// before the real git, whose `git` would then run inside the hook, outside every decision
/// (red team round 20, HK2).
const SYSTEM_DIRECTORIES: [&str; 6] =
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// git in the system's directories: a file the superuser owns that only it may change,
/// in a directory likewise: the last of [`git_candidates`], whose places the guard keeps
/// every tool call from writing (`protected.rs`, even for an agent running as the
/// superuser).
fn system_git() -> Result<PathBuf, String> {
    let (mut candidates, found) = places_up_to_git();
    candidates.pop().filter(|_| found).ok_or_else(|| {
        format!(
            "no git in the system's directories ({}) that only the superuser may change",
            SYSTEM_DIRECTORIES.join(", ")
        )
    })
}

/// The places git is looked for in, up to and including the one [`system_git`] takes (all
/// of them when none qualifies): a file written at any of them is the git the hook runs,
/// or would be found before it (red team round 20, second pass, hooks N1: a root agent's
/// `cp x /usr/local/sbin/git`).
pub(crate) fn git_candidates() -> Vec<PathBuf> {
    places_up_to_git().0
}

/// [`git_candidates`], and whether the last is a git [`system_git`] may run.
fn places_up_to_git() -> (Vec<PathBuf>, bool) {
    let mut candidates = Vec::new();
    for dir in SYSTEM_DIRECTORIES {
        let git = Path::new(dir).join("git");
        let found = is_kept_git(&git);
        candidates.push(git);
        if found {
            return (candidates, true);
        }
    }
    (candidates, false)
}

/// Whether `git` is a file the superuser owns that only it may change, in directories
/// likewise.
fn is_kept_git(git: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let kept =
        |path: &Path| std::fs::metadata(path).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0);
    let real = std::fs::canonicalize(git);
    real.as_deref()
        .is_ok_and(|real| kept(real) && real.ancestors().skip(1).all(kept) && real.is_file())
}

/// Every path git holds in the index, in HEAD and in each of `revisions` (relative to the
/// work tree `root`, its top-level directory): what a tree writer may bring into the work
/// tree, whether the work tree has it or not. A revision git cannot read names nothing
/// here (the checks of [`differs`] refuse it).
pub fn held_paths(root: &Path, revisions: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut add = |bytes: Vec<u8>| {
        out.extend(
            bytes
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        );
    };
    add(succeeded(git(root, &["ls-files", "-z", "--cached"])?)?);
    for revision in std::iter::once("HEAD").chain(revisions.iter().copied()) {
        // A range's commits are written one after the other: every path one of them
        // changes (second pass, H1: `git cherry-pick master..evil` listed nothing).
        let listed = if revision.contains("..") {
            git(
                root,
                &[
                    "log",
                    "--no-renames",
                    "--no-ext-diff",
                    "--no-textconv",
                    "--format=",
                    "--name-only",
                    "-z",
                    "--end-of-options",
                    revision,
                    "--",
                ],
            )?
        } else {
            git(root, &["ls-tree", "-r", "-z", "--name-only", revision, "--"])?
        };
        if listed.status.success() {
            add(listed.stdout);
        }
    }
    Ok(out)
}

/// Whether a git tree writer that puts the index's or HEAD's version of `rel` (a path git
/// holds, relative to the work tree `root`) over the work tree (`reset --hard`, `checkout
/// -- .`, `stash`) may write it otherwise than the work tree has it: the work tree lacks it
/// or holds no plain file there, or the index or HEAD holds other content or another mode.
pub fn restores_otherwise(root: &Path, rel: &str) -> Result<bool, String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(root.join(rel)) else { return Ok(true) };
    if !meta.is_file() {
        return Ok(true);
    }
    let mode = if meta.permissions().mode() & 0o111 != 0 { "100755" } else { "100644" };
    let id = succeeded(git(root, &["hash-object", "--no-filters", "--", rel])?)?;
    let work = format!("{mode} {}", String::from_utf8_lossy(&id).trim());
    // `MODE ID STAGE\tPATH` for each stage the index holds.
    let index = succeeded(git(root, &["ls-files", "-z", "-s", "--", rel])?)?;
    for entry in index.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let meta: Vec<&str> = entry.split('\t').next().unwrap_or_default().split(' ').collect();
        if let [mode, id, _] = meta.as_slice()
            && format!("{mode} {id}") != work
        {
            return Ok(true);
        }
    }
    Ok(blob(root, "HEAD", rel)?.is_some_and(|held| held != work))
}

/// Whether taking `revision` (a checkout, merge, rebase onto it) may write `rel` (beneath
/// the work tree `root`): the revision holds it otherwise than HEAD does, or, with
/// `parent`, its own change to it (a cherry-pick, a revert, a stash applied). A range
/// (`A..B`, `A...B`) is each of its commits' changes: what a cherry-pick or a rebase
/// writes one after the other, a hook among them run on the way. A file the revision does
/// not hold is none it brings; a word that names no revision, nothing.
pub fn brings(root: &Path, rel: &str, revision: &str, parent: bool) -> Result<bool, String> {
    /// Commits of a range looked at, at most; past it the range is taken to bring it.
    const MAX_COMMITS: usize = 2_000;
    if revision.contains("..") {
        let listed = git(root, &["rev-list", "--end-of-options", revision, "--", rel])?;
        if !listed.status.success() {
            return Ok(false);
        }
        let commits: Vec<String> =
            String::from_utf8_lossy(&listed.stdout).lines().map(str::to_owned).collect();
        if commits.len() > MAX_COMMITS {
            return Ok(true);
        }
        // `rev-list -- PATH` keeps the commits that change it: one that adds or changes it
        // (rather than removing it) brings it.
        for commit in commits {
            if blob(root, &commit, rel)?.is_some() {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let Some(id) = resolve(root, revision)? else { return Ok(false) };
    let Some(theirs) = blob(root, &id, rel)? else { return Ok(false) };
    let ours = if parent { blob(root, &format!("{id}^"), rel)? } else { blob(root, "HEAD", rel)? };
    Ok(ours.as_ref() != Some(&theirs))
}

/// Whether `revision` names an object in the repository of `root` (an error is no).
pub fn resolves(root: &Path, revision: &str) -> bool {
    resolve(root, revision).is_ok_and(|id| id.is_some())
}

/// The value of configuration `key` in the repository of `root`, `None` when unset.
pub fn config_value(root: &Path, key: &str) -> Result<Option<String>, String> {
    let out = git(root, &["config", "--get", "--end-of-options", key])?;
    match out.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_owned())),
        Some(1) => Ok(None),
        _ => Err(failure(&out)),
    }
}

/// The branch a `git pull` of the current branch merges (`branch.NAME.merge`), `None` on
/// a detached HEAD or with no upstream.
pub fn upstream_merge(root: &Path) -> Result<Option<String>, String> {
    let out = git(root, &["symbolic-ref", "-q", "--short", "HEAD"])?;
    if !out.status.success() {
        return Ok(None);
    }
    let branch = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    config_value(root, &format!("branch.{branch}.merge"))
}

/// The remotes the repository of `root` configures, by name (`git remote`).
pub fn remotes(root: &Path) -> Result<Vec<String>, String> {
    let out = succeeded(git(root, &["remote"])?)?;
    Ok(String::from_utf8_lossy(&out).lines().map(str::to_owned).collect())
}

/// The URL git fetches `remote` from (the current branch's remote, or `origin`, when
/// `None`), `insteadOf` applied; a name no remote has is printed as it is (git takes it for
/// a path or a URL), the current branch's local upstream as `.`.
pub fn remote_url(root: &Path, remote: Option<&str>) -> Result<String, String> {
    let mut args = vec!["ls-remote", "--get-url"];
    args.extend(remote.map(|r| ["--end-of-options", r]).into_iter().flatten());
    let out = succeeded(git(root, &args)?)?;
    Ok(String::from_utf8_lossy(&out).trim_end_matches('\n').to_owned())
}

fn git(dir: &Path, args: &[&str]) -> Result<Output, String> {
    let mut command = Command::new(system_git()?);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GIT_") {
            command.env_remove(name);
        }
    }
    command
        .args(["-c", "core.fsmonitor=false", "--no-pager"])
        .args(args)
        .current_dir(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        // Whatever git itself starts is looked for where git was, never the agent's PATH.
        .env("PATH", SYSTEM_DIRECTORIES.join(":"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))
}

fn succeeded(output: Output) -> Result<Vec<u8>, String> {
    if output.status.success() { Ok(output.stdout) } else { Err(failure(&output)) }
}

fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("git: {}", stderr.lines().next().unwrap_or("failed").trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(["-c", "user.email=t@t", "-c", "user.name=t"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_file_is_committed_changed_untracked_or_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        run(root, &["init", "-q", "."]);
        std::fs::create_dir(root.join(".claude")).unwrap();
        let settings = root.join(".claude/settings.json");
        let local = root.join(".claude/settings.local.json");
        std::fs::write(&settings, "{}\n").unwrap();
        // No commit yet: untracked, then staged.
        assert_eq!(of(root, &settings), Ok(FileState::Untracked));
        run(root, &["add", ".claude/settings.json"]);
        assert_eq!(of(root, &settings), Ok(FileState::Changed));
        run(root, &["commit", "-qm", "x"]);
        assert_eq!(of(root, &settings), Ok(FileState::Committed));
        std::fs::write(&settings, "{\"hooks\": {}}\n").unwrap();
        assert_eq!(of(root, &settings), Ok(FileState::Changed));
        std::fs::write(&settings, "{}\n").unwrap();
        std::fs::write(root.join(".gitignore"), "settings.local.json\n").unwrap();
        std::fs::write(&local, "{}\n").unwrap();
        assert_eq!(of(root, &local), Ok(FileState::Ignored));
        // Assume-unchanged hides a change from git's own commands.
        run(root, &["update-index", "--assume-unchanged", ".claude/settings.json"]);
        std::fs::write(&settings, "{}\n").unwrap();
        assert_eq!(of(root, &settings), Ok(FileState::Changed));
        run(root, &["update-index", "--no-assume-unchanged", ".claude/settings.json"]);
        assert_eq!(of(root, &settings), Ok(FileState::Committed));
        // The index differs from HEAD: a restore from the index changes the file.
        std::fs::write(&settings, "{\"other\": 1}\n").unwrap();
        run(root, &["add", ".claude/settings.json"]);
        std::fs::write(&settings, "{}\n").unwrap();
        assert_eq!(of(root, &settings), Ok(FileState::Changed));
        run(root, &["reset", "-q"]);
        // A commit that changes the file, and a revision that holds another version.
        std::fs::write(&settings, "{\"hooks\": 1}\n").unwrap();
        run(root, &["commit", "-qam", "y"]);
        assert_eq!(differs(root, &settings, "HEAD~1", false), Ok(true));
        assert_eq!(differs(root, &settings, ":/x", false), Ok(true));
        assert_eq!(differs(root, &settings, "HEAD", true), Ok(true));
        assert_eq!(differs(root, &settings, "HEAD", false), Ok(false));
        assert_eq!(differs(root, &settings, "no-such-branch", false), Ok(false));
        assert_eq!(differs(root, &settings, "HEAD~1..HEAD", true), Ok(true));
        assert_eq!(differs(root, &settings, "HEAD..HEAD", true), Ok(false));
        assert_eq!(differs(root, &settings, "nowhere..HEAD", true), Ok(true));
        // A tag and a branch of one name: either one's version counts.
        run(root, &["branch", "twin", "HEAD~1"]);
        run(root, &["tag", "twin", "HEAD"]);
        assert_eq!(differs(root, &settings, "twin", false), Ok(true));
        // A nested repository: which one a command acts on is not certain.
        run(root, &["init", "-q", ".claude"]);
        assert!(of(root, &settings).is_err());
    }
}
