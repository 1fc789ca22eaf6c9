//! Fuzz target: any text as a tool's output, split into fields in every format
//! (`aecl_core::output::pieces`) under rules naming trusted and untrusted fields. Nothing
//! may panic, and nothing may be left of an output but its pieces.

#![no_main]

use aecl_core::output::{OutputField, OutputFormat, pieces};
use aecl_core::policy::{DataClass, OutputSpec, Trust};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fields = ["id", "items[].recipient", "*.subject", "[].memo"]
        .iter()
        .zip([Trust::Trusted, Trust::Trusted, Trust::Untrusted, Trust::Untrusted])
        .filter_map(|(path, trust)| OutputField::parse(path).map(|f| (f, trust)))
        .collect();
    let mut spec =
        OutputSpec { trust: Trust::Untrusted, data_class: DataClass::Internal, fields, format: OutputFormat::Auto };
    for format in [OutputFormat::Auto, OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Csv, OutputFormat::Kv] {
        spec.format = format;
        let _ = pieces(&spec, &Value::String(text.to_owned()));
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = pieces(&spec, &value);
    }
});
