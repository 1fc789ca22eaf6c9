//! Values of code variables (`variables.rs`) that run no code of the caller's choosing:
//! display flags for less (`LESS=-FRX`), a pager that only prints (`GIT_PAGER=cat`),
//! Python's switches (`PYTHONUNBUFFERED=1`) and a search path inside the project
//! (`PYTHONPATH=src`), Node's memory and warning options, compilers' optimisation,
//! warning and definition flags (`CFLAGS=-O2`, `RUSTFLAGS='-D warnings'`). Any other value
//! of these variables, and any value only known at run time, is code as before: each list
//! holds only what cannot load or run a program, or write a file.

use super::ShellArg;

/// Editors that change nothing: the file stays as git wrote it.
pub(super) const NO_OP_EDITORS: [&str; 4] = ["true", ":", "cat", "/bin/true"];

/// Whether `word` is a cluster of short flags among `letters` and digits (`-q`, `-9e`,
/// `-T0`).
fn short_flags(word: &str, letters: &[u8]) -> bool {
    word.strip_prefix('-').is_some_and(|cluster| {
        !cluster.is_empty() && cluster.bytes().all(|b| b.is_ascii_digit() || letters.contains(&b))
    })
}

/// Whether setting the code variable `name` (upper case) to `value` is harmless.
pub(super) fn harmless(name: &str, value: Option<&ShellArg>) -> bool {
    let Some(value) = value.filter(|v| v.is_known()) else { return false };
    let text = value.text.as_str();
    // A value pasted into a command line that a shell runs (make's recipes, a build
    // script) must hold no shell syntax, whatever the option it spells.
    if text.contains(SHELL_SYNTAX) {
        return false;
    }
    let mut words = text.split_whitespace();
    match name {
        // less's and more's options from the environment: display flags only, no log
        // file (`-o`, `-O`), lesskey file (`-k`) or long option.
        "LESS" | "MORE" => words.all(|flags| {
            let letters = flags.strip_prefix('-').unwrap_or(flags);
            !letters.is_empty()
                && letters.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#')
                && !letters.contains(['o', 'O', 'k'])
        }),
        // zip's, unzip's and the compressors' options from the environment: quiet, level and
        // verbosity flags alone (`ZIPOPT=-q`, `XZ_OPT=-9`, `GZIP=-n`), never `-T`/`-TT`
        // (zip's test command), `--files` or a long option (red team round 20, FP5).
        "ZIPOPT" | "ZIP" | "UNZIPOPT" | "UNZIP" => words.all(|flags| short_flags(flags, b"qvn")),
        // xz's threads (`-T0`), extreme presets (`-9e`) and memory limits; gzip's and
        // bzip2's levels (second pass: `XZ_OPT=-T0 tar -cJf` was refused).
        "XZ_OPT" | "XZ_DEFAULTS" | "GZIP" | "BZIP" | "BZIP2" => words.all(|flag| {
            short_flags(flag, b"qvnkeT")
                || matches!(
                    flag,
                    "--best" | "--fast" | "--quiet" | "--verbose" | "--keep" | "--extreme"
                )
                || ["--threads=", "--memlimit=", "--memlimit-compress=", "--memory="].iter().any(
                    |o| {
                        flag.strip_prefix(o).is_some_and(|v| {
                            !v.is_empty()
                                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'%')
                        })
                    },
                )
        }),
        "PAGER" | "GIT_PAGER" | "MANPAGER" | "SYSTEMD_PAGER" | "DELTA_PAGER" | "BAT_PAGER" => {
            matches!(text, "cat" | "" | "less" | "more")
        }
        // An editor that changes nothing, the way an agent with no terminal finishes a
        // rebase or an amend (`GIT_EDITOR=true git rebase --continue`: red team round 29,
        // FP2).
        "EDITOR" | "VISUAL" | "GIT_EDITOR" | "GIT_SEQUENCE_EDITOR" => NO_OP_EDITORS.contains(&text),
        "PYTHONUNBUFFERED"
        | "PYTHONDONTWRITEBYTECODE"
        | "PYTHONUTF8"
        | "PYTHONHASHSEED"
        | "PYTHONIOENCODING"
        | "PYTHONFAULTHANDLER"
        | "PYTHONOPTIMIZE"
        | "PYTHONNOUSERSITE"
        | "PYTHONSAFEPATH"
        | "PYTHONDEVMODE"
        | "PYTHONLEGACYWINDOWSSTDIO"
        | "PYTHONTRACEMALLOC" => {
            text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
        }
        // A callable imported by name: one the project or its packages hold (the search
        // path is the project's while PYTHONPATH is judged).
        "PYTHONBREAKPOINT" => dotted(text),
        // A directory Python writes its bytecode under (judged as a write: `variables.rs`).
        "PYTHONPYCACHEPREFIX" => true,
        // A compiler or tool by its name, found on the system's path.
        "CC" | "CXX" | "CPP" | "LD" | "AR" | "AS" | "FC" => {
            !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'_' | b'-'))
        }
        // Modules imported from the project's own directories, as `python3 src/x.py`
        // runs the project's code.
        "PYTHONPATH" => text.split(':').all(inside_project),
        // node reads `_` in an option's name as `-`.
        "NODE_OPTIONS" => words.all(|option| {
            let name = option.split_once('=').map_or(option, |(n, _)| n).replace('_', "-");
            NODE_PLAIN_OPTIONS.contains(&name.as_str())
        }),
        "RUSTFLAGS" | "RUSTDOCFLAGS" => rust_flags(text),
        "CFLAGS" | "CXXFLAGS" | "CPPFLAGS" | "FFLAGS" | "LDFLAGS" | "CGO_CFLAGS"
        | "CGO_CPPFLAGS" | "CGO_CXXFLAGS" => words.all(c_flag),
        // A directory cargo writes under (judged as a write: `variables.rs`), not a runner.
        "CARGO_TARGET_DIR" => true,
        // Settings of the package managers that are a count, a switch or a name, never a
        // program, a path or an index (red team round 28, hooks FP1 to FP8: each was
        // refused as an environment variable while its option ran).
        name if SIMPLE_SETTINGS.contains(&name) => simple_word(text),
        // A toolchain by its name (`nightly`, `1.85.0`); a path names a custom one.
        "RUSTUP_TOOLCHAIN" => simple_word(text),
        _ => false,
    }
}

/// Settings whose value is a count, a switch or a name: of cargo, pip, uv, poetry, yarn
/// and npm.
const SIMPLE_SETTINGS: [&str; 34] = [
    "CARGO_BUILD_JOBS",
    "CARGO_BUILD_INCREMENTAL",
    "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_QUIET",
    "PIP_NO_INPUT",
    "PIP_PROGRESS_BAR",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
    "UV_PYTHON",
    "UV_NO_CACHE",
    "UV_FROZEN",
    "UV_LOCKED",
    "UV_OFFLINE",
    "UV_NO_PROGRESS",
    "UV_COMPILE_BYTECODE",
    "UV_LINK_MODE",
    "UV_CONCURRENT_DOWNLOADS",
    "POETRY_VIRTUALENVS_IN_PROJECT",
    "POETRY_VIRTUALENVS_CREATE",
    "POETRY_NO_INTERACTION",
    "POETRY_INSTALLER_PARALLEL",
    "YARN_ENABLE_IMMUTABLE_INSTALLS",
    "YARN_ENABLE_TELEMETRY",
    "YARN_ENABLE_PROGRESS_BARS",
    "YARN_ENABLE_GLOBAL_CACHE",
    "YARN_NODE_LINKER",
    "NPM_CONFIG_LOGLEVEL",
    "NPM_CONFIG_FUND",
    "NPM_CONFIG_AUDIT",
    "NPM_CONFIG_UPDATE_NOTIFIER",
    "NPM_CONFIG_PROGRESS",
    "NPM_CONFIG_PREFER_OFFLINE",
];

/// A count, a switch or a name (`2`, `true`, `sparse`, `3.12`, `nightly-2026-01-01`): no
/// path, URL, option or list.
fn simple_word(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Characters a shell reads as syntax (or a word break): a value holding one can inject a
/// command where it is pasted into a recipe or a script.
const SHELL_SYNTAX: [char; 20] = [
    ';', '|', '&', '<', '>', '#', '$', '`', '(', ')', '\'', '"', '\\', '*', '?', '[', '{', '!',
    '\t', '\n',
];

/// A Python dotted name (`mysite.settings`, `pdb.set_trace`).
fn dotted(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// A relative path that does not climb out (`src`, `./lib`).
pub(super) fn inside_project(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with(['/', '~'])
        && path.split('/').all(|part| part != "..")
        && !path.contains(['$', '`'])
}

/// Node options that only size the heap, shape stack traces or quiet warnings.
const NODE_PLAIN_OPTIONS: [&str; 14] = [
    "--openssl-legacy-provider",
    "--dns-result-order",
    "--max-old-space-size",
    "--max-semi-space-size",
    "--stack-size",
    "--stack-trace-limit",
    "--enable-source-maps",
    "--no-warnings",
    "--no-deprecation",
    "--trace-warnings",
    "--trace-deprecation",
    "--trace-uncaught",
    "--unhandled-rejections",
    "--experimental-vm-modules",
];

/// rustc's lint levels (`-D warnings`, `-Awarnings`), `--cfg NAME` and the code
/// generation settings that neither name a program nor write a file.
fn rust_flags(text: &str) -> bool {
    const CODEGEN: [&str; 12] = [
        "opt-level",
        "debuginfo",
        "target-cpu",
        "target-feature",
        "codegen-units",
        "lto",
        "panic",
        "overflow-checks",
        "debug-assertions",
        "strip",
        "force-frame-pointers",
        "relocation-model",
    ];
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        let (flag, glued) = match word.get(..2) {
            Some(flag @ ("-D" | "-W" | "-A" | "-F" | "-C")) => (flag, word.get(2..).unwrap_or("")),
            _ if word == "--cfg" => ("--cfg", ""),
            _ => return false,
        };
        let value = if glued.is_empty() { words.next().unwrap_or("") } else { glued };
        let plain = match flag {
            "-C" => value.split_once('=').is_some_and(|(key, setting)| {
                CODEGEN.contains(&key) && !setting.contains(['/', ',', '@'])
            }),
            // A lint (`warnings`, `clippy::pedantic`) or a cfg name (`feature="x"`).
            _ => {
                !value.is_empty()
                    && !value.starts_with('-')
                    && value.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'=' | b'"')
                    })
            }
        };
        if !plain {
            return false;
        }
    }
    true
}

/// A C compiler's option that neither loads code (`-fplugin`, `-B`, `-specs`, `-wrapper`,
/// `@FILE`, the linker's and assembler's `-Wl,`) nor writes a file of the caller's
/// choosing: optimisation, debug information, warnings, definitions, the language
/// standard and the target's instruction set.
fn c_flag(flag: &str) -> bool {
    let Some(rest) = flag.strip_prefix('-') else { return false };
    let after = |prefix: &str| rest.strip_prefix(prefix);
    match rest.get(..1) {
        Some("O") => rest.len() <= 2,
        Some("g") => rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        Some("W") => !rest.contains(',') && rest.bytes().all(|b| b != b'@'),
        Some("D" | "U") => !rest.contains(['$', '`']),
        // A feature switch (`-flto`, `-ffast-math`, `-fsanitize=address`), but not a
        // plugin or a linker of the caller's choosing, nor any option naming a file.
        Some("f") => {
            !rest.contains('/')
                && !["fplugin", "fuse-ld", "fauto-profile", "fprofile-use"]
                    .iter()
                    .any(|p| rest.starts_with(p))
        }
        // Header and library directories inside the project.
        Some("I" | "L") => rest.get(1..).is_some_and(inside_project),
        Some("m") => {
            matches!(rest, "m32" | "m64")
                || after("march=").or_else(|| after("mtune=")).is_some_and(|n| !n.contains('/'))
        }
        _ => after("std=").is_some_and(|n| !n.contains('/')) || rest == "pipe" || rest == "pthread",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(name: &str, value: &str) -> bool {
        harmless(name, Some(&ShellArg::known(value)))
    }

    #[test]
    fn only_values_that_run_nothing_are_harmless() {
        for (name, value) in [
            ("LESS", "-FRX"),
            ("GIT_PAGER", "cat"),
            ("PAGER", "less"),
            ("PYTHONUNBUFFERED", "1"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("PYTHONPATH", "src:./lib"),
            ("NODE_OPTIONS", "--max-old-space-size=4096 --enable-source-maps"),
            ("RUSTFLAGS", "-D warnings"),
            ("RUSTFLAGS", "-Dwarnings -C target-cpu=native --cfg tokio_unstable"),
            ("CFLAGS", "-O2 -g -Wall -Wextra -DNDEBUG -std=c11 -fPIC -march=native"),
            ("LDFLAGS", "-pthread"),
            ("CFLAGS", "-O3 -flto -ffast-math -Iinclude"),
            ("LDFLAGS", "-Lbuild/lib"),
            ("CC", "clang"),
            ("NODE_OPTIONS", "--max_old_space_size=4096 --openssl-legacy-provider"),
            ("PYTHONBREAKPOINT", "ipdb.set_trace"),
            ("CARGO_TARGET_DIR", "/tmp/target"),
        ] {
            assert!(plain(name, value), "{name}={value}");
        }
        for (name, value) in [
            ("LESS", "-o/tmp/log"),
            ("GIT_PAGER", "sh -c 'x'"),
            ("PAGER", "/tmp/x.sh"),
            ("PYTHONPATH", "/tmp/evil"),
            ("PYTHONPATH", "src:../other"),
            ("PYTHONSTARTUP", "x.py"),
            ("NODE_OPTIONS", "--require /tmp/x.js"),
            ("NODE_OPTIONS", "--max-old-space-size=1 -r x"),
            ("RUSTFLAGS", "-C linker=/tmp/x"),
            ("RUSTFLAGS", "-Clink-arg=-fuse-ld=/tmp/ld"),
            ("RUSTFLAGS", "-Z unstable-options"),
            ("RUSTFLAGS", "-Wl,-plugin,/tmp/p.so"),
            ("CFLAGS", "-fplugin=/tmp/p.so"),
            ("CFLAGS", "-B/tmp/bin"),
            ("LDFLAGS", "-Wl,-plugin,/tmp/p.so"),
            ("CFLAGS", "-O2 @/tmp/opts"),
            ("CFLAGS", "-specs=/tmp/s"),
            ("CC", "/tmp/cc"),
            ("CFLAGS", "-DX;cat<src/p>/root/.bashrc;#"),
            ("CFLAGS", "-Wall -DX=$(id)"),
            ("CFLAGS", "-I/tmp/evil"),
            ("CFLAGS", "-fplugin-arg-x"),
            ("PYTHONBREAKPOINT", "os.system('id')"),
        ] {
            assert!(!plain(name, value), "{name}={value}");
        }
        let built = ShellArg { expansion: true, ..ShellArg::known("-O2") };
        assert!(!harmless("CFLAGS", Some(&built)));
    }
}
