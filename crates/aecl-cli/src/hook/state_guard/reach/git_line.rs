//! The other git commands of a line, as a tree writer's check sees them. The check reads
//! what git holds before the line runs; another git command of the line may change it
//! first (`git branch -f main evil && git checkout main`), so such a line is refused as
//! only known at run time. Some commands change git only in ways the check can still
//! answer for (red team round 29, FP1: `git fetch && git rebase origin/main`, `git stash
//! && git pull && git stash pop`, `git commit -am x && git pull --rebase && git push`):
//!
//! - a fetch or a pull from a network remote the repository configures, with options that
//!   only say how: what it brings is what `git pull` alone brings, which is allowed (the
//!   remote's content is only known when it runs, see `git_tree`'s header);
//! - a stash of the work tree's own changes: `stash@{0}` then holds what the work tree
//!   has, and nothing git held before moves but the other stashes' numbers;
//! - a checkout of an existing branch by name: it is a tree writer of the line itself,
//!   checked as one, so it runs only where that branch holds HEAD's version of every
//!   protected file; after it, what the writer's check read of HEAD is what HEAD holds
//!   (round 30 FP hunt, FP-6: `git checkout main && git merge feature`);
//! - an add (not `--force`), a commit or a tag, where every agent setting of the work tree
//!   is committed as it is (or ignored) and every configuration that runs code git holds is
//!   as the work tree has it: HEAD and the index then hold what they held of those files
//!   (round 31 FP hunt, FP-2: `git commit -am wip && git checkout main`, `git add -A &&
//!   git stash`); a revision relative to HEAD after it is refused;
//! - for a pull, whose check is only where it pulls from: a commit, an add, a tag and a
//!   push, which change no remote and no upstream, and a checkout of an existing branch
//!   whose upstream is a network remote (the pull then reads it, as a pull of its own
//!   call would).
//!
//! What stays refused: any other git command (it may move HEAD, the index, a ref or the
//! configuration), one with a global option or a word only known at run time, a fetch
//! or pull from a URL, a path or with a `SRC:DST` refspec, and, after a pull, a checkout
//! or a stash, a writer naming a revision whose meaning they move (`HEAD~1`, `ORIG_HEAD`,
//! `@{-1}`, `stash@{1}`).

use aecl_core::shell::ShellArg;

use super::git_tree::git_subcommand;

/// What another git command of the line may do to what a tree writer's check read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Other {
    /// A fetch from a configured remote: moves its remote-tracking refs and `FETCH_HEAD`.
    Fetch,
    /// A pull from a configured remote: moves HEAD to what the remote brings.
    Pull,
    /// A stash of the work tree's changes: moves the stashes' numbers.
    Stash,
    /// An add, a commit, a tag, a push that sets no upstream but a configured remote:
    /// changes no remote and no upstream (what a pull reads); for any other writer, it
    /// moves HEAD or the index.
    Records,
    /// A checkout of an existing branch by name, and whether that branch's upstream (if it
    /// has one) is a network remote: moves HEAD to it.
    Switch(bool),
    /// Anything else.
    Moves,
}

/// Fetch's and pull's options that say how, never where from or where to.
const REMOTE_OPTIONS: [&str; 36] = [
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "--all",
    "-p",
    "--prune",
    "-P",
    "--prune-tags",
    "-t",
    "--tags",
    "-n",
    "--no-tags",
    "--progress",
    "--no-progress",
    "--unshallow",
    "--dry-run",
    "--atomic",
    "--no-recurse-submodules",
    "-r",
    "--rebase",
    "--rebase=true",
    "--rebase=false",
    "--rebase=merges",
    "--no-rebase",
    "--ff",
    "--no-ff",
    "--ff-only",
    "--autostash",
    "--no-autostash",
    "--no-edit",
    "--stat",
    "--no-stat",
    "--commit",
    "--no-commit",
    "--no-verify",
];

/// Fetch's and pull's options with a value that only says how much.
const REMOTE_VALUE_OPTIONS: [&str; 4] = ["--depth=", "--deepen=", "--jobs=", "--shallow-since="];

/// What the line's git commands are read against: the repository's remotes and branches.
pub(super) trait Repository {
    /// Whether git fetches `remote` (the current branch's, or `origin`, when `None`) from
    /// the network: a configured remote whose URL (`insteadOf` applied) names a host, never
    /// a path, `file://` or a helper (`ext::`), which may be a repository the agent made.
    fn network_remote(&self, remote: Option<&str>) -> bool;
    /// Whether every configured remote is a network one (`git fetch --all`).
    fn network_remotes(&self) -> bool;
    /// Whether `name` is a local branch.
    fn branch_exists(&self, name: &str) -> bool;
    /// Whether branch `name`'s upstream, if it has one, is fetched from the network (a
    /// pull after checking it out reads that upstream).
    fn branch_pulls_from_network(&self, name: &str) -> bool;
}

/// What `words` (a git command's, `git` aside) may do to what another git command of the
/// line reads.
pub(super) fn other(words: &[ShellArg], repository: &dyn Repository) -> Other {
    // Global options (`-C`, `-c`, `--git-dir`) or a word only known at run time: anything.
    if git_subcommand(words) != Some(0) || words.iter().any(|w| !w.is_known()) {
        return Other::Moves;
    }
    let Some((sub, rest)) = words.split_first() else { return Other::Moves };
    let options = rest.iter().filter(|w| w.text.starts_with('-')).map(|w| w.text.as_str());
    let positionals: Vec<&str> =
        rest.iter().filter(|w| !w.text.starts_with('-')).map(|w| w.text.as_str()).collect();
    match sub.text.as_str() {
        "fetch" | "pull" => {
            let Ok(from) = remote_words(rest) else { return Other::Moves };
            let from_remote = match from.remote.as_deref() {
                None if from.all => repository.network_remotes(),
                remote => !from.all && repository.network_remote(remote),
            };
            let kind = if sub.text == "fetch" { Other::Fetch } else { Other::Pull };
            if from_remote { kind } else { Other::Moves }
        }
        "stash" => {
            // `git stash`, `git stash push [-u] [-k] [-m MESSAGE]`, `git stash save [MESSAGE]`:
            // no pathspec, no `--patch`, nothing read from elsewhere.
            let mut words = rest.iter().map(|w| w.text.as_str()).peekable();
            let save = words.next_if(|w| *w == "save").is_some();
            if !save {
                words.next_if(|w| *w == "push");
            }
            let mut message = false;
            for word in words {
                if std::mem::take(&mut message) {
                    continue;
                }
                match word {
                    "-q"
                    | "--quiet"
                    | "-u"
                    | "--include-untracked"
                    | "-k"
                    | "--keep-index"
                    | "--no-keep-index" => {}
                    "-m" | "--message" => message = true,
                    w if w.starts_with("--message=") => {}
                    // `save`'s words are its message.
                    w if save && !w.starts_with('-') => {}
                    _ => return Other::Moves,
                }
            }
            Other::Stash
        }
        // `add --force` stages what an ignore rule names (an agent's local settings).
        "add"
            if options
                .clone()
                .any(|o| o.starts_with("--f") || (!o.starts_with("--") && o.contains('f'))) =>
        {
            Other::Moves
        }
        "add" | "commit" | "tag" => Other::Records,
        // `git checkout main && git pull`: the branch's own upstream, as a pull after
        // its own call would read it. Only an existing branch, by name: `-b NEW --track`
        // would choose the upstream.
        "checkout" | "switch" => {
            let quiet = options.clone().all(|o| o == "-q" || o == "--quiet");
            // A new branch where HEAD is (`git checkout -b feat/x`, no start point): HEAD
            // names another branch of the same commit, the index and the work tree stay.
            let creates = options.clone().any(|o| matches!(o, "-b" | "-c" | "--create"))
                && options
                    .clone()
                    .all(|o| matches!(o, "-b" | "-c" | "--create" | "-q" | "--quiet"));
            if creates && positionals.len() == 1 && positionals.iter().all(|b| is_plain_ref(b)) {
                return Other::Records;
            }
            match positionals.as_slice() {
                [branch] if quiet && is_plain_ref(branch) && repository.branch_exists(branch) => {
                    Other::Switch(repository.branch_pulls_from_network(branch))
                }
                _ => Other::Moves,
            }
        }
        "push" => {
            let sets_upstream = options.clone().any(|o| o == "-u" || o == "--set-upstream");
            let named = repository.network_remote(positionals.first().copied());
            if sets_upstream && !named { Other::Moves } else { Other::Records }
        }
        _ => Other::Moves,
    }
}

/// What a fetch's or a pull's words (after the subcommand) name: the remote, the
/// branches, `--all`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct RemoteWords {
    pub remote: Option<String>,
    pub branches: Vec<String>,
    pub all: bool,
}

/// Reads a fetch's or a pull's words, refusing (with the word) any option that may say
/// where from or where to, or take a separate value (`-o VALUE`, `-X VALUE`, `--refmap
/// VALUE`: red team round 30, git F2, the value was taken for the remote), and any branch
/// that is a `SRC:DST` refspec. Words after `--` are positional.
pub(super) fn remote_words(words: &[ShellArg]) -> Result<RemoteWords, String> {
    let mut out = RemoteWords::default();
    let mut positional = Vec::new();
    let mut dashes = false;
    for word in words {
        let text = word.text.as_str();
        if !word.is_known() {
            return Err(word.raw.clone());
        }
        if dashes || !text.starts_with('-') {
            positional.push(text.to_owned());
        } else if text == "--" {
            dashes = true;
        } else if REMOTE_OPTIONS.contains(&text)
            || REMOTE_VALUE_OPTIONS.iter().any(|p| text.starts_with(p) && text.len() > p.len())
        {
            out.all |= text == "--all";
        } else {
            return Err(word.raw.clone());
        }
    }
    let mut positional = positional.into_iter();
    out.remote = positional.next();
    out.branches = positional.collect();
    if let Some(bad) = out.branches.iter().find(|b| !is_plain_ref(b)) {
        return Err(bad.clone());
    }
    Ok(out)
}

/// A branch or tag name as fetch and pull take one to bring, not a `SRC:DST` refspec that
/// would write a ref of the agent's choosing.
fn is_plain_ref(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(['+', '-', '.']) && !name.contains([':', '\\'])
}

/// Whether a revision a writer names may mean another commit once the line's earlier
/// pull or stash has run: HEAD's relatives and reflogs, and the stashes but the newest
/// (which then holds the work tree's own changes).
pub(super) fn moved_by(revision: &str, others: &[Other]) -> bool {
    // A pull moves HEAD to what it brings, a checkout to its branch, a commit to itself.
    let pulled =
        others.iter().any(|o| matches!(o, Other::Pull | Other::Switch(_) | Other::Records));
    let stashed = others.contains(&Other::Stash);
    // The newest stash, as `stash pop` names it (with its third parent, the untracked
    // files): it then holds the work tree's own changes.
    let newest = ["stash", "stash@{0}", "refs/stash", "refs/stash@{0}"]
        .iter()
        .any(|n| revision == *n || revision.strip_prefix(n) == Some("^3"));
    let relative = revision.contains("HEAD")
        || revision.contains('~')
        || (revision.contains('^') && !newest)
        || revision == "@"
        || (revision.contains("@{") && !newest);
    // Any other spelling of a stash (`refs/stash@{1}`, `stash~1`: red team round 30, git F4).
    let stash = revision.contains("stash") && !newest;
    (pulled && relative) || (stashed && stash)
}

/// Whether git reaches `url` (as `git ls-remote --get-url` prints it) over the network: a
/// `http(s)`, `ssh` or `git` URL, or scp's `[user@]host:path` (a colon before any slash),
/// never a path, `file://` or a remote helper (`ext::cmd`, `fd::`), nor a host of this
/// machine or its private network (`localhost`, `127.0.0.1`, `127.1`, `[::1]`, `10.x`: a
/// server the agent may have started, red team round 30, git F6).
pub(super) fn is_network_url(url: &str) -> bool {
    if url.contains("::") || url.chars().any(char::is_control) {
        return false;
    }
    let host = if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if !["http", "https", "ssh", "git", "git+ssh", "ssh+git"].contains(&scheme.as_str()) {
            return false;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        }
    } else {
        match url.split_once(':') {
            Some((host, path)) if !host.is_empty() && !host.contains('/') && !path.is_empty() => {
                let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
                host.trim_start_matches('[').trim_end_matches(']')
            }
            _ => return false,
        }
    };
    is_public_host(host)
}

/// Whether `host` names a machine elsewhere: not empty, not this machine's names, and not
/// an address of this machine or a private network, in any spelling the resolver takes
/// (`127.1`, `0x7f000001`, `2130706433` are 127.0.0.1 to `inet_aton`).
fn is_public_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host == "localhost" || host.ends_with(".localhost") {
        return false;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => is_public_v4(v4),
        Ok(std::net::IpAddr::V6(v6)) => {
            let first = v6.segments().first().copied().unwrap_or_default();
            let local = v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80;
            !local && v6.to_ipv4_mapped().is_none_or(is_public_v4)
        }
        // A name with letters beyond hexadecimal digits is a host name; one of digits, dots
        // and `x` only is an address in a short or numeric spelling.
        Err(_) => !host.chars().all(|c| c.is_ascii_hexdigit() || c == '.' || c == 'x'),
    }
}

fn is_public_v4(v4: std::net::Ipv4Addr) -> bool {
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.octets().first() == Some(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `origin` and `upstream` are network remotes, `local` a path; `main` is a branch.
    struct Fake;

    impl Repository for Fake {
        fn network_remote(&self, remote: Option<&str>) -> bool {
            matches!(remote, None | Some("origin" | "upstream"))
        }
        fn network_remotes(&self) -> bool {
            false
        }
        fn branch_exists(&self, name: &str) -> bool {
            matches!(name, "main" | "dev")
        }
        fn branch_pulls_from_network(&self, name: &str) -> bool {
            name == "main"
        }
    }

    fn of(line: &str) -> Other {
        let words: Vec<ShellArg> = line.split_whitespace().map(ShellArg::known).collect();
        other(&words, &Fake)
    }

    #[test]
    fn fetches_and_pulls_from_a_network_remote_with_options_that_say_how() {
        for line in ["fetch", "fetch -q --prune origin", "fetch origin main", "fetch --depth=1"] {
            assert_eq!(of(line), Other::Fetch, "{line}");
        }
        for line in ["pull", "pull --rebase", "pull -r --autostash upstream main", "pull --ff-only"]
        {
            assert_eq!(of(line), Other::Pull, "{line}");
        }
        for line in [
            "fetch local",
            "fetch ../evil main",
            "fetch origin main:main",
            "fetch origin +refs/heads/x",
            "fetch --all",
            "fetch --upload-pack=sh origin",
            "fetch --refmap=x origin",
            "pull . evil",
            "pull -s ours",
            "pull origin evil:main",
            "-c remote.origin.url=../x fetch",
            "-C ../other fetch",
        ] {
            assert_eq!(of(line), Other::Moves, "{line}");
        }
    }

    #[test]
    fn stashes_of_the_work_tree_and_nothing_else() {
        for line in ["stash", "stash push -u -m wip", "stash save wip on parser", "stash -k"] {
            assert_eq!(of(line), Other::Stash, "{line}");
        }
        for line in ["stash pop", "stash apply", "stash push -- a.rs", "stash -p", "stash drop"] {
            assert_eq!(of(line), Other::Moves, "{line}");
        }
    }

    #[test]
    fn records_for_a_pull_only_and_checkouts_of_existing_branches() {
        for line in [
            "add -A",
            "commit -qm x",
            "push",
            "push -u origin HEAD",
            "switch -c x",
            "checkout -b f/x",
        ] {
            assert_eq!(of(line), Other::Records, "{line}");
        }
        assert_eq!(of("checkout -q main"), Other::Switch(true));
        assert_eq!(of("switch dev"), Other::Switch(false));
        for line in [
            "push -u local HEAD",
            "checkout -b x --track main",
            "checkout feature",
            "checkout -b x main",
            "add -f .claude/settings.local.json",
            "add --force x",
            "remote add e ../evil",
            "branch -u evil",
            "config branch.main.remote .",
            "reset --soft HEAD~1",
        ] {
            assert_eq!(of(line), Other::Moves, "{line}");
        }
    }

    #[test]
    fn revisions_a_pull_or_a_stash_moves() {
        let pulled = [Other::Pull];
        for revision in ["HEAD~1", "HEAD", "@", "@{1}", "ORIG_HEAD", "main~2", "main^"] {
            assert!(moved_by(revision, &pulled), "{revision}");
        }
        for revision in ["origin/main", "v1.0", "stash@{0}^3"] {
            assert!(!moved_by(revision, &pulled), "{revision}");
        }
        let stashed = [Other::Stash];
        assert!(moved_by("stash@{1}", &stashed));
        assert!(moved_by("stash^", &stashed));
        assert!(!moved_by("stash@{0}", &stashed));
        assert!(!moved_by("HEAD~1", &stashed));
        assert!(!moved_by("HEAD~1", &[Other::Fetch]));
        assert!(moved_by("@{-1}", &[Other::Switch(true)]));
        assert!(!moved_by("feature", &[Other::Switch(false)]));
    }

    #[test]
    fn network_urls_name_a_host() {
        for url in ["https://github.com/o/r.git", "ssh://git@h/r", "git@github.com:o/r", "h:r"] {
            assert!(is_network_url(url), "{url}");
        }
        for url in [
            ".",
            "../evil",
            "/tmp/r",
            "file:///tmp/r",
            "ext::sh -c x",
            "evil",
            "./a:b",
            "git://127.0.0.1/evil",
            "http://localhost:9418/x",
            "https://u@[::1]/x",
            "ssh://git@127.1/x",
            "git@localhost:evil",
            "https://10.0.0.5/x",
            "http://2130706433/x",
            "http://0x7f000001/x",
            "git://printer.localhost./x",
            "http://[::ffff:127.0.0.1]/x",
            "https://192.168.1.10/x",
        ] {
            assert!(!is_network_url(url), "{url}");
        }
        assert!(is_network_url("https://deadbeef.example/x"));
        assert!(is_network_url("https://140.82.112.3/o/r.git"));
    }
}
