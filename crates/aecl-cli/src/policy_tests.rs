//! `aecl test DIR`: the policy's test files (`DIR/tests/*.toml`, or `--tests PATH`), one
//! line per test and a summary like `opa test`; exit 1 when any test fails or a test file
//! is malformed. `aecl check` runs them too when `DIR/tests/` exists.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aecl_policy::policy_test::{ParsedTests, Tally, TestOutcome, parse_tests, run_tests};
use aecl_policy::{LoadedPolicy, PolicyError, Problem};
use anyhow::{Context, Result};
use clap::Args;

use crate::input::{now, read_policy_dir};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The policy directory.
    dir: PathBuf,
    /// A test file, or a directory of them (`*.toml`); default `DIR/tests`.
    #[arg(long, value_name = "PATH")]
    tests: Option<PathBuf>,
}

pub fn run(args: &TestArgs) -> Result<ExitCode> {
    let files = read_policy_dir(&args.dir)?;
    let mut out = std::io::stdout().lock();
    let loaded = match aecl_policy::load(&files) {
        Ok(loaded) => loaded,
        Err(PolicyError::Invalid(problems)) => {
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            writeln!(out, "{} problem(s) in {}: no test ran", problems.len(), args.dir.display())?;
            return Ok(ExitCode::from(1));
        }
        Err(other) => return Err(other.into()),
    };
    let place = args.tests.clone().unwrap_or_else(|| args.dir.join("tests"));
    let paths = test_files(&place)?;
    if paths.is_empty() {
        writeln!(out, "no test files (`*.toml`) in {}", place.display())?;
        return Ok(ExitCode::from(1));
    }
    let results = run_files(&loaded, &paths)?;
    for problem in &results.malformed {
        writeln!(out, "ERROR {problem}")?;
    }
    for outcome in &results.outcomes {
        match outcome.problem() {
            None => writeln!(out, "PASS {}: {}", outcome.file, outcome.name)?,
            Some(problem) => writeln!(out, "FAIL {problem}")?,
        }
    }
    let tally = Tally::of(&results.outcomes);
    let total = tally.passed + tally.failed;
    writeln!(out, "{}", "-".repeat(80))?;
    writeln!(out, "PASS: {}/{total}", tally.passed)?;
    if tally.failed > 0 {
        writeln!(out, "FAIL: {}/{total}", tally.failed)?;
    }
    if !results.malformed.is_empty() {
        writeln!(out, "ERROR: {} test file(s) could not be read", results.malformed.len())?;
    }
    let ok = tally.failed == 0 && results.malformed.is_empty();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What running the test files gave: each test's outcome, and the files that could not be
/// parsed.
#[derive(Debug, Default)]
pub struct Results {
    pub outcomes: Vec<TestOutcome>,
    pub malformed: Vec<Problem>,
}

/// The test files at `place`: the file itself, or the `*.toml` files of the directory, in
/// name order. A missing place has none.
pub fn test_files(place: &Path) -> Result<Vec<PathBuf>> {
    if place.is_file() {
        return Ok(vec![place.to_path_buf()]);
    }
    if !place.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    for entry in
        fs::read_dir(place).with_context(|| format!("reading directory `{}`", place.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Parses and runs every test file; traces a test names are read relative to its file.
pub fn run_files(loaded: &LoadedPolicy, paths: &[PathBuf]) -> Result<Results> {
    let now = now();
    let mut results = Results::default();
    for path in paths {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
        let parsed: ParsedTests = match parse_tests(&path.display().to_string(), &text) {
            Ok(parsed) => parsed,
            Err(problem) => {
                results.malformed.push(problem);
                continue;
            }
        };
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut read_trace = |name: &str| {
            let trace = base.join(name);
            fs::read_to_string(&trace).map_err(|e| format!("reading `{}`: {e}", trace.display()))
        };
        results.outcomes.extend(run_tests(&loaded.policy, &parsed, &mut read_trace, now));
    }
    Ok(results)
}
