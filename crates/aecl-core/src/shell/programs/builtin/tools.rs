//! Finders, build tools, compilers and interpreters.

use super::super::{AllOptions, Entry, PLAIN, Special};

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
    // ack reads options from an rc file (`--ackrc=F`), which may name a pager.
    Entry {
        names: &["bat", "batcat", "ag", "ack"],
        runs_code_options: &["--pager", "--ackrc"],
        ..PLAIN
    },
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
        // `-C DIR` runs DIR's makefile, whose recipes write there.
        write_options: &["-C", "--directory"],
        // Not `-j`/`--jobs` (nor `-l`): GNU make takes the next word as their value only
        // when it is a number, so `make -j 'CC=evil;'` overrides `CC` (red team round 31,
        // shell F6); a number read as a target is harmless.
        value_options: &["-f", "--file", "--makefile", "-o", "-W"],
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
        // `--hostname-bin` (ripgrep 14) runs a program for hyperlinks.
        runs_code_options: &["--pre", "--hostname-bin"],
        ..PLAIN
    },
    // Interpreters: inline code, code read from standard input, and modules that run code.
    Entry {
        names: &["python", "python3", "python2", "pypy", "pypy3"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        // Every option CPython has (2.7 to 3.14): one taking a value that the table took
        // for a flag would make its value the script, and the code option after it a
        // script argument (`--check-hash-based-pycs always -c CODE`).
        all_options: Some(AllOptions {
            long_values: &["check-hash-based-pycs"],
            long_flags: &["help", "version", "help-env", "help-xoptions", "help-all"],
            short_values: "cmQWX",
            short_flags: "3?bBdEhiIOPqRsStuvVx",
        }),
        runs_code_options: &["-c"],
        special: Some(Special::Python),
        ..PLAIN
    },
    Entry {
        names: &["perl", "ruby", "irb", "tclsh", "rscript"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        // `-0` and `-l` take the digits glued to them, no more (`-0777e CODE`).
        special: Some(Special::Perl),
        // ruby's long options that take the next word: one taken for a flag would make its
        // value the script (`ruby --encoding UTF-8 -e CODE`).
        value_options: &[
            "--encoding",
            "--external-encoding",
            "--internal-encoding",
            "--backtrace-limit",
            "--dump",
            "--enable",
            "--disable",
            "--crash-report",
        ],
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
            // `-S NAME` runs the program NAME found on the path (`ruby -S gem install X`).
            "-S",
        ],
        in_place_options: &["-i"],
        ..PLAIN
    },
    // php: `-c INI` and `-d KEY=VALUE` can set `auto_prepend_file`, `-z` loads an
    // extension; the rest run the code given.
    Entry {
        names: &["php"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        value_options: &["-t"],
        runs_code_options: &["-r", "-B", "-R", "-E", "-F", "-c", "-d", "-z"],
        // The built-in web server serves (and runs) the files of its document root to
        // whoever reaches its address.
        upload_options: &["-S"],
        ..PLAIN
    },
    // lua: `-l NAME` loads a module (from `./` first).
    Entry {
        names: &["lua", "luajit"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        runs_code_options: &["-e", "-l"],
        ..PLAIN
    },
    // julia takes prefixes of its long options (`--ev`); `--machine-file` starts workers
    // on other hosts.
    Entry {
        names: &["julia"],
        // Compiled outputs and the trace of what it compiles go where these say.
        write_options: &[
            "--trace-compile",
            "--output-o",
            "--output-ji",
            "--output-bc",
            "--output-unopt-bc",
            "--output-asm",
        ],
        options_end_at_positional: true,
        stdin_code: true,
        value_options: &["-t", "--threads", "-p", "--procs", "--project", "--heap-size-hint"],
        runs_code_options: &[
            "-e",
            "--eval",
            "-E",
            "--print",
            "-L",
            "--load",
            "-J",
            "--sysimage",
            "--machine-file",
        ],
        ..PLAIN
    },
    // deno names a subcommand first: its options come after it (`deno compile -o F`).
    Entry {
        names: &["deno"],
        // `--root DIR`: where `install -g` puts its scripts.
        write_options: &["-o", "--output", "--root"],
        runs_code_subcommands: &["eval", "repl", "x", "task", "jupyter"],
        special: Some(Special::Deno),
        ..PLAIN
    },
    Entry {
        names: &["node", "nodejs"],
        options_end_at_positional: true,
        long_prefixes: false,
        stdin_code: true,
        // node reads `_` in an option's name as `-` (`--experimental_loader`).
        special: Some(Special::Node),
        // node's options that take the next word as their value (`node --help`, v20-22):
        // one the table took for a flag would make its value the script.
        value_options: &[
            "-C",
            "--conditions",
            "--allow-fs-read",
            "--allow-fs-write",
            "--cpu-prof-interval",
            "--cpu-prof-name",
            "--disable-proto",
            "--disable-warning",
            "--dns-result-order",
            "--experimental-default-type",
            "--heap-prof-interval",
            "--heap-prof-name",
            "--heapsnapshot-near-heap-limit",
            "--heapsnapshot-signal",
            "--inspect-port",
            "--debug-port",
            "--security-revert",
            "--icu-data-dir",
            "--input-type",
            "--inspect-publish-uid",
            "--max-http-header-size",
            "--network-family-autoselection-attempt-timeout",
            "--policy-integrity",
            "--report-signal",
            "--secure-heap",
            "--secure-heap-min",
            "--stack-size",
            "--test-concurrency",
            "--test-name-pattern",
            "--test-reporter",
            "--test-shard",
            "--test-timeout",
            "--title",
            "--tls-cipher-list",
            "--trace-event-categories",
            "--trace-require-module",
            "--unhandled-rejections",
            "--use-largepages",
            "--v8-pool-size",
            "--watch-path",
            // An env file may set NODE_OPTIONS: judged by where it is (`tool_readers.rs`).
            "--env-file",
            "--env-file-if-exists",
        ],
        write_options: &[
            "--cpu-prof-dir",
            "--cpu-prof-name",
            "--heap-prof-dir",
            "--heap-prof-name",
            "--logfile",
            "--diagnostic-dir",
            "--redirect-warnings",
            "--report-dir",
            "--report-directory",
            "--report-filename",
            "--tls-keylog",
            "--trace-event-file-pattern",
            "--trace-turbo-path",
            "--test-reporter-destination",
            "--localstorage-file",
        ],
        runs_code_options: &[
            "--experimental-sea-config",
            "--experimental-policy",
            "--openssl-config",
            "--snapshot-blob",
            "--build-snapshot-config",
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
            // A configuration file sets any option (`--require`).
            "--experimental-config-file",
        ],
        runs_code_subcommands: &["eval", "repl", "run", "install", "x"],
        ..PLAIN
    },
    Entry {
        names: &["gcc", "cc", "g++", "c++", "clang", "clang++", "ld"],
        value_options: &[
            "-I",
            "-L",
            "-l",
            "-D",
            "-U",
            "-x",
            "-std",
            "-include",
            "-MT",
            "-MQ",
            "-Xlinker",
            "--for-linker",
            "-Xassembler",
            "--for-assembler",
            "-Xpreprocessor",
            "-Xclang",
        ],
        // gcc's long aliases (`--prefix` is `-B`, `--output` is `-o`) and ld's own options.
        runs_code_options: &[
            "-T",
            "-fplugin",
            "-wrapper",
            "-B",
            "--prefix",
            "-specs",
            "--specs",
            "--ld-path",
            "-fuse-ld",
            "-plugin",
            "--plugin",
            "-fpass-plugin",
            "--config",
        ],
        write_options: &[
            "-o",
            "--output",
            "-MF",
            "-aux-info",
            "-dumpdir",
            "--dumpdir",
            "-dumpbase",
            "--dumpbase",
            "-MJ",
            "--serialize-diagnostics",
            "-serialize-diagnostics",
            "-Map",
            "--Map",
            "--dependency-file",
            "--out-implib",
        ],
        special: Some(Special::Cc),
        ..PLAIN
    },
];
