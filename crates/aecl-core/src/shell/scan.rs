//! Reading a command's words with its program table entry: options (clusters, `=` values,
//! abbreviations of long options, which stand for every option they could abbreviate),
//! their values and the positional arguments. A word only known at run time where an
//! option could be is noted (`Scanned::unknown_option`): it may be any option.

use super::ShellArg;
use super::programs::ProgramSpec;

/// An option as read: every name it may stand for, and its value.
#[derive(Debug, Clone)]
pub(super) struct ScannedOption {
    pub names: Vec<String>,
    pub value: Option<ShellArg>,
}

/// A command's words read with its table entry.
#[derive(Debug, Clone, Default)]
pub(super) struct Scanned {
    pub options: Vec<ScannedOption>,
    pub positionals: Vec<ShellArg>,
    /// A word only known at run time stood where an option could.
    pub unknown_option: bool,
}

impl Scanned {
    /// The values of the options named any of `names`.
    pub(super) fn values<'a>(
        &'a self,
        names: &'a [&str],
    ) -> impl Iterator<Item = &'a ShellArg> + 'a {
        self.options
            .iter()
            .filter(|o| o.names.iter().any(|n| names.contains(&n.as_str())))
            .filter_map(|o| o.value.as_ref())
    }

    pub(super) fn has(&self, names: &[&str]) -> bool {
        self.options.iter().any(|o| o.names.iter().any(|n| names.contains(&n.as_str())))
    }

    /// `has`, or an option given as an unambiguous prefix of one of `names` (GNU tools take
    /// `--cre` for `--create`): a prefix stands for every option it could abbreviate.
    pub(super) fn has_abbreviated(&self, names: &[&str]) -> bool {
        self.has(names)
            || self
                .options
                .iter()
                .flat_map(|o| &o.names)
                .any(|given| names.iter().any(|n| abbreviates(given, n)))
    }
}

/// Reads words with a table entry.
pub(super) fn scan(spec: &ProgramSpec, words: &[ShellArg]) -> Scanned {
    let mut out = Scanned::default();
    let takes_value = |name: &str| {
        !spec.flag_options.iter().any(|o| o == name)
            && [
                &spec.value_options,
                &spec.write_options,
                &spec.runs_code_options,
                &spec.upload_options,
            ]
            .iter()
            .any(|list| list.iter().any(|o| o == name))
    };
    let multi_char_single_dash: Vec<&String> = [
        &spec.value_options,
        &spec.write_options,
        &spec.runs_code_options,
        &spec.upload_options,
        &spec.in_place_options,
    ]
    .into_iter()
    .flatten()
    .filter(|o| !o.starts_with("--") && o.len() > 2)
    .collect();
    let mut only_positionals = false;
    let mut i = 0;
    while let Some(word) = words.get(i) {
        i += 1;
        let text = word.text.as_str();
        // The next word as an option's value, and how many words that takes. A lone `-` is
        // a value (standard input or output: `make -f -`, `tar -f -`). getopt gives an
        // option that requires a value the next word whatever it starts with (`cp -t
        // -x/../../etc`, red team round 20, F04), while a wrong table entry must not hide
        // an option either: a word starting with `-` is read both ways, as this value and
        // then as options of its own.
        let next_value = |i: usize| match words.get(i) {
            Some(n) if n.is_known() && n.text.starts_with('-') && n.text != "-" => {
                (Some(n.clone()), 0)
            }
            Some(n) => (Some(n.clone()), 1),
            None => (None, 0),
        };
        // A glob or brace that starts like an option (`\-*` matching a file named
        // `--pre=sh`) may be any option, however it is read below.
        if !only_positionals && word.pattern && word.may_be_option() {
            out.unknown_option = true;
        }
        if only_positionals
            || !text.starts_with('-')
            || text == "-"
            || (word.expansion && text.len() <= 1)
        {
            if !only_positionals && word.may_be_option() {
                out.unknown_option = true;
            }
            out.positionals.push(word.clone());
            if spec.options_end_at_positional {
                only_positionals = true;
            }
            continue;
        }
        if text == "--" {
            only_positionals = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--").filter(|_| !spec.whole_word_options) {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => {
                    (n, Some(ShellArg { text: v.to_owned(), raw: v.to_owned(), ..word.clone() }))
                }
                None => (long, None),
            };
            let given = if spec.long_any_case {
                format!("--{}", name.to_ascii_lowercase())
            } else {
                format!("--{name}")
            };
            let names = expand_long(spec, &given);
            let mut value = value;
            if value.is_none() && names.iter().any(|n| takes_value(n)) {
                let taken;
                (value, taken) = next_value(i);
                i += taken;
            }
            out.options.push(ScannedOption { names, value });
            continue;
        }
        if spec.whole_word_options {
            // `-name`, `--name`, `-name=value`: one option (`-o=x` is `-o` with `x`).
            let text = text.strip_prefix('-').filter(|t| t.starts_with('-')).unwrap_or(text);
            let (name, value) = match text.split_once('=') {
                Some((n, v)) => {
                    (n, Some(ShellArg { text: v.to_owned(), raw: v.to_owned(), ..word.clone() }))
                }
                None => (text, None),
            };
            let name = if spec.long_any_case { name.to_ascii_lowercase() } else { name.to_owned() };
            let name = name.as_str();
            // Go's `flag` takes the next word as the value whatever it starts with
            // (`-ldflags "-extld=..."`).
            let mut value = value;
            if value.is_none() && takes_value(name) {
                value = words.get(i).cloned();
                if value.is_some() {
                    i += 1;
                }
            }
            out.options.push(ScannedOption { names: vec![name.to_owned()], value });
            continue;
        }
        if let Some(option) = multi_char_single_dash
            .iter()
            .find(|o| text == o.as_str() || text.starts_with(&format!("{o}=")))
        {
            let mut value = text.split_once('=').map(|(_, v)| ShellArg {
                text: v.to_owned(),
                raw: v.to_owned(),
                ..word.clone()
            });
            if value.is_none() && takes_value(option) {
                let taken;
                (value, taken) = next_value(i);
                i += taken;
            }
            out.options.push(ScannedOption { names: vec![(*option).clone()], value });
            continue;
        }
        let cluster: Vec<char> = text.chars().skip(1).collect();
        for (k, c) in cluster.iter().enumerate() {
            let name = format!("-{c}");
            if spec.attached_value_options.contains(&name) {
                let attached: String = cluster.iter().skip(k + 1).collect();
                let value = (!attached.is_empty()).then(|| ShellArg {
                    text: attached.clone(),
                    raw: attached,
                    ..word.clone()
                });
                out.options.push(ScannedOption { names: vec![name], value });
                break;
            }
            if takes_value(&name) {
                let attached: String = cluster.iter().skip(k + 1).collect();
                let value = if attached.is_empty() {
                    let (v, taken) = next_value(i);
                    i += taken;
                    v
                } else {
                    Some(ShellArg { text: attached.clone(), raw: attached, ..word.clone() })
                };
                out.options.push(ScannedOption { names: vec![name], value });
                break;
            }
            out.options.push(ScannedOption { names: vec![name], value: None });
        }
    }
    out
}

/// The long options `given` may stand for: itself when the entry names it, else (for a
/// program that takes abbreviations) every option it abbreviates.
fn expand_long(spec: &ProgramSpec, given: &str) -> Vec<String> {
    if !spec.long_prefixes || spec.long_options().any(|o| o == given) || given.len() <= 2 {
        return vec![given.to_owned()];
    }
    let mut names: Vec<String> =
        spec.long_options().filter(|o| o.starts_with(given)).map(str::to_owned).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        names.push(given.to_owned());
    }
    names
}

/// Whether `given` (`--cre`) is a prefix of the long option `option` (`--create`) as GNU
/// getopt, tar and git read one: two dashes and two letters at least. Where a program's
/// other options are not all known, any such prefix is taken to stand for `option`.
pub(super) fn abbreviates(given: &str, option: &str) -> bool {
    given.len() >= 4 && given.starts_with("--") && option.starts_with(given)
}
