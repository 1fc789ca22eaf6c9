//! The call path reads as the design's pipeline: one call through `execute` enters each
//! stage once, in order, each in an `aecl.stage` span naming the stage, run and call (the
//! spans the OTLP exporter sends); `evaluate` runs the same stages up to record; a commit
//! that loses a race goes back to load run, and only that.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::{Scripted, call, engine, policy};

/// Every `aecl.stage` span opened: (stage, run, call).
#[derive(Debug, Clone, Default)]
struct Stages(Arc<Mutex<Vec<(String, String, String)>>>);

#[derive(Default)]
struct Fields {
    stage: String,
    run: String,
    call: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}").trim_matches('"').to_owned();
        match field.name() {
            "stage" => self.stage = text,
            "run" => self.run = text,
            "call" => self.call = text,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Stages {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() != "aecl.stage" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Ok(mut seen) = self.0.lock() {
            seen.push((fields.stage, fields.run, fields.call));
        }
    }
}

impl Stages {
    fn names(&self) -> Vec<String> {
        self.0.lock().map(|s| s.iter().map(|(stage, _, _)| stage.clone()).collect()).unwrap()
    }
}

const EXECUTE: [&str; 9] =
    ["identify", "load_run", "decide", "admit", "place", "grant", "record", "dispatch", "finish"];

#[tokio::test]
async fn execute_enters_each_stage_once_in_the_designs_order() {
    let stages = Stages::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(stages.clone()));
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    engine.execute(call("r7", "c9", None), &connector).await.unwrap();
    assert_eq!(stages.names(), EXECUTE);
    let seen = stages.0.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, run, call)| run == "r7" && call == "c9"), "{seen:?}");
}

#[tokio::test]
async fn evaluate_runs_the_same_stages_up_to_record() {
    let stages = Stages::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(stages.clone()));
    let (engine, _) = engine(policy(10, ""));
    engine.evaluate(call("r1", "c1", None)).await.unwrap();
    assert_eq!(stages.names(), EXECUTE[..7]);
}

#[tokio::test]
async fn a_call_that_runs_nothing_stops_at_dispatch() {
    let stages = Stages::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(stages.clone()));
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    // A payment needs approval: recorded, dispatched to nobody, never finished.
    let asked = engine.execute(crate::call_of("pay", "r1", "c1", None), &connector).await;
    assert!(asked.unwrap().effect.is_none());
    assert_eq!(stages.names(), EXECUTE[..8]);
    assert_eq!(connector.executions(), 0);
}

#[tokio::test]
async fn a_refused_commit_goes_back_to_load_run_and_decides_again() {
    let (engine, _) = engine(policy(10, "rate = \"1/second\"\nburst = 1"));
    engine.evaluate(call("r1", "c1", None)).await.unwrap();
    let stages = Stages::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(stages.clone()));
    // Allowed by the policy, refused by the rate limit at commit: decided again, blocked.
    let second = engine.evaluate(call("r1", "c2", None)).await.unwrap();
    assert_eq!(second.verdict.decision, aecl_core::Decision::Block);
    let attempt = &EXECUTE[1..7];
    let expected: Vec<&str> = std::iter::once("identify")
        .chain(attempt.iter().copied())
        .chain(attempt.iter().copied())
        .collect();
    assert_eq!(stages.names(), expected);
}
