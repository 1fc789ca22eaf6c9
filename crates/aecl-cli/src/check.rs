//! `aecl check DIR`: every problem with file:line:column (Cedar rules validated against the
//! catalog's schema included), then the catalog's examples and the test files of
//! `DIR/tests/`. `--emit-cedar-schema` prints the Cedar schema the rules are checked
//! against.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use aecl_policy::PolicyError;
use anyhow::Result;

use crate::input::{now, read_policy_dir};
use crate::policy_tests::{run_files, test_files};

pub fn run(dir: &Path, emit_cedar_schema: bool) -> Result<ExitCode> {
    let files = read_policy_dir(dir)?;
    let mut out = std::io::stdout().lock();
    if emit_cedar_schema {
        return match aecl_policy::cedar_schema(&files) {
            Ok(text) => {
                write!(out, "{text}")?;
                Ok(ExitCode::SUCCESS)
            }
            Err(PolicyError::Invalid(problems)) => {
                for problem in &problems {
                    writeln!(out, "{problem}")?;
                }
                writeln!(out, "{} problem(s) in the catalog of {}", problems.len(), dir.display())?;
                Ok(ExitCode::from(1))
            }
            Err(other) => Err(other.into()),
        };
    }
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
    let mut problems = aecl_policy::run_examples(&loaded, now());
    let failed_examples = problems.len();
    let tests = run_files(&loaded, &test_files(&dir.join("tests"))?)?;
    let failed_tests = tests.outcomes.iter().filter(|o| o.failure.is_some()).count();
    problems.extend(tests.malformed.iter().cloned());
    problems.extend(tests.outcomes.iter().filter_map(|o| o.problem()));
    for problem in &problems {
        writeln!(out, "{problem}")?;
    }
    let policy = &loaded.policy;
    let tests_passed = match tests.outcomes.len() + tests.malformed.len() {
        0 => String::new(),
        _ => format!(", {} test(s) passed", tests.outcomes.len() - failed_tests),
    };
    if problems.is_empty() {
        writeln!(
            out,
            "ok: {} agent(s), {} action(s), {} example(s) passed{tests_passed}; revision {}",
            policy.agents.len(),
            policy.actions.len(),
            loaded.examples.len(),
            policy.revision
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        let mut failed =
            vec![format!("{failed_examples} of {} example(s) failed", loaded.examples.len())];
        if !tests.outcomes.is_empty() {
            failed.push(format!("{failed_tests} of {} test(s) failed", tests.outcomes.len()));
        }
        if !tests.malformed.is_empty() {
            failed.push(format!("{} test file(s) malformed", tests.malformed.len()));
        }
        writeln!(out, "{} in {}", failed.join(", "), dir.display())?;
        Ok(ExitCode::from(1))
    }
}
