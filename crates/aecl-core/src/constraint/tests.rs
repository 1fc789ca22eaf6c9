//! Unit tests of the argument constraints.

use serde_json::json;

use super::*;

fn violations(constraint: &Constraint, value: Value) -> Vec<String> {
    let mut out = Vec::new();
    constraint.check(&value, &mut out, &mut ValueFacts::default());
    out.into_iter().map(|v| v.message).collect()
}

#[test]
fn path_traversal_is_normalised_before_the_root_check() {
    let c = Constraint::PathUnder(vec!["/workspace".to_owned()]);
    assert!(violations(&c, json!("/workspace/src/main.rs")).is_empty());
    assert!(violations(&c, json!("src//lib.rs")).is_empty());
    assert!(!violations(&c, json!("/workspace/../etc/passwd")).is_empty());
    assert!(!violations(&c, json!("../../etc/shadow")).is_empty());
    assert!(!violations(&c, json!("/workspace-evil/x")).is_empty());
    assert!(!violations(&c, json!("/../../..")).is_empty());
}

#[test]
fn url_hosts_match_exactly_or_by_wildcard_subdomain() {
    let c = Constraint::UrlHosts(vec!["api.example.com".to_owned(), "*.corp.test".to_owned()]);
    assert!(violations(&c, json!("https://api.example.com/v1")).is_empty());
    assert!(violations(&c, json!("https://a.b.corp.test/")).is_empty());
    assert!(!violations(&c, json!("https://corp.test/")).is_empty());
    assert!(!violations(&c, json!("https://api.example.com@evil.test/")).is_empty());
    assert!(!violations(&c, json!("https://api.example.com.evil.test/")).is_empty());
    assert!(!violations(&c, json!("file:///etc/passwd")).is_empty());
}

#[test]
fn every_address_in_a_list_must_have_an_allowed_domain() {
    let c = Constraint::EmailDomains(vec!["example.com".to_owned()]);
    assert!(violations(&c, json!("Ann <ann@Example.com>")).is_empty());
    assert_eq!(violations(&c, json!("ann@example.com, eve@evil.test")).len(), 1);
    assert_eq!(violations(&c, json!("not-an-address")).len(), 1);
}

#[test]
fn ranges_and_enumerations() {
    let range = Constraint::Range { min: Some(0.0), max: Some(100.0) };
    assert!(violations(&range, json!(50)).is_empty());
    assert!(!violations(&range, json!(-1)).is_empty());
    assert!(!violations(&range, json!("50")).is_empty());
    let one_of = Constraint::OneOf(vec![json!("EUR"), json!("USD")]);
    assert!(violations(&one_of, json!("EUR")).is_empty());
    assert!(!violations(&one_of, json!("eur")).is_empty());
}
