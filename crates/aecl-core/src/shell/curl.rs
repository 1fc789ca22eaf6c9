//! How curl reads an option's name, which is not how getopt does. Before 8.6 (what Debian
//! 12, Ubuntu 22.04 and 24.04 ship) it matched long names without regard to case and took
//! any unambiguous prefix: `--DATA-B @secret` is `--data-binary`, `--Output ~/.bashrc` is
//! `--output`. Since 8.3, `--expand-NAME` is `--NAME` with `{{variables}}` expanded in its
//! value. Every reader of curl's words (the guard, the network operands) takes them from
//! [`prepare`], and the normaliser names long options with [`long_name`], so that each sees
//! the options curl acts on; the program table knows every option curl has
//! ([`options`], generated from curl's own table), so a prefix stands for the options it
//! could abbreviate and nothing else.

use std::borrow::Cow;

use super::ShellArg;

mod options;

pub(super) use options::{FLAG_NAMES, SHORT_FLAGS, SHORT_NAMES, SHORT_VALUES, VALUE_NAMES};

/// A long option's name (without `--`) as curl reads it: in lower case, and without
/// `expand-` before a name (or a prefix of one) that takes a value. Also whether `expand-`
/// was taken off: the value is then only known once curl expands its variables.
pub(super) fn long_name(name: &str) -> (String, bool) {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("expand-")
        && !rest.is_empty()
        && VALUE_NAMES.iter().any(|n| n.starts_with(rest))
    {
        return (rest.to_owned(), true);
    }
    (lower, false)
}

/// curl's words with each long option named as curl reads it ([`long_name`]); the value
/// after an `--expand-` option is marked as built at run time when it holds a `{{`.
pub(super) fn prepare(words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    let mut out: Option<Vec<ShellArg>> = None;
    for (i, word) in words.iter().enumerate() {
        if word.text == "--" {
            break;
        }
        let Some(long) = word.text.strip_prefix("--") else { continue };
        let (name, value) = long.split_once('=').map_or((long, None), |(n, v)| (n, Some(v)));
        let (read, expand) = long_name(name);
        if read == name {
            continue;
        }
        let text = match value {
            Some(value) => format!("--{read}={value}"),
            None => format!("--{read}"),
        };
        let out = out.get_or_insert_with(|| words.to_vec());
        if let Some(word) = out.get_mut(i) {
            word.text = text;
        }
        if expand
            && value.is_none()
            && let Some(next) = out.get_mut(i + 1).filter(|next| next.text.contains("{{"))
        {
            next.expansion = true;
        }
    }
    out.map_or(Cow::Borrowed(words), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_in_lower_case_and_without_expand() {
        assert_eq!(long_name("DATA-Binary"), ("data-binary".to_owned(), false));
        assert_eq!(long_name("expand-output"), ("output".to_owned(), true));
        assert_eq!(long_name("EXPAND-upload-f"), ("upload-f".to_owned(), true));
        // `expand-` before a flag is no prefix curl takes off: the name stays unknown.
        assert_eq!(long_name("expand-insecure"), ("expand-insecure".to_owned(), false));
        assert_eq!(long_name("expand-"), ("expand-".to_owned(), false));
    }

    #[test]
    fn prepared_words_name_options_as_curl_reads_them() {
        let words: Vec<ShellArg> =
            ["--OUTPUT", "x", "--expand-output", "{{home}}/.bashrc", "--", "--URL"]
                .iter()
                .map(|w| ShellArg::known(w))
                .collect();
        let prepared = prepare(&words);
        let texts: Vec<&str> = prepared.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["--output", "x", "--output", "{{home}}/.bashrc", "--", "--URL"]);
        assert!(prepared.get(3).is_some_and(|w| w.expansion && !w.is_known()));
        assert!(prepared.get(1).is_some_and(ShellArg::is_known));
        let plain: Vec<ShellArg> =
            ["-sS", "--data", "x"].iter().map(|w| ShellArg::known(w)).collect();
        assert!(matches!(prepare(&plain), Cow::Borrowed(_)));
    }

    /// The curl entry's own lists (uploads, writes) name options curl has, each read with
    /// or without a value as curl's table says.
    #[test]
    fn the_entrys_lists_name_options_curl_has() {
        let spec = super::super::programs::builtin("curl").expect("curl's entry");
        let lists = [&spec.upload_options, &spec.write_options, &spec.runs_code_options];
        for name in lists.into_iter().flatten() {
            let known = spec.value_options.contains(name) || spec.flag_options.contains(name);
            assert!(known, "{name} is no curl option");
        }
        assert!(
            spec.flag_options.iter().any(|o| o == "-G")
                && spec.upload_options.iter().any(|o| o == "-G")
        );
    }

    #[test]
    fn the_table_knows_each_option_once() {
        for name in VALUE_NAMES {
            assert!(!FLAG_NAMES.contains(name), "{name} both takes a value and does not");
        }
        for letter in SHORT_VALUES.chars() {
            assert!(!SHORT_FLAGS.contains(letter), "-{letter}");
        }
        assert!(VALUE_NAMES.contains(&"data-binary") && VALUE_NAMES.contains(&"keepalive-time"));
        assert!(FLAG_NAMES.contains(&"keepalive") && FLAG_NAMES.contains(&"get"));
    }
}
