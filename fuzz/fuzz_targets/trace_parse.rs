//! Fuzz target: any text as the lines of a trace, each parsed with
//! `aecl_policy::trace::parse_event` and the events replayed against the finance example.
//! Nothing may panic, and no call may be decided by `decide`'s panic fallback (libFuzzer's
//! panic hook aborts on a caught panic too).

#![no_main]

use std::sync::OnceLock;

use aecl_core::{Policy, Timestamp};
use aecl_policy::replay::Replayer;
use aecl_policy::trace::parse_event;
use aecl_policy::{SourceFile, load};
use libfuzzer_sys::fuzz_target;

/// The finance example's files, built in.
const FINANCE: [(&str, &str); 5] = [
    ("policy.toml", include_str!("../../examples/policies/finance/policy.toml")),
    ("catalog.toml", include_str!("../../examples/policies/finance/catalog.toml")),
    ("rules.cedar", include_str!("../../examples/policies/finance/rules.cedar")),
    (
        "agents/finance_agent.toml",
        include_str!("../../examples/policies/finance/agents/finance_agent.toml"),
    ),
    (
        "agents/finance_agent_v2.json",
        include_str!("../../examples/policies/finance/agents/finance_agent_v2.json"),
    ),
];

/// The finance policy, loaded once for all inputs.
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

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut replayer =
        Replayer::new(finance(), Some("finance_agent".to_owned()), Timestamp(1_764_000_000_000));
    for (index, line) in text.lines().enumerate() {
        if let Ok(event) = parse_event(line, index + 1) {
            let _ = replayer.apply(&event);
        }
    }
});
