//! Tool names across several servers: a gateway with a configuration file exposes each
//! server's tool as `SERVER__TOOL`, and routes a call by the part before the first `__`.
//!
//! The names a server advertises are its own claims, so they are checked before they are
//! shown: a tool name is 1 to 128 of the characters the MCP specification allows (ASCII
//! letters, digits, `_`, `-`, `.`), and when names are namespaced it has no `__`. A server
//! that advertises `other__delete` could otherwise have the model read it as server
//! `other`'s `delete`; one whose name differs from another's only by a look-alike
//! character or an invisible one could pass for it in a reviewer's eyes. Such a tool is
//! never listed and never called.
//!
//! INVARIANT: with valid server names (no `__`, not ending in `_`) and valid tool names
//! (no `__`), `route(exposed(s, t)) == (s, t)` and no other pair exposes the same name.

/// What joins a server's name and its tool's in an exposed name.
pub const SEPARATOR: &str = "__";

/// Longest server name: it is repeated in every tool name, which clients limit to 128.
const MAX_SERVER_NAME: usize = 32;

/// Longest tool name the MCP specification recommends clients accept.
const MAX_TOOL_NAME: usize = 128;

/// Whether `name` can name a server: lower-case ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit, with no `__` and no `_` at its end.
pub fn valid_server_name(name: &str) -> bool {
    let Some(first) = name.chars().next() else { return false };
    name.len() <= MAX_SERVER_NAME
        && first.is_ascii_alphanumeric()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.contains(SEPARATOR)
        && !name.ends_with('_')
}

/// Whether `prefix` can start catalog actions: the characters of tool names, possibly
/// none.
pub fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_TOOL_NAME && prefix.chars().all(tool_char)
}

/// Why a server's tool `name` is not exposed, or `None` when it may be. `namespaced`: the
/// gateway exposes `SERVER__TOOL` names.
pub fn refused_tool_name(name: &str, namespaced: bool) -> Option<&'static str> {
    if name.is_empty() || name.len() > MAX_TOOL_NAME {
        return Some("a tool name has 1 to 128 characters");
    }
    if !name.chars().all(tool_char) {
        return Some(
            "a tool name has ASCII letters, digits, `_`, `-` and `.` only (no spaces, no look-alike or invisible characters)",
        );
    }
    if namespaced && name.contains(SEPARATOR) {
        return Some("a tool name with `__` could pass for another server's tool (`SERVER__TOOL`)");
    }
    None
}

/// The name the agent's client sees for `server`'s `tool`.
pub fn exposed(server: &str, tool: &str, namespaced: bool) -> String {
    if namespaced { [server, SEPARATOR, tool].concat() } else { tool.to_owned() }
}

/// The server and the server's tool an exposed name stands for: split at the first `__`
/// when namespaced. `None` when it names no server's tool.
pub fn route(exposed: &str, namespaced: bool) -> Option<(&str, &str)> {
    if !namespaced {
        return Some(("", exposed));
    }
    let (server, tool) = exposed.split_once(SEPARATOR)?;
    (valid_server_name(server) && refused_tool_name(tool, true).is_none()).then_some((server, tool))
}

fn tool_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_cannot_hide_a_separator() {
        for good in ["fs", "time", "git-2", "my_server", "a"] {
            assert!(valid_server_name(good), "{good}");
        }
        for bad in ["", "Fs", "fs__x", "fs_", "_fs", "-fs", "f s", "fś", "fs.x", &"a".repeat(33)] {
            assert!(!valid_server_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_tool_name_that_could_pass_for_another_servers_is_refused() {
        for bad in [
            "other__delete",
            "__delete",
            "delete__",
            "read\u{200b}file",
            "rеad", // Cyrillic `е`
            "read file",
            "read/file",
            "",
        ] {
            assert!(refused_tool_name(bad, true).is_some(), "{bad:?}");
        }
        assert_eq!(refused_tool_name("other__delete", false), None);
        assert!(refused_tool_name("read file", false).is_some());
        for good in ["read_text_file", "get-sum", "v1.read", "_x", "x_"] {
            assert_eq!(refused_tool_name(good, true), None, "{good}");
        }
    }

    #[test]
    fn exposed_names_route_back_to_their_one_server() {
        for (server, tool) in [("fs", "read_text_file"), ("a-b", "_x"), ("a_b", "x_"), ("t", "x")] {
            let name = exposed(server, tool, true);
            assert_eq!(route(&name, true), Some((server, tool)), "{name}");
        }
        // `fs___x` is server `fs`'s `_x`: a server name never ends in `_`.
        assert_eq!(route("fs___x", true), Some(("fs", "_x")));
        assert_eq!(route("fs__other__delete", true), None);
        assert_eq!(route("nothing", true), None);
        assert_eq!(route("FS__read", true), None);
        assert_eq!(route("read", false), Some(("", "read")));
        assert_eq!(exposed("fs", "read", false), "read");
    }
}
