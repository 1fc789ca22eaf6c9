//! The built-in program table. Each entry says what a program can do beyond reading:
//! which options and subcommands run code or send data, which arguments and option values
//! it writes. Entries are written from `PLAIN` (can do nothing of note), so an entry
//! lists only what matters. A program missing here is unknown, and the policy decides
//! (default: approval); adding a program that *can* do something without saying so would
//! be worse than leaving it out.

use std::sync::LazyLock;

use super::Entry;

mod clients;
mod files;
mod general;
mod tools;

/// Everything the shell rules know about programs, by family, in this order (a later
/// entry naming the same program wins).
pub(super) static ENTRIES: LazyLock<Vec<Entry>> =
    LazyLock::new(|| [general::ENTRIES, files::ENTRIES, tools::ENTRIES, clients::ENTRIES].concat());
