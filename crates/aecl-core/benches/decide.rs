//! Criterion benchmarks of `decide` on the finance policy with a 50-event run history, with
//! and without the Cedar escape hatch, beside Cedar's own `is_authorized` as the baseline.
//!
//! `cargo bench -p aecl-core --bench decide`; `bench/README.md` has the figures.

#[path = "common.rs"]
mod common;

use std::hint::black_box;

use aecl_core::{Timestamp, decide};
use cedar_policy::Authorizer;
use criterion::{Criterion, criterion_group, criterion_main};

fn benches(c: &mut Criterion) {
    let baseline = common::cedar_baseline();
    let authorizer = Authorizer::new();
    c.bench_function("cedar_is_authorized_baseline", |b| {
        b.iter(|| {
            authorizer.is_authorized(
                black_box(&baseline.request),
                &baseline.policies,
                &baseline.entities,
            )
        })
    });
    for (label, with_cedar) in [("manifest", false), ("with_cedar", true)] {
        let policy = common::finance_policy(with_cedar);
        let run = common::run_with_history(&policy);
        for (call_label, call) in
            [("read", common::read_call()), ("transfer", common::transfer_call())]
        {
            c.bench_function(&format!("decide_{label}_{call_label}"), |b| {
                b.iter(|| {
                    decide(black_box(&policy), black_box(&call), black_box(&run), Timestamp(0))
                })
            });
        }
    }
}

criterion_group!(decide_benches, benches);
criterion_main!(decide_benches);
