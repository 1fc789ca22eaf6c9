//! Program names and flags in one canonical spelling, so that a pattern written once
//! matches every way of writing the same command: `-rf`, `-fr`, `-r -f`, `--recursive
//! --force` and `-R --force` all become the flags `force` and `recursive`.
//!
//! A small table per program maps short letters and long-name abbreviations to canonical
//! long names and says which options take a value (so that the value is not read as a
//! positional argument). Where the table is silent we over-approximate: an unknown short
//! letter stays a flag of its own, and a value that starts with `-` is read as another flag
//! rather than swallowed, so an unknown option can add flags but never hide one.

/// The canonical name of a program: the base name of its path, lower-cased (macOS and
/// Windows file systems ignore case, so `/bin/RM` runs `rm` there), without `.exe`.
pub(super) fn program_name(text: &str) -> String {
    let trimmed = text.trim_end_matches('/');
    let base = trimmed.rsplit_once('/').map_or(trimmed, |(_, base)| base);
    let lower = base.to_lowercase();
    match lower.strip_suffix(".exe") {
        Some(stem) if !stem.is_empty() => stem.to_owned(),
        _ => lower,
    }
}

/// One argument as the normaliser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Arg {
    /// The literal text; for an unknown argument, the literal text before the expansion.
    pub text: String,
    /// Whether the value is only known at run time and might be (or contain) a flag.
    pub unknown: bool,
}

impl Arg {
    pub fn known(text: &str) -> Arg {
        Arg { text: text.to_owned(), unknown: false }
    }
}

/// Flags and positional arguments in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Normalised {
    /// Sorted, without duplicates.
    pub flags: Vec<String>,
    pub args: Vec<String>,
    /// How many positional arguments were known before the first unknown argument.
    pub unknown_at: Option<usize>,
}

/// What the normaliser knows about one program's options.
#[derive(Debug)]
struct FlagTable {
    programs: &'static [&'static str],
    /// Short letter → canonical long names (several when one letter implies others).
    short: &'static [(char, &'static [&'static str])],
    /// Long names the program knows (beside `long_values`), for expanding abbreviations
    /// (`--rec`).
    long: &'static [&'static str],
    /// Long aliases → canonical long name.
    alias: &'static [(&'static str, &'static str)],
    /// Short letters that take a value (the rest of the cluster or the next word).
    short_values: &'static str,
    /// Long names that take a value (after `=` or as the next word).
    long_values: &'static [&'static str],
    /// Whether the program accepts unambiguous prefixes of long names, as GNU getopt and
    /// git do; then a prefix is read as every long name it could stand for.
    abbreviations: bool,
    /// How the program reads a long name, where that is not as written (curl's case).
    read_long: Option<fn(&str) -> String>,
}

fn read_curl_long(name: &str) -> String {
    super::curl::long_name(name).0
}

const TABLES: &[FlagTable] = &[
    FlagTable {
        programs: &["rm"],
        short: &[
            ('r', &["recursive"]),
            ('R', &["recursive"]),
            ('f', &["force"]),
            ('i', &["interactive"]),
            ('I', &["interactive"]),
            ('v', &["verbose"]),
            ('d', &["dir"]),
        ],
        long: &[
            "recursive",
            "force",
            "interactive",
            "verbose",
            "dir",
            "one-file-system",
            "no-preserve-root",
            "preserve-root",
        ],
        alias: &[],
        short_values: "",
        long_values: &[],
        abbreviations: true,
        read_long: None,
    },
    FlagTable {
        programs: &["cp", "mv"],
        short: &[
            ('r', &["recursive"]),
            ('R', &["recursive"]),
            // `cp -a` is `-dR --preserve=all`: it copies recursively.
            ('a', &["archive", "recursive"]),
            ('f', &["force"]),
            ('i', &["interactive"]),
            ('n', &["no-clobber"]),
            ('v', &["verbose"]),
            ('u', &["update"]),
            ('t', &["target-directory"]),
            ('S', &["suffix"]),
        ],
        long: &[
            "recursive",
            "archive",
            "force",
            "interactive",
            "no-clobber",
            "verbose",
            "update",
            "target-directory",
            "suffix",
            "backup",
        ],
        alias: &[],
        short_values: "tS",
        long_values: &["target-directory", "suffix"],
        abbreviations: true,
        read_long: None,
    },
    FlagTable {
        programs: &["chmod", "chown", "chgrp"],
        short: &[
            ('R', &["recursive"]),
            ('v', &["verbose"]),
            ('c', &["changes"]),
            ('f', &["silent"]),
        ],
        long: &[
            "recursive",
            "verbose",
            "changes",
            "silent",
            "quiet",
            "reference",
            "from",
            "dereference",
        ],
        alias: &[("quiet", "silent")],
        short_values: "",
        long_values: &["reference", "from"],
        abbreviations: true,
        read_long: None,
    },
    FlagTable {
        programs: &["git"],
        short: &[('f', &["force"]), ('d', &["delete"]), ('D', &["delete", "force"])],
        long: &[
            "force",
            "force-with-lease",
            "force-if-includes",
            "delete",
            "mirror",
            "all",
            "tags",
            "prune",
            "set-upstream",
            "dry-run",
            "no-verify",
            "hard",
            // What throws uncommitted work away (`equivalents.rs`), so that their
            // abbreviations (`--disc`) are read.
            "discard-changes",
            "staged",
            "worktree",
            "reset",
            "merge",
            "pathspec-from-file",
            "git-dir",
            "work-tree",
            "namespace",
            "message",
        ],
        alias: &[],
        // Global `-C path` and `-c name=value` come before the subcommand; `-m message`
        // and `-o option` after it.
        short_values: "Ccmo",
        long_values: &["git-dir", "work-tree", "namespace", "message", "config-env"],
        abbreviations: true,
        read_long: None,
    },
    FlagTable {
        programs: &["curl"],
        short: super::curl_options::SHORT_NAMES,
        long: super::curl_options::FLAG_NAMES,
        alias: &[],
        short_values: super::curl_options::SHORT_VALUES,
        long_values: super::curl_options::VALUE_NAMES,
        // Before 8.6 curl took unambiguous prefixes, in any case (`curl.rs`).
        abbreviations: true,
        read_long: Some(read_curl_long),
    },
    FlagTable {
        programs: &["wget"],
        short: &[
            ('O', &["output-document"]),
            ('o', &["output-file"]),
            ('q', &["quiet"]),
            ('r', &["recursive"]),
            ('c', &["continue"]),
            ('m', &["mirror"]),
            ('P', &["directory-prefix"]),
        ],
        long: &["output-document", "output-file", "quiet", "recursive", "continue", "mirror"],
        alias: &[],
        short_values: "OoPUTtweiBQlARDXIn",
        long_values: &[
            "output-document",
            "output-file",
            "directory-prefix",
            "user-agent",
            "execute",
        ],
        abbreviations: true,
        read_long: None,
    },
];

/// `find` primaries that take one value.
const FIND_VALUES: &[&str] = &[
    "name",
    "iname",
    "path",
    "ipath",
    "wholename",
    "iwholename",
    "regex",
    "iregex",
    "lname",
    "ilname",
    "type",
    "xtype",
    "user",
    "group",
    "uid",
    "gid",
    "perm",
    "size",
    "mtime",
    "atime",
    "ctime",
    "mmin",
    "amin",
    "cmin",
    "newer",
    "anewer",
    "cnewer",
    "maxdepth",
    "mindepth",
    "printf",
    "fprint",
    "fprint0",
    "fls",
    "samefile",
    "links",
    "inum",
    "used",
    "context",
    "fstype",
    "regextype",
    "files0-from",
];

/// `find` primaries followed by a command that ends at `;` or `+`.
pub(super) const FIND_EXEC: [&str; 4] = ["exec", "execdir", "ok", "okdir"];

/// Normalises the arguments of `program` (already a [`program_name`]).
pub(super) fn arguments(program: &str, args: &[Arg]) -> Normalised {
    let mut out = Normalised::default();
    if program == "find" {
        find_arguments(args, &mut out);
    } else {
        let table = TABLES.iter().find(|t| t.programs.contains(&program));
        // go's and tsc's options are whole words after one dash (`-overlay=F`), not
        // clusters of letters.
        let whole_words = super::programs::builtin(program).is_some_and(|s| s.whole_word_options);
        generic_arguments(table, whole_words, args, &mut out);
        if program == "git" && out.args.first().is_some_and(|a| a == "push") {
            // `git push origin +main` force-pushes `main`; so do `--force-with-lease`,
            // `--force-if-includes` and `--mirror` (which forces every ref): each is the
            // flag `force` for a pattern such as `git push --force`.
            let forcing = ["force-with-lease", "force-if-includes", "mirror"];
            if out.args.iter().skip(1).any(|a| a.starts_with('+'))
                || out.flags.iter().any(|f| forcing.contains(&f.as_str()))
            {
                out.flags.push("force".to_owned());
            }
        }
    }
    out.flags.sort();
    out.flags.dedup();
    out
}

fn generic_arguments(
    table: Option<&FlagTable>,
    whole_words: bool,
    args: &[Arg],
    out: &mut Normalised,
) {
    let mut only_positionals = false;
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let text = arg.text.as_str();
        if arg.unknown {
            // `--name=$X` is still the flag `name`; anything else might be any flag.
            if let Some(long) =
                text.strip_prefix("--").filter(|l| l.contains('=') && !only_positionals)
            {
                long_flag(table, long, out);
            }
            out.unknown_at.get_or_insert(out.args.len());
            continue;
        }
        if only_positionals || text == "-" || !text.starts_with('-') {
            out.args.push(arg.text.clone());
            continue;
        }
        if text == "--" {
            only_positionals = true;
            continue;
        }
        let long =
            text.strip_prefix("--").or_else(|| text.strip_prefix('-').filter(|_| whole_words));
        let takes_value = if let Some(long) = long {
            let name = long_flag(table, long, out);
            !long.contains('=') && table.is_some_and(|t| t.long_values.contains(&name.as_str()))
        } else {
            let cluster: Vec<char> = text.chars().skip(1).collect();
            let mut takes_value = false;
            for (i, c) in cluster.iter().enumerate() {
                short_flag(table, *c, out);
                if table.is_some_and(|t| t.short_values.contains(*c)) {
                    // The rest of the cluster is the value (`-C/repo`), else the next word.
                    takes_value = i + 1 == cluster.len();
                    break;
                }
            }
            takes_value
        };
        if takes_value
            && iter.peek().is_some_and(|next| !next.text.starts_with('-') && !next.unknown)
        {
            iter.next();
        }
    }
}

/// Records a long flag (without `--`, possibly with `=value`); returns its name.
fn long_flag(table: Option<&FlagTable>, long: &str, out: &mut Normalised) -> String {
    let name = long.split_once('=').map_or(long, |(name, _)| name);
    let Some(table) = table else {
        out.flags.push(name.to_owned());
        return name.to_owned();
    };
    let read = table.read_long.map(|read| read(name));
    let name = read.as_deref().unwrap_or(name);
    let canonical = |n: &str| -> String {
        table.alias.iter().find(|(a, _)| *a == n).map_or(n, |(_, c)| *c).to_owned()
    };
    let known = || table.long.iter().chain(table.long_values).copied();
    if known().any(|l| l == name) || !table.abbreviations || name.is_empty() {
        out.flags.push(canonical(name));
        return name.to_owned();
    }
    let mut expansions: Vec<&str> = known().filter(|l| l.starts_with(name)).collect();
    expansions.sort_unstable();
    expansions.dedup();
    if expansions.is_empty() {
        out.flags.push(name.to_owned());
        return name.to_owned();
    }
    for expansion in &expansions {
        out.flags.push(canonical(expansion));
    }
    // An abbreviation of an option with a value takes the value too.
    expansions.into_iter().find(|e| table.long_values.contains(e)).unwrap_or(name).to_owned()
}

fn short_flag(table: Option<&FlagTable>, c: char, out: &mut Normalised) {
    match table.and_then(|t| t.short.iter().find(|(s, _)| *s == c)) {
        Some((_, names)) => out.flags.extend(names.iter().map(|n| (*n).to_owned())),
        None => out.flags.push(c.to_string()),
    }
}

/// `find` has single-dash long primaries (`-delete`, `-exec`); they become flags without
/// the dash, and `-exec ... ;` sections are skipped (the caller analyses them).
fn find_arguments(args: &[Arg], out: &mut Normalised) {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg.unknown {
            out.unknown_at.get_or_insert(out.args.len());
            continue;
        }
        let text = arg.text.as_str();
        if matches!(text, "(" | ")" | "!" | "," | "-" | "--") {
            continue;
        }
        let Some(name) = text.strip_prefix('-') else {
            out.args.push(arg.text.clone());
            continue;
        };
        let name = name.trim_start_matches('-');
        let name = name.split_once('=').map_or(name, |(n, _)| n);
        out.flags.push(name.to_owned());
        if FIND_EXEC.contains(&name) {
            let mut previous = "";
            for word in iter.by_ref() {
                if word.text == ";" || (word.text == "+" && previous == "{}") {
                    break;
                }
                previous = &word.text;
            }
            continue;
        }
        let values = match name {
            "fprintf" => 2,
            "D" => 1,
            _ if FIND_VALUES.contains(&name) => 1,
            _ if name.starts_with("newer") && name.len() == 7 => 1,
            _ => 0,
        };
        for _ in 0..values {
            iter.next();
        }
    }
}
