//! Project automation: `cargo xtask ci | codegen | demo`.
//!
//! `cargo xtask ci` is the whole test suite, exactly what `.ci/run` runs after installing
//! the tools it needs.

mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("codegen") => run(
            &root,
            "cargo",
            &["run", "--quiet", "--package", "aecl-policy", "--example", "codegen"],
        ),
        Some("demo") => demo(&root),
        _ => bail!("usage: cargo xtask <ci | codegen | demo>"),
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
/// every test (benchmarks are compiled and run once each as tests), and the fuzz targets'
/// build (installing cargo-fuzz first when it is missing).
fn ci(root: &Path) -> Result<()> {
    run(root, "cargo", &["fmt", "--all", "--check"])?;
    run(root, "cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    run(root, "cargo", &["test", "--workspace", "--all-targets"])?;
    if !which("cargo-fuzz") {
        run(root, "cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    run(&root.join("fuzz"), "cargo", &["fuzz", "build", "--dev", "--sanitizer", "none"])?;
    Ok(())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The README's demo: the seed's "pay the vendor immediately" scenario.
fn demo(root: &Path) -> Result<()> {
    run(
        root,
        "cargo",
        &[
            "run",
            "--quiet",
            "--package",
            "aecl-cli",
            "--",
            "eval",
            "--policy",
            "examples/policies/finance",
            "--trace",
            "examples/traces/finance-vendor-email.jsonl",
            "--call",
            "examples/calls/pay-vendor-immediately.json",
            "--explain",
        ],
    )
}
