//! Where a path really is, for a file that may not exist yet: the longest prefix that
//! exists resolved through its links, then the rest with `.` and `..` read lexically. A
//! start-up check that compared a missing database's path as written (`notes/../data/
//! users.db`, or a path through a linked workspace) missed that it lay in a writable bind
//! (red team round 29, second pass T-H1); canonicalising only what exists does not.

use std::path::{Component, Path, PathBuf};

/// The real path of `path` (absolute, or relative to the process's directory).
pub(crate) fn real_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut rest: Vec<Component<'_>> = Vec::new();
    let mut prefix = absolute.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(prefix) {
            let mut out = real;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (prefix.parent(), prefix.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                prefix = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_placed_where_its_existing_parents_really_are() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(real.join("ws/data")).unwrap();
        std::fs::create_dir_all(real.join("ws/notes")).unwrap();
        std::os::unix::fs::symlink(real.join("ws"), real.join("link")).unwrap();
        let expected = real.join("ws/data/users.db");
        assert_eq!(real_path(&real.join("ws/notes/../data/users.db")), expected);
        assert_eq!(real_path(&real.join("link/data/users.db")), expected);
        assert_eq!(real_path(&real.join("link/data/new/../users.db")), expected);
        assert_eq!(real_path(&real.join("ws/data")), real.join("ws/data"));
    }
}
