//! The paths one word of a command may name when aecl cannot read the program's own
//! options: a program the table does not know (opaque to the hook's guard, or listed in
//! `allow_programs` and so trusted to run, not to write configuration that runs code).
//!
//! Programs read paths out of their words in more shapes than a whole word (red team
//! round 26, hooks M1): docker's `-v SRC:DST:ro`, a comma list of `key=value` items
//! (`--mount type=bind,source=P`), a `key=PATH` operand (`out=P`, `DESTDIR=P`) and URLs
//! (`file:///P`, percent-encoded). Every piece is offered: a piece that is no path names
//! nothing protected, so over-offering costs only the look-ups.

/// The texts `word` may name as paths:
/// - itself, or for an option word the value after its `=` and the text after a
///   one-letter option (`-o../x`);
/// - in each of those, each item of a comma list, the value of a `key=` item, and each
///   side of a `:`, each also percent-decoded.
pub fn word_paths(word: &str) -> Vec<String> {
    let mut bases = Vec::new();
    if !word.starts_with('-') || word == "-" {
        bases.push(word);
    } else {
        if let Some((_, value)) = word.split_once('=') {
            bases.push(value);
        }
        if !word.starts_with("--") {
            bases.extend(word.get(2..).filter(|rest| !rest.is_empty()));
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut push = |piece: &str| {
        if piece.is_empty() {
            return;
        }
        let decoded = piece
            .contains('%')
            .then(|| percent_encoding::percent_decode_str(piece).decode_utf8().ok())
            .flatten()
            .filter(|decoded| decoded != piece)
            .map(|decoded| decoded.into_owned());
        for piece in std::iter::once(piece.to_owned()).chain(decoded) {
            if !out.contains(&piece) {
                out.push(piece);
            }
        }
    };
    for base in bases {
        push(base);
        for item in base.split(',') {
            let value = item.split_once('=').map(|(_, value)| value);
            for piece in std::iter::once(item).chain(value) {
                push(piece);
                // A word that starts with `:` is no `SRC:DST` (git's `:/` is the top of
                // the work tree, which the git reader judges).
                if piece.contains(':') && !piece.starts_with(':') {
                    piece.split(':').for_each(&mut push);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::word_paths;

    #[test]
    fn an_option_words_value_is_a_path_it_may_name() {
        assert_eq!(word_paths("../x"), ["../x"]);
        assert_eq!(word_paths("--out=../x"), ["../x"]);
        assert_eq!(word_paths("-o../x"), ["../x"]);
        assert_eq!(word_paths("-oF=x"), ["x", "F=x"]);
        assert!(word_paths("--force").is_empty());
        assert_eq!(word_paths("-"), ["-"]);
    }

    #[test]
    fn the_paths_inside_a_word_are_offered_too() {
        assert_eq!(word_paths("/p/policy:/p:ro"), ["/p/policy:/p:ro", "/p/policy", "/p", "ro"]);
        assert_eq!(
            word_paths("--mount=type=bind,source=/pol,target=/p"),
            [
                "type=bind,source=/pol,target=/p",
                "type=bind",
                "bind",
                "source=/pol",
                "/pol",
                "target=/p",
                "/p"
            ]
        );
        assert_eq!(word_paths("out=../x"), ["out=../x", "../x"]);
        assert_eq!(word_paths("file:///pol/x"), ["file:///pol/x", "file", "///pol/x"]);
        assert_eq!(
            word_paths("file:///pol/%2Eclaude"),
            [
                "file:///pol/%2Eclaude",
                "file:///pol/.claude",
                "file",
                "///pol/%2Eclaude",
                "///pol/.claude"
            ]
        );
        assert_eq!(word_paths(":/"), [":/"]);
    }
}
