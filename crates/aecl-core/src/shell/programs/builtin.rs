//! The built-in program table. Each entry says what a program can do beyond reading:
//! which options and subcommands run code or send data, which arguments and option values
//! it writes. Entries are written from `PLAIN` (can do nothing of note), so an entry
//! lists only what matters. A program missing here is unknown, and the policy decides
//! (default: approval); adding a program that *can* do something without saying so would
//! be worse than leaving it out.

use super::Entry;

mod clients;
mod files;
mod general;
mod linters;
mod packages;
mod tools;

/// Everything the shell rules know about programs, by family, in this order (a later
/// entry naming the same program wins). Not copied into one list: `aecl hook` is a
/// process per tool call, and the copy was a tenth of what the table cost it.
const FAMILIES: [&[Entry]; 6] = [
    general::ENTRIES,
    files::ENTRIES,
    tools::ENTRIES,
    packages::ENTRIES,
    linters::ENTRIES,
    clients::ENTRIES,
];

/// The number of entries.
pub(super) fn len() -> usize {
    FAMILIES.iter().map(|family| family.len()).sum()
}

/// Every entry, in order.
pub(super) fn entries() -> impl Iterator<Item = &'static Entry> {
    FAMILIES.into_iter().flatten()
}

/// The entry at `index` in the order of [`entries`].
pub(super) fn entry(mut index: usize) -> Option<&'static Entry> {
    for family in FAMILIES {
        match family.get(index) {
            Some(entry) => return Some(entry),
            None => index -= family.len(),
        }
    }
    None
}
