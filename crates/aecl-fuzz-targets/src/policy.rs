//! Targets over what policy authors and recorded traces feed the policy loader and the
//! replayer.

use std::sync::OnceLock;

use aecl_core::{Policy, Timestamp};
use aecl_policy::replay::Replayer;
use aecl_policy::trace::parse_event;
use aecl_policy::{SourceFile, load, run_examples};

/// Separates the files in `policy_parse`'s input.
const SEPARATOR: char = '\0';

/// The files `policy_parse`'s input is cut into, in order: an agent manifest, the action
/// catalog, a manifest in the seed's JSON shape, and Cedar rules.
const FILES: [&str; 4] = ["agents/agent.toml", "catalog.toml", "agents/seed.json", "rules.cedar"];

/// The finance example, which `trace_parse` replays against.
const FINANCE: [(&str, &str); 5] = [
    ("policy.toml", include_str!("../../../examples/policies/finance/policy.toml")),
    ("catalog.toml", include_str!("../../../examples/policies/finance/catalog.toml")),
    ("rules.cedar", include_str!("../../../examples/policies/finance/rules.cedar")),
    (
        "agents/finance_agent.toml",
        include_str!("../../../examples/policies/finance/agents/finance_agent.toml"),
    ),
    (
        "agents/finance_agent_v2.json",
        include_str!("../../../examples/policies/finance/agents/finance_agent_v2.json"),
    ),
];

/// Text cut at NUL bytes into the files of a policy directory, through `aecl_policy::load`;
/// a policy that loads also runs its embedded examples. Every bad input must come back as
/// problems.
pub fn policy_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let files: Vec<SourceFile> = text
        .splitn(FILES.len(), SEPARATOR)
        .zip(FILES)
        .map(|(text, path)| SourceFile { path: path.to_owned(), text: text.to_owned() })
        .collect();
    if let Ok(loaded) = load(&files) {
        let _ = run_examples(&loaded, Timestamp(1_764_000_000_000));
    }
}

/// Text as the lines of a trace, each parsed and the events replayed against the finance
/// example. `decide` turns a panic into a block, so a panic there is only seen through the
/// panic hook: libFuzzer's aborts, and the workspace test installs one that counts.
pub fn trace_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut replayer =
        Replayer::new(finance(), Some("finance_agent".to_owned()), Timestamp(1_764_000_000_000));
    for (index, line) in text.lines().enumerate() {
        if let Ok(event) = parse_event(line, index + 1) {
            let _ = replayer.apply(&event);
        }
    }
}

fn finance() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let files =
            FINANCE.map(|(path, text)| SourceFile { path: path.to_owned(), text: text.to_owned() });
        match load(&files) {
            Ok(loaded) => loaded.policy,
            Err(error) => panic!("the finance example does not load: {error}"),
        }
    })
}
