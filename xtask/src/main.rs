//! Project automation: `cargo xtask ci | setup | codegen | demo`.
//!
//! `cargo xtask ci` is the whole test suite, exactly what `.ci/run` runs after installing
//! the tools it needs.

mod microvm;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("setup") => setup(&root),
        Some("codegen") => ["aecl-policy", "aecl-protocol"].iter().try_for_each(|package| {
            run(&root, "cargo", &["run", "--quiet", "--package", package, "--example", "codegen"])
        }),
        Some("demo") => demo(&root),
        Some("microvm-kernel") => microvm::ensure_guest(&root),
        _ => bail!("usage: cargo xtask <ci | setup | codegen | demo | microvm-kernel>"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn run(root: &Path, program: &str, args: &[&str]) -> Result<()> {
    #[expect(clippy::print_stderr, reason = "xtask narrates what it runs")]
    {
        eprintln!("$ {program} {}", args.join(" "));
    }
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("starting `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

/// Everything CI checks, in one profile: formatting, lints, tidy rules, generated files,
/// every test (benchmarks are compiled and run once each as tests; the fuzz targets' bodies
/// run over the corpora in `aecl-fuzz-targets`), and the Python and TypeScript clients.
/// The libFuzzer build of `fuzz/` is left to fuzzing sessions: it would build the whole
/// dependency tree a second time with other flags.
fn ci(root: &Path) -> Result<()> {
    setup(root)?;
    run(root, "cargo", &["fmt", "--all", "--check"])?;
    run(root, "cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    run(root, "cargo", &["test", "--workspace", "--all-targets"])?;
    python_client(root)?;
    typescript_client(root)?;
    Ok(())
}

/// Installs what the tests need and nothing else (also the first step of `ci`): to run
/// one test binary by hand on a fresh machine, `cargo xtask setup` first.
fn setup(root: &Path) -> Result<()> {
    ensure_postgres()?;
    ensure_browser(root)?;
    microvm::ensure_guest(root)?;
    ensure_mcp_tests(root)?;
    ensure_claude_code(root)?;
    ensure_systemd_analyze()
}

/// The store tests start a private PostgreSQL server from the distribution's binaries;
/// install them when they are missing (Debian or Ubuntu, as root).
fn ensure_postgres() -> Result<()> {
    let installed = which("pg_config")
        || std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|mut versions| {
            versions.any(|v| v.is_ok_and(|v| v.path().join("bin/initdb").is_file()))
        });
    if installed {
        return Ok(());
    }
    if !which("apt-get") {
        bail!("the store tests need PostgreSQL's server binaries (initdb, postgres): install them");
    }
    let root = Path::new("/");
    run(root, "apt-get", &["update", "-q"])?;
    run(root, "apt-get", &["install", "-y", "-q", "--no-install-recommends", "postgresql"])
}

/// The systemd unit's test runs `systemd-analyze verify` on `deploy/aecl.service`: install
/// Debian's `systemd` package (the program only; nothing is started) when it is missing.
fn ensure_systemd_analyze() -> Result<()> {
    if which("systemd-analyze") {
        return Ok(());
    }
    if !which("apt-get") {
        bail!("the deployment test needs `systemd-analyze` (Debian's `systemd` package)");
    }
    let root = Path::new("/");
    run(root, "apt-get", &["update", "-q"])?;
    run(root, "apt-get", &["install", "-y", "-q", "--no-install-recommends", "systemd"])
}

/// The approvals page's browser test drives Debian's Chromium with Playwright from npm,
/// and the sandbox's tests run Debian's programs: install what is missing (Chromium,
/// Node.js, python3, curl, bubblewrap, runsc), and the browser test's pinned npm packages.
fn ensure_browser(root: &Path) -> Result<()> {
    let mut missing = Vec::new();
    if !Path::new("/usr/bin/chromium").is_file() && std::env::var_os("AECL_CHROMIUM").is_none() {
        missing.push("chromium");
    }
    if !which("node") || !which("npm") {
        missing.extend(["nodejs", "npm"]);
    }
    // The sandbox's tests run Debian's own programs inside it (the escape suite's probes
    // are /usr/bin/python3 scripts, the egress test uses curl); its benchmark compares
    // with bwrap.
    for (program, package) in [
        ("/usr/bin/python3", "python3"),
        ("/usr/bin/curl", "curl"),
        ("/usr/bin/bwrap", "bubblewrap"),
    ] {
        if !Path::new(program).is_file() {
            missing.push(package);
        }
    }
    if !missing.is_empty() {
        if !which("apt-get") {
            bail!("the browser and sandbox tests need {}: install them", missing.join(", "));
        }
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(&missing);
        run(Path::new("/"), "apt-get", &["update", "-q"])?;
        run(Path::new("/"), "apt-get", &args)?;
    }
    ensure_runsc()?;
    // Playwright and the MCP SDKs of the gateway's tests need Node.js 20 or later
    // (Debian 12's own is 18): say so plainly rather than let a test fail obscurely.
    let version = Command::new("node").arg("--version").output()?;
    let version = String::from_utf8_lossy(&version.stdout);
    let major = version.trim().trim_start_matches('v').split('.').next().unwrap_or("");
    if major.parse::<u32>().is_ok_and(|major| major < 20) || major.is_empty() {
        bail!(
            "the browser and MCP tests need Node.js 20 or later; `node --version` says `{}`",
            version.trim()
        );
    }
    let browser = root.join("crates/aecl-server/tests/browser");
    if !browser.join("node_modules/playwright-core").is_dir() {
        run(&browser, "npm", &["ci", "--no-audit", "--no-fund"])?;
    }
    Ok(())
}

/// The Python client's tests (`clients/python/tests`, pytest) against the `aecl` binary:
/// a virtualenv in `clients/python/.venv` (created when missing; Debian's python3 needs
/// python3-venv for it), the pinned packages of `requirements-test.txt` and the client
/// itself (editable) installed into it, then pytest with `AECL_BIN`.
fn python_client(root: &Path) -> Result<()> {
    let client = root.join("clients/python");
    let python = client.join(".venv/bin/python");
    if !python.is_file() && run(&client, "python3", &["-m", "venv", ".venv"]).is_err() {
        // A half-made venv would be taken for a working one next time.
        let _ = std::fs::remove_dir_all(client.join(".venv"));
        if !which("apt-get") {
            bail!("the Python client's tests need `python3 -m venv`: install python3-venv");
        }
        let args = ["install", "-y", "-q", "--no-install-recommends", "python3-venv"];
        run(Path::new("/"), "apt-get", &["update", "-q"])?;
        run(Path::new("/"), "apt-get", &args)?;
        run(&client, "/usr/bin/python3", &["-m", "venv", ".venv"])?;
    }
    let python = python.to_str().context("the repository path is not UTF-8")?;
    let pip = ["-m", "pip", "install", "-q", "--disable-pip-version-check"];
    run(&client, python, &[&pip[..], &["-r", "requirements-test.txt"]].concat())?;
    run(&client, python, &[&pip[..], &["-e", "."]].concat())?;
    build_aecl(root)?;
    let aecl = root.join("target/debug/aecl");
    #[expect(clippy::print_stderr, reason = "xtask narrates what it runs")]
    {
        eprintln!("$ AECL_BIN={} {python} -m pytest tests", aecl.display());
    }
    let status = Command::new(python)
        .args(["-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"])
        .env("AECL_BIN", &aecl)
        .current_dir(&client)
        .status()
        .context("starting pytest")?;
    if !status.success() {
        bail!("the Python client's tests failed with {status}");
    }
    Ok(())
}

/// The TypeScript client's tests (`clients/typescript/test`, node:test) against the `aecl`
/// binary: the pinned packages of `package-lock.json` (`npm ci`, only when `node_modules`
/// is missing or older than the lock file), the ESM and CommonJS builds (tsc), then the
/// suites with `AECL_BIN` (each starts its own `aecl serve`; one also packs and installs
/// the package into a clean temporary project).
fn typescript_client(root: &Path) -> Result<()> {
    let client = root.join("clients/typescript");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let installed = modified(&client.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(&client.join("package-lock.json")) {
        run(&client, "npm", &["ci", "--no-audit", "--no-fund"])?;
    }
    run(&client, "npm", &["run", "build"])?;
    build_aecl(root)?;
    let aecl = root.join("target/debug/aecl");
    #[expect(clippy::print_stderr, reason = "xtask narrates what it runs")]
    {
        eprintln!("$ AECL_BIN={} npm test", aecl.display());
    }
    let status = Command::new("npm")
        .arg("test")
        .env("AECL_BIN", &aecl)
        .current_dir(&client)
        .status()
        .context("starting npm test")?;
    if !status.success() {
        bail!("the TypeScript client's tests failed with {status}");
    }
    Ok(())
}

/// The MCP gateway's end-to-end tests (`crates/aecl-cli/tests/it/mcp.rs`, `mcp_servers.rs`)
/// run third-party MCP servers from npm (the pinned packages of
/// `crates/aecl-mcp/tests/servers`), the TypeScript SDK's clients (the pinned packages of
/// `crates/aecl-mcp/tests/clients/ts`) and, from a virtualenv in `crates/aecl-mcp/tests/.venv`
/// (made when missing, with the pinned `requirements.txt`; Debian's python3 needs
/// python3-venv), the Python MCP SDK's client and the Python servers.
fn ensure_mcp_tests(root: &Path) -> Result<()> {
    let tests = root.join("crates/aecl-mcp/tests");
    let servers = tests.join("servers");
    let installed = ["mcp-server-filesystem", "mcp-server-memory", "mcp-server-everything"]
        .iter()
        .all(|bin| servers.join("node_modules/.bin").join(bin).is_file());
    if !installed {
        run(&servers, "npm", &["ci", "--no-audit", "--no-fund"])?;
    }
    let clients = tests.join("clients/ts");
    let installed = ["client", "sdk"]
        .iter()
        .all(|sdk| clients.join("node_modules/@modelcontextprotocol").join(sdk).is_dir());
    if !installed {
        run(&clients, "npm", &["ci", "--no-audit", "--no-fund"])?;
    }
    let python = tests.join(".venv/bin/python");
    if !python.is_file() && run(&tests, "/usr/bin/python3", &["-m", "venv", ".venv"]).is_err() {
        // A half-made venv would be taken for a working one next time.
        let _ = std::fs::remove_dir_all(tests.join(".venv"));
        if !which("apt-get") {
            bail!("the MCP gateway's tests need `python3 -m venv`: install python3-venv");
        }
        let args = ["install", "-y", "-q", "--no-install-recommends", "python3-venv"];
        run(Path::new("/"), "apt-get", &["update", "-q"])?;
        run(Path::new("/"), "apt-get", &args)?;
        run(&tests, "/usr/bin/python3", &["-m", "venv", ".venv"])?;
    }
    // Every time: quick when nothing changed, and a venv made before the requirements
    // grew gets what it lacks.
    let python = python.to_str().context("the repository path is not UTF-8")?;
    let pip = ["-m", "pip", "install", "-q", "--disable-pip-version-check"];
    if let Err(error) = run(&tests, python, &[&pip[..], &["-r", "requirements.txt"]].concat()) {
        let _ = std::fs::remove_dir_all(tests.join(".venv"));
        return Err(error);
    }
    Ok(())
}

/// The Claude Code end-to-end test (`crates/aecl-cli/tests/it/claude_code.rs`) drives the
/// real `claude`: the npm package pinned in `crates/aecl-cli/tests/claude_code`, installed
/// into `target/claude-code` when missing or when the pin changed. Its 2.x package ships
/// the native binary as a per-platform optional dependency that its postinstall copies
/// over `bin/claude.exe`; a binary that does not run is an error here, not in the test.
fn ensure_claude_code(root: &Path) -> Result<()> {
    let pinned = root.join("crates/aecl-cli/tests/claude_code");
    let dir = root.join("target/claude-code");
    let claude = dir.join("node_modules/@anthropic-ai/claude-code/bin/claude.exe");
    let lock = std::fs::read(pinned.join("package-lock.json"))
        .context("reading the pinned Claude Code's package-lock.json")?;
    let current = std::fs::read(dir.join("package-lock.json")).ok();
    if claude.is_file() && current.as_ref() == Some(&lock) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).context("creating target/claude-code")?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(pinned.join(file), dir.join(file))
            .with_context(|| format!("copying {file} into target/claude-code"))?;
    }
    run(&dir, "npm", &["ci", "--no-audit", "--no-fund"])?;
    let claude = claude.to_str().context("the repository path is not UTF-8")?;
    run(&dir, claude, &["--version"])
}

/// The sandbox's `gvisor` tier runs commands under runsc, and its tests fail without it.
/// On bookworm, Debian's runsc is in bookworm-backports (whose build has the `systrap`
/// platform): its source is added in a list of its own unless one names it already.
fn ensure_runsc() -> Result<()> {
    if which("runsc") {
        return Ok(());
    }
    if !which("apt-get") {
        bail!("the sandbox's gvisor tests need runsc (gVisor): install it");
    }
    let bookworm = std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|text| text.lines().any(|l| l == "VERSION_CODENAME=bookworm"));
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    if bookworm {
        let named = ["/etc/apt/sources.list", "/etc/apt/sources.list.d"].iter().any(|place| {
            let files: Vec<PathBuf> = match std::fs::read_dir(place) {
                Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
                Err(_) => vec![PathBuf::from(place)],
            };
            files.iter().any(|file| {
                let listed = file.extension().is_some_and(|e| e == "list" || e == "sources")
                    || file.ends_with("sources.list");
                listed
                    && std::fs::read_to_string(file).is_ok_and(|text| {
                        text.lines().any(|l| {
                            !l.trim_start().starts_with('#') && l.contains("bookworm-backports")
                        })
                    })
            })
        });
        if !named {
            std::fs::write(
                "/etc/apt/sources.list.d/aecl-backports.list",
                "deb http://deb.debian.org/debian bookworm-backports main\n",
            )
            .context("adding bookworm-backports to apt's sources")?;
        }
        args.extend(["-t", "bookworm-backports"]);
    }
    args.push("runsc");
    run(Path::new("/"), "apt-get", &["update", "-q"])?;
    run(Path::new("/"), "apt-get", &args)
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Puts in `target/debug/aecl` the binary `cargo test --workspace --all-targets` built,
/// with the features the tests' dev-dependencies unify in: after the test run nothing is
/// compiled again. (`cargo build --package aecl-cli`, or even `--workspace --bins`,
/// resolves other features and rebuilds the connectors, the server, the gateway and the
/// binary.)
fn build_aecl(root: &Path) -> Result<()> {
    run(root, "cargo", &["test", "--workspace", "--all-targets", "--no-run", "--quiet"])
}

/// The README's demo: the seed's "pay the vendor immediately" scenario decided with its
/// explanation; then the whole trace recorded through the engine into the embedded SQLite
/// store with a signed audit log, which is verified.
fn demo(root: &Path) -> Result<()> {
    let aecl = |args: &[&str]| {
        let mut all = vec!["run", "--quiet", "--package", "aecl-cli", "--"];
        all.extend(args);
        run(root, "cargo", &all)
    };
    let dir = root.join("target/demo");
    // A fresh store and key every time, so the demo always shows the same log.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing `{}`", dir.display()))?;
    }
    let dir_text = dir.display().to_string();
    let db = dir.join("aecl.db").display().to_string();
    let key = dir.join("audit.key").display().to_string();
    let public = dir.join("audit.pub").display().to_string();
    aecl(&[
        "eval",
        "--policy",
        "examples/policies/finance",
        "--trace",
        "examples/traces/finance-vendor-email.jsonl",
        "--call",
        "examples/calls/pay-vendor-immediately.json",
        "--explain",
    ])?;
    aecl(&["keys", "generate", "--name", "demo.aecl/finance", "--out", &dir_text])?;
    aecl(&[
        "replay",
        "--policy",
        "examples/policies/finance",
        "--record",
        &db,
        "--key",
        &key,
        "examples/traces/finance-vendor-email.jsonl",
    ])?;
    aecl(&["audit", "verify", "--db", &db, "--key", &public])
}
