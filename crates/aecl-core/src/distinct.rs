//! JSON in which no object names a member twice. serde_json keeps the last copy of a
//! repeated member, other readers the first: `{"currency":"RUB","currency":"EUR"}` is
//! decided as EUR, and a client that executes the call itself with a first-copy reader
//! pays in RUB. So what aecl reads from the wire (request bodies, token claims) is refused
//! when a member is named twice, at any depth: request bodies, token claims and hook
//! inputs.

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// Whether some object of `json` (valid JSON) names a member twice. Read without building
/// the value: only each object's names are kept while it is read.
pub fn repeats_a_member(json: &[u8]) -> bool {
    serde_json::from_slice::<Distinct>(json).is_err()
}

/// A JSON value in which no object names a member twice (read only to check that).
struct Distinct;

impl<'de> Deserialize<'de> for Distinct {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Members)
    }
}

struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = Distinct;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distinct, A::Error> {
        let mut names = std::collections::HashSet::new();
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !names.insert(name) {
                return Err(de::Error::custom("a member named twice"));
            }
            map.next_value::<Distinct>()?;
        }
        Ok(Distinct)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Distinct, A::Error> {
        while seq.next_element::<Distinct>()?.is_some() {}
        Ok(Distinct)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_str<E>(self, _: &str) -> Result<Distinct, E> {
        Ok(Distinct)
    }

    fn visit_unit<E>(self) -> Result<Distinct, E> {
        Ok(Distinct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_named_twice_at_any_depth_is_found() {
        for json in [
            r#"{"a":1,"a":2}"#,
            r#"{"args":{"currency":"RUB","currency":"EUR"}}"#,
            r#"[{"x":[{"k":1,"k":1}]}]"#,
            r#"{"\u0061":1,"a":2}"#,
        ] {
            assert!(repeats_a_member(json.as_bytes()), "{json}");
        }
        for json in [r#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#, "[]", "1", r#""s""#, "null"] {
            assert!(!repeats_a_member(json.as_bytes()), "{json}");
        }
    }
}
