//! Fuzz target: any text, cut into the files of a policy directory, through
//! `aecl_policy::load`; a policy that loads also runs its embedded examples. Nothing may
//! panic: every bad input must come back as problems.

#![no_main]

use aecl_core::Timestamp;
use aecl_policy::{SourceFile, load, run_examples};
use libfuzzer_sys::fuzz_target;

/// Separates the files in the input.
const SEPARATOR: char = '\0';

/// The files the input is cut into, in order: an agent manifest, the action catalog, a
/// manifest in the seed's JSON shape, and Cedar rules.
const FILES: [&str; 4] = ["agents/agent.toml", "catalog.toml", "agents/seed.json", "rules.cedar"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let files: Vec<SourceFile> = text
        .splitn(FILES.len(), SEPARATOR)
        .zip(FILES)
        .map(|(text, path)| SourceFile { path: path.to_owned(), text: text.to_owned() })
        .collect();
    if let Ok(loaded) = load(&files) {
        let _ = run_examples(&loaded, Timestamp(1_764_000_000_000));
    }
});
