//! Integration tests of aecl-audit: logs written to real files and tampered with, single-byte
//! changes, proofs checked offline against exported checkpoints.

mod matrix;
mod proofs;
mod properties;
mod support;
mod tamper;
