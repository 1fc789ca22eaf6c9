//! What calling an SQL function does: the built-in lists for PostgreSQL, SQLite and MySQL,
//! and the policy's own additions.
//!
//! A function is *pure* when calling it only computes a value from its arguments and the
//! rows the statement reads (`count`, `lower`, `coalesce`, `now`); it adds nothing to the
//! statement's class. Every other known function names the statement class that calling it
//! amounts to: `nextval` changes a sequence (`update`), `set_config` changes the session
//! (`session`), `pg_advisory_lock` takes a lock (`lock`), `pg_read_file`, `dblink_exec` and
//! `load_extension` reach outside the database's tables (`privileged`), `pg_sleep` only
//! holds a connection (`other`). A function on no list is *unknown*, and the policy's
//! `unknown_function` setting decides.
//!
//! Lists are matched so that spelling cannot turn a risky function into a pure one: risky
//! names match the last part of any qualified name, in any case, quoted or not; pure names
//! match only an unqualified name (or one qualified by the built-in schema `pg_catalog`),
//! and in PostgreSQL a quoted name keeps its case (`"LOWER"` is not `lower`).

use super::{SqlDialect, StatementClass};

/// What calling a function does: `None` is pure, else the class the statement gains.
pub type Effect = Option<StatementClass>;

/// A policy's additions to the built-in lists. Its entries win over the built-in ones, so
/// that a policy can declare its own functions and reclassify a built-in one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionLists {
    entries: Vec<(String, Effect)>,
}

impl FunctionLists {
    /// Adds `name` (`fn` or `schema.fn`, as the database stores it: lower case unless it was
    /// created with a quoted name) with what calling it does.
    pub fn add(&mut self, name: &str, effect: Effect) {
        self.entries.push((name.trim().to_owned(), effect));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The strictest entry listed under exactly this name (several lists may name it).
    fn exact(&self, name: &str, dialect: SqlDialect) -> Option<Effect> {
        let mut found: Option<Effect> = None;
        for (entry, effect) in &self.entries {
            let same = if dialect == SqlDialect::Postgres {
                entry == name
            } else {
                entry.eq_ignore_ascii_case(name)
            };
            if same {
                found = Some(match (found, *effect) {
                    (Some(Some(a)), Some(b)) => Some(a.max(b)),
                    (Some(Some(a)), None) | (Some(None) | None, Some(a)) => Some(a),
                    _ => None,
                });
            }
        }
        found
    }

    /// The strictest risky entry, of any schema, whose last part is `last`.
    fn risky_by_last_segment(&self, last: &str) -> Effect {
        self.entries
            .iter()
            .filter(|(entry, _)| {
                entry.rsplit('.').next().is_some_and(|part| part.eq_ignore_ascii_case(last))
            })
            .filter_map(|(_, effect)| *effect)
            .max()
    }

    /// A risky, unqualified entry naming the last part of a qualified call.
    fn risky_by_last_part(&self, last: &str) -> Effect {
        self.entries
            .iter()
            .filter(|(entry, effect)| effect.is_some() && !entry.contains('.'))
            .filter(|(entry, _)| entry.eq_ignore_ascii_case(last))
            .filter_map(|(_, effect)| *effect)
            .max()
    }
}

/// One part of a function's name as written.
#[derive(Debug, Clone, Copy)]
pub struct NamePart<'a> {
    pub value: &'a str,
    pub quoted: bool,
}

/// How a call was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Known(Effect),
    Unknown,
}

/// Classifies a call of the function named by `parts` (never empty).
pub fn lookup(dialect: SqlDialect, policy: &FunctionLists, parts: &[NamePart<'_>]) -> Lookup {
    let Some(last) = parts.last() else { return Lookup::Unknown };
    let fold = |part: &NamePart<'_>| {
        if dialect == SqlDialect::Postgres && part.quoted {
            part.value.to_owned()
        } else {
            part.value.to_lowercase()
        }
    };
    // `pg_catalog.lower` is `lower`: the built-in schema adds nothing.
    let significant = match parts {
        [schema, rest @ ..]
            if rest.len() == 1
                && schema.value.eq_ignore_ascii_case("pg_catalog")
                && !schema.quoted =>
        {
            rest
        }
        _ => parts,
    };
    let canonical: Vec<String> = significant.iter().map(fold).collect();
    let canonical = canonical.join(".");
    if let Some(effect) = policy.exact(&canonical, dialect) {
        return Lookup::Known(effect);
    }
    let last_lower = last.value.to_lowercase();
    if let Some(class) = policy.risky_by_last_part(&last_lower) {
        return Lookup::Known(Some(class));
    }
    if let Some((_, class)) = RISKY
        .binary_search_by(|(name, _)| (*name).cmp(last_lower.as_str()))
        .ok()
        .and_then(|i| RISKY.get(i))
    {
        return Lookup::Known(Some(*class));
    }
    let unqualified = significant.len() == 1;
    if unqualified && is_pure_builtin(dialect, &canonical) {
        return Lookup::Known(None);
    }
    Lookup::Unknown
}

/// What a name that reads as a column may call instead, in PostgreSQL's attribute notation:
/// `t.f` and `(t).f` call `f(t)` when `t` has no column `f`. Without the schema the two
/// cannot be told apart, so a name that a list gives an effect counts as that call: a
/// policy entry of any schema whose last part is the name, or a risky PostgreSQL built-in
/// (unless the policy lists the name itself). A name on no list reads as the column it
/// most likely is: an unlisted function written `t.f` is not seen (see `docs/policy.md`).
pub fn attribute_call(policy: &FunctionLists, name: &NamePart<'_>) -> Effect {
    let lower = name.value.to_lowercase();
    let listed = policy.risky_by_last_segment(&lower);
    let as_stored = if name.quoted { name.value.to_owned() } else { lower.clone() };
    // A policy that lists the name itself reclassifies the built-in, as in `lookup`.
    if policy.exact(&as_stored, SqlDialect::Postgres).is_some() {
        return listed;
    }
    let builtin = RISKY
        .binary_search_by(|(entry, _)| (*entry).cmp(lower.as_str()))
        .ok()
        .and_then(|i| RISKY.get(i))
        .filter(|(entry, _)| is_postgres_builtin(entry))
        .map(|(_, class)| *class);
    listed.max(builtin)
}

/// Whether PostgreSQL has a built-in function of this name that takes a whole row as its
/// only argument, so that `t.name` may be the call `name(t)` whatever the table's columns:
/// `t.num_nulls = 0` holds for every row. From `pg_proc` (arguments of type `record`,
/// `"any"` or `anyelement`, without aggregates, which a filter cannot hold), with the
/// `hstore` extension's `hstore(record)`. Sorted.
pub fn takes_a_row(name: &str) -> bool {
    ROW_FUNCTIONS.binary_search(&name.to_lowercase().as_str()).is_ok()
}

/// See [`takes_a_row`].
const ROW_FUNCTIONS: &[&str] = &[
    "any_out",
    "anycompatible_out",
    "anycompatiblenonarray_out",
    "anyelement_out",
    "anynonarray_out",
    "concat",
    "hash_record",
    "hstore",
    "json_build_array",
    "json_build_object",
    "jsonb_build_array",
    "jsonb_build_object",
    "num_nonnulls",
    "num_nulls",
    "pg_collation_for",
    "pg_column_compression",
    "pg_column_size",
    "pg_typeof",
    "quote_literal",
    "quote_nullable",
    "record_out",
    "record_send",
    "row_to_json",
    "to_json",
    "to_jsonb",
];

/// Whether a name of [`RISKY`] is one of PostgreSQL's functions (the only database with
/// attribute notation): the others (`sleep`, `edit`, `load_extension`) are common column
/// names there.
fn is_postgres_builtin(name: &str) -> bool {
    const PREFIXES: [&str; 3] = ["dblink", "lo_", "pg_"];
    const NAMES: [&str; 10] = [
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "lowrite",
        "nextval",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "set_config",
        "setseed",
        "setval",
    ];
    PREFIXES.iter().any(|prefix| name.starts_with(prefix)) || NAMES.contains(&name)
}

fn is_pure_builtin(dialect: SqlDialect, name: &str) -> bool {
    let found = |list: &[&str]| list.binary_search(&name).is_ok();
    found(PURE_COMMON)
        || match dialect {
            SqlDialect::Postgres => found(PURE_POSTGRES),
            SqlDialect::Sqlite => found(PURE_SQLITE),
            SqlDialect::Mysql => found(PURE_MYSQL),
            SqlDialect::Generic => found(PURE_POSTGRES) || found(PURE_SQLITE) || found(PURE_MYSQL),
        }
}

use StatementClass::{Lock, Other, Privileged, Session, Update};

/// Functions with an effect, for every dialect (a name that is risky in one database is
/// treated as risky in all: a false alarm costs an approval, a miss costs the data).
/// Sorted by name.
pub(crate) const RISKY: &[(&str, StatementClass)] = &[
    ("benchmark", Other),          // MySQL: burns CPU
    ("cursor_to_xml", Privileged), // PostgreSQL: runs a cursor given by name
    ("cursor_to_xmlschema", Privileged),
    ("dblink", Privileged), // PostgreSQL dblink: SQL on another server
    ("dblink_build_sql_delete", Privileged),
    ("dblink_build_sql_insert", Privileged),
    ("dblink_build_sql_update", Privileged),
    ("dblink_cancel_query", Privileged),
    ("dblink_close", Privileged),
    ("dblink_connect", Privileged),
    ("dblink_connect_u", Privileged),
    ("dblink_disconnect", Privileged),
    ("dblink_exec", Privileged),
    ("dblink_fetch", Privileged),
    ("dblink_get_connections", Privileged),
    ("dblink_get_notify", Privileged),
    ("dblink_get_result", Privileged),
    ("dblink_is_busy", Privileged),
    ("dblink_open", Privileged),
    ("dblink_send_query", Privileged),
    ("edit", Privileged),           // SQLite shell: runs an editor
    ("fsdir", Privileged),          // SQLite fileio: lists directories
    ("fts3_tokenizer", Privileged), // SQLite: registers native code pointers
    ("get_lock", Lock),             // MySQL named locks
    ("is_used_lock", Lock),
    ("lib_mysqludf_sys_info", Privileged),
    ("lo_creat", Update), // PostgreSQL large objects
    ("lo_create", Update),
    ("lo_export", Privileged), // writes a server file
    ("lo_from_bytea", Update),
    ("lo_import", Privileged), // reads a server file
    ("lo_open", Update),
    ("lo_put", Update),
    ("lo_truncate", Update),
    ("lo_truncate64", Update),
    ("lo_unlink", Update),
    ("load_extension", Privileged), // SQLite: loads native code
    ("load_file", Privileged),      // MySQL: reads a server file
    ("lowrite", Update),
    ("lsmode", Privileged),
    ("master_pos_wait", Other),
    ("nextval", Update), // PostgreSQL sequences: not undone by a rollback
    ("opendatasource", Privileged), // SQL Server: other servers
    ("openquery", Privileged),
    ("openrowset", Privileged),
    ("pg_advisory_lock", Lock),
    ("pg_advisory_lock_shared", Lock),
    ("pg_advisory_unlock", Lock),
    ("pg_advisory_unlock_all", Lock),
    ("pg_advisory_unlock_shared", Lock),
    ("pg_advisory_xact_lock", Lock),
    ("pg_advisory_xact_lock_shared", Lock),
    ("pg_backup_start", Privileged),
    ("pg_backup_stop", Privileged),
    ("pg_cancel_backend", Privileged), // other sessions
    ("pg_config", Privileged),         // a view of the server's files (`classify.rs`)
    ("pg_copy_logical_replication_slot", Privileged),
    ("pg_copy_physical_replication_slot", Privileged),
    ("pg_create_logical_replication_slot", Privileged),
    ("pg_create_physical_replication_slot", Privileged),
    ("pg_create_restore_point", Privileged),
    ("pg_drop_replication_slot", Privileged),
    ("pg_file_rename", Privileged), // adminpack: server files
    ("pg_file_sync", Privileged),
    ("pg_file_unlink", Privileged),
    ("pg_file_write", Privileged),
    ("pg_hba_file_rules", Privileged), // a view of the server's files (`classify.rs`)
    ("pg_ident_file_mappings", Privileged), // a view of the server's files (`classify.rs`)
    ("pg_import_system_collations", Privileged),
    ("pg_log_backend_memory_contexts", Privileged),
    ("pg_logdir_ls", Privileged),
    ("pg_logical_emit_message", Privileged),
    ("pg_logical_slot_get_binary_changes", Privileged),
    ("pg_logical_slot_get_changes", Privileged),
    ("pg_logical_slot_peek_binary_changes", Privileged),
    ("pg_logical_slot_peek_changes", Privileged),
    ("pg_ls_archive_statusdir", Privileged), // server directories
    ("pg_ls_dir", Privileged),
    ("pg_ls_logdir", Privileged),
    ("pg_ls_logicalmapdir", Privileged),
    ("pg_ls_logicalsnapdir", Privileged),
    ("pg_ls_replslotdir", Privileged),
    ("pg_ls_summariesdir", Privileged),
    ("pg_ls_tmpdir", Privileged),
    ("pg_ls_waldir", Privileged),
    ("pg_notify", Other), // sends to listeners
    ("pg_promote", Privileged),
    ("pg_read_binary_file", Privileged), // server files
    ("pg_read_file", Privileged),
    ("pg_reload_conf", Privileged), // server configuration
    ("pg_replication_origin_advance", Privileged),
    ("pg_replication_origin_create", Privileged),
    ("pg_replication_origin_drop", Privileged),
    ("pg_replication_origin_session_setup", Privileged),
    ("pg_replication_slot_advance", Privileged),
    ("pg_rotate_logfile", Privileged),
    ("pg_show_all_file_settings", Privileged), // a view of the server's files (`classify.rs`)
    ("pg_signal_backend", Privileged),
    ("pg_sleep", Other), // holds a connection
    ("pg_sleep_for", Other),
    ("pg_sleep_until", Other),
    ("pg_start_backup", Privileged),
    ("pg_stat_file", Privileged),
    ("pg_stat_reset", Privileged),
    ("pg_stat_reset_replication_slot", Privileged),
    ("pg_stat_reset_shared", Privileged),
    ("pg_stat_reset_single_function_counters", Privileged),
    ("pg_stat_reset_single_table_counters", Privileged),
    ("pg_stat_reset_slru", Privileged),
    ("pg_stat_reset_subscription_stats", Privileged),
    ("pg_stop_backup", Privileged),
    ("pg_switch_wal", Privileged),
    ("pg_sync_replication_slots", Privileged),
    ("pg_terminate_backend", Privileged), // other sessions
    ("pg_try_advisory_lock", Lock),
    ("pg_try_advisory_lock_shared", Lock),
    ("pg_try_advisory_xact_lock", Lock),
    ("pg_try_advisory_xact_lock_shared", Lock),
    ("pg_wal_replay_pause", Privileged),
    ("pg_wal_replay_resume", Privileged),
    ("query_to_xml", Privileged), // PostgreSQL: runs the SQL text it is given
    ("query_to_xml_and_xmlschema", Privileged),
    ("query_to_xmlschema", Privileged),
    ("readfile", Privileged), // SQLite fileio
    ("release_all_locks", Lock),
    ("release_lock", Lock),
    ("set_config", Session), // PostgreSQL: SET as a function
    ("setseed", Session),
    ("setval", Update),
    ("sleep", Other), // MySQL
    ("source_pos_wait", Other),
    ("sqlar_compress", Privileged),
    ("sqlar_uncompress", Privileged),
    ("sqlite_dbdata", Privileged), // SQLite: raw pages
    ("sqlite_dbpage", Privileged),
    ("sqlite_dbptr", Privileged),
    ("sys_eval", Privileged), // MySQL UDFs that run programs
    ("sys_exec", Privileged),
    ("sys_get", Privileged),
    ("sys_set", Privileged),
    ("wait_for_executed_gtid_set", Other),
    ("writefile", Privileged),   // SQLite fileio
    ("xp_cmdshell", Privileged), // SQL Server: runs programs
    ("zipfile", Privileged),     // SQLite: reads archives from files
];

/// Pure in every dialect: the standard's functions and the special forms the parser turns
/// into calls (`CURRENT_TIMESTAMP`). Sorted.
#[rustfmt::skip]
pub(crate) const PURE_COMMON: &[&str] = &[
    "abs", "avg", "ceil", "ceiling", "char_length", "character_length", "coalesce", "concat",
    "concat_ws", "count", "cume_dist", "current_date", "current_role", "current_time",
    "current_timestamp", "current_user", "dense_rank", "exp", "first_value", "floor",
    "greatest", "lag", "last_value", "lead", "least", "left", "length", "ln", "localtime",
    "localtimestamp", "log", "lower", "ltrim", "max", "min", "mod", "now", "nth_value", "ntile",
    "nullif", "octet_length", "percent_rank", "position", "power", "rank", "replace", "reverse",
    "right", "round", "row_number", "rtrim", "session_user", "sign", "sqrt", "substr",
    "substring", "sum", "trim", "upper", "user",
];

/// PostgreSQL's pure functions (core, pgcrypto, pg_trgm, unaccent). Sorted.
#[rustfmt::skip]
pub(crate) const PURE_POSTGRES: &[&str] = &[
    "acos", "acosd", "acosh", "age", "any_value", "array", "array_agg", "array_append",
    "array_cat", "array_dims", "array_fill", "array_length", "array_lower", "array_ndims",
    "array_position", "array_positions", "array_prepend", "array_remove", "array_replace",
    "array_reverse", "array_sample", "array_shuffle", "array_sort", "array_to_json",
    "array_to_string", "array_upper", "ascii", "asin", "asind", "asinh", "atan", "atan2",
    "atan2d", "atand", "atanh", "bit_and", "bit_count", "bit_length", "bit_or", "bit_xor",
    "bool_and", "bool_or", "btrim", "cardinality", "casefold", "cbrt", "chr", "clock_timestamp",
    "col_description", "convert", "convert_from", "convert_to", "corr", "cos", "cosd", "cosh",
    "cot", "cotd", "covar_pop", "covar_samp", "crc32", "crc32c", "crypt", "current_catalog",
    "current_database", "current_schema", "current_schemas", "current_setting", "date_add",
    "date_bin", "date_part", "date_subtract", "date_trunc", "decode", "degrees", "digest",
    "div", "encode", "erf", "erfc", "every", "factorial", "format", "format_type", "gcd",
    "gen_random_bytes", "gen_random_uuid", "gen_salt", "generate_series", "generate_subscripts",
    "get_bit", "get_byte", "has_column_privilege", "has_database_privilege",
    "has_function_privilege", "has_schema_privilege", "has_sequence_privilege",
    "has_table_privilege", "hmac", "host", "inet_client_addr", "inet_server_addr", "initcap",
    "isempty", "isfinite", "json_agg", "json_array", "json_array_elements",
    "json_array_elements_text", "json_array_length", "json_arrayagg", "json_build_array",
    "json_build_object", "json_each", "json_each_text", "json_extract_path",
    "json_extract_path_text", "json_object", "json_object_agg", "json_object_keys",
    "json_objectagg", "json_populate_record", "json_populate_recordset", "json_scalar",
    "json_strip_nulls", "json_to_record", "json_to_recordset", "json_typeof", "jsonb_agg",
    "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_array_length",
    "jsonb_build_array", "jsonb_build_object", "jsonb_each", "jsonb_each_text",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_insert", "jsonb_object",
    "jsonb_object_agg", "jsonb_object_keys", "jsonb_path_exists", "jsonb_path_match",
    "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first",
    "jsonb_populate_record", "jsonb_populate_recordset", "jsonb_pretty", "jsonb_set",
    "jsonb_set_lax", "jsonb_strip_nulls", "jsonb_to_record", "jsonb_to_recordset",
    "jsonb_typeof", "justify_days", "justify_hours", "justify_interval", "lcm", "log10",
    "lower_inc", "lpad", "make_date", "make_interval", "make_time", "make_timestamp",
    "make_timestamptz", "masklen", "md5", "min_scale", "mode", "netmask", "network",
    "normalize", "num_nonnulls", "num_nulls", "obj_description", "overlay", "parse_ident",
    "percentile_cont", "percentile_disc", "pg_backend_pid", "pg_column_size",
    "pg_database_size", "pg_get_constraintdef", "pg_get_expr", "pg_get_functiondef",
    "pg_get_indexdef", "pg_get_viewdef", "pg_has_role", "pg_indexes_size", "pg_is_in_recovery",
    "pg_postmaster_start_time", "pg_relation_size", "pg_size_pretty", "pg_table_size",
    "pg_total_relation_size", "pg_typeof", "phraseto_tsquery", "pi", "plainto_tsquery", "pow",
    "quote_ident", "quote_literal", "quote_nullable", "radians", "random", "random_normal",
    "range_agg", "range_intersect_agg", "range_merge", "regexp_count", "regexp_instr",
    "regexp_like", "regexp_match", "regexp_matches", "regexp_replace", "regexp_split_to_array",
    "regexp_split_to_table", "regexp_substr", "regr_avgx", "regr_avgy", "regr_count",
    "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "repeat",
    "row", "row_to_json", "rpad", "scale", "set_bit", "set_byte", "setweight", "sha224",
    "sha256", "sha384", "sha512", "similarity", "sin", "sind", "sinh", "split_part",
    "starts_with", "statement_timestamp", "stddev", "stddev_pop", "stddev_samp", "string_agg",
    "string_to_array", "string_to_table", "strip", "strpos", "tan", "tand", "tanh", "timeofday",
    "timezone", "to_ascii", "to_char", "to_date", "to_hex", "to_json", "to_jsonb", "to_number",
    "to_regclass", "to_regtype", "to_timestamp", "to_tsquery", "to_tsvector",
    "transaction_timestamp", "translate", "trim_array", "trim_scale", "trunc", "ts_headline",
    "ts_rank", "ts_rank_cd", "unaccent", "unistr", "unnest", "upper_inc", "uuidv4", "uuidv7",
    "var_pop", "var_samp", "variance", "version", "websearch_to_tsquery", "width_bucket",
    "xmlagg",
];

/// SQLite's pure functions, including its JSON functions and the table-valued functions of
/// side-effect-free pragmas. Sorted.
#[rustfmt::skip]
pub(crate) const PURE_SQLITE: &[&str] = &[
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "changes", "char", "cos",
    "cosh", "date", "datetime", "degrees", "format", "generate_series", "glob", "group_concat",
    "hex", "ifnull", "iif", "instr", "json", "json_array", "json_array_length", "json_each",
    "json_error_position", "json_extract", "json_group_array", "json_group_object",
    "json_insert", "json_object", "json_patch", "json_pretty", "json_quote", "json_remove",
    "json_replace", "json_set", "json_tree", "json_type", "json_valid", "jsonb", "jsonb_array",
    "jsonb_extract", "jsonb_insert", "jsonb_object", "jsonb_patch", "jsonb_remove",
    "jsonb_replace", "jsonb_set", "julianday", "last_insert_rowid", "like", "likelihood",
    "likely", "log10", "log2", "pi", "pow", "pragma_collation_list", "pragma_compile_options",
    "pragma_database_list", "pragma_foreign_key_list", "pragma_function_list",
    "pragma_index_info", "pragma_index_list", "pragma_index_xinfo", "pragma_module_list",
    "pragma_pragma_list", "pragma_table_info", "pragma_table_list", "pragma_table_xinfo",
    "printf", "quote", "radians", "random", "randomblob", "sin", "sinh", "soundex",
    "sqlite_compileoption_get", "sqlite_compileoption_used", "sqlite_source_id",
    "sqlite_version", "strftime", "string_agg", "tan", "tanh", "time", "timediff", "total",
    "total_changes", "trunc", "typeof", "unhex", "unicode", "unixepoch", "unlikely", "zeroblob",
];

/// MySQL's pure functions. Sorted.
#[rustfmt::skip]
pub(crate) const PURE_MYSQL: &[&str] = &[
    "acos", "adddate", "addtime", "ascii", "asin", "atan", "atan2", "bin", "bit_and",
    "bit_count", "bit_length", "bit_or", "bit_xor", "char", "connection_id", "conv",
    "convert_tz", "cos", "cot", "crc32", "curdate", "curtime", "database", "date", "date_add",
    "date_format", "date_sub", "datediff", "day", "dayname", "dayofmonth", "dayofweek",
    "dayofyear", "degrees", "elt", "field", "find_in_set", "format", "found_rows",
    "from_unixtime", "group_concat", "hex", "hour", "if", "ifnull", "instr", "isnull",
    "json_array", "json_arrayagg", "json_contains", "json_extract", "json_insert", "json_keys",
    "json_length", "json_object", "json_objectagg", "json_quote", "json_remove", "json_replace",
    "json_set", "json_type", "json_unquote", "json_valid", "last_day", "last_insert_id",
    "lcase", "locate", "log10", "log2", "lpad", "makedate", "md5", "mid", "minute", "month",
    "monthname", "oct", "pi", "pow", "quarter", "radians", "rand", "repeat", "row_count",
    "rpad", "sec_to_time", "second", "sha1", "sha2", "sin", "space", "std", "stddev",
    "str_to_date", "strcmp", "subdate", "substring_index", "sysdate", "tan", "time",
    "time_format", "time_to_sec", "timediff", "timestamp", "timestampadd", "timestampdiff",
    "to_days", "truncate", "ucase", "unhex", "unix_timestamp", "utc_date", "utc_time",
    "utc_timestamp", "uuid", "version", "week", "weekday", "weekofyear", "year", "yearweek",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(name: &str) -> Vec<NamePart<'_>> {
        name.split('.')
            .map(|p| match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(inner) => NamePart { value: inner, quoted: true },
                None => NamePart { value: p, quoted: false },
            })
            .collect()
    }

    fn of(dialect: SqlDialect, name: &str) -> Lookup {
        lookup(dialect, &FunctionLists::default(), &parts(name))
    }

    #[test]
    fn the_lists_are_sorted_and_unique_so_binary_search_finds_every_name() {
        for list in [PURE_COMMON, PURE_POSTGRES, PURE_SQLITE, PURE_MYSQL, ROW_FUNCTIONS] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted: {list:?}");
        }
        assert!(RISKY.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, _) in RISKY {
            for list in [PURE_COMMON, PURE_POSTGRES, PURE_SQLITE, PURE_MYSQL] {
                assert!(!list.contains(name), "{name} is both risky and pure");
            }
        }
    }

    #[test]
    fn risky_names_match_in_any_spelling() {
        let privileged = Lookup::Known(Some(Privileged));
        for name in [
            "pg_read_file",
            "PG_READ_FILE",
            "pg_catalog.pg_read_file",
            "\"pg_read_file\"",
            "x.\"PG_Read_File\"",
        ] {
            assert_eq!(of(SqlDialect::Postgres, name), privileged, "{name}");
        }
        assert_eq!(of(SqlDialect::Sqlite, "Load_Extension"), privileged);
    }

    #[test]
    fn pure_names_match_only_unqualified_and_unquoted_in_postgres() {
        assert_eq!(of(SqlDialect::Postgres, "lower"), Lookup::Known(None));
        assert_eq!(of(SqlDialect::Postgres, "pg_catalog.lower"), Lookup::Known(None));
        assert_eq!(of(SqlDialect::Postgres, "LOWER"), Lookup::Known(None));
        assert_eq!(of(SqlDialect::Postgres, "\"LOWER\""), Lookup::Unknown);
        assert_eq!(of(SqlDialect::Postgres, "evil.lower"), Lookup::Unknown);
        assert_eq!(of(SqlDialect::Sqlite, "json_each"), Lookup::Known(None));
        assert_eq!(of(SqlDialect::Postgres, "json_tree"), Lookup::Unknown);
    }

    #[test]
    fn attribute_notation_counts_listed_functions_and_postgres_builtins() {
        let mut lists = FunctionLists::default();
        lists.add("wipe", Some(Update));
        lists.add("app.export_csv", Some(Privileged));
        lists.add("app.slugify", None);
        lists.add("nextval", None);
        let call = |name: &str| attribute_call(&lists, &parts(name)[0]);
        assert_eq!(call("wipe"), Some(Update));
        assert_eq!(call("WIPE"), Some(Update));
        assert_eq!(call("export_csv"), Some(Privileged));
        assert_eq!(call("pg_terminate_backend"), Some(Privileged));
        assert_eq!(call("\"Dblink_Exec\""), Some(Privileged));
        // Pure, reclassified by the policy, on no list, or no PostgreSQL function at all:
        // a column.
        for column in ["slugify", "nextval", "name", "sleep", "edit", "load_extension"] {
            assert_eq!(call(column), None, "{column}");
        }
        for name in ["lo_import", "lowrite", "setval", "set_config", "query_to_xml", "pg_sleep"] {
            assert!(is_postgres_builtin(name), "{name}");
        }
    }

    #[test]
    fn policy_entries_win_and_the_strictest_entry_counts() {
        let mut lists = FunctionLists::default();
        lists.add("app.slugify", None);
        lists.add("nextval", None);
        lists.add("bump", Some(Update));
        lists.add("twice", None);
        lists.add("twice", Some(StatementClass::Delete));
        let find = |name: &str| lookup(SqlDialect::Postgres, &lists, &parts(name));
        assert_eq!(find("app.slugify"), Lookup::Known(None));
        assert_eq!(find("other.slugify"), Lookup::Unknown);
        assert_eq!(find("nextval"), Lookup::Known(None));
        assert_eq!(find("app.bump"), Lookup::Known(Some(Update)));
        assert_eq!(find("twice"), Lookup::Known(Some(StatementClass::Delete)));
    }
}
