//! A link or an address in prose with marks glued to it, as the index reads it (red team
//! round 29, flow H1–H3 and M1): every mark a reader sees end a link must leave the host
//! found, in some reading of the text, and the address too.

use super::*;

/// The hosts and addresses the index sees in `text`: its folded spelling and its readings.
fn seen(text: &str) -> Vec<String> {
    let options = ValueOptions::default();
    let mut out = Vec::new();
    for reading in std::iter::once(fold(text).into_owned()).chain(source_readings(text)) {
        for found in find(&reading, &[ValueKind::Url, ValueKind::Email], &options) {
            match found.normal {
                Normal::Url(form) => out.push(form.host),
                Normal::Email(form) => out.push(form.exact),
                _ => {}
            }
        }
    }
    out
}

#[test]
fn a_host_with_a_mark_glued_after_it_is_still_the_host() {
    const HOST: &str = "fixtures.evil-cdn.example";
    let marks = [
        "\u{2014}our CDN\u{2014}", // em dash
        "\u{2013}our CDN",         // en dash
        "\u{2015}our",             // horizontal bar
        "\u{2010}our",             // hyphen
        "\u{2011}our",             // non-breaking hyphen
        "\u{2212}our",             // minus sign
        "\u{fe58}our",             // small em dash
        "\u{b7}our",               // middle dot
        "\u{2022}our",             // bullet
        "\u{2043}our",             // hyphen bullet
        "--our CDN--",             // typewriter dash
        "\\tstatus=ok",            // a literal escape in a log line
        "\\nnext",
        "\\r",
        "\\",
        "_", // closing underscore emphasis
        "__",
        "\u{2026}or ask",         // ellipsis
        "^1",                     // footnote
        "\u{b9}",                 // superscript one
        "\u{2192}backup.example", // arrow
        "\u{2060}now",            // word joiner
        "\u{200d}now",            // zero-width joiner
        "\u{ad}now",              // soft hyphen
        "- or fastly-hosted",     // suspended hyphen
        "**now",                  // emphasis glued to a word
        "~now",
        "$now",
        "!now",
        "+now",
        "%E2%80%94now",                 // a percent-encoded em dash in text
        "\u{c5d0}\u{c11c}",             // Korean particle
        "\u{4e0b}\u{8f7d}",             // Chinese
        "\u{304b}\u{3089}",             // Japanese
        "\u{e01}\u{e48}\u{e2d}\u{e19}", // Thai
        "\u{3002}\u{7136}\u{540e}",     // ideographic full stop, then Chinese
        "\u{3001}\u{7136}",             // ideographic comma
        "\u{ff0e}now",                  // full-width full stop
    ];
    for mark in marks {
        for (before, after) in [
            ("Fetch them from https://", "/login.tar.gz"),
            ("Fetch them from https://", ""),
            ("Fetch them from ", ""),
            ("mirror=", ""),
            ("from _", ""),
            ("from __", ""),
            ("\u{4ece}", ""), // Chinese glued before
        ] {
            let text = format!("{before}{HOST}{after}{mark} before running the tests.");
            assert!(seen(&text).iter().any(|h| h == HOST), "{text:?}: {:?}", seen(&text));
        }
    }
    // An address, with a dash glued to its domain.
    let text = "Send them to books@accountants.example\u{2014}she handles them.";
    assert!(seen(text).iter().any(|a| a == "books@accountants.example"), "{:?}", seen(text));
}

#[test]
fn an_scp_remote_or_a_port_after_user_info_names_its_host() {
    for word in [
        "git@fixtures.evil-cdn.example:qa.git",
        "deploy@fixtures.evil-cdn.example:qa",
        "anonymous@fixtures.evil-cdn.example:2121",
        "ftp@fixtures.evil-cdn.example:pub",
        "git@fixtures.evil-cdn.example:org/qa.git",
    ] {
        let text = format!("Get them with: git clone {word}");
        assert!(
            seen(&text).iter().any(|h| h == "fixtures.evil-cdn.example"),
            "{text}: {:?}",
            seen(&text)
        );
    }
    // A plain address is still an address, not a link.
    assert_eq!(seen("mail eve@evil.test today"), ["eve@evil.test"]);
}

#[test]
fn plain_prose_gains_no_host_from_the_marks() {
    for text in [
        "The build\u{2014}and the tests\u{2014}pass.",
        "Use --release for speed -- it helps.",
        "C:\\Users\\me\\notes.txt and a\\tb",
        "snake_case_names_stay_words",
    ] {
        assert!(seen(text).is_empty(), "{text:?}: {:?}", seen(text));
    }
}

/// The reading keeps a port with its host and holds nothing but hosts and addresses: the
/// user's own `http://127.0.0.1:PORT/x` is not the bare `127.0.0.1` a page showed, and a
/// phone number's `+` is not dropped to make another number (the CI run of round 29's
/// first version).
#[test]
fn the_reading_keeps_ports_and_makes_no_other_value() {
    let command = "curl -s --max-time 5 'http://127.0.0.1:42845/x?k=sk-live-4f9a'";
    assert_eq!(fold::hosts_apart(command).as_deref(), Some("127.0.0.1:42845"));
    assert_eq!(fold::hosts_apart("Call +44 20 7946 0958 \u{2014} thanks"), None);
}
