//! Small languages that programs take as an argument and that can run commands or write
//! files: sed scripts (`e`, `s///e`, `w FILE`, `s///w FILE`, in `sed`) and awk programs
//! (`system()`, pipes, `print > FILE`, in `awk`). Each reader follows its language's own
//! lexical rules, because a reader that loses its place can read a command as data, and
//! errs towards finding: text it cannot follow is reported as running code.

mod awk;
mod sed;

/// What a script does besides transforming text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ScriptEffects {
    /// Why it runs commands, if it does.
    pub runs_code: Option<String>,
    /// Files it writes (`None`: a file only known at run time).
    pub writes: Vec<Option<String>>,
    /// It may open network connections (gawk's `/inet/...`, or a file named at run time).
    pub network: bool,
}

/// Reads a sed script.
pub(super) fn sed(script: &str) -> ScriptEffects {
    sed::read(script)
}

pub(super) use awk::Context as AwkContext;

/// Reads an awk program given what its command line tells of it.
pub(super) fn awk(program: &str, context: &AwkContext) -> ScriptEffects {
    awk::read_with(program, context)
}
