//! Finders, build tools, compilers and interpreters.

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
            "--emit",
            "--print",
        ],
        // `-C linker=PROGRAM` and friends run a program of the caller's choosing.
        runs_code_options: &["-C", "--codegen", "-Z"],
        write_options: &["-o", "--out-dir"],
        special: Some(Special::Rustc),
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
        names: &["gcc", "cc", "g++", "c++", "clang", "clang++", "ld"],
        value_options: &["-I", "-L", "-l", "-D", "-U", "-x", "-std", "-include"],
        runs_code_options: &["-fplugin", "-wrapper", "-B", "--ld-path", "-fuse-ld"],
        write_options: &["-o", "-MF"],
        ..PLAIN
    },
];
