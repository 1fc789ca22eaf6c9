//! The microvm tier's parser of a guest's answer (written by a machine that ran untrusted
//! code): never a panic, and never more than the cap of either stream handed back. The
//! first byte chooses the cap.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, bytes)) = data.split_first() else { return };
    let cap = usize::from(cap);
    if let Ok((stdout, stderr)) = aecl_sandbox::parse_microvm_answer(bytes, cap) {
        assert!(stdout.len() <= cap && stderr.len() <= cap, "more than the cap {cap}");
    }
});
