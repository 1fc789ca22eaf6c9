//! C compilers and linkers (gcc, clang, ld): what they write and what code they load
//! beyond their own options in the table. A response file (`@FILE`, clang's `--config`)
//! holds any option. gcc passes options on to the linker (`-Wl,A,B`, `-Xlinker A`,
//! `--for-linker=A`), the assembler (`-Wa,`, `-Xassembler`, `--for-assembler`) and the
//! preprocessor (`-Wp,`, `-Xpreprocessor`), clang to its front end (`-Xclang`): those are
//! read in order as that tool reads its own, long names after one dash or two and by
//! any unambiguous prefix (`-Wl,--outpu=F`, `-Xlinker -Ma -Xlinker F`), so that a file it
//! writes is judged as a write and a plugin or script it runs as code. The compiler's
//! dump and record options (`-fdump-tree-all=F`, `-fopt-info=F`) write where they name.

use super::ShellArg;
use super::finding::Finding;

/// A tool the compiler passes options on to, and how it reads them.
struct Tool {
    name: &'static str,
    /// Long options whose value (after `=` or the next argument) is a file it writes.
    writes: &'static [&'static str],
    /// Long options that load or run code, or name a file of instructions.
    code: &'static [&'static str],
    /// Short options whose value (glued or next) is a file it writes.
    short_writes: &'static [char],
}

const LINKER: Tool = Tool {
    name: "linker",
    writes: &["output", "Map", "dependency-file", "out-implib", "output-def", "lto-obj-path"],
    // A linker script names the files it writes (`OUTPUT(F)`): judged as code.
    code: &[
        "plugin",
        "error-handling-script",
        "script",
        "default-script",
        "load-pass-plugin",
        "T",
        "dT",
    ],
    short_writes: &['o'],
};

const ASSEMBLER: Tool =
    Tool { name: "assembler", writes: &["MD", "output"], code: &[], short_writes: &['o'] };

const PREPROCESSOR: Tool = Tool {
    name: "preprocessor",
    writes: &["MF", "MD", "MMD", "output", "dependency-file"],
    code: &["fplugin", "load"],
    short_writes: &['o'],
};

const FRONT_END: Tool = Tool {
    name: "front end",
    writes: &["dependency-file", "o", "main-file-name"],
    code: &["load", "plugin", "add-plugin", "fpass-plugin", "load-pass-plugin"],
    short_writes: &['o'],
};

/// The compiler's own options whose value, after `=`, is a file or directory it writes.
const DUMPS: [&str; 11] = [
    "-fdump-",
    "-fopt-info",
    "-foptimization-record-file",
    "-fmodules-cache-path",
    "-ftime-trace",
    "-fcrash-diagnostics-dir",
    "-fprofile-generate",
    "-fprofile-instr-generate",
    "-fprofile-dir",
    "-fcs-profile-generate",
    "-fprofile-note",
];

/// Adds what `words` (a compiler's or linker's arguments) write and run beyond the table.
pub(super) fn read(program: &str, words: &[ShellArg], out: &mut Vec<Finding>) {
    if let Some(file) = words.iter().find(|w| w.text.starts_with('@')) {
        out.push(Finding::RunsCode(format!("`{}` reads options from a file", file.raw)));
    }
    // A second compile with more options (`-fcompare-debug=-fplugin=P`), and g++'s module
    // mapper, which may be a program (`-fmodule-mapper='|P'`).
    const OPTIONS_ELSEWHERE: [&str; 3] =
        ["-fcompare-debug=", "--compare-debug=", "-fmodule-mapper"];
    if let Some(word) =
        words.iter().find(|w| OPTIONS_ELSEWHERE.iter().any(|o| w.text.starts_with(o)))
    {
        out.push(Finding::RunsCode(format!("`{}` may run a program or load code", word.raw)));
    }
    for word in words {
        if let Some(value) = dump_file(&word.text) {
            push_write(value, word, out);
        }
        // The output, and the dependency file, glued to their options (`-oF`, `-MFF`,
        // clang's `-MJF`), which the table reads only apart.
        let glued = ["-MF", "-MJ", "-o"].iter().find_map(|o| word.text.strip_prefix(o));
        if let Some(value) = glued.filter(|v| !v.is_empty() && !v.starts_with("bjc")) {
            push_write(value, word, out);
        }
    }
    // `ld` itself reads its own options the way it reads those passed on.
    let streams = if program == "ld" {
        vec![(&LINKER, words.iter().map(|w| (w.text.as_str(), w)).collect())]
    } else {
        passed_on(words)
    };
    for (tool, args) in streams {
        read_tool(tool, &args, out);
    }
    if program != "ld" {
        default_outputs(words, out);
    }
}

/// What the compiler writes in the working directory when no `-o` names it: `a.out`, or
/// beside no source but in the working directory, each source's `.o` (`-c`) or `.s`
/// (`-S`); nothing for `-E` and the dependency modes, which print.
fn default_outputs(words: &[ShellArg], out: &mut Vec<Finding>) {
    let given = |name: &str| words.iter().any(|w| w.text == name);
    let output = words.iter().any(|w| w.text.starts_with("-o") || w.text.starts_with("--output"));
    let sources = words.iter().any(|w| !w.text.starts_with('-') && w.text.contains('.'));
    if output || !sources || ["-E", "-M", "-MM", "-fsyntax-only"].iter().any(|o| given(o)) {
        return;
    }
    let suffix = match (given("-c"), given("-S")) {
        (true, _) => ".o",
        (_, true) => ".s",
        _ => {
            out.push(Finding::Writes(ShellArg::known("a.out")));
            return;
        }
    };
    for source in words.iter().filter(|w| !w.text.starts_with('-') && w.text.contains('.')) {
        if !source.is_known() {
            out.push(super::archives::run_time(format!("the object of `{}`", source.raw)));
            continue;
        }
        let name = source.text.rsplit('/').next().unwrap_or_default();
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        out.push(Finding::Writes(ShellArg::known(&format!("{stem}{suffix}"))));
    }
}

/// The arguments the compiler passes on, by tool, in order.
fn passed_on(words: &[ShellArg]) -> Vec<(&'static Tool, Vec<(&str, &ShellArg)>)> {
    let mut streams: Vec<(&'static Tool, Vec<(&str, &ShellArg)>)> =
        [&LINKER, &ASSEMBLER, &PREPROCESSOR, &FRONT_END]
            .into_iter()
            .map(|t| (t, Vec::new()))
            .collect();
    let mut i = 0;
    while let Some(word) = words.get(i) {
        i += 1;
        let text = word.text.as_str();
        if !text.starts_with('-') || text == "-" {
            // An input is passed on to the linker in its place: after `-Wl,-o` it is the
            // linker's output (`gcc x.c -Wl,-o /root/.bashrc`).
            if let Some((_, args)) = streams.first_mut() {
                args.push((text, word));
            }
            continue;
        }
        // gcc reads `--warn-l,A` as `-Wl,A`.
        let glued = [
            ("-Wl,", 0),
            ("--warn-l,", 0),
            ("-Wa,", 1),
            ("--warn-a,", 1),
            ("-Wp,", 2),
            ("--warn-p,", 2),
        ]
        .into_iter()
        .find_map(|(prefix, tool)| text.strip_prefix(prefix).map(|rest| (tool, rest)));
        if let Some((tool, rest)) = glued {
            if let Some((_, args)) = streams.get_mut(tool) {
                args.extend(rest.split(',').map(|a| (a, word)));
            }
            continue;
        }
        let separate = [
            ("-Xlinker", 0),
            ("--for-linker", 0),
            ("-Xassembler", 1),
            ("--for-assembler", 1),
            ("-Xpreprocessor", 2),
            ("-Xclang", 3),
        ]
        .into_iter()
        .find_map(|(option, tool)| {
            if text == option {
                Some((tool, None))
            } else {
                text.strip_prefix(option).and_then(|r| r.strip_prefix('=')).map(|v| (tool, Some(v)))
            }
        });
        let Some((tool, value)) = separate else {
            // gcc's own option, and the value it may take: nothing the linker is given, but
            // what a passed-on option expecting a value would take is then not known
            // (`gcc -Wl,-o -x none /root/.bashrc`).
            if let Some((_, args)) = streams.first_mut() {
                args.push((UNKNOWN, word));
            }
            continue;
        };
        // The next argument, whatever it starts with (`-Xlinker -o`).
        let (arg, from) = match value {
            Some(value) => (value, word),
            None => match words.get(i) {
                Some(next) => {
                    i += 1;
                    (next.text.as_str(), next)
                }
                None => continue,
            },
        };
        if let Some((_, args)) = streams.get_mut(tool) {
            args.push((arg, from));
        }
    }
    streams.retain(|(_, args)| !args.is_empty());
    streams
}

/// Stands in a tool's arguments for one of the compiler's own options: taken as a value,
/// the value is not known.
const UNKNOWN: &str = "\0";

/// Reads one tool's arguments as it does.
fn read_tool(tool: &Tool, args: &[(&str, &ShellArg)], out: &mut Vec<Finding>) {
    let mut i = 0;
    // The argument after the one at `i - 1`, taken as its value.
    let next = |i: &mut usize| {
        let value = args.get(*i).map(|&(next, _)| next);
        *i += 1;
        value
    };
    while let Some(&(arg, word)) = args.get(i) {
        i += 1;
        if !word.is_known() || arg.starts_with('@') {
            out.push(Finding::RunsCode(format!(
                "`{}` passes the {} options only known at run time or read from a file",
                word.raw, tool.name
            )));
            continue;
        }
        let Some(single) = arg.strip_prefix('-') else { continue };
        if let Some(value) = dump_file(arg) {
            push_write(value, word, out);
            continue;
        }
        let double = single.strip_prefix('-');
        let option = double.unwrap_or(single);
        let (name, inline) = option.split_once('=').map_or((option, None), |(n, v)| (n, Some(v)));
        // A long name or an unambiguous prefix of one; one letter only where it cannot be
        // a short option (`--M`, `-M=F`: ld takes both for `-Map`).
        let long = name.len() >= 2 || double.is_some() || inline.is_some();
        let names =
            |list: &[&str]| list.iter().any(|o| *o == name || (long && o.starts_with(name)));
        // A linker script, glued on too (`-Tfile`): it names the files the linker writes.
        let script = tool.name == "linker" && single.starts_with('T');
        if script || names(tool.code) {
            out.push(Finding::RunsCode(format!(
                "`{}` makes the {} load or run code (`{arg}`)",
                word.raw, tool.name
            )));
            continue;
        }
        if name == "plugin-opt" {
            // The LTO plugin's own options: `-fresolution=F` and `obj-path=F` write F.
            let value = inline.or_else(|| next(&mut i)).unwrap_or_default();
            if value.contains("resolution") || value.contains("obj-path") {
                push_write(value.rsplit_once('=').map_or(value, |(_, path)| path), word, out);
            }
            continue;
        }
        let value = if names(tool.writes) {
            inline.or_else(|| next(&mut i))
        } else if let Some(letter) = single.chars().next().filter(|c| tool.short_writes.contains(c))
        {
            // `-o FILE`, or the file glued on (`-ofile`, `-o/x/a=b.sh`, `=` and all).
            match single.get(letter.len_utf8()..) {
                Some("") => next(&mut i),
                glued => glued,
            }
        } else if tool.name == "assembler" && name.starts_with('a') {
            // `-a[cdghlmns]=FILE`: a listing.
            inline
        } else {
            None
        };
        if let Some(value) = value {
            push_write(value, word, out);
        }
    }
}

/// The file a compiler's dump or record option writes (`-fdump-tree-all=F`, and gcc's
/// `--dump-tree-all=F` for the same).
fn dump_file(arg: &str) -> Option<&str> {
    let (name, value) = arg.split_once('=')?;
    let name = name.strip_prefix("--").map_or(name.to_owned(), |rest| format!("-f{rest}"));
    DUMPS.iter().any(|d| name.starts_with(d)).then_some(value)
}

fn push_write(value: &str, word: &ShellArg, out: &mut Vec<Finding>) {
    if value == UNKNOWN {
        out.push(Finding::Writes(ShellArg {
            raw: format!("the file `{}` makes the linker write", word.raw),
            expansion: true,
            ..ShellArg::default()
        }));
        return;
    }
    out.push(Finding::Writes(ShellArg {
        text: value.to_owned(),
        raw: value.to_owned(),
        ..word.clone()
    }));
}
