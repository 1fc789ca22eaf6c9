//! Tidy tests: rules of the codebase checked on every test run.
//!
//! - every `.rs` file starts with a `//!` line saying what it is for;
//! - the crate dependency rule of ARCHITECTURE.md holds, read from `cargo metadata`;
//! - each heavy external crate lives in one workspace crate;
//! - no test is marked ignored.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use serde_json::Value;

    /// Which workspace crates each crate may depend on directly (design.md §6), before
    /// closing over what those may reach. A new crate must be added here.
    const RULE: &[(&str, &[&str])] = &[
        ("aecl-core", &[]),
        ("aecl-policy", &["aecl-core"]),
        ("aecl-audit", &["aecl-core"]),
        ("aecl-engine", &["aecl-core", "aecl-policy", "aecl-audit"]),
        ("aecl-store", &["aecl-engine"]),
        ("aecl-sandbox", &["aecl-engine"]),
        ("aecl-connectors", &["aecl-engine", "aecl-sandbox"]),
        ("aecl-server", &["aecl-engine"]),
        ("aecl-mcp", &["aecl-engine"]),
        // Test support: only ever a dev-dependency (no rule lists it), so never shipped.
        ("aecl-testkit", &["aecl-engine"]),
        ("aecl-cli", &["*"]),
        ("aecl-fuzz-targets", &["aecl-core", "aecl-policy", "aecl-audit", "aecl-sandbox"]),
        ("xtask", &["*"]),
    ];

    /// Test support, which may use what the tests of every crate use (sqlx for the
    /// PostgreSQL harness): no crate may depend on it but as a dev-dependency.
    const TEST_SUPPORT: &str = "aecl-testkit";

    /// Heavy external crates and the one workspace crate allowed to use each.
    const HEAVY: &[(&str, &str)] = &[
        ("cedar-policy", "aecl-policy"),
        ("sqlx", "aecl-store"),
        ("tokio-postgres", "aecl-connectors"),
        ("axum", "aecl-server"),
        ("tower-http", "aecl-server"),
        ("utoipa", "aecl-server"),
        ("prometheus-client", "aecl-server"),
        ("rmcp", "aecl-mcp"),
    ];

    fn root() -> PathBuf {
        crate::workspace_root()
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                rust_files(&path, out);
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn all_rust_files() -> Vec<PathBuf> {
        let mut files = Vec::new();
        for dir in ["crates", "xtask", "fuzz"] {
            rust_files(&root().join(dir), &mut files);
        }
        files
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc_comment() {
        let files = all_rust_files();
        assert!(files.len() > 10, "found only {} Rust files", files.len());
        let missing: Vec<String> = files
            .iter()
            .filter(|p| !fs::read_to_string(p).unwrap_or_default().starts_with("//!"))
            .map(|p| p.display().to_string())
            .collect();
        assert!(missing.is_empty(), "files without a `//!` first line:\n{}", missing.join("\n"));
    }

    #[test]
    fn no_test_is_ignored() {
        let marker = ["#[", "ignore"].concat();
        let offenders: Vec<String> = all_rust_files()
            .iter()
            .filter(|p| fs::read_to_string(p).unwrap_or_default().contains(&marker))
            .map(|p| p.display().to_string())
            .collect();
        assert!(offenders.is_empty(), "ignored tests in:\n{}", offenders.join("\n"));
    }

    /// Workspace crate name to (workspace deps, all dep names) for normal and build
    /// dependencies; dev-dependencies may reach further (benchmarks load policies).
    fn dependencies() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
        let output = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(root())
            .output()
            .expect("cargo metadata runs");
        assert!(output.status.success(), "cargo metadata failed");
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
        let packages = metadata["packages"].as_array().expect("packages");
        let members: BTreeSet<String> =
            packages.iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect();
        let mut out = BTreeMap::new();
        for package in packages {
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            let mut internal = BTreeSet::new();
            let mut all = BTreeSet::new();
            for dep in package["dependencies"].as_array().into_iter().flatten() {
                if dep["kind"].as_str() == Some("dev") {
                    continue;
                }
                let dep_name = dep["name"].as_str().unwrap_or_default().to_owned();
                if members.contains(&dep_name) {
                    internal.insert(dep_name.clone());
                }
                all.insert(dep_name);
            }
            out.insert(name, (internal, all));
        }
        out
    }

    fn allowed(name: &str) -> Option<BTreeSet<String>> {
        let rule: BTreeMap<&str, &[&str]> = RULE.iter().copied().collect();
        let direct = rule.get(name)?;
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        let mut stack: Vec<&str> = direct.to_vec();
        while let Some(next) = stack.pop() {
            if allowed.insert(next.to_owned()) {
                stack.extend(rule.get(next).copied().unwrap_or_default());
            }
        }
        Some(allowed)
    }

    #[test]
    fn crate_dependencies_point_inward() {
        let deps = dependencies();
        assert!(deps.contains_key("aecl-core") && deps.contains_key("aecl-cli"));
        let mut problems = Vec::new();
        for (name, (internal, _)) in &deps {
            let Some(allowed) = allowed(name) else {
                problems.push(format!("`{name}` has no dependency rule: add it to xtask/src/tidy.rs and ARCHITECTURE.md"));
                continue;
            };
            if allowed.contains("*") {
                continue;
            }
            for dep in internal {
                if !allowed.contains(dep) {
                    problems.push(format!("`{name}` may not depend on `{dep}`"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn each_heavy_crate_lives_in_one_workspace_crate() {
        let mut problems = Vec::new();
        for (name, (_, all)) in dependencies() {
            if name == TEST_SUPPORT {
                continue;
            }
            for (heavy, home) in HEAVY {
                if all.contains(*heavy) && name != *home {
                    problems.push(format!("`{name}` uses `{heavy}`, which belongs to `{home}`"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_dependency_rule_rejects_an_outward_edge() {
        // The rule itself must bite: the core may not reach the policy crate, and the
        // server may not reach the store.
        assert!(!allowed("aecl-core").unwrap().contains("aecl-policy"));
        assert!(!allowed("aecl-server").unwrap().contains("aecl-store"));
        assert!(allowed("aecl-store").unwrap().contains("aecl-core"));
    }
}
