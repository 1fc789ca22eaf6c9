//! Variables whose value is a file a program writes (red team round 16: `GIT_TRACE`,
//! `GIT_INDEX_FILE`, `DEPENDENCIES_OUTPUT`, `HISTFILE` and the JVM's `-Xloggc:` each
//! overwrote the agent's settings): git's traces, its index, gcc's dependency output,
//! shells' and pagers' histories, TLS key logs, profiles and traces; and the JVM's and
//! node's option variables and the JVM's own `-X` options, whose pieces may name one.
//! Each such value is checked as a write of the line.

use aecl_core::shell::{Analysis, ShellArg, WriteWord};

use super::protected::Protected;
use super::reach::{Line, Refusal};

/// Variables whose whole value is a file written (`GIT_TRACE*` by prefix).
const FILE_VARIABLES: [&str; 16] = [
    "GIT_INDEX_FILE",
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "HISTFILE",
    "LESSHISTFILE",
    "SSLKEYLOGFILE",
    "LLVM_PROFILE_FILE",
    "GCOV_PREFIX",
    "MALLOC_TRACE",
    "LD_DEBUG_OUTPUT",
    "PIP_LOG",
    "PIP_LOG_FILE",
    "NODE_REPL_HISTORY",
    "PSQL_HISTORY",
    "MYSQL_HISTFILE",
    "SQLITE_HISTORY",
];

/// Variables of options, any piece of which may name a file written.
const OPTION_VARIABLES: [&str; 6] = [
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "NODE_OPTIONS",
    "MAVEN_OPTS",
    "GRADLE_OPTS",
];

/// Checks what the line's variables and the JVM's `-X` options name as files written,
/// from `dirs` (where the line may run).
pub fn check<'p>(
    line: &Line<'_>,
    analysis: &Analysis,
    dirs: &[Option<String>],
    protected: &'p Protected,
) -> Result<(), Refusal<'p>> {
    // Where the line may be when the variable is read: the write paths' directories, and
    // every directory its `cd`s go to as this guard reads them (`cd ~/.claude && export
    // HISTFILE=settings.json`).
    let mut dirs = dirs.to_vec();
    dirs.extend(line.cd_targets(analysis).iter().map(|dir| dir.to_str().map(str::to_owned)));
    dirs.dedup();
    let write = |word: ShellArg| WriteWord { word, dirs: dirs.clone(), unnamed: None };
    // `NAME=VALUE` before a command or alone, and as a word of the built-ins that set
    // variables (`export`, `declare -x`, `typeset`, `local`, `readonly`).
    let declared = analysis
        .commands
        .iter()
        .filter(|c| {
            matches!(c.program.as_str(), "export" | "declare" | "typeset" | "local" | "readonly")
        })
        .flat_map(|c| &c.words)
        .filter_map(|word| {
            let (name, value) = word.text.split_once('=')?;
            let raw = word.raw.split_once('=').map_or("", |(_, raw)| raw);
            Some((
                name.to_owned(),
                ShellArg { text: value.to_owned(), raw: raw.to_owned(), ..word.clone() },
            ))
        });
    let assigned = analysis.assignments.iter().map(|a| (a.name.clone(), a.value.clone()));
    for (name, value) in assigned.chain(declared) {
        let name = name.as_str();
        if name.starts_with("GIT_TRACE") || FILE_VARIABLES.contains(&name) {
            // `GIT_TRACE=1` prints to standard error; a number is a descriptor.
            if value.is_known() && (value.text.is_empty() || is_flag(&value.text)) {
                continue;
            }
            line.check_write(&write(value), protected)?;
        } else if OPTION_VARIABLES.contains(&name) {
            for piece in pieces(&value) {
                line.check_write(&write(piece), protected)?;
            }
        }
    }
    let java = analysis.commands.iter().filter(|c| c.program == "java");
    for word in java.flat_map(|c| &c.words).filter(|w| w.text.starts_with("-X")) {
        for piece in pieces(word) {
            line.check_write(&write(piece), protected)?;
        }
    }
    Ok(())
}

/// A value that is no file: a number (a descriptor, a level), `true`, `false`.
fn is_flag(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit()) || matches!(text, "true" | "false" | "yes" | "no")
}

/// The pieces of an option text that may be paths: split at spaces, `=`, `:` and `,`,
/// those with a `/` or a `.` in them. An expansion is left to the rules that judge the
/// program the variable configures (the JVM and node run code of their own), so that
/// `NODE_OPTIONS="$NODE_OPTIONS --x"` extends the value freely.
fn pieces(value: &ShellArg) -> Vec<ShellArg> {
    let text = if value.is_known() { &value.text } else { &value.raw };
    text.split(|c: char| c.is_whitespace() || "=:,\"'".contains(c))
        .filter(|piece| !piece.starts_with('-') && piece.contains(['/', '.']))
        .filter(|piece| !piece.contains(['$', '`']))
        .map(ShellArg::known)
        .collect()
}
