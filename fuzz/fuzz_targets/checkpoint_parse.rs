//! Fuzz target: a published checkpoint as a witness or `aecl audit verify --checkpoints`
//! reads it (a tlog-witness `add-checkpoint` body: old size, consistency proof, signed
//! note). Written by whoever can reach the witness or the directory, so it must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(body) = aecl_audit::AddCheckpoint::parse(text) {
        // What parses must print back to something that parses the same way.
        let again = aecl_audit::AddCheckpoint::parse(&body.to_text());
        assert!(again.is_ok(), "a parsed body did not round-trip");
    }
});
