//! Test runners, type checkers, linters and formatters: the options that load plugins or
//! configuration (code of the caller's choosing), run programs, write reports and caches,
//! and which files they rewrite.

use super::super::{Entry, PLAIN, Special, Writes};

pub(super) const ENTRIES: &[Entry] = &[
    // pytest: `-p`, `-o`, `-W` and `--cov-report` are read by their values
    // (`tool_readers.rs`). `--basetemp DIR` is emptied (removed and made again);
    // `--rootdir` gets `.pytest_cache`; `--debug` takes the next word as its file.
    // `-c FILE` and `--confcutdir` load configuration and `conftest.py` files from
    // anywhere.
    Entry {
        names: &["pytest", "py.test"],
        value_options: &[
            "-k",
            "-m",
            "-p",
            "-o",
            "--override-ini",
            "-W",
            "--pythonwarnings",
            "--cov-report",
            "--maxfail",
            "--tb",
            "--durations",
            "--durations-min",
            "--import-mode",
            "--capture",
            "-r",
            "--deselect",
            "--ignore",
            "--ignore-glob",
            "--log-level",
            "--log-format",
            "--log-date-format",
            "--log-cli-level",
            "--log-file-level",
            "--junit-prefix",
            "--cov",
            "--cov-fail-under",
            "-n",
            "--numprocesses",
            "--dist",
            "--timeout",
            "--color",
            "--show-capture",
            "--assert",
            "--pastebin",
        ],
        // The session's output posted to bpa.st.
        upload_options: &["--pastebin"],
        runs_code_options: &[
            "--pyargs",
            "-c",
            "--config-file",
            "--inifile",
            "--confcutdir",
            "--cov-config",
            // Modules imported by name: the debugger class, Django's settings and
            // configuration; pytest-xdist's `--tx` starts workers with any interpreter or
            // on another host, and `--rsyncdir` copies the tree there.
            "--pdbcls",
            // The debugger at each test's start, or at a failure, runs the Python it
            // reads from standard input (red team round 31, shell F1).
            "--trace",
            "--pdb",
            "--ds",
            "--dc",
            "--tx",
            "--rsyncdir",
        ],
        write_options: &[
            "--basetemp",
            "--junitxml",
            "--junit-xml",
            "--result-log",
            "--resultlog",
            "--report-log",
            "--log-file",
            "--debug",
            "--rootdir",
            "--html",
            "--json-report-file",
            // Plugins' reports and stores (pytest-benchmark, allure, csv, md-report).
            "--benchmark-json",
            "--benchmark-storage",
            "--alluredir",
            "--csv",
            "--md-report-output",
        ],
        special: Some(Special::Pytest),
        ..PLAIN
    },
    // mypy: `--python-executable PROGRAM` runs PROGRAM, a configuration file names
    // plugins it imports, `--install-types` runs pip; the reports and the cache are
    // written where their options say; `@FILE` reads more options.
    Entry {
        names: &["mypy"],
        value_options: &[
            "-m",
            "--module",
            "-p",
            "--package",
            "-c",
            "--command",
            "--python-version",
            "--platform",
            "--exclude",
            "--always-true",
            "--always-false",
            "--custom-typeshed-dir",
            "--custom-typing-module",
            "--shadow-file",
            "--enable-error-code",
            "--disable-error-code",
        ],
        runs_code_options: &["--python-executable", "--config-file", "--install-types"],
        write_options: &[
            "--junit-xml",
            "--cache-dir",
            "--html-report",
            "--txt-report",
            "--xml-report",
            "--linecount-report",
            "--linecoverage-report",
            "--memory-xml-report",
            "--cobertura-xml-report",
            "--lineprecision-report",
            "--any-exprs-report",
            "--xslt-html-report",
            "--xslt-txt-report",
        ],
        special: Some(Special::OptionsFiles),
        ..PLAIN
    },
    // flake8: a configuration's `local-plugins` paths are imported.
    Entry {
        names: &["flake8"],
        value_options: &[
            "--select",
            "--ignore",
            "--extend-ignore",
            "--extend-select",
            "--max-line-length",
            "--max-complexity",
            "--exclude",
            "--extend-exclude",
            "--filename",
            "--per-file-ignores",
            "-j",
            "--jobs",
            "--format",
        ],
        runs_code_options: &["--config", "--append-config"],
        write_options: &["--output-file"],
        ..PLAIN
    },
    // pyright runs the interpreter `--pythonpath` names to find its search paths.
    Entry {
        names: &["pyright", "basedpyright"],
        value_options: &["-p", "--project", "--pythonversion", "--pythonplatform", "--level"],
        runs_code_options: &["--pythonpath", "--venvpath", "-v"],
        ..PLAIN
    },
    // markdownlint loads JavaScript rules (`-r`) and configuration (`-c` may be a `.js`
    // or `.cjs` module); `-o` writes the report; `--fix` rewrites the files.
    Entry {
        names: &["markdownlint", "markdownlint-cli2"],
        value_options: &["-i", "--ignore", "-p", "--ignore-path", "--enable", "--disable"],
        runs_code_options: &["-r", "--rules", "-c", "--config"],
        write_options: &["-o", "--output"],
        in_place_options: &["-f", "--fix"],
        ..PLAIN
    },
    // delta pages through a program of the caller's choosing; `--config` reads git
    // configuration, which can name one.
    Entry {
        names: &["delta"],
        value_options: &["--paging", "--features", "--syntax-theme", "-w", "--width"],
        runs_code_options: &["--pager", "--config"],
        ..PLAIN
    },
    // cloc: `--vcs CMD` and `--extract-with CMD` run commands (`tool_readers.rs`); the
    // report and the lists it saves are written.
    Entry {
        names: &["cloc"],
        value_options: &[
            "--vcs",
            "--exclude-dir",
            "--exclude-ext",
            "--include-ext",
            "--include-lang",
            "--exclude-lang",
            "--match-f",
            "--not-match-f",
            "--match-d",
            "--not-match-d",
            "--list-file",
            "--exclude-list-file",
            "--read-lang-def",
            "--force-lang-def",
            "--script-lang",
            "--timeout",
            "--diff-timeout",
            "--sql-project",
            "--sql-style",
            "--lang-no-ext",
            "--config",
        ],
        runs_code_options: &["--extract-with"],
        write_options: &[
            "--out",
            "--report-file",
            "--sql",
            "--write-lang-def",
            "--write-lang-def-incl-dup",
            "--categorized",
            "--counted",
            "--found",
            "--ignored",
            "--unique",
        ],
        special: Some(Special::Cloc),
        ..PLAIN
    },
    // `file -C` compiles magic files into the current directory (`tool_readers.rs`).
    Entry {
        names: &["file"],
        value_options: &[
            "-m",
            "--magic-file",
            "-e",
            "--exclude",
            "--exclude-quiet",
            "-F",
            "--separator",
            "-f",
            "--files-from",
            "-P",
            "--parameter",
        ],
        special: Some(Special::File),
        ..PLAIN
    },
    Entry {
        names: &["prettier", "clang-format"],
        in_place_options: &["--write", "-w", "-i"],
        runs_code_options: &["--plugin", "--config", "--resolve-plugins-relative-to"],
        write_options: &["-o", "--output-file", "--cache-dir", "--cache-location"],
        ..PLAIN
    },
    // eslint loads JavaScript from its configuration (`-c`), a parser and plugins, and a
    // formatter that is not built in (`-f ./f.js`, `-f NAME`: `tool_readers.rs`); its
    // report and cache go where they say.
    Entry {
        names: &["eslint"],
        value_options: &["-f", "--format"],
        special: Some(Special::Eslint),
        in_place_options: &["--fix"],
        runs_code_options: &[
            "--plugin",
            "-c",
            "--config",
            "--rulesdir",
            "--resolve-plugins-relative-to",
            "--parser",
            "--parser-options",
            "--flag",
            "--inspect-config",
            // Runs `npm init @eslint/config`: a package fetched and run.
            "--init",
        ],
        write_options: &["-o", "--output-file", "--cache-location", "--cache-file"],
        ..PLAIN
    },
    // `ruff format` rewrites the files it is given by default, and `ruff check --fix`
    // fixes them: every file named counts as written (`ruff check` of a file outside the
    // write paths is refused with them).
    Entry {
        names: &["ruff"],
        writes: Writes::All,
        value_options: &[
            "--config",
            "--select",
            "--ignore",
            "--extend-select",
            "--line-length",
            "--target-version",
            "--exclude",
            "--extend-exclude",
            "--output-format",
            "--stdin-filename",
        ],
        write_options: &["-o", "--output-file", "--cache-dir"],
        ..PLAIN
    },
    Entry {
        names: &["gofmt"],
        long_prefixes: false,
        in_place_options: &["-w"],
        write_options: &["-cpuprofile"],
        ..PLAIN
    },
    // tsc reads an option's name in any case after one dash or two (`-outdir`,
    // `--OUTDIR`), one word each: the names here are lower case, one dash.
    Entry {
        names: &["tsc"],
        special: Some(Special::Tsc),
        long_prefixes: false,
        long_any_case: true,
        whole_word_options: true,
        value_options: &[
            "-p",
            "-project",
            "-t",
            "-target",
            "-m",
            "-module",
            "-lib",
            "-jsx",
            "-rootdir",
            "-baseurl",
            "-moduleresolution",
            "-locale",
        ],
        write_options: &[
            "-outdir",
            "-outfile",
            "-out",
            "-declarationdir",
            "-tsbuildinfofile",
            "-generatetrace",
            "-generatecpuprofile",
        ],
        ..PLAIN
    },
    // These rewrite the files they are given by default. Every file named counts as
    // written, under `--check` and `--diff` too (which only read): a check outside the
    // write paths is then refused like a rewrite.
    Entry {
        names: &["rustfmt", "black", "isort"],
        writes: Writes::All,
        value_options: &[
            "--config",
            "--config-path",
            "--edition",
            "--emit",
            "--settings-path",
            "--settings-file",
            "-l",
            "--line-length",
            "-t",
            "--target-version",
            "--include",
            "--exclude",
            "--extend-exclude",
            "--force-exclude",
            "-c",
            "--code",
            "-W",
            "--workers",
            "--python-cell-magics",
            "--required-version",
            "--skip",
            "--skip-glob",
            "--extend-skip",
            "--extend-skip-glob",
            "--profile",
            "--src",
            "--virtual-env",
            "--conda-env",
            "-p",
            "--project",
        ],
        ..PLAIN
    },
];
