//! Finders, build tools, package managers and interpreters.

use super::super::{Entry, PLAIN, Special};

pub(super) const ENTRIES: &[Entry] = &[
    // Finders and viewers that run a command per match or a pager.
    Entry {
        names: &["fd", "fdfind"],
        value_options: &[
            "-e",
            "--extension",
            "-t",
            "--type",
            "-E",
            "--exclude",
            "-d",
            "--max-depth",
        ],
        runs_code_options: &["-x", "--exec", "-X", "--exec-batch"],
        ..PLAIN
    },
    Entry { names: &["bat", "batcat", "ag", "ack"], runs_code_options: &["--pager"], ..PLAIN },
    Entry {
        names: &["rustc"],
        value_options: &[
            "--edition",
            "--crate-type",
            "--crate-name",
            "--cfg",
            "-L",
            "-l",
            "--target",
        ],
        // `-C linker=PROGRAM` and friends run a program of the caller's choosing.
        runs_code_options: &["-C", "--codegen", "-Z"],
        write_options: &["-o", "--out-dir"],
        ..PLAIN
    },
    Entry {
        names: &["awk", "gawk", "mawk", "nawk"],
        value_options: &["-F", "--field-separator", "-v", "--assign"],
        runs_code_options: &[
            "-f",
            "--file",
            "-i",
            "--include",
            "-l",
            "--load",
            "-E",
            "--exec",
            "-e",
            "--source",
            // gawk's `-W exec=FILE` and the options that write files of its own
            // (`--dump-variables[=FILE]`, `--profile[=FILE]`, `--pretty-print[=FILE]`).
            "-W",
            "--dump-variables",
            "-d",
            "--profile",
            "-p",
            "--pretty-print",
            "-o",
            "--debug",
            "-D",
        ],
        special: Some(Special::Awk),
        ..PLAIN
    },
    Entry {
        names: &["find"],
        // `-exec` and `-delete` are analysed as commands of their own.
        write_options: &["-fprint", "-fprint0", "-fprintf", "-fls"],
        long_prefixes: false,
        ..PLAIN
    },
    Entry { names: &["git"], long_prefixes: true, special: Some(Special::Git), ..PLAIN },
    Entry {
        names: &["make", "gmake"],
        value_options: &[
            "-C",
            "--directory",
            "-f",
            "--file",
            "--makefile",
            "-j",
            "--jobs",
            "-o",
            "-W",
        ],
        runs_code_options: &["--eval", "-E"],
        special: Some(Special::Make),
        ..PLAIN
    },
    Entry {
        names: &["rg", "ripgrep"],
        long_prefixes: false,
        value_options: &[
            "-e",
            "--regexp",
            "-g",
            "--glob",
            "-t",
            "--type",
            "-T",
            "-A",
            "-B",
            "-C",
            "-m",
            "--pre-glob",
            "-f",
            "--file",
        ],
        runs_code_options: &["--pre"],
        ..PLAIN
    },
    Entry {
        names: &["npm"],
        value_options: &["-w", "--workspace"],
        // `--prefix DIR` (`-C DIR`) installs, packs or links in DIR; `pack
        // --pack-destination DIR` writes the tarball there; `--cache DIR` fills it.
        write_options: &["--prefix", "-C", "--pack-destination", "--cache"],
        runs_code_options: &[
            "--script-shell",
            "--node-options",
            "-c",
            "--call",
            "--userconfig",
            "--globalconfig",
            // A registry or proxy of the caller's choosing serves the packages whose
            // install scripts run.
            "--registry",
            "--proxy",
            "--https-proxy",
        ],
        runs_code_subcommands: &[
            "exec",
            "x",
            "explore",
            "create",
            "init",
            "innit",
            "config",
            "set",
            "edit",
            "rebuild",
            "install-ci-test",
            "cit",
        ],
        upload_subcommands: &[
            "publish",
            "unpublish",
            "deprecate",
            "dist-tag",
            "owner",
            "access",
            "login",
            "adduser",
        ],
        special: Some(Special::PackageManager),
        ..PLAIN
    },
    Entry {
        names: &["yarn", "pnpm", "bun"],
        value_options: &["--cwd", "-C", "--dir", "--filter", "-F"],
        runs_code_options: &[
            "-e",
            "--eval",
            "-p",
            "--print",
            "--shell-mode",
            "--registry",
            "--proxy",
            "--https-proxy",
        ],
        runs_code_subcommands: &["dlx", "exec", "x", "create", "node", "config", "set", "rebuild"],
        upload_subcommands: &["publish", "npm", "login"],
        special: Some(Special::PackageManager),
        ..PLAIN
    },
    Entry {
        names: &["cargo"],
        value_options: &[
            "-p",
            "--package",
            "--bin",
            "--example",
            "--test",
            "--bench",
            "--target",
            "--features",
            "-F",
            "-j",
            "--jobs",
            "--manifest-path",
            "--profile",
            "-C",
        ],
        write_options: &["--target-dir", "--artifact-dir", "--out-dir"],
        runs_code_options: &["--config", "-Z"],
        runs_code_subcommands: &["install", "script"],
        upload_subcommands: &["publish", "login", "owner", "yank"],
        ..PLAIN
    },
    Entry {
        names: &["pip", "pip3", "uv", "pipx", "poetry", "conda", "gem", "bundle", "composer", "go"],
        value_options: &[
            "-r",
            "--requirement",
            "-c",
            "--constraint",
            "-i",
            "--index-url",
            "--target",
            "-t",
            "--python",
        ],
        runs_code_subcommands: &[
            "install",
            "download",
            "wheel",
            "add",
            "run",
            "generate",
            "exec",
            "inject",
            "uninstall",
            "remove",
            "update",
            "upgrade",
            "get",
            "tool",
            // `pip config set global.index-url ...`, `poetry config`, `bundle config
            // mirror...`: where later installs fetch the code they run.
            "config",
        ],
        upload_subcommands: &["publish", "push", "upload"],
        ..PLAIN
    },
    // Interpreters: inline code, code read from standard input, and modules that run code.
    Entry {
        names: &["python", "python3", "python2", "pypy", "pypy3"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        value_options: &["-W", "-X", "-Q", "-m"],
        runs_code_options: &["-c"],
        special: Some(Special::Python),
        ..PLAIN
    },
    Entry {
        names: &["perl", "ruby", "irb", "php", "lua", "luajit", "tclsh", "rscript", "julia"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        runs_code_options: &[
            "-e",
            "-E",
            "-r",
            "-R",
            "-B",
            "-F",
            "-M",
            "-m",
            "-I",
            "-x",
            "--eval",
            "-d",
            "--require",
        ],
        value_options: &["-0"],
        in_place_options: &["-i"],
        ..PLAIN
    },
    Entry {
        names: &["node", "nodejs", "deno"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        runs_code_options: &[
            "-e",
            "--eval",
            "-p",
            "--print",
            "-r",
            "--require",
            "--import",
            "--loader",
            "--experimental-loader",
            "-i",
            "--interactive",
        ],
        runs_code_subcommands: &["eval", "repl", "run", "install", "x"],
        ..PLAIN
    },
    Entry {
        names: &["pytest", "py.test"],
        value_options: &["-k", "-m", "-p", "--rootdir", "-c", "-o"],
        runs_code_options: &["-p", "--pyargs"],
        ..PLAIN
    },
    Entry {
        names: &["prettier", "black", "ruff", "eslint", "rustfmt", "clang-format", "isort"],
        in_place_options: &["--write", "-w", "--fix", "-i"],
        runs_code_options: &["--plugin", "--config", "--rulesdir", "--resolve-plugins-relative-to"],
        ..PLAIN
    },
    Entry {
        names: &["gcc", "cc", "g++", "c++", "clang", "clang++", "ld"],
        value_options: &["-I", "-L", "-l", "-D", "-U", "-x", "-std", "-include"],
        runs_code_options: &["-fplugin", "-wrapper", "-B", "--ld-path", "-fuse-ld"],
        write_options: &["-o", "-MF"],
        ..PLAIN
    },
];
