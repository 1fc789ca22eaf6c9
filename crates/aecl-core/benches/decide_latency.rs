//! Latency percentiles of `decide` (criterion reports means and medians, the targets are
//! p50 and p99): each call is timed on its own, and Cedar's `is_authorized` is measured the
//! same way in the same run as the baseline.
//!
//! `cargo bench -p aecl-core --bench decide_latency` measures 200,000 calls per case; under
//! `cargo test --benches` it runs 2,000 so the suite only checks that it works. An argument
//! that is not a flag keeps only the cases whose name contains it (`-- manifest_transfer`),
//! which is how the path is profiled under `valgrind --tool=callgrind`; `--verdicts` prints
//! the verdict of each case before measuring it.

#[path = "common.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use aecl_core::{Timestamp, decide};
use cedar_policy::Authorizer;

fn percentiles(mut samples: Vec<u64>) -> (u64, u64, u64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), at(0.999))
}

fn measure(iterations: usize, mut f: impl FnMut()) -> (u64, u64, u64) {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        f();
        samples.push(start.elapsed().as_nanos() as u64);
    }
    percentiles(samples)
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let selected = |case: &str| filter.as_deref().is_none_or(|f| case.contains(f));
    let show_verdicts = std::env::args().any(|a| a == "--verdicts");
    let iterations = if full { 200_000 } else { 2_000 };
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>12}",
        "case", "p50 ns", "p99 ns", "p99.9 ns", "p50/cedar"
    );
    // Without the baseline (filtered out) the ratio column is left empty.
    let mut cedar_p50 = None;
    if selected("cedar_is_authorized_baseline") {
        let baseline = common::cedar_baseline();
        let authorizer = Authorizer::new();
        let cedar = measure(iterations, || {
            black_box(authorizer.is_authorized(
                black_box(&baseline.request),
                &baseline.policies,
                &baseline.entities,
            ));
        });
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>12}",
            "cedar_is_authorized_baseline", cedar.0, cedar.1, cedar.2, "1.00"
        );
        cedar_p50 = Some(cedar.0);
    }
    for (label, with_cedar) in [("manifest", false), ("with_cedar", true)] {
        if !selected(&format!("decide_{label}_read"))
            && !selected(&format!("decide_{label}_transfer"))
        {
            continue;
        }
        let policy = common::finance_policy(with_cedar);
        let run = common::run_with_history(&policy);
        for (call_label, call) in
            [("read", common::read_call()), ("transfer", common::transfer_call())]
        {
            let case = format!("decide_{label}_{call_label}");
            if !selected(&case) {
                continue;
            }
            if show_verdicts {
                let verdict = decide(&policy, &call, &run, Timestamp(0));
                println!("{case}: {verdict:#?}");
            }
            let (p50, p99, p999) = measure(iterations, || {
                black_box(decide(
                    black_box(&policy),
                    black_box(&call),
                    black_box(&run),
                    Timestamp(0),
                ));
            });
            let ratio = cedar_p50
                .map_or_else(String::new, |c| format!("{:.2}", p50 as f64 / c.max(1) as f64));
            println!("{case:<34} {p50:>9} {p99:>9} {p999:>9} {ratio:>12}");
        }
    }
}
