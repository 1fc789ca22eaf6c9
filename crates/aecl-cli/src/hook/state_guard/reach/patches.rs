//! The files a patch writes, read from the patch when the line gives its file (`patch
//! -p1 < fix.diff`, `patch -i fix.diff`, `git apply fix.diff`) and the line does not
//! write that file first: each file its headers name (`---`/`+++`, `Index:`, `diff
//! --git`, a rename's or copy's target) is checked as a write, at every strip of its leading
//! components (`-p` aside, which only some of them are). A patch that is not plain (an
//! ed script, a link's or a binary's change, a quoted name, no header at all) stays a
//! write of files only known at run time.

use std::path::{Path, PathBuf};

use aecl_core::shell::{Analysis, ShellArg, WriteWord};

/// Patch files larger than this are not read.
const MAX_PATCH_BYTES: u64 = 1 << 20;

/// A patch the line reads from a file.
pub(super) struct PatchInput {
    file: PathBuf,
    /// `-d DIR` (`--directory`): the names are relative to it.
    dir: Option<String>,
}

/// The patch input of the line's one `patch` or `git apply`, when its file is named.
pub(super) fn input(analysis: &Analysis, cwd: &Path) -> Option<PatchInput> {
    let mut patches = analysis.commands.iter().filter(|c| {
        c.program == "patch"
            || (c.program == "git" && c.words.first().is_some_and(|w| w.text == "apply"))
    });
    let command = patches.next()?;
    // A `cd` of the line moves where the patch file is opened from.
    let moves =
        analysis.commands.iter().any(|c| matches!(c.program.as_str(), "cd" | "pushd" | "popd"));
    if moves || patches.next().is_some() || command.words.iter().any(|w| !w.is_known()) {
        return None;
    }
    let words = &command.words;
    let value = |short: &str, long: &str| -> Option<String> {
        words.iter().enumerate().find_map(|(i, w)| {
            let text = w.text.as_str();
            if text == short || text == long {
                return words.get(i + 1).map(|v| v.text.clone());
            }
            text.strip_prefix(&format!("{long}="))
                .or_else(|| text.strip_prefix(short).filter(|v| !v.is_empty() && short.len() == 2))
                .map(str::to_owned)
        })
    };
    // An ed script runs ed's commands; a reversed or merged patch still names its files.
    if words.iter().any(|w| matches!(w.text.as_str(), "-e" | "--ed")) {
        return None;
    }
    let (file, dir) = if command.program == "git" {
        let files: Vec<&ShellArg> =
            words.iter().skip(1).filter(|w| !w.text.starts_with('-')).collect();
        let [file] = files.as_slice() else { return None };
        (file.text.clone(), value("", "--directory"))
    } else {
        let named = value("-i", "--input");
        let redirected = || {
            let mut inputs = analysis.redirections.iter().filter(|r| r.operator == "<");
            let only = inputs.next()?;
            inputs.next().is_none().then(|| only.target.text.clone())
        };
        // `patch FILE PATCHFILE` names its file on the line: judged without this.
        let file = named.or_else(redirected)?;
        (file, value("-d", "--directory"))
    };
    // patch changes to `-d DIR` before it opens its input.
    let base = match (&dir, command.program.as_str()) {
        (Some(dir), "patch") => cwd.join(dir),
        _ => cwd.to_path_buf(),
    };
    Some(PatchInput { file: base.join(file), dir })
}

/// The files the patch names, when `writes` (the line's) cannot be writing its file.
pub(super) fn files(input: &PatchInput, writes: &[WriteWord]) -> Option<Vec<String>> {
    let name = input.file.file_name()?.to_str()?;
    let written = writes.iter().any(|w| {
        w.word.text.rsplit('/').next() == Some(name)
            || (!w.word.is_known()
                && w.unnamed.is_none()
                && w.word.raw != aecl_core::shell::PATCHED_FILES)
    });
    if written || std::fs::metadata(&input.file).ok()?.len() > MAX_PATCH_BYTES {
        return None;
    }
    let text = std::fs::read_to_string(&input.file).ok()?;
    let names = named_files(&text)?;
    let mut out = Vec::new();
    for name in names {
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        for strip in 0..parts.len() {
            let rest = parts.get(strip..)?.join("/");
            out.push(match &input.dir {
                Some(dir) => format!("{dir}/{rest}"),
                None => rest,
            });
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The names a unified or context diff's headers give, `/dev/null` left out; `None` for
/// a patch that is not plain.
fn named_files(text: &str) -> Option<Vec<String>> {
    const NOT_PLAIN: [&str; 5] = [
        "GIT binary patch",
        "Binary files",
        "new file mode 120000",
        "new mode 120000",
        "old mode 120000",
    ];
    let mut names = Vec::new();
    for line in text.lines() {
        if NOT_PLAIN.iter().any(|p| line.starts_with(p)) {
            return None;
        }
        let name = if let Some(rest) = line.strip_prefix("diff --git ") {
            names.extend(rest.split(' ').map(str::to_owned));
            continue;
        } else if let Some(rest) =
            ["+++ ", "--- ", "*** ", "Index: ", "rename to ", "rename from ", "copy to "]
                .iter()
                .find_map(|p| line.strip_prefix(p))
        {
            // A context diff's hunk line (`*** 1,4 ****`) is no header.
            if line.starts_with("*** ") && rest.ends_with("****") {
                continue;
            }
            rest.split('\t').next().unwrap_or_default().trim_end()
        } else {
            continue;
        };
        if name.starts_with('"') || name.contains(['*', '?', '[', '\\']) {
            return None;
        }
        if name != "/dev/null" && !name.is_empty() {
            names.push(name.to_owned());
        }
    }
    (!names.is_empty()).then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_names_its_files_in_its_headers() {
        let diff = "diff --git a/src/x.rs b/src/x.rs\n--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            named_files(diff).unwrap(),
            ["a/src/x.rs", "b/src/x.rs", "a/src/x.rs", "b/src/x.rs"]
        );
        let plain = "--- old/.claude/settings.json\t2026-01-01\n+++ new/.claude/settings.json\n";
        assert!(named_files(plain).unwrap().contains(&"new/.claude/settings.json".to_owned()));
        for not_plain in [
            "diff --git a/l b/l\nnew file mode 120000\n",
            "GIT binary patch\n",
            "--- \"a/x y\"\n",
            "just text\n",
        ] {
            assert!(named_files(not_plain).is_none(), "{not_plain}");
        }
    }
}
