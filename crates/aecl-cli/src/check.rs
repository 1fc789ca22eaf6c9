//! `aecl check DIR`: every problem with file:line:column, then the catalog's examples.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use aecl_policy::PolicyError;
use anyhow::Result;

use crate::input::{now, read_policy_dir};

pub fn run(dir: &Path) -> Result<ExitCode> {
    let files = read_policy_dir(dir)?;
    let mut out = std::io::stdout().lock();
    let loaded = match aecl_policy::load(&files) {
        Ok(loaded) => loaded,
        Err(PolicyError::Invalid(problems)) => {
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            writeln!(out, "{} problem(s) in {}", problems.len(), dir.display())?;
            return Ok(ExitCode::from(1));
        }
        Err(other) => return Err(other.into()),
    };
    let problems = aecl_policy::run_examples(&loaded, now());
    for problem in &problems {
        writeln!(out, "{problem}")?;
    }
    let policy = &loaded.policy;
    if problems.is_empty() {
        writeln!(
            out,
            "ok: {} agent(s), {} action(s), {} example(s) passed; revision {}",
            policy.agents.len(),
            policy.actions.len(),
            loaded.examples.len(),
            policy.revision
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "{} of {} example(s) failed in {}",
            problems.len(),
            loaded.examples.len(),
            dir.display()
        )?;
        Ok(ExitCode::from(1))
    }
}
