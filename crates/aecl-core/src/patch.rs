//! The files a patch in Codex's `apply_patch` format writes: `*** Add File: P`, `*** Update
//! File: P` (and its `*** Move to: Q`), `*** Delete File: P`, between `*** Begin Patch` and
//! `*** End Patch`. Codex's edit tool takes the whole patch as one string, so a path rule
//! (`path_under`, `path_glob`, the configuration that runs code) and the hook's guard read
//! the files it names there rather than the text as one path (red team round 25, hooks H2:
//! a patch adding `.codex/hooks.json` or a file of the policy directory went through).
//!
//! A text is a patch when its first line that is not blank is `*** Begin Patch` (Codex's
//! own marker), or when that line follows a heredoc's opening (`<<EOF`, `<<'EOF'`,
//! `<<"EOF"`, alone or after `apply_patch`) and the text ends with the heredoc's `EOF`:
//! Codex's parser takes both, and applies the second from its shell tools itself (red
//! team round 26, hooks H1: a patch behind `<<'EOF'` was read as no patch at all). A
//! patch inside any other text (after a `cd DIR &&`, in a longer script) is an error: the
//! files it writes depend on what runs before it, which is not read here. So is a patch
//! that does not parse (no end, an empty path, a header Codex does not know): the caller
//! refuses it rather than guess what Codex would make of it.

/// One file a patch writes, as written in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub path: &'a str,
    /// What the patch does to it.
    pub op: Op,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Update,
    Delete,
    /// The new name of a file updated and moved.
    MoveTo,
}

/// The files `text` writes when it is a patch (`None` when it is not one), or why it does
/// not parse.
pub fn targets(text: &str) -> Option<Result<Vec<Target<'_>>, String>> {
    let blank = |line: &&str| line.trim().is_empty();
    let mut lines = text.lines().map(str::trim_end).skip_while(blank);
    let first = lines.next()?.trim();
    if first == BEGIN {
        return Some(read(lines, false));
    }
    let opener = first.strip_prefix("apply_patch").or_else(|| first.strip_prefix("applypatch"));
    if HEREDOC_OPENERS.contains(&opener.map_or(first, str::trim_start)) {
        let mut body = lines.skip_while(blank);
        if body.next().map(str::trim) == Some(BEGIN) {
            return Some(read(body, true));
        }
    }
    text.lines().any(|line| line.trim() == BEGIN).then(|| {
        Err("a patch inside other text: the files it writes depend on what runs before it"
            .to_owned())
    })
}

/// A patch's text as what it writes and what it keeps. What it writes: the text with
/// every line blanked (spaces, byte for byte, so that offsets stay the text's) but those
/// it adds (`+`, its marker blanked) and any other line that is no header, which Codex
/// would not take as the file's. What it keeps: the lines it removes or shows as context
/// (`-`, ` `, `@@`), which must be the file's already for the patch to apply. `None` when
/// `text` is no patch that parses. Data flow scans the first and keeps the values of the
/// second: a link on a removed or context line was in the file before the patch.
pub fn written_and_kept(text: &str) -> Option<(String, String)> {
    let targets = targets(text)?.ok()?;
    // A file named twice (added then updated, updated in two sections) has lines the patch
    // itself wrote on its `-` and context lines: nothing is kept (red team round 31,
    // second pass, P2-3).
    let mut paths: Vec<&str> = targets.iter().map(|t| t.path).collect();
    paths.sort_unstable();
    let count = paths.len();
    paths.dedup();
    let named_once = paths.len() == count;
    let (mut written, mut kept) = (String::with_capacity(text.len()), String::new());
    let blank = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let end = &line[content.len()..];
        match content.as_bytes().first() {
            Some(b'+') => {
                written.push(' ');
                written.push_str(&content[1..]);
            }
            Some(b'-' | b' ') => {
                kept.push_str(&content[1..]);
                kept.push('\n');
                blank(&mut written, content.len());
            }
            _ if content.starts_with("@@") => {
                kept.push_str(&content[2..]);
                kept.push('\n');
                blank(&mut written, content.len());
            }
            _ if content.trim_start().starts_with("*** ") => blank(&mut written, content.len()),
            _ => written.push_str(content),
        }
        written.push_str(end);
    }
    if !named_once {
        kept.clear();
    }
    Some((written, kept))
}

/// The line a patch begins with.
const BEGIN: &str = "*** Begin Patch";

/// The first lines of a heredoc that Codex reads a patch after.
const HEREDOC_OPENERS: [&str; 3] = ["<<EOF", "<<'EOF'", "<<\"EOF\""];

/// The files the patch's lines after `*** Begin Patch` name. `heredoc`: the patch came
/// after a heredoc's opening, and one line ending in `EOF` may follow its end.
fn read<'a>(
    lines: impl Iterator<Item = &'a str>,
    heredoc: bool,
) -> Result<Vec<Target<'a>>, String> {
    let mut found = Vec::new();
    let mut ended = false;
    let mut closed = !heredoc;
    for line in lines {
        if ended && !closed && line.trim_end().ends_with("EOF") {
            closed = true;
            continue;
        }
        // Codex reads headers with spaces before them too.
        let Some(header) = line.trim_start().strip_prefix("*** ") else {
            if ended && !line.trim().is_empty() {
                return Err("text follows `*** End Patch`".to_owned());
            }
            continue;
        };
        if ended {
            return Err("text follows `*** End Patch`".to_owned());
        }
        let (op, path) = match header.split_once(':') {
            Some(("Add File", path)) => (Op::Add, path),
            Some(("Update File", path)) => (Op::Update, path),
            Some(("Delete File", path)) => (Op::Delete, path),
            Some(("Move to", path)) => (Op::MoveTo, path),
            _ if header.trim() == "End Patch" => {
                ended = true;
                continue;
            }
            _ if header.trim() == "End of File" => continue,
            _ => return Err(format!("`*** {header}` is not a header of a patch")),
        };
        let path = path.trim();
        if path.is_empty() {
            return Err(format!("`*** {}` names no file", header.trim()));
        }
        found.push(Target { path, op });
    }
    if !ended {
        return Err("the patch has no `*** End Patch`".to_owned());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_a_patch_names_is_a_target() {
        let patch = "\n*** Begin Patch\n*** Add File: .codex/hooks.json\n+{}\n\
                     *** Update File: src/app.py\n*** Move to: .envrc\n@@ def f():\n-    a\n+    b\n\
                     *** End of File\n  *** Delete File: /etc/x \n*** End Patch\n";
        let found = targets(patch).unwrap().unwrap();
        let paths: Vec<(&str, Op)> = found.iter().map(|t| (t.path, t.op)).collect();
        assert_eq!(
            paths,
            [
                (".codex/hooks.json", Op::Add),
                ("src/app.py", Op::Update),
                (".envrc", Op::MoveTo),
                ("/etc/x", Op::Delete)
            ]
        );
    }

    #[test]
    fn a_patch_writes_its_added_lines_and_keeps_the_others() {
        let patch = "*** Begin Patch\n*** Update File: Makefile\n@@ all:\n-\tcurl https://a.test/\n\
                     +\tcurl https://b.test/\n \techo done\n*** End Patch\n";
        let (written, kept) = written_and_kept(patch).unwrap();
        assert_eq!(written.len(), patch.len());
        assert_eq!(written.trim(), "curl https://b.test/");
        let at = written.find("https://b.test/").unwrap();
        assert_eq!(&patch[at..at + 15], "https://b.test/");
        assert_eq!(kept, " all:\n\tcurl https://a.test/\n\techo done\n");
        assert_eq!(written_and_kept("curl https://b.test/"), None);
        let twice = "*** Begin Patch\n*** Add File: M\n+https://b.test/\n*** Update File: M\n\
                     @@\n-https://b.test/\n+x\n*** End Patch\n";
        assert_eq!(written_and_kept(twice).map(|(_, kept)| kept), Some(String::new()));
        assert_eq!(written_and_kept("*** Begin Patch\n*** Add File: x\n+y\n"), None);
    }

    #[test]
    fn a_text_that_is_no_patch_is_none_and_a_broken_patch_an_error() {
        assert_eq!(targets("src/app.py"), None);
        assert_eq!(targets("echo '*** Begin Patch'"), None);
        // Inside other text: what runs before it decides where it writes.
        for embedded in [
            "cd .codex && apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hooks.json\n+{}\n*** End Patch\nEOF\n",
            "cat <<EOF | apply_patch\n*** Begin Patch\n*** Add File: x\n+a\n*** End Patch\nEOF",
            "echo hi\n*** Begin Patch\n*** Add File: x\n+a\n*** End Patch\n",
        ] {
            assert!(matches!(targets(embedded), Some(Err(_))), "{embedded}");
        }
        for broken in [
            "*** Begin Patch\n*** Add File: x\n+a\n",
            "*** Begin Patch\n*** Add File:   \n*** End Patch",
            "*** Begin Patch\n*** Rename File: x\n*** End Patch",
            "*** Begin Patch\n*** End Patch\n*** Add File: x\n",
        ] {
            assert!(matches!(targets(broken), Some(Err(_))), "{broken}");
        }
    }

    /// Red team round 26, hooks H1: Codex reads a patch behind a heredoc's opening, as
    /// models send it (`["apply_patch", "<<'EOF'\n*** Begin Patch…"]`, `bash -lc
    /// "apply_patch <<'EOF'…"`): the files it names are its targets.
    #[test]
    fn a_patch_behind_a_heredoc_opening_is_read() {
        let body = "*** Begin Patch\n*** Add File: .codex/hooks.json\n+{}\n*** End Patch\n";
        for opener in ["<<EOF", "<<'EOF'", "<<\"EOF\"", "apply_patch <<'EOF'", "applypatch <<EOF"] {
            for end in ["EOF\n", "EOF", "  EOF\n\n", ""] {
                let text = format!("{opener}\n{body}{end}");
                let found = targets(&text).unwrap().unwrap();
                assert_eq!(found, [Target { path: ".codex/hooks.json", op: Op::Add }], "{text}");
            }
        }
        // Text after the heredoc's end is not Codex's patch.
        assert!(matches!(targets(&format!("<<EOF\n{body}EOF\nrm -rf /\n")), Some(Err(_))));
        assert!(matches!(targets(&format!("<<EOF\n{body}EOF\nEOF\n")), Some(Err(_))));
    }
}
