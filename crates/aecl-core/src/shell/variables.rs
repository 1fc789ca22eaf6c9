//! Environment variables that make an allowed program run code of the caller's choosing
//! (or another program): setting one, before a command, through `env` or `export`, is
//! `runs_code` (`guard.rs`). And those that name a file a program writes wherever they say
//! (`writes_outside`), or a host its requests go through (`uploads`).

/// Variables that change which program runs or make a program run code: the dynamic
/// loader, shell start-up, pagers and editors, git's helpers and configuration,
/// interpreters' start-up options, compilers and build wrappers, configuration homes.
pub(super) const CODE_VARIABLES: &[&str] = &[
    // `history -w` and the shell's exit write the history to `$HISTFILE`.
    "HISTFILE",
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    // `BASH_CMDS[ls]=/bin/sh` is `hash -p`; `DIRSTACK[1]=DIR; pushd +1` is a `cd`.
    "BASH_CMDS",
    "BASH_ALIASES",
    "BASH_LOADABLES_PATH",
    "DIRSTACK",
    "ENV",
    "PROMPT_COMMAND",
    "PS0",
    "PS4",
    "SHELLOPTS",
    "BASHOPTS",
    // zsh runs `$NULLCMD`/`$READNULLCMD` for a line that is only a redirection (`< f.sh`),
    // and a zsh started later reads its start-up files from `$ZDOTDIR` (round 21).
    "NULLCMD",
    "READNULLCMD",
    "ZDOTDIR",
    // zsh runs `stty $STTY` (its words read as code) before a command on a terminal, and
    // writes its here-document files at `$TMPPREFIX` (second pass).
    "STTY",
    "TMPPREFIX",
    "CDPATH",
    "IFS",
    "PAGER",
    "MANPAGER",
    "MANOPT",
    "GIT_PAGER",
    "SYSTEMD_PAGER",
    "LESSOPEN",
    "LESSCLOSE",
    "LESSKEYIN",
    "EDITOR",
    "VISUAL",
    "BROWSER",
    // GitHub's CLI's own (second pass, N5).
    "GH_BROWSER",
    "GH_PAGER",
    "GH_EDITOR",
    // Configuration homes and files whose entries run programs (red team round 27, hooks
    // K5): gh's aliases (`!cmd`), a kubeconfig's `exec` credential plugins, docker's
    // credential helpers and buildx's configuration, a compose file's builds and hooks.
    "GH_CONFIG_DIR",
    "KUBECONFIG",
    "KUBECTL_EXTERNAL_DIFF",
    "KUBE_EDITOR",
    "DOCKER_CONFIG",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "BUILDX_CONFIG",
    "COMPOSE_FILE",
    "COMPOSE_PROJECT_DIRECTORY",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "GIT_EXEC_PATH",
    "GIT_TEMPLATE_DIR",
    "GIT_PROXY_COMMAND",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_ALLOW_PROTOCOL",
    // Interpreters' start-up code in the environment (red team round 30, shell F5): the
    // environment form of `-e`.
    "LUA_INIT",
    "LUA_INIT_5_1",
    "LUA_INIT_5_2",
    "LUA_INIT_5_3",
    "LUA_INIT_5_4",
    "LUA_PATH",
    "LUA_CPATH",
    "R_PROFILE",
    "R_PROFILE_USER",
    "R_ENVIRON",
    "R_ENVIRON_USER",
    "R_LIBS_USER",
    "TCLLIBPATH",
    "TCL_LIBRARY",
    "PYTHONBREAKPOINT",
    "JULIA_DEPOT_PATH",
    "JULIA_LOAD_PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "RUBYOPT",
    "RUBYLIB",
    "NODE_OPTIONS",
    "NODE_PATH",
    // rustup's proxies run the `cargo` of the toolchain these name; `cargo fmt` runs
    // `$RUSTFMT`.
    "RUSTFMT",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC",
    "RUSTDOC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_HOME",
    // The cargo a tool runs (`cargo xtask`, `cargo-fuzz`), and the switches that let a
    // stable toolchain take unstable options (`-Z`, `CARGO_UNSTABLE_*`: red team round 28,
    // hooks H2).
    "CARGO",
    "RUSTC_BOOTSTRAP",
    "__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS",
    "CC",
    "CXX",
    "LD",
    "AR",
    "MAKEFLAGS",
    "GNUMAKEFLAGS",
    "MFLAGS",
    "MAKE",
    "MAKEFILES",
    "SHELL",
    "TAR_OPTIONS",
    "CURL_HOME",
    "WGETRC",
    "SYSTEM_WGETRC",
    "SYSTEMWGETRC",
    "HOME",
    "XDG_CONFIG_HOME",
    "ZDOTDIR",
    "GCONV_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "DOTNET_STARTUP_HOOKS",
    "NPM_CONFIG_SCRIPT_SHELL",
    "GREP_OPTIONS",
    "RSYNC_RSH",
    "RSYNC_CONNECT_PROG",
    "PIP_INDEX_URL",
    "PIP_CONFIG_FILE",
    // pytest reads options (`-p PLUGIN`) and plugins to load from these.
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    // `GOFLAGS=-toolexec=PROGRAM`; a toolchain of the caller's choosing is fetched and
    // run; `GOENV` names a file of such settings.
    "GOFLAGS",
    "GOTOOLCHAIN",
    "GOENV",
    // less and more read options from these (`LESS=--lesskey-src=FILE`, `-O FILE`); a
    // value of display flags only is let through (`guard.rs`).
    "LESS",
    "MORE",
    // less runs the tags program, and a lesskey file's `#env` sets LESSOPEN.
    "LESSGLOBALTAGS",
    "LESSKEY",
    "LESSKEY_SYSTEM",
    "LESSKEYIN_SYSTEM",
    "LESSKEY_CONTENT",
    // gcc compiles a second time with the options this gives (`-fplugin=`).
    "GCC_COMPARE_DEBUG",
    // cgo's compiler and linker flags skip its allow-list (`CGO_LDFLAGS=-Wl,-plugin,F`),
    // and the `_ALLOW` ones widen it for the flags source files give; go finds its
    // toolchain, pkg-config, a Fortran compiler and credential helpers through these.
    "CGO_CFLAGS",
    "CGO_CPPFLAGS",
    "CGO_CXXFLAGS",
    "CGO_FFLAGS",
    "CGO_LDFLAGS",
    "CGO_CFLAGS_ALLOW",
    "CGO_CPPFLAGS_ALLOW",
    "CGO_CXXFLAGS_ALLOW",
    "CGO_FFLAGS_ALLOW",
    "CGO_LDFLAGS_ALLOW",
    "GOROOT",
    "PKG_CONFIG",
    "FC",
    "GOAUTH",
    // gcc runs the compiler proper (`cc1`) and the tools it finds through these.
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    // OpenSSL loads the providers and engines its configuration names (curl, git, wget).
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
    "OPENSSL_ENGINES",
    "DELTA_PAGER",
    "BAT_PAGER",
    "CONDARC",
    "COMPOSER",
    // Files of options, each of which may name a program or a module to load
    // (`--pre=PROGRAM` in ripgrep's, a pager in ack's and bat's, a plugin in
    // coverage's), and zip's and unzip's options (`ZIPOPT='-TT CMD'`).
    "RIPGREP_CONFIG_PATH",
    "ACKRC",
    "ACK_OPTIONS",
    "ACK_PAGER",
    "ACK_PAGER_COLOR",
    "BAT_CONFIG_PATH",
    "COVERAGE_RCFILE",
    "ZIPOPT",
    "UNZIPOPT",
    "UNZIP",
    // zip reads options from `ZIP` too (`-TT CMD`), xz from these (`--files=LIST`
    // compresses and removes the files a list names), gzip and bzip2 from theirs.
    "ZIP",
    "XZ_OPT",
    "XZ_DEFAULTS",
    "GZIP",
    "BZIP",
    "BZIP2",
    // Build scripts' compilers and tools (cc-rs, bindgen, prost, cmake): `TARGET_CC`,
    // `CC_x86_64_unknown_linux_gnu` (prefixes below), protoc, libclang, rustdoc's flags.
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "PROTOC",
    "LIBCLANG_PATH",
    "CLANG_PATH",
    "BINDGEN_EXTRA_CLANG_ARGS",
    "CMAKE",
    "CMAKE_TOOLCHAIN_FILE",
    "RANLIB",
    "NM",
    "OBJCOPY",
    "STRIP",
    "PYO3_PYTHON",
    // Configuration directories searched for pip's, git's and other programs' files.
    "XDG_CONFIG_DIRS",
    // go's workspace file adds modules from anywhere to the build; gpg's home holds its
    // configuration (an agent program), which `git commit -S` starts.
    "GOWORK",
    "GNUPGHOME",
    // Modules, gems and startup files loaded from where these say.
    "COVERAGE_PROCESS_START",
    "GEMRC",
    "GEM_PATH",
    "GEM_HOME",
    "IPYTHONDIR",
    "KRB5_CONFIG",
    // The compilers' flags make's implicit rules and build scripts pass on
    // (`CFLAGS=-fplugin=F`); optimisation and warning flags are let through
    // (`variable_values.rs`). make runs `$(RM)` in `clean` and the like.
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "FFLAGS",
    "LDFLAGS",
    "CPP",
    "AS",
    "RM",
];

/// zsh's special parameters that decide what a name runs, matched as spelled (zsh's names
/// are case-sensitive: `FUNCTIONS` is an ordinary variable): its tables of functions,
/// command paths (`commands[ls]=/bin/sh` is `hash ls=/bin/sh`), aliases and options
/// (`options[globsubst]=on` reads every later expansion as a pattern), the disabled ones
/// (re-enabled by assignment), and the arrays of functions it calls on its own (red team
/// round 22, R22-03 to R22-05).
pub(super) const ZSH_CODE_PARAMETERS: &[&str] = &[
    "functions",
    "dis_functions",
    "functions_source",
    "commands",
    "aliases",
    "dis_aliases",
    "galiases",
    "dis_galiases",
    "saliases",
    "dis_saliases",
    "builtins",
    "dis_builtins",
    "reswords",
    "dis_reswords",
    "options",
    "module_path",
    "mapfile",
    "precmd_functions",
    "preexec_functions",
    "chpwd_functions",
    "periodic_functions",
    "zshaddhistory_functions",
    "zshexit_functions",
];

/// Prefixes of such variables (`LD_*`, `GIT_CONFIG_KEY_0`, `npm_config_*`, cargo's
/// `CARGO_TARGET_*_RUNNER`, bash's exported functions).
pub(super) const CODE_VARIABLE_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "GIT_CONFIG_",
    "NPM_CONFIG_",
    // bun's own `npm_config`-like settings (`BUN_CONFIG_REGISTRY`, round 29 hooks H3).
    "BUN_CONFIG_",
    // Arguments bun prepends to every command line (`--preload=./x.ts`: second pass, M1).
    "BUN_OPTIONS",
    "YARN_",
    "CARGO_TARGET_",
    "CARGO_BUILD_",
    "CARGO_REGISTRIES_",
    "CARGO_ALIAS_",
    "RUSTUP_",
    "BASH_FUNC_",
    // corepack downloads the package manager it runs from these registries.
    "COREPACK_",
    // `CARGO_REGISTRY_CREDENTIAL_PROVIDER` and its kin.
    "CARGO_REGISTRY_",
    // Every key of cargo's configuration can be set from the environment: the program
    // `cargo doc --open` runs (`doc.browser`), a profile's codegen backend (a library
    // rustc loads) and flags, the sources that replace crates.io, the variables cargo sets
    // for what it runs, credential providers, path overrides, the host's linker and the
    // unstable features (red team round 28, hooks H2).
    "CARGO_DOC_",
    "CARGO_PROFILE_",
    "CARGO_SOURCE_",
    "CARGO_ENV_",
    "CARGO_CREDENTIAL_",
    "CARGO_PATHS",
    "CARGO_HOST_",
    "CARGO_UNSTABLE_",
    // Every option of pip, uv, poetry and bundler can be set from the environment
    // (`PIP_LOG`, `PIP_PYTHON`, `UV_INDEX_URL`, `BUNDLE_GEMFILE`).
    "PIP_",
    "UV_",
    "POETRY_",
    "BUNDLE_",
    // `GIT_TRACE=/path` and its kin write a file.
    "GIT_TRACE",
    "PYTHON",
    // cc-rs's and pkg-config's per-target and host tools and flags (`HOST_PKG_CONFIG`,
    // `TARGET_CC`, `PKG_CONFIG_x86_64_unknown_linux_gnu`, `RANLIB_…`).
    "HOST_",
    "TARGET_",
    "PKG_CONFIG",
    "RANLIB_",
    "LLVM_CONFIG_PATH",
    "CC_",
    "CXX_",
    "AR_",
    "CFLAGS_",
    "CXXFLAGS_",
    // git's test knobs: `GIT_TEST_FSMONITOR` runs a program as `core.fsmonitor` does.
    "GIT_TEST_",
];

/// Variables naming a file that a program writes to, at any path the value gives: TLS
/// key logs (OpenSSL, GnuTLS, NSS: curl, git, wget, Python, Node), interactive histories,
/// coverage and allocation traces, Node's warnings and coverage. `HISTFILE` and
/// `GIT_TRACE*` are above.
pub(super) const WRITE_VARIABLES: &[&str] = &[
    "NODE_REDIRECT_WARNINGS",
    "LLVM_PROFILE_FILE",
    "GOCOVERDIR",
    "GIT_REDIRECT_STDERR",
    "GIT_REDIRECT_STDOUT",
    "NODE_V8_COVERAGE",
    "NODE_COMPILE_CACHE",
    "RUFF_OUTPUT_FILE",
    "SSLKEYLOGFILE",
    "LESSHISTFILE",
    "NODE_REPL_HISTORY",
    "SQLITE_HISTORY",
    "PSQL_HISTORY",
    "MYSQL_HISTFILE",
    "REDISCLI_HISTFILE",
    "GCOV_PREFIX",
    "COVERAGE_FILE",
    "MALLOC_TRACE",
    // gcc's dependency output (`FILE [TARGET]`).
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
];

/// Variables whose value is a path programs write under: temporary directories (`sort`,
/// `mktemp`, pytest's base directory), caches, and tar's default archive (`TAPE`, which
/// with `HOST:PATH` is opened through a remote shell). The value is judged as a write.
pub(super) const PATH_VARIABLES: &[&str] = &[
    "TAPE",
    "TMPDIR",
    "TMP",
    "TEMP",
    "PYTEST_DEBUG_TEMPROOT",
    "MYPY_CACHE_DIR",
    "RUFF_CACHE_DIR",
    "BLACK_CACHE_DIR",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "GOCACHE",
    "GOTMPDIR",
    "GOMODCACHE",
    "GOPATH",
    "GOSSADIR",
    "CARGO_TARGET_DIR",
    "PYTHONPYCACHEPREFIX",
];

/// Variables that send a program's requests through a host of the caller's choosing (the
/// request then goes where the command's URL does not say: curl, wget, git, pip, npm),
/// change whom it trusts, or what credentials it sends.
pub(super) const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "SOCKS_PROXY",
    "SOCKS5_SERVER",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    // The credentials `curl -n` and `ftp` send, read from a file of the caller's choosing.
    "NETRC",
    "GOPROXY",
    // rsync's HTTP proxy for `rsync://` (red team round 20); pip's and npm's own.
    "RSYNC_PROXY",
    "PIP_PROXY",
    "NPM_CONFIG_PROXY",
    "NPM_CONFIG_HTTPS_PROXY",
    "CARGO_HTTP_PROXY",
    "CARGO_HTTP_CAINFO",
    // The resolver's host aliases and search domains send a request elsewhere.
    "HOSTALIASES",
    "LOCALDOMAIN",
];
