//! Runs every fuzz target over the inputs a fuzzing session would start from: the
//! regression inputs under `fuzz/regressions/`, the repository's corpora and examples
//! (whole files and each line), and generated inputs that splice random bytes into them.
//! A target may reject any input; it must never panic, and `decide`'s panic fallback
//! (which turns a panic into a block) must never be reached: a panic hook counts panics on
//! the running thread, caught or not.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Once;

use aecl_fuzz_targets::TARGETS;
use proptest::prelude::*;

thread_local! {
    static PANICS: Cell<u32> = const { Cell::new(0) };
}

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|panics| panics.set(panics.get() + 1));
            previous(info);
        }));
    });
}

/// Runs `target` on `input` and fails, naming both, if anything panicked (even a panic
/// that was caught inside).
fn run(name: &str, target: fn(&[u8]), input: &[u8], origin: &str) {
    count_panics();
    PANICS.with(|panics| panics.set(0));
    let outcome = std::panic::catch_unwind(|| target(input));
    let panics = PANICS.with(Cell::get);
    assert!(
        outcome.is_ok() && panics == 0,
        "fuzz target `{name}` panicked on {origin}: {:?}",
        String::from_utf8_lossy(&input[..input.len().min(200)])
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The repository's corpora and examples: every file, and every line of the text ones.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut paths = Vec::new();
    for dir in ["test_data", "examples", "fuzz/regressions"] {
        files_under(&root().join(dir), &mut paths);
    }
    paths.sort();
    let mut seeds = Vec::new();
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let name = path.strip_prefix(root()).unwrap_or(&path).display().to_string();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            for (index, line) in text.lines().enumerate() {
                seeds.push((format!("{name}:{}", index + 1), line.as_bytes().to_vec()));
                // The quoted value of `key = "value"` corpus lines (commands, statements).
                if let (Some(start), Some(end)) = (line.find('"'), line.rfind('"'))
                    && end > start + 1
                {
                    let value = line[start + 1..end].replace("\\\"", "\"");
                    seeds.push((format!("{name}:{} (value)", index + 1), value.into_bytes()));
                }
            }
        }
        seeds.push((name, bytes));
    }
    seeds
}

/// Each example policy directory as `policy_parse` reads one input: its agent manifest,
/// catalog, JSON manifest and Cedar rules joined by NUL bytes.
fn example_policies() -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root().join("examples/policies")) else { return inputs };
    for dir in dirs.flatten() {
        let dir = dir.path();
        let mut agents = Vec::new();
        files_under(&dir.join("agents"), &mut agents);
        agents.sort();
        let read = |path: Option<&PathBuf>| {
            path.and_then(|path| std::fs::read_to_string(path).ok()).unwrap_or_default()
        };
        let toml = read(agents.iter().find(|p| p.extension().is_some_and(|e| e == "toml")));
        let json = read(agents.iter().find(|p| p.extension().is_some_and(|e| e == "json")));
        let catalog = read(Some(&dir.join("catalog.toml")));
        let rules = read(Some(&dir.join("rules.cedar")));
        inputs.push((
            dir.display().to_string(),
            format!("{toml}\0{catalog}\0{json}\0{rules}").into_bytes(),
        ));
    }
    inputs
}

#[test]
fn every_target_answers_every_seed_without_panicking() {
    let seeds = seeds();
    assert!(seeds.len() > 1_000, "the corpora were not found: {} seeds", seeds.len());
    for (name, target) in TARGETS {
        for (origin, input) in &seeds {
            run(name, target, input, origin);
        }
    }
}

#[test]
fn example_policies_load_through_the_policy_target() {
    let inputs = example_policies();
    assert!(inputs.len() >= 3, "the example policies were not found");
    for (origin, input) in &inputs {
        run("policy_parse", aecl_fuzz_targets::policy_parse, input, origin);
    }
}

#[test]
fn every_fuzz_binary_calls_its_target() {
    // `fuzz/` is built only by cargo-fuzz; this keeps its one-line wrappers and the list
    // here in step, so a target cannot be added on one side only.
    let mut wrappers = Vec::new();
    files_under(&root().join("fuzz/fuzz_targets"), &mut wrappers);
    let mut names: Vec<String> = wrappers
        .iter()
        .filter_map(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    let listed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, listed, "fuzz/fuzz_targets and aecl_fuzz_targets::TARGETS differ");
    for path in &wrappers {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            text.contains(&format!("aecl_fuzz_targets::{name}(")),
            "{} does not call aecl_fuzz_targets::{name}",
            path.display()
        );
    }
}

/// A seed with random bytes spliced in, or random bytes alone.
fn mutated(seeds: &'static [(String, Vec<u8>)]) -> impl Strategy<Value = Vec<u8>> {
    let spliced =
        (0..seeds.len(), any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(move |(seed, at, bytes)| {
                let mut input = seeds[seed].1.clone();
                let at = at.index(input.len() + 1);
                input.splice(at..at, bytes);
                input
            });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..256), spliced]
}

fn shared_seeds() -> &'static [(String, Vec<u8>)] {
    static SEEDS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds: Vec<_> =
            seeds().into_iter().filter(|(_, bytes)| bytes.len() < 4_096).collect();
        seeds.extend(example_policies());
        seeds
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_target_answers_mutated_inputs(input in mutated(shared_seeds())) {
        for (name, target) in TARGETS {
            run(name, target, &input, "a mutated seed");
        }
    }
}
