//! The scrubber against a credential echoed in every encoding a server might use, alone
//! and inside longer text: each case names the encoding and how the text was made.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::json;

use super::{REDACTED, Secrets};

const TOKEN: &str = "sk_live_4eC39HqLyjWDarjtT1zd/abc+x";
const HEADER: &str = "Bearer sk_live_4eC39HqLyjWDarjtT1zd/abc+x";

fn secrets() -> Secrets {
    let text = format!(
        "[scopes.crm.headers]\nAuthorization = \"{HEADER}\"\nX-Api-Key = \"k3y-0f-the-api\"\n\
         [scopes.legacy.headers]\nAuthorization = \"Basic {}\"\n",
        STANDARD.encode("svc:hunter2-hunter2")
    );
    Secrets::parse(&text, "secrets.toml").unwrap()
}

fn percent_all(text: &str, upper: bool) -> String {
    text.bytes().map(|b| if upper { format!("%{b:02X}") } else { format!("%{b:02x}") }).collect()
}

fn percent_reserved(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b' ' => "%20".to_owned(),
            b'/' => "%2F".to_owned(),
            b'+' => "%2b".to_owned(),
            _ => char::from(b).to_string(),
        })
        .collect()
}

fn json_unicode(text: &str) -> String {
    text.chars().map(|c| format!("\\u{:04x}", u32::from(c))).collect()
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Every encoding of the whole header value and of the bare token, each exactly as it
/// must disappear.
fn encodings() -> Vec<(String, String)> {
    let mut cases = Vec::new();
    for (what, secret) in [("header", HEADER), ("token", TOKEN)] {
        let mut add = |how: &str, text: String| cases.push((format!("{what}, {how}"), text));
        add("as is", secret.to_owned());
        add("base64", STANDARD.encode(secret));
        add("base64 unpadded", STANDARD_NO_PAD.encode(secret));
        add("base64 url-safe", URL_SAFE.encode(secret));
        add("base64 url-safe unpadded", URL_SAFE_NO_PAD.encode(secret));
        add("percent-encoded, every byte, upper case", percent_all(secret, true));
        add("percent-encoded, every byte, lower case", percent_all(secret, false));
        add("percent-encoded in part", percent_reserved(secret));
        add("form-encoded (+ for a space)", secret.replace('+', "%2B").replace(' ', "+"));
        add("percent-encoded twice", percent_reserved(secret).replace('%', "%25"));
        add("hex", hex(secret));
        add("hex, upper case", hex(secret).to_ascii_uppercase());
        add("JSON unicode escapes", json_unicode(secret));
        add("JSON, slash escaped", secret.replace('/', "\\/"));
        add(
            "JSON unicode escapes in part",
            secret.replacen('s', "\\u0073", 1).replace('_', "\\u005F"),
        );
        add("JavaScript \\x escapes", secret.bytes().map(|b| format!("\\x{b:02x}")).collect());
        add(
            "ES6 \\u{} escapes",
            secret.chars().map(|c| format!("\\u{{{:x}}}", u32::from(c))).collect(),
        );
        add(
            "HTML character references",
            secret.chars().map(|c| format!("&#{};", u32::from(c))).collect(),
        );
        add("HTML hex references in part", secret.replace('/', "&#x2F;").replace('_', "&#X5f;"));
        add("reversed", secret.chars().rev().collect());
        add("base64, slashes escaped in JSON", STANDARD.encode(secret).replace('/', "\\/"));
        add(
            "base64, percent-encoded",
            percent_reserved(&STANDARD.encode(secret)).replace('=', "%3D"),
        );
        add("split by a line break", format!("{}\r\n{}", &secret[..10], &secret[10..]));
        // Red-team round 14: echoed as header values sometimes are, case-folded.
        add("lower case", secret.to_ascii_lowercase());
        add("upper case", secret.to_ascii_uppercase());
        add("upper case, percent-encoded in part", percent_reserved(&secret.to_ascii_uppercase()));
        add("upper case, base64", STANDARD.encode(secret.to_ascii_uppercase()));
        add("lower case, reversed", secret.to_ascii_lowercase().chars().rev().collect());
        add("lower case, hex", hex(&secret.to_ascii_lowercase()));
        add(
            "case inverted",
            secret
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
        );
    }
    cases
}

/// A short key (under the length the encodings need) is still found in any case.
#[test]
fn a_short_key_is_redacted_in_any_case() {
    let secrets = secrets();
    for echoed in ["k3y-0f-the-api", "K3Y-0F-THE-API", "K3y-0F-tHe-ApI"] {
        assert_eq!(
            secrets.scrub(&format!("key={echoed};")),
            format!("key={REDACTED};"),
            "{echoed}"
        );
    }
}

#[test]
fn every_encoding_of_the_header_and_of_its_token_is_redacted() {
    let secrets = secrets();
    for (case, encoded) in encodings() {
        let scrubbed = secrets.scrub(&format!("echo: \"{encoded}\" (end)"));
        assert_eq!(scrubbed, format!("echo: \"{REDACTED}\" (end)"), "{case}: {encoded}");
        // The same inside an error message.
        let error = format!("http 403: {{\"error\":\"forbidden\",\"seen\":\"{encoded}\"}}");
        let scrubbed = secrets.scrub(&error);
        assert_eq!(
            scrubbed,
            format!("http 403: {{\"error\":\"forbidden\",\"seen\":\"{REDACTED}\"}}"),
            "{case}: {encoded}"
        );
    }
}

#[test]
fn a_secret_inside_longer_base64_is_redacted_at_every_alignment() {
    let secrets = secrets();
    for secret in [HEADER, TOKEN] {
        for before in 0..6 {
            for after in 0..4 {
                let mut bytes = b"{\"auth\":\"x".repeat(2)[..before + 3].to_vec();
                let start = bytes.len();
                bytes.extend_from_slice(secret.as_bytes());
                let end = bytes.len();
                bytes.extend_from_slice(&b"\",\"n\":1}"[..after + 1]);
                for (alphabet, encoded) in [
                    ("standard", STANDARD.encode(&bytes)),
                    ("url-safe", URL_SAFE_NO_PAD.encode(&bytes)),
                ] {
                    // Characters holding bits of the secret only are redacted; the one or
                    // two at each edge that mix in a neighbour's bits may stay.
                    let head = &encoded[..(8 * start).div_ceil(6)];
                    let tail = &encoded[8 * end / 6..];
                    let scrubbed = secrets.scrub(&format!("data={encoded}"));
                    let case = format!("{alphabet}, {start} bytes before, {after} after");
                    let Some((left, right)) = scrubbed.split_once(REDACTED) else {
                        panic!("{case}: {scrubbed}")
                    };
                    // An edge character may go too, when the neighbour's bits in it happen
                    // to be those of the secret encoded alone.
                    assert!(
                        left.strip_prefix("data=").is_some_and(|h| head.starts_with(h)),
                        "{case}: {scrubbed}"
                    );
                    assert!(tail.ends_with(right), "{case}: {scrubbed}");
                    assert!(left.len() + 1 >= "data=".len() + head.len(), "{case}: {scrubbed}");
                    assert!(right.len() + 1 >= tail.len(), "{case}: {scrubbed}");
                }
            }
        }
    }
}

#[test]
fn basic_credentials_are_redacted_encoded_and_decoded() {
    let secrets = secrets();
    let basic = STANDARD.encode("svc:hunter2-hunter2");
    for text in [
        format!("Basic {basic}"),
        basic.clone(),
        "svc:hunter2-hunter2".to_owned(),
        "hunter2-hunter2".to_owned(),
        STANDARD.encode("hunter2-hunter2"),
        percent_all("svc:hunter2-hunter2", false),
    ] {
        assert_eq!(secrets.scrub(&format!("<{text}>")), format!("<{REDACTED}>"), "{text}");
    }
    // A value without a scheme word is itself the secret.
    assert_eq!(secrets.scrub(&STANDARD.encode("k3y-0f-the-api")), REDACTED);
}

#[test]
fn text_without_secrets_is_left_as_it_is() {
    let secrets = secrets();
    for text in [
        "",
        "plain text, with + and %2F and \\u0041 and &amp; and a\nline break",
        "{\"token\": \"sk_test_other\", \"bearer\": true}",
        "%",
        "%4",
        "\\u12",
        "\\u{110000}",
        "&#xZZ;",
        "&#99999999;",
        "\\",
        "é%C3%A9\\u00e9",
    ] {
        assert_eq!(secrets.scrub(text), text);
    }
    assert_eq!(Secrets::default().scrub("Bearer sk_live"), "Bearer sk_live");
}

#[test]
fn several_secrets_and_overlaps_become_one_marker_each_span() {
    let secrets = secrets();
    let text = format!("{HEADER}{} and {} é", STANDARD.encode(TOKEN), hex(TOKEN));
    assert_eq!(secrets.scrub(&text), format!("{REDACTED} and {REDACTED} é"));
    // Multi-byte characters next to an escaped secret stay whole.
    let text = format!("é{}é", json_unicode(TOKEN));
    assert_eq!(secrets.scrub(&text), format!("é{REDACTED}é"));
}

#[test]
fn parsed_json_values_are_scrubbed_after_their_escapes_are_decoded() {
    let secrets = secrets();
    let value = json!({ "echo": HEADER, TOKEN: [1, { "deep": format!("x{TOKEN}x") }] });
    let scrubbed = secrets.scrub_value(value).to_string();
    assert!(!scrubbed.contains("sk_live"), "{scrubbed}");
    assert_eq!(scrubbed.matches(REDACTED).count(), 3, "{scrubbed}");
}

#[test]
fn debug_and_parse_errors_never_show_a_value() {
    let secrets = secrets();
    assert!(!format!("{secrets:?}").contains("sk_live"));
    let error = Secrets::parse("[scopes.a.headers]\nAuthorization = sk_live_unquoted\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(!error.contains("sk_live"), "{error}");
}
