//! SQLite's `PRAGMA`: a read, a per-connection setting, or a change to the database file or
//! its safety checks, depending on the pragma and on whether it is given a value.

use sqlparser::ast::ObjectName;

use super::StatementClass;

/// Pragmas that only report something when they are given no value (setting pragmas
/// queried, and the introspection pragmas). Sorted.
#[rustfmt::skip]
const READS: &[&str] = &[
    "analysis_limit", "application_id", "auto_vacuum", "automatic_index", "busy_timeout",
    "cache_size", "cache_spill", "cell_size_check", "checkpoint_fullfsync", "collation_list",
    "compile_options", "data_version", "database_list", "defer_foreign_keys", "encoding",
    "foreign_key_check", "foreign_key_list", "foreign_keys", "freelist_count", "fullfsync",
    "function_list", "hard_heap_limit", "ignore_check_constraints", "index_info", "index_list",
    "index_xinfo", "integrity_check", "journal_mode", "journal_size_limit",
    "legacy_alter_table", "locking_mode", "max_page_count", "mmap_size", "module_list",
    "page_count", "page_size", "pragma_list", "query_only", "quick_check", "read_uncommitted",
    "recursive_triggers", "reverse_unordered_selects", "schema_version", "secure_delete",
    "soft_heap_limit", "synchronous", "table_info", "table_list", "table_xinfo", "temp_store",
    "threads", "trusted_schema", "user_version", "wal_autocheckpoint",
];

/// Pragmas whose value is an argument of a read (`PRAGMA table_info(users)`). Sorted.
#[rustfmt::skip]
const READS_WITH_ARGUMENT: &[&str] = &[
    "foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo",
    "integrity_check", "quick_check", "table_info", "table_list", "table_xinfo",
];

/// Pragmas whose value only tunes this connection. Sorted. (`query_only`, `foreign_keys`,
/// `trusted_schema` and the like are not here: turning them off lifts a safety check.)
#[rustfmt::skip]
const SESSION: &[&str] = &[
    "analysis_limit", "busy_timeout", "cache_size", "cache_spill", "hard_heap_limit",
    "mmap_size", "read_uncommitted", "reverse_unordered_selects", "soft_heap_limit",
    "temp_store", "threads",
];

/// The class of `PRAGMA name` (with or without a value), and why when it is not a read.
pub(super) fn classify(name: &ObjectName, has_value: bool) -> (StatementClass, Option<String>) {
    let last = name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.to_lowercase())
        .unwrap_or_default();
    let on = |list: &[&str]| list.binary_search(&last.as_str()).is_ok();
    match has_value {
        false if on(READS) => (StatementClass::Select, None),
        false => (
            StatementClass::Other,
            Some(format!("PRAGMA {last} does work (checkpoint, optimise, vacuum...)")),
        ),
        true if on(READS_WITH_ARGUMENT) => (StatementClass::Select, None),
        true if on(SESSION) => {
            (StatementClass::Session, Some(format!("PRAGMA {last} = ... tunes the connection")))
        }
        true => (
            StatementClass::Privileged,
            Some(format!(
                "PRAGMA {last} = ... changes the database file or turns off a safety check"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_sorted() {
        for list in [READS, READS_WITH_ARGUMENT, SESSION] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted: {list:?}");
        }
    }
}
