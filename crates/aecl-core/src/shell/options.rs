//! Reading a wrapper's own options (`sudo -u root`, `timeout -s KILL 5`, `bash -lc`) so
//! that the word after them, the wrapped command, is found. Which options take a value is
//! given per wrapper; a value that starts with `-` is read as another option instead, so a
//! wrong table entry can add a flag but never hide the command.

use super::word::Word;

/// How one wrapper reads its options.
#[derive(Debug, Default)]
pub(super) struct OptionSpec {
    pub short_values: &'static str,
    pub long_values: &'static [&'static str],
    /// Shells also take options written `+o`.
    pub plus: bool,
    /// `su` reads options after positional arguments too (GNU getopt permutation).
    pub permute: bool,
    /// `env -` and `su -` read a lone `-` as an option.
    pub dash_is_option: bool,
}

/// What a wrapper's options turned out to be.
#[derive(Debug, Default)]
pub(super) struct Options {
    /// Short letters and long names.
    pub flags: Vec<String>,
    /// Option name → value.
    pub values: Vec<(String, Value)>,
    /// Index of the first word after the options (the wrapped command).
    pub end: usize,
    /// Positional words seen while permuting (`su`).
    pub positionals: Vec<usize>,
    /// A long option was abbreviated (`env --uns NAME`, which GNU getopt reads as
    /// `--unset NAME`). Whether it takes the next word depends on every option the program
    /// has, which the table does not list, so the wrapped command is not known: dynamic.
    pub abbreviated: bool,
}

impl Options {
    pub(super) fn has(&self, names: &[&str]) -> bool {
        self.flags.iter().any(|f| names.contains(&f.as_str()))
    }

    pub(super) fn value(&self, names: &[&str]) -> Option<&Value> {
        self.values.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| v)
    }
}

/// The value of an option.
#[derive(Debug, Clone)]
pub(super) struct Value {
    /// The text with expansions replaced by a marker, ready to be parsed again.
    pub source: String,
    /// Whether the value holds an expansion.
    pub dynamic: bool,
}

impl Value {
    pub(super) fn of(word: &Word) -> Value {
        Value { source: word.source_for_reparse(), dynamic: word.has_expansion() }
    }
}

/// A spec with these value-taking options and nothing else.
pub(super) fn spec(short_values: &'static str, long_values: &'static [&'static str]) -> OptionSpec {
    OptionSpec { short_values, long_values, ..OptionSpec::default() }
}

/// Reads a wrapper's options. Stops at the first word that is not an option (unless
/// permuting), after `--`, and at a word with an expansion: whether that is an option or
/// the command is only known at run time, so it is left as the command, which is then
/// dynamic.
pub(super) fn scan(words: &[&Word], spec: &OptionSpec) -> Options {
    let mut options = Options::default();
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if word.has_expansion() || word.has_pattern() {
            break;
        }
        let text = word.text();
        if text == "--" {
            i += 1;
            if spec.permute {
                options.positionals.extend(i..words.len());
                i = words.len();
            }
            break;
        }
        let option = (text.len() > 1
            && (text.starts_with('-') || (spec.plus && text.starts_with('+'))))
            || (text == "-" && spec.dash_is_option);
        if !option {
            if spec.permute {
                options.positionals.push(i);
                i += 1;
                continue;
            }
            break;
        }
        // A value in the next word; one starting with `-` is read as another option so
        // that a wrong table entry cannot hide the command.
        let next = words.get(i + 1).filter(|n| n.has_expansion() || !n.text().starts_with('-'));
        let mut takes_next = false;
        if let Some(long) = text.strip_prefix("--") {
            let (name, value) = long.split_once('=').map_or((long, None), |(n, v)| (n, Some(v)));
            options.flags.push(name.to_owned());
            if !spec.long_values.contains(&name)
                && spec.long_values.iter().any(|known| known.starts_with(name))
            {
                options.abbreviated = true;
            }
            if let Some(value) = value {
                options
                    .values
                    .push((name.to_owned(), Value { source: value.to_owned(), dynamic: false }));
            } else if spec.long_values.contains(&name)
                && let Some(next) = next
            {
                options.values.push((name.to_owned(), Value::of(next)));
                takes_next = true;
            }
        } else {
            let cluster: Vec<char> = text.chars().skip(1).collect();
            for (k, c) in cluster.iter().enumerate() {
                options.flags.push(c.to_string());
                if spec.short_values.contains(*c) {
                    let attached: String = cluster.iter().skip(k + 1).collect();
                    if !attached.is_empty() {
                        options
                            .values
                            .push((c.to_string(), Value { source: attached, dynamic: false }));
                    } else if let Some(next) = next {
                        options.values.push((c.to_string(), Value::of(next)));
                        takes_next = true;
                    }
                    break;
                }
            }
        }
        i += if takes_next { 2 } else { 1 };
    }
    options.end = i;
    options
}

/// Joins words with spaces as code for another parse (`eval`, `watch`, `sudo -s`).
pub(super) fn join(words: &[&Word]) -> Value {
    let sources: Vec<String> = words.iter().map(|w| w.source_for_reparse()).collect();
    Value { source: sources.join(" "), dynamic: words.iter().any(|w| w.has_expansion()) }
}
