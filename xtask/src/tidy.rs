//! Tidy tests: rules of the codebase checked on every test run.
//!
//! - every `.rs` file starts with a `//!` line saying what it is for;
//! - the crate dependency rule of ARCHITECTURE.md holds, read from `cargo metadata`;
//! - each heavy external crate lives in one workspace crate;
//! - no test is marked ignored;
//! - no file cycles inside `aecl-core` or `aecl-engine` (`module_graph.rs`).

#[cfg(test)]
mod module_graph;

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
        ("aecl-protocol", &["aecl-core", "aecl-policy"]),
        ("aecl-engine", &["aecl-core", "aecl-policy", "aecl-audit", "aecl-protocol"]),
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

    /// The files of workspace crate `name` as module paths (`src/a/b.rs` is `a::b`).
    fn crate_files(name: &str) -> super::module_graph::Files {
        let src = root().join("crates").join(name).join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let mut files = super::module_graph::Files::new();
        for path in paths {
            let Ok(relative) = path.strip_prefix(&src) else { continue };
            let mut module: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") || module == ["lib"] {
                module.pop();
            }
            files.insert(module, fs::read_to_string(&path).unwrap_or_default());
        }
        files
    }

    fn show(files: &[Vec<String>]) -> String {
        files.iter().map(|m| format!("`{}`", m.join("::"))).collect::<Vec<_>>().join(", ")
    }

    #[test]
    fn no_file_cycles_inside_the_core_or_the_engine() {
        use super::module_graph::{cycles, edges};
        let mut problems = Vec::new();
        for name in ["aecl-core", "aecl-engine"] {
            let files = crate_files(name);
            assert!(files.len() > 5, "`{name}` has only {} files", files.len());
            let edges = edges(&files);
            for cycle in cycles(&edges) {
                problems.push(format!("{name}: {}", show(&cycle)));
                // Which file names which, inside the cycle: the edges to cut.
                for file in &cycle {
                    let inside: Vec<Vec<String>> =
                        edges[file].iter().filter(|t| cycle.contains(t)).cloned().collect();
                    problems.push(format!("    `{}` -> {}", file.join("::"), show(&inside)));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "files that name each other (move what both need into a leaf module):\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn the_cycle_check_finds_cycles_and_only_cycles() {
        use super::module_graph::{Files, cycles, edges};
        let files = |list: &[(&str, &str)]| -> Files {
            list.iter()
                .map(|(path, text)| {
                    let module = path.split("::").filter(|s| !s.is_empty()).map(str::to_owned);
                    (module.collect(), (*text).to_owned())
                })
                .collect()
        };
        let names = |found: Vec<Vec<Vec<String>>>| -> Vec<Vec<String>> {
            found.into_iter().map(|c| c.into_iter().map(|m| m.join("::")).collect()).collect()
        };
        // Transitive: a -> b -> c -> a, through a `use` group, a full path and `super`.
        let three = files(&[
            ("", "mod a; mod b; mod c;"),
            ("a", "use crate::{b::B, c};\npub struct A;"),
            ("b", "pub struct B;\nfn f() -> crate::c::C { todo() }"),
            ("c", "pub struct C;\nmod inner { use super::super::a::A; }"),
        ]);
        assert_eq!(names(cycles(&edges(&three))), vec![vec!["a", "b", "c"]]);
        // A child naming its parent is exempt; two children naming each other, or one
        // naming its parent's sibling that names it back, are cycles.
        let parent = files(&[
            ("", "mod engine; mod expiry;"),
            ("engine", "mod a; mod b;\npub use a::A;\npub struct Engine;\nuse crate::expiry::T;"),
            ("engine::a", "use crate::engine::Engine;\nuse super::b::B;\npub struct A;"),
            ("engine::b", "use super::a::A;\npub struct B;"),
            ("expiry", "use crate::engine::Engine;\npub struct T;"),
        ]);
        assert_eq!(
            names(cycles(&edges(&parent))),
            vec![vec!["engine", "expiry"], vec!["engine::a", "engine::b"]]
        );
        // Not edges: comments, strings, an inline test module's `super`, a child naming
        // only a sibling leaf.
        let clean = files(&[
            ("", "mod a; mod b;"),
            (
                "a",
                "// crate::b::B\n/* crate::b */ const S: &str = \"crate::b::B\";\nmod tests { use super::*; }",
            ),
            (
                "b",
                "use crate::a::S; fn f<'a>(x: &'a str) -> char { 'b' }\nfn g() -> char { '\\'' }",
            ),
        ]);
        assert_eq!(names(cycles(&edges(&clean))), Vec::<Vec<String>>::new());
        let edges = edges(&clean);
        assert!(edges[&vec!["a".to_owned()]].is_empty(), "{edges:?}");
        assert_eq!(edges[&vec!["b".to_owned()]].len(), 1, "{edges:?}");
    }
}
