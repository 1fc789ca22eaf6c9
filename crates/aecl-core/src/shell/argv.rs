//! A command given as its words (an argv list: Codex's `shell` tool, `execve`-style MCP
//! exec tools) written as the one command line the shell rules read: each word quoted where
//! the shell would read it otherwise, the words joined by spaces. The hook's guard and the
//! policy's shell rules read the same line (red team round 25, hooks H1: the rules judged
//! `["rm", "-rf", "x"]` as three command lines, `rm`, `-rf` and `x`).

/// A shell word: as it is when every character is plainly safe, else single-quoted.
pub fn quote_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// The command line of an argv list: `None` unless `value` is a list of two strings or
/// more (one string is a command line of its own, as it always was).
pub fn argv_line(value: &serde_json::Value) -> Option<String> {
    let items = value.as_array().filter(|items| items.len() > 1)?;
    let words: Option<Vec<String>> =
        items.iter().map(|item| item.as_str().map(quote_word)).collect();
    Some(words?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_are_quoted_where_the_shell_would_read_them_otherwise() {
        assert_eq!(argv_line(&json!(["git", "status"])).as_deref(), Some("git status"));
        assert_eq!(
            argv_line(&json!(["bash", "-lc", "ls -la; echo 'x'"])).as_deref(),
            Some(r"bash -lc 'ls -la; echo '\''x'\'''")
        );
        assert_eq!(argv_line(&json!(["echo", ""])).as_deref(), Some("echo ''"));
        assert_eq!(argv_line(&json!(["ls -la"])), None);
        assert_eq!(argv_line(&json!(["rm", 1])), None);
        assert_eq!(argv_line(&json!("rm -rf x")), None);
    }
}
