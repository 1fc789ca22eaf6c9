//! The canonical-JSON checker agrees with `aecl_core::canonical::canonical_json`: it accepts
//! what that function prints and nothing else.

use aecl_core::canonical::canonical_json;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{check, is_canonical};

/// The reference: text is canonical when it parses and prints back unchanged.
fn reference(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| canonical_json(&v) == text)
}

#[test]
fn accepts_canonical_text() {
    for text in [
        "null",
        "true",
        "false",
        "0",
        "-1",
        "18446744073709551615",
        "-9223372036854775808",
        "1.5",
        "-0.0",
        "1e+20",
        "1.8446744073709552e+19",
        "5e-324",
        r#""""#,
        "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0000\\u001f\u{7f}\"",
        "\"\u{7f}é✓𝄞/\"",
        "[]",
        "{}",
        r#"[1,[2,{"a":[]}]]"#,
        r#"{"":0,"A":1,"a":2,"aa":3,"b":{"x":null}}"#,
        // "\n" (0x0a) sorts before "A" (0x41) even though its escape starts with `\`.
        r#"{"\n":1,"A":2}"#,
    ] {
        assert!(check(text.as_bytes()).is_ok(), "{text}");
        assert!(reference(text), "reference disagrees on {text}");
    }
}

#[test]
fn rejects_non_canonical_text() {
    for text in [
        "",
        " null",
        "null ",
        "[1, 2]",
        "{\"a\": 1}",
        r#"{"b":1,"a":2}"#,
        r#"{"a":1,"a":1}"#,
        r#"{"A":2,"\n":1}"#,
        "01",
        "-0",
        "1.0e5",
        "1e20",
        "1E5",
        "100000000000000000000",
        "1.50",
        "+1",
        r#""\/""#,
        r#""\u0041""#,
        r#""\u007f""#,
        r#""\u000a""#,
        r#""\u001F""#,
        "\"\u{1}\"",
        r#""\u00e9""#,
        "nul",
        "[1,]",
        "{\"a\":1,}",
        "[",
        "\"abc",
    ] {
        assert!(!reference(text), "reference accepts {text:?}");
        assert!(check(text.as_bytes()).is_err(), "accepted {text:?}");
    }
    assert_eq!(check(b"[1, 2]"), Err(3));
    assert_eq!(check(br#"{"b":1,"a":2}"#), Err(7));
}

#[test]
fn rejects_nesting_serde_json_cannot_read() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(!is_canonical(&deep));
    assert!(!reference(&deep));
    let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(is_canonical(&fine) && reference(&fine));
}

#[test]
fn canonical_json_of_a_record_like_value_is_accepted() {
    let v = json!({"z": [1, 2.5, -3, "x\u{0}y"], "a": {"k": null, "K": true}, "amount": 1200.0});
    assert!(is_canonical(&canonical_json(&v)));
}

fn string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'e'),
            1 => prop::char::range('\u{0}', '\u{21}'),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just('/'),
            1 => Just('\u{7f}'),
            1 => Just('é'),
            1 => Just('𝄞'),
        ],
        0..6,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        (-1000i32..1000, 0u32..4)
            .prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e as i32))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_json_is_always_accepted(v in value()) {
        let text = canonical_json(&v);
        prop_assert!(check(text.as_bytes()).is_ok(), "{}", text);
    }

    /// After any one-byte change, the checker and the reference still agree.
    #[test]
    fn checker_agrees_with_the_reference_on_mutations(
        v in value(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b" \"\\/,:[]{}0123456789-+.eEnulatrfsabcdA\n\x01\x7f".to_vec()),
    ) {
        let mut bytes = canonical_json(&v).into_bytes();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(text) = String::from_utf8(bytes) {
            prop_assert_eq!(check(text.as_bytes()).is_ok(), reference(&text), "{}", text);
        }
    }

    /// Pretty-printed or otherwise re-spelled JSON is accepted exactly when it happens to be
    /// canonical.
    #[test]
    fn checker_agrees_with_the_reference_on_other_spellings(v in value()) {
        for text in [serde_json::to_string_pretty(&v).unwrap(), serde_json::to_string(&v).unwrap()] {
            prop_assert_eq!(check(text.as_bytes()).is_ok(), reference(&text), "{}", text);
        }
    }
}

/// Long strings are scanned eight bytes at a time: put each kind of special character at
/// every position of strings of many lengths.
#[test]
fn strings_of_every_length_with_a_special_character_anywhere() {
    for len in 0..40 {
        for at in 0..=len {
            for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "\u{7f}", "é", "\\u0041", " "] {
                let mut s = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"[..len].to_owned();
                s.insert_str(at, special);
                let escaped = serde_json::to_string(&s).unwrap();
                assert!(is_canonical(&escaped), "{escaped}");
                let raw = format!("\"{s}\"");
                assert_eq!(is_canonical(&raw), reference(&raw), "{raw:?}");
            }
        }
    }
}
