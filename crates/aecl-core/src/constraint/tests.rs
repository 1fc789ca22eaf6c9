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
    // What tools read as another place: a home directory, a URI.
    for path in ["~/.bashrc", "~", "~root/.ssh/id_rsa", "~/", "file:///etc/passwd", "FILE:x"] {
        let found = violations(&c, json!(path));
        assert!(found.iter().any(|m| m.contains("not a plain path")), "{path}: {found:?}");
    }
    // A `~` further on is a file name like any other.
    assert!(violations(&c, json!("src/~backup")).is_empty());
}

/// Red team round 25, hooks H2: a path rule over Codex's `apply_patch` text reads each
/// file the patch writes, not the text as one path.
#[test]
fn a_patch_is_judged_by_every_file_it_writes() {
    let c = Constraint::PathUnder(vec!["/workspace".to_owned()]);
    let patch = |files: &str| json!(format!("*** Begin Patch\n{files}*** End Patch\n"));
    let inside = "*** Update File: src/a.py\n@@\n-a\n+b\n*** Add File: /workspace/b.py\n+x\n";
    assert!(violations(&c, patch(inside)).is_empty());
    for outside in [
        "*** Add File: /etc/cron.d/x\n+x\n",
        "*** Update File: src/a.py\n*** Move to: ../../etc/passwd\n",
        "*** Delete File: ~/.ssh/authorized_keys\n",
    ] {
        assert!(!violations(&c, patch(outside)).is_empty(), "{outside}");
    }
    let broken = json!("*** Begin Patch\n*** Add File: src/x.py\n+x\n");
    let found = violations(&c, broken);
    assert!(found.iter().any(|m| m.contains("does not parse")), "{found:?}");
    let blocked = ["*.envrc".to_owned()];
    let globs = Constraint::PathGlob(PathGlobs::new(&blocked, &[], false).unwrap());
    assert!(violations(&globs, patch("*** Add File: src/x.py\n+x\n")).is_empty());
    assert!(
        !violations(&globs, patch("*** Add File: src/x.py\n+x\n*** Add File: a/.envrc\n+x\n"))
            .is_empty()
    );
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

/// A listed host allows its scheme's default port only: `url_hosts = ["api.good.test"]`
/// let `https://api.good.test:8443/admin` and `http://api.good.test:6379/` through (a
/// red-team finding).
#[test]
fn url_hosts_allow_the_default_port_unless_a_port_is_listed() {
    let c = Constraint::UrlHosts(vec!["api.good.test".to_owned()]);
    for allowed in [
        "https://api.good.test/",
        "https://api.good.test:443/x",
        "http://api.good.test/",
        "http://api.good.test:80/",
    ] {
        assert!(violations(&c, json!(allowed)).is_empty(), "{allowed}");
    }
    for refused in [
        "https://api.good.test:8443/admin",
        "http://api.good.test:6379/",
        "https://api.good.test:22/",
        "http://api.good.test:443/",
        "https://api.good.test:80/",
    ] {
        let found = violations(&c, json!(refused));
        assert!(found.iter().any(|m| m.starts_with("port `")), "{refused}: {found:?}");
    }
    let c = Constraint::UrlHosts(vec![
        "api.good.test:8443".to_owned(),
        "*.corp.test:*".to_owned(),
        "[::1]:8080".to_owned(),
        "[2001:db8::1]".to_owned(),
    ]);
    for allowed in [
        "https://api.good.test:8443/",
        "http://api.good.test:8443/",
        "https://x.corp.test:6379/",
        "http://x.corp.test/",
        "http://[::1]:8080/",
        "https://[2001:db8::1]/",
    ] {
        assert!(violations(&c, json!(allowed)).is_empty(), "{allowed}");
    }
    for refused in ["https://api.good.test/", "http://[::1]/", "https://[2001:db8::1]:444/"] {
        assert!(!violations(&c, json!(refused)).is_empty(), "{refused}");
    }
    // A port that is not a number is a mistake of the policy's: it allows nothing.
    for broken in ["api.good.test:http", "api.good.test:70000", "[::1]x", "[::1"] {
        let c = Constraint::UrlHosts(vec![broken.to_owned()]);
        assert!(!violations(&c, json!("https://api.good.test/")).is_empty(), "{broken}");
        assert!(!violations(&c, json!("http://[::1]/")).is_empty(), "{broken}");
    }
}

/// Spellings on which URL parsers disagree about the host are refused: curl connects to
/// `evil.test` for `https://api.example.com\@evil.test/`, which WHATWG reads as a path
/// on the allowed host (a red-team finding).
#[test]
fn url_hosts_refuse_spellings_parsers_read_differently() {
    let c = Constraint::UrlHosts(vec!["api.example.com".to_owned(), "*.corp.test".to_owned()]);
    for ambiguous in [
        "https://api.example.com\\@evil.test/",
        "https://x.corp.test\\@evil.test/",
        "https://api.example.com\\.evil.test/",
        "https:api.example.com/v1",
        "https:/api.example.com/v1",
        "https:\\\\api.example.com",
        " https://api.example.com/",
        "https://api.example.com/\tx",
        "\u{1}https://api.example.com/",
        "https://api%2eexample%2ecom/",
        "https://api.example.com\u{ff0e}/",
        "//api.example.com/v1",
    ] {
        assert!(!violations(&c, json!(ambiguous)).is_empty(), "{ambiguous:?}");
    }
    for plain in [
        "https://api.example.com/v1?q=a\\b",
        "HTTPS://API.EXAMPLE.COM:443/v1",
        "http://a.corp.test/x#y",
    ] {
        assert!(violations(&c, json!(plain)).is_empty(), "{plain:?}");
    }
}

#[test]
fn every_address_in_a_list_must_have_an_allowed_domain() {
    let c = Constraint::EmailDomains(vec!["example.com".to_owned()]);
    assert!(violations(&c, json!("Ann <ann@Example.com>")).is_empty());
    assert!(violations(&c, json!("ann@example.com; bob@example.com")).is_empty());
    assert_eq!(violations(&c, json!("ann@example.com, eve@evil.test")).len(), 1);
    assert_eq!(violations(&c, json!("not-an-address")).len(), 1);
    // What a reader could mail elsewhere than `example.com` (the red team's F3, which a
    // domain read after the last `@` let through).
    for text in [
        "eve@evil.test?@example.com",
        "eve@evil.test#@example.com",
        "eve@evil.test\n@example.com",
        "\"bob@example.com\" <eve@evil.test>",
        "\"eve@evil.test\"@example.com",
        "@evil.test:eve@example.com",
        // A display name holding the address a mail library sends to (Python's `email`
        // reads `eve@evil.test` here), alone or in a list.
        "eve@evil.test <ann@example.com>",
        "ann@example.com, eve@evil.test <bob@example.com>",
        "\"eve@evil.test\" <ann@example.com>",
    ] {
        assert!(!violations(&c, json!(text)).is_empty(), "{text:?}");
    }
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

fn seen(entries: &[(&str, Result<&str, &str>)]) -> PathView {
    use crate::resolved::Resolution;
    PathView::Seen(
        entries
            .iter()
            .map(|(written, r)| {
                let resolution = match r {
                    Ok(p) => Resolution::Path((*p).to_owned()),
                    Err(e) => Resolution::Failed((*e).to_owned()),
                };
                ((*written).to_owned(), resolution)
            })
            .collect(),
    )
}

fn violations_seen(constraint: &Constraint, value: &str, paths: &PathView) -> Vec<String> {
    let mut out = Vec::new();
    constraint.check_with(&json!(value), paths, &mut out, &mut ValueFacts::default());
    out.into_iter().map(|v| v.message).collect()
}

#[test]
fn a_resolution_outside_the_roots_blocks_a_path_written_inside() {
    let c = Constraint::PathUnder(vec!["/ws".to_owned()]);
    let paths = seen(&[
        ("/ws/outlink/x", Ok("/outside/x")),
        ("/ws/in", Ok("/ws/in")),
        ("/ws/loop/x", Err("more than 40 symbolic links")),
    ]);
    let out = violations_seen(&c, "/ws/outlink/x", &paths);
    assert!(out.len() == 1 && out[0].contains("/outside/x"), "{out:?}");
    assert!(violations_seen(&c, "/ws/in", &paths).is_empty());
    assert!(violations_seen(&c, "/ws/loop/x", &paths)[0].contains("symbolic links"));
    // Seen but absent: the adapter did not resolve it, so where it points is unknown.
    assert!(violations_seen(&c, "/ws/other", &paths)[0].contains("not resolved"));
    // Unseen: the lexical check alone.
    assert!(violations_seen(&c, "/ws/outlink/x", &PathView::Unseen).is_empty());
}

#[test]
fn a_resolution_never_loosens_the_lexical_check() {
    let c = Constraint::PathUnder(vec!["/ws".to_owned()]);
    let paths = seen(&[("/etc/passwd", Ok("/ws/passwd")), ("/ws-evil/x", Ok("/ws/x"))]);
    assert_eq!(violations_seen(&c, "/etc/passwd", &paths).len(), 1);
    assert_eq!(violations_seen(&c, "/ws-evil/x", &paths).len(), 1);
}

#[test]
fn a_root_that_is_a_link_counts_by_its_resolution() {
    let c = Constraint::PathUnder(vec!["/ws".to_owned()]);
    let paths = seen(&[("/ws/a", Ok("/data/ws/a")), ("/ws", Ok("/data/ws"))]);
    assert!(violations_seen(&c, "/ws/a", &paths).is_empty());
    let unrooted = seen(&[("/ws/a", Ok("/data/ws/a"))]);
    assert_eq!(violations_seen(&c, "/ws/a", &unrooted).len(), 1);
    let relative = seen(&[("/ws/a", Ok("data/ws/a"))]);
    assert!(violations_seen(&c, "/ws/a", &relative)[0].contains("not an absolute path"));
}

#[test]
fn a_pattern_is_checked_as_every_path_its_braces_expand_to() {
    let c = Constraint::PathUnder(vec!["/ws".to_owned()]);
    for pattern in ["{..,x}/*", "/ws/{..,src}/*", "/ws/{src,../../etc}/passwd", "/ws/{a,{b,..}}/.."]
    {
        let found = violations(&c, json!(pattern));
        assert!(found.iter().any(|m| m.contains("may be read as")), "{pattern}: {found:?}");
    }
    for pattern in ["/ws/**/*.{rs,toml}", "src/{a,b}/*.rs", "/ws/{a}/x", "/ws/src/{1..3}.txt"] {
        assert!(violations(&c, json!(pattern)).is_empty(), "{pattern}");
    }
    assert!(violations(&c, json!("/ws/{1..100000}")).iter().any(|m| m.contains("more than")));
    let long = format!("/ws/{}*", "a".repeat(5000));
    assert!(violations(&c, json!(long)).iter().any(|m| m.contains("not read as a pattern")));
    assert!(violations(&c, json!(format!("/ws/{}", "a".repeat(5000)))).is_empty());
    // Each expansion is resolved by the adapter like a path: one through a link is outside,
    // one the adapter did not resolve is unknown.
    let paths = seen(&[
        ("/ws/{in,outlink}/x", Ok("/ws/{in,outlink}/x")),
        ("/ws/in/x", Ok("/ws/in/x")),
        ("/ws/outlink/x", Ok("/outside/x")),
    ]);
    let found = violations_seen(&c, "/ws/{in,outlink}/x", &paths);
    assert!(found.len() == 1 && found[0].contains("/outside/x"), "{found:?}");
    let unresolved =
        seen(&[("/ws/{in,new}/x", Ok("/ws/{in,new}/x")), ("/ws/in/x", Ok("/ws/in/x"))]);
    let found = violations_seen(&c, "/ws/{in,new}/x", &unresolved);
    assert!(found.len() == 1 && found[0].contains("not resolved"), "{found:?}");
}

#[test]
fn a_write_into_configuration_that_runs_code_is_refused_unless_a_root_is_inside_it() {
    let roots = |list: &[&str]| list.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
    let refused = |roots: &[String], path: &str, paths: &PathView| {
        writes_code_config(roots, path, paths).map(|v| (v.rule, v.decision))
    };
    let ws = roots(&["/ws"]);
    for path in [
        "/ws/.git/config",
        "/ws/.git/hooks/pre-commit",
        ".git/config",
        "src/../.git/HEAD",
        "/ws/sub/.envrc",
        "/ws/.cargo/config.toml",
        "/ws/.vscode/settings.json",
        "/ws/lib/HEAD",
    ] {
        assert_eq!(
            refused(&ws, path, &PathView::Unseen),
            Some(("code_config", Decision::Block)),
            "{path}"
        );
    }
    for path in ["/ws/.gitignore", "/ws/src/git/config.rs", "/ws/docs/.github/x.md", "/ws"] {
        assert_eq!(refused(&ws, path, &PathView::Unseen), None, "{path}");
    }
    // A link written inside: where it resolves counts too.
    let paths = seen(&[("/ws/notes.txt", Ok("/ws/.git/config"))]);
    assert!(refused(&ws, "/ws/notes.txt", &paths).is_some());
    // A root inside such a place says writing there is meant; below it, nothing is.
    let vscode = roots(&["/ws/.vscode"]);
    assert_eq!(refused(&vscode, "/ws/.vscode/settings.json", &PathView::Unseen), None);
    assert!(
        refused(&roots(&["/ws", "/ws/.vscode"]), "/ws/.vscode/x.json", &PathView::Unseen).is_none()
    );
    assert!(refused(&vscode, "/ws/.vscode/.git/config", &PathView::Unseen).is_some());
}
