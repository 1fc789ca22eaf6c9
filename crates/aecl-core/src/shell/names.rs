//! Built-ins that evaluate text as a variable name or as arithmetic: a name with a
//! subscript (`a[$(cmd)]`) runs the subscript's command substitutions when it is
//! evaluated, so such text known only at run time is code known only at run time.

use super::word::Word;

/// Whether a built-in evaluates text known only at run time as a variable name or as
/// arithmetic, which runs the command substitutions of a subscript (`a[$(cmd)]`) that
/// the text may hold: `declare -i` and `-n` given a run-time value,
/// `test -v "$x"`, `printf -v "$x"`, `declare "$x=1"`, `read`/`export` of a name from an
/// expansion.
pub(super) fn evaluates_names(name: &str, rest: &[&Word]) -> bool {
    let flags = |letters: &str| {
        rest.iter().any(|w| {
            let text = w.text();
            !w.has_expansion()
                && (text.starts_with('-') || text.starts_with('+'))
                && !text.starts_with("--")
                && text.chars().skip(1).any(|c| letters.contains(c))
        })
    };
    match name {
        // (`export -n` un-exports; only these three give `-i` and `-n` their meaning.) An
        // integer or a name reference given a value from run time evaluates it now; a
        // later run-time assignment to an integer is judged with the assignments
        // (`guard.rs`).
        // A name reference (`declare -n r=PATH`) makes every later use of `r` a use of
        // the variable it names, and it is retargeted by a loop over it, by its first
        // assignment when it has no target, by `read`, `printf -v`... (`declare -n r=x;
        // for r in PATH; do r=./bin; done`): no check follows that, so any is refused.
        "declare" | "typeset" | "local" => {
            flags("n")
                || (flags("i") && rest.iter().any(|w| w.has_expansion()))
                || rest.iter().any(|w| w.has_expansion() && name_part_dynamic(w))
        }
        "export" | "readonly" => rest.iter().any(|w| w.has_expansion() && name_part_dynamic(w)),
        // `wait -p NAME` assigns the job's id to NAME.
        "wait" => rest.iter().enumerate().any(|(i, w)| {
            let text = w.text();
            text.starts_with('-')
                && !text.starts_with("--")
                && text.ends_with('p')
                && rest.get(i + 1).is_some_and(|n| n.has_expansion())
        }),
        "read" | "mapfile" | "readarray" | "unset" => rest.iter().any(|w| w.has_expansion()),
        "printf" => rest
            .iter()
            .enumerate()
            .any(|(i, w)| w.text() == "-v" && rest.get(i + 1).is_some_and(|n| n.has_expansion())),
        "test" | "[" | "[[" => rest.iter().enumerate().any(|(i, w)| {
            matches!(w.text().as_str(), "-v" | "-R")
                && rest.get(i + 1).is_some_and(|n| n.has_expansion())
        }),
        _ => false,
    }
}

/// Whether the name of `NAME=VALUE` (or the whole word, without `=`) holds an expansion.
fn name_part_dynamic(word: &Word) -> bool {
    let source = word.source_for_reparse();
    let name = source.split('=').next().unwrap_or_default();
    name.contains('$') || name.contains('`')
}
