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
//! - for a pull, whose check is only where it pulls from: a commit, an add, a tag and a
//!   push, which change no remote and no upstream, and a checkout of an existing branch
//!   (whose upstream the pull then reads, as a pull of its own call would).
//!
//! What stays refused: any other git command (it may move HEAD, the index, a ref or the
//! configuration), one with a global option or a word only known at run time, a fetch
//! or pull from a URL, a path or with a `SRC:DST` refspec, and, after a pull or a stash, a
//! writer naming a revision whose meaning they move (`HEAD~1`, `ORIG_HEAD`, `@{1}`,
//! `stash@{1}`).

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
    /// An add, a commit, a tag, a push that sets no upstream but a configured remote, a
    /// checkout of an existing branch: changes no remote and no upstream (what a pull
    /// reads); for any other writer, it moves HEAD or the index.
    Records,
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
            let known = |o: &str| {
                REMOTE_OPTIONS.contains(&o) || REMOTE_VALUE_OPTIONS.iter().any(|p| o.starts_with(p))
            };
            let all = options.clone().any(|o| o == "--all");
            let from_remote = match positionals.split_first() {
                None if all => repository.network_remotes(),
                None => repository.network_remote(None),
                Some((remote, branches)) => {
                    !all && repository.network_remote(Some(remote))
                        && branches.iter().all(|b| is_plain_ref(b))
                }
            };
            let kind = if sub.text == "fetch" { Other::Fetch } else { Other::Pull };
            if options.clone().all(known) && from_remote { kind } else { Other::Moves }
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
        "add" | "commit" | "tag" => Other::Records,
        // `git checkout main && git pull`: the branch's own upstream, as a pull after
        // its own call would read it. Only an existing branch, by name: `-b NEW --track`
        // would choose the upstream.
        "checkout" | "switch" => {
            let branch =
                positionals.first().is_some_and(|b| is_plain_ref(b) && repository.branch_exists(b));
            let quiet = options.clone().all(|o| o == "-q" || o == "--quiet");
            if positionals.len() == 1 && quiet && branch { Other::Records } else { Other::Moves }
        }
        "push" => {
            let sets_upstream = options.clone().any(|o| o == "-u" || o == "--set-upstream");
            let named = repository.network_remote(positionals.first().copied());
            if sets_upstream && !named { Other::Moves } else { Other::Records }
        }
        _ => Other::Moves,
    }
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
    let pulled = others.contains(&Other::Pull);
    let stashed = others.contains(&Other::Stash);
    let relative = revision.contains("HEAD")
        || revision.contains('~')
        || revision.contains('^') && !revision.starts_with("stash")
        || revision == "@"
        || revision.contains("@{") && !revision.starts_with("stash@{0}");
    let stash = revision.starts_with("stash") && !revision.starts_with("stash@{0}");
    (pulled && relative) || (stashed && stash)
}

/// Whether `text` is a plain list of `count` simple commands (separated by `&&`, `||`,
/// `;` or newlines, outside quotes), so that the analysis lists them in the order they run:
/// no pipeline or background job (commands run at once), no subshell, group, loop,
/// condition, function, substitution or here-document (commands run before, after or
/// again). Anything else is read as if every command could run before every other.
pub(super) fn in_order(text: &str, count: usize) -> bool {
    const KEYWORDS: [&str; 15] = [
        "for", "while", "until", "do", "done", "if", "then", "elif", "else", "fi", "case", "esac",
        "select", "function", "coproc",
    ];
    let mut segments = vec![String::new()];
    let (mut single, mut double) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if single {
            single = c != '\'';
        } else if c == '\\' {
            // An escaped character is a word's, whatever it is.
            chars.next();
            continue;
        } else if c == '`' || (c == '$' && next == Some('(')) {
            return false;
        } else if double {
            double = c != '"';
        } else {
            match c {
                '\'' => single = true,
                '"' => double = true,
                ';' | '\n' => {
                    segments.push(String::new());
                    continue;
                }
                '&' | '|' if next == Some(c) => {
                    chars.next();
                    segments.push(String::new());
                    continue;
                }
                // `2>&1`, `&>log`: a redirection, not a job.
                '&' if segments.last().is_some_and(|s| s.ends_with('>')) || next == Some('>') => {}
                '&' | '|' | '(' | ')' | '{' | '}' => return false,
                '<' if next == Some('<') => return false,
                _ => {}
            }
        }
        if let Some(segment) = segments.last_mut() {
            segment.push(c);
        }
    }
    segments.retain(|s| !s.trim().is_empty());
    let keyword =
        |s: &String| s.split_whitespace().next().is_some_and(|w| KEYWORDS.contains(&w) || w == "!");
    !single && !double && segments.len() == count && !segments.iter().any(keyword)
}

/// Whether git reaches `url` (as `git ls-remote --get-url` prints it) over the network: a
/// `http(s)`, `ssh` or `git` URL, or scp's `[user@]host:path` (a colon before any slash),
/// never a path, `file://` or a remote helper (`ext::cmd`, `fd::`).
pub(super) fn is_network_url(url: &str) -> bool {
    if url.contains("::") || url.chars().any(char::is_control) {
        return false;
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        return ["http", "https", "ssh", "git", "git+ssh", "ssh+git"].contains(&scheme.as_str())
            && !rest.is_empty();
    }
    match url.split_once(':') {
        Some((host, path)) => !host.is_empty() && !host.contains('/') && !path.is_empty(),
        None => false,
    }
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
        for line in ["add -A", "commit -qm x", "push", "push -u origin HEAD", "checkout -q main"] {
            assert_eq!(of(line), Other::Records, "{line}");
        }
        for line in [
            "push -u local HEAD",
            "checkout -b x --track main",
            "checkout feature",
            "switch -c x",
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
    }

    #[test]
    fn a_plain_list_is_in_order_and_nothing_else() {
        for (line, count) in [
            ("git stash && git pull && git stash pop", 3),
            ("git fetch 2>&1; git rebase origin/main", 2),
            ("git commit -m 'a; b && c' && git push", 2),
            ("git add -A &&\ngit commit -qm \"x|y\"", 2),
        ] {
            assert!(in_order(line, count), "{line}");
        }
        for (line, count) in [
            ("git stash | git pull", 2),
            ("git stash & git pull", 2),
            ("(git stash) && git pull", 2),
            ("{ git stash; } && git pull", 2),
            ("for i in 1; do git stash; done", 1),
            ("git pull && echo $(git stash)", 3),
            ("git pull && echo `git stash`", 3),
            ("if git pull; then git stash; fi", 2),
            ("git apply <<EOF\nx\nEOF", 1),
            ("git commit -m 'a; b' && git push", 3),
        ] {
            assert!(!in_order(line, count), "{line}");
        }
    }

    #[test]
    fn network_urls_name_a_host() {
        for url in ["https://github.com/o/r.git", "ssh://git@h/r", "git@github.com:o/r", "h:r"] {
            assert!(is_network_url(url), "{url}");
        }
        for url in [".", "../evil", "/tmp/r", "file:///tmp/r", "ext::sh -c x", "evil", "./a:b"] {
            assert!(!is_network_url(url), "{url}");
        }
    }
}
