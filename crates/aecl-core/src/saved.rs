//! Serde helpers for a run's state written down and read back whole (the local hook keeps
//! a replayed session's state beside its file, so that a call does not replay the session
//! from its start): what JSON cannot carry as it is.
//!
//! - [`pairs`]: a map whose keys are not strings (`(kind, normal form)`, `(tick, run)`) as
//!   a list of key and value pairs;
//! - [`float_bits`]: an `f64` by its bits. JSON's decimal text is read back to the same
//!   number only with serde_json's slower parser, and a budget's sum must come back exact.

/// A map as a sequence of `(key, value)` pairs.
pub mod pairs {
    use serde::de::{Deserialize, Deserializer};
    use serde::ser::{Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, serializer: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        serializer.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(deserializer: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }
}

/// An `f64` as the `u64` of its bits.
pub mod float_bits {
    use serde::de::{Deserialize, Deserializer};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}

/// A map of `f64` values, each by its bits.
pub mod float_map_bits {
    use serde::de::{Deserialize, Deserializer};
    use serde::ser::Serializer;

    use crate::hash::HashMap;

    pub fn serialize<S: Serializer>(
        map: &HashMap<String, f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.iter().map(|(k, v)| (k, v.to_bits())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<HashMap<String, f64>, D::Error> {
        let bits = HashMap::<String, u64>::deserialize(deserializer)?;
        Ok(bits.into_iter().map(|(k, v)| (k, f64::from_bits(v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use crate::hash::HashMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Held {
        #[serde(with = "super::pairs")]
        by_pair: BTreeMap<(u64, String), ()>,
        #[serde(with = "super::float_bits")]
        sum: f64,
        #[serde(with = "super::float_map_bits")]
        reserved: HashMap<String, f64>,
    }

    #[test]
    fn maps_with_pair_keys_and_floats_come_back_exactly() {
        // 0.1 + 0.2 is the classic number whose shortest decimal text needs care to read
        // back; NaN and the infinities have no JSON number at all.
        let sums = [0.1 + 0.2, f64::MAX, f64::MIN_POSITIVE, -0.0, f64::INFINITY, 1e-310];
        for sum in sums {
            let held = Held {
                by_pair: BTreeMap::from([((3, "r2".to_owned()), ()), ((1, "r1".to_owned()), ())]),
                sum,
                reserved: HashMap::from_iter([("c1".to_owned(), sum / 3.0)]),
            };
            let text = serde_json::to_string(&held).unwrap();
            let back: Held = serde_json::from_str(&text).unwrap();
            assert_eq!(back.by_pair, held.by_pair);
            assert_eq!(back.sum.to_bits(), sum.to_bits(), "{text}");
            assert_eq!(back.reserved["c1"].to_bits(), (sum / 3.0).to_bits(), "{text}");
        }
        let nan = Held { by_pair: BTreeMap::new(), sum: f64::NAN, reserved: HashMap::default() };
        let back: Held = serde_json::from_str(&serde_json::to_string(&nan).unwrap()).unwrap();
        assert!(back.sum.is_nan());
    }
}
