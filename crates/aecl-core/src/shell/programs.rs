//! The program table: what each known program can do through its options, subcommands
//! and arguments — run code of the caller's choosing, send local data over the network,
//! write files — as data. Policies extend or override it per program
//! (`[...shell.programs.NAME]`); a program in neither is *unknown*.
//!
//! The built-in entries are in `programs/builtin.rs`. Where a program has a grammar of its
//! own (git's subcommands and configuration, tar's old-style options, sed and awk
//! scripts, `dd`'s operands), the entry names a [`Special`] reader in `special.rs`; every
//! other fact is in the entry.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use foldhash::fast::FixedState;

mod builtin;

/// Which positional arguments a program writes (creates, overwrites, moves or deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Writes {
    /// None of them.
    #[default]
    None,
    /// Every one (`rm`, `touch`, `tee`, `mv`: the sources are removed too).
    All,
    /// The last one, when there are at least two (`cp`, `ln`, `install`).
    Last,
    /// All but the first (`chmod MODE FILE...`, `chown OWNER FILE...`).
    AfterFirst,
    /// The second (`uniq IN OUT`, `xxd -r IN OUT`, `split FILE PREFIX`).
    Second,
}

/// A reader for a program whose grammar the table cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// Subcommands, `config` keys, `--upload-pack`, `clone DIR`, ...
    Git,
    /// Old-style option clusters, `--checkpoint-action`, extraction targets.
    Tar,
    /// The script: `e` command, `s///e`, `w FILE`.
    Sed,
    /// The program: `system()`, pipes, `print > FILE`.
    Awk,
    /// `of=FILE`.
    Dd,
    /// `NAME=VALUE` overrides that can inject recipe code.
    Make,
    /// `-m MODULE`: only a few modules are plain tools.
    Python,
    /// Non-`GET` methods (`-X POST`, `--method=PUT`).
    HttpClient,
    /// An HTTP client, and curl's own ways of building a request at run time or sending
    /// it elsewhere than its URL (`--variable`, `--expand-*`, proxies, `--connect-to`).
    Curl,
    /// C compilers and linkers: response files (`@FILE`), the options they pass on to the
    /// linker, assembler, preprocessor and front end (`-Wl,-o,FILE`, `-Xlinker -plugin`),
    /// and their dump files (`cc.rs`).
    Cc,
    /// node reads `_` in a long option's name as `-`; its debugger on another address
    /// than the loopback one.
    Node,
    /// perl's and ruby's `-0` and `-l` take only the digits glued to them.
    Perl,
    /// zip's own option reader (`-qlfPATH` is `-q`, `-lf PATH`), and `-m` deleting the
    /// files named on standard input.
    Zip,
    /// go's flags for the tools it runs and for test binaries (`-ldflags=-extld=PROGRAM`,
    /// `-test.cpuprofile=F`), and `go clean`'s caches.
    Go,
    /// `-o ProxyCommand=...` and the like.
    Ssh,
    /// A remote destination (`host:path`) uploads; a local one is written.
    RemoteCopy,
    /// `+COMMAND` words run editor or pager commands.
    PlusCommand,
    /// GitHub's CLI: what its subcommands publish (`gist create`, `release upload`, `api
    /// -f`) and the commands and programs it keeps to run later (`alias set`, `extension
    /// install`, `config set editor`).
    Gh,
    /// `install PACKAGE` runs the package's scripts; a bare `install` uses the lock file.
    PackageManager,
    /// An archive's members are written under the working directory or `-d DIR`, unless
    /// it only lists, tests or prints them.
    Unzip,
    /// The files a patch names are written under the working directory or `-d DIR`.
    Patch,
    /// cargo: `+TOOLCHAIN`, `new`/`init`/`vendor PATH`, `rustc -- ARGS`.
    Cargo,
    /// rustc: `+TOOLCHAIN`, `--emit KIND=PATH`, `--print KIND=PATH`.
    Rustc,
    /// A decompressor writes each operand without its suffix; gzip's `-N` a stored name.
    Compressor,
    /// An archiver whose extraction mode is a word or an option (`jar xf`, `ar x`, `cpio
    /// -i`, `dpkg-deb -x`, `7z x`): the archive's members, under the working directory.
    Extractor,
    /// pytest: `-p PLUGIN`, `-o KEY=VALUE`, `-W` filters, `--cov-report TYPE:PATH`.
    Pytest,
    /// argparse's `@FILE` reads more options from a file (mypy).
    OptionsFiles,
    /// cloc: `--vcs CMD` runs a shell command.
    Cloc,
    /// `file -C` writes `NAME.mgc` into the current directory.
    File,
    /// eslint's `-f`: a formatter that is not built in is a module it loads.
    Eslint,
    /// deno's scripts named by a registry or a URL (`deno run npm:x`), and its debugger.
    Deno,
    /// tsc: a project (`-p DIR`, `--build DIR`) outside the working tree names its own
    /// outputs.
    Tsc,
}

/// What one program can do, as data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgramSpec {
    /// It runs code of the caller's choosing whatever its arguments (`npx`, `parallel`).
    pub runs_code: bool,
    /// It sends data over the network whatever its arguments (`ssh`, `nc`).
    pub uploads: bool,
    /// Without a positional argument it runs code read from its standard input
    /// (`python3`, `perl`, `node`).
    pub stdin_code: bool,
    /// Options end at the first positional argument (interpreters: what follows the
    /// script is the script's).
    pub options_end_at_positional: bool,
    /// It accepts unambiguous prefixes of long options (`--data-b` for
    /// `--data-binary`), as GNU getopt, curl and git do; a prefix then stands for every
    /// option it could abbreviate.
    pub long_prefixes: bool,
    /// It reads long option names in any case (less: `--Log-file`).
    pub long_any_case: bool,
    /// Every option is one word, after one dash or two alike, with its value after `=` or
    /// as the next word, as Go's `flag` package reads them (`go build -o=x`, `--o x`): no
    /// clusters of letters.
    pub whole_word_options: bool,
    /// Options that take a value (`-o`, `--output`), so the value is not a positional.
    pub value_options: Vec<String>,
    /// Options known to take no value, where the table knows every option the program has
    /// (curl's): a name here never takes the next word, whatever other list names it
    /// (`-G` sends data but takes no value), and an abbreviation expands to these too.
    pub flag_options: Vec<String>,
    /// Short options whose value is optional and only ever attached, so the letters after
    /// one in a cluster are its value and never more options (sed's `-i[SUFFIX]`: `-il`
    /// is the suffix `l`, not `-i -l` taking the script as `-l`'s value).
    pub attached_value_options: Vec<String>,
    /// Options that make it run code (`--upload-pack`, `-c`, `--pre`).
    pub runs_code_options: Vec<String>,
    /// Options that send local data (`--data`, `--upload-file`, `--post-file`).
    pub upload_options: Vec<String>,
    /// Options whose value is a path it writes (`-o FILE`, `--target-directory DIR`).
    pub write_options: Vec<String>,
    /// Options that make it write its positional arguments (`sed -i`, `prettier --write`).
    pub in_place_options: Vec<String>,
    /// Which positional arguments it writes.
    pub writes: Writes,
    /// First positional arguments that make it run code (`npm exec`, `bisect run`).
    pub runs_code_subcommands: Vec<String>,
    /// First positional arguments that send data (`npm publish`, `cargo publish`).
    pub upload_subcommands: Vec<String>,
    /// It reaches other hosts whatever its arguments (`curl`, `wget`, `scp`): what it is
    /// given (a URL's path and query, a name to look up) may leave the machine, so a run
    /// that read private data and untrusted content counts it as sending data out.
    pub network: bool,
    /// First positional arguments that reach other hosts (`npm view`, `cargo search`),
    /// besides those of `runs_code_subcommands` and `upload_subcommands`, which count
    /// anyway (`network.rs`); `""` for the program run without one (a bare `yarn`
    /// installs).
    pub network_subcommands: Vec<String>,
    /// A reader for a grammar of its own.
    pub special: Option<Special>,
}

impl ProgramSpec {
    /// Every long option the entry names, for expanding abbreviations.
    pub(super) fn long_options(&self) -> impl Iterator<Item = &str> {
        self.value_options
            .iter()
            .chain(&self.flag_options)
            .chain(&self.runs_code_options)
            .chain(&self.upload_options)
            .chain(&self.write_options)
            .chain(&self.in_place_options)
            .map(String::as_str)
            .filter(|o| o.starts_with("--"))
    }
}

/// One built-in entry, written as constant data.
#[derive(Debug, Clone, Copy)]
struct Entry {
    names: &'static [&'static str],
    runs_code: bool,
    uploads: bool,
    stdin_code: bool,
    options_end_at_positional: bool,
    long_prefixes: bool,
    long_any_case: bool,
    whole_word_options: bool,
    value_options: &'static [&'static str],
    attached_value_options: &'static [&'static str],
    /// Every option the program has, from its own source, beside the lists above.
    all_options: Option<AllOptions>,
    runs_code_options: &'static [&'static str],
    upload_options: &'static [&'static str],
    write_options: &'static [&'static str],
    in_place_options: &'static [&'static str],
    writes: Writes,
    runs_code_subcommands: &'static [&'static str],
    upload_subcommands: &'static [&'static str],
    network: bool,
    network_subcommands: &'static [&'static str],
    special: Option<Special>,
}

/// Every option of a program, as generated from its source (curl's: `curl_options.rs`).
#[derive(Debug, Clone, Copy)]
struct AllOptions {
    /// Long names (without `--`) that take a value.
    long_values: &'static [&'static str],
    /// Long names that take none.
    long_flags: &'static [&'static str],
    /// Short letters that take a value.
    short_values: &'static str,
    /// Short letters that take none.
    short_flags: &'static str,
}

/// An entry that can do nothing of note: the base the built-in entries are written from.
const PLAIN: Entry = Entry {
    names: &[],
    runs_code: false,
    uploads: false,
    stdin_code: false,
    options_end_at_positional: false,
    long_prefixes: true,
    long_any_case: false,
    whole_word_options: false,
    value_options: &[],
    attached_value_options: &[],
    all_options: None,
    runs_code_options: &[],
    upload_options: &[],
    write_options: &[],
    in_place_options: &[],
    writes: Writes::None,
    runs_code_subcommands: &[],
    upload_subcommands: &[],
    network: false,
    network_subcommands: &[],
    special: None,
};

impl Entry {
    fn spec(&self) -> ProgramSpec {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        let mut value_options: Vec<String> = owned(self.value_options);
        let mut flag_options = Vec::new();
        if let Some(all) = self.all_options {
            let long = |names: &[&str]| names.iter().map(|n| format!("--{n}")).collect::<Vec<_>>();
            let short =
                |letters: &str| letters.chars().map(|c| format!("-{c}")).collect::<Vec<_>>();
            value_options.extend(long(all.long_values));
            value_options.extend(short(all.short_values));
            flag_options.extend(long(all.long_flags));
            flag_options.extend(short(all.short_flags));
        }
        ProgramSpec {
            runs_code: self.runs_code,
            uploads: self.uploads,
            stdin_code: self.stdin_code,
            options_end_at_positional: self.options_end_at_positional,
            long_prefixes: self.long_prefixes,
            long_any_case: self.long_any_case,
            whole_word_options: self.whole_word_options,
            value_options,
            flag_options,
            attached_value_options: owned(self.attached_value_options),
            runs_code_options: owned(self.runs_code_options),
            upload_options: owned(self.upload_options),
            write_options: owned(self.write_options),
            in_place_options: owned(self.in_place_options),
            writes: self.writes,
            runs_code_subcommands: owned(self.runs_code_subcommands),
            upload_subcommands: owned(self.upload_subcommands),
            network: self.network,
            network_subcommands: owned(self.network_subcommands),
            special: self.special,
        }
    }
}

/// The built-in table: each program name, with the index of its entry (a later entry
/// naming the same program wins). A hash table with a fixed hasher: built at the first
/// lookup of each `aecl hook` process, where a sorted map's string comparisons cost a
/// twentieth of the whole call.
static BY_NAME: LazyLock<HashMap<&'static str, usize, FixedState>> = LazyLock::new(|| {
    let names = builtin::entries().map(|entry| entry.names.len()).sum();
    let mut table = HashMap::with_capacity_and_hasher(names, FixedState::default());
    for (index, entry) in builtin::entries().enumerate() {
        for name in entry.names {
            table.insert(*name, index);
        }
    }
    table
});

/// Each entry's spec, built the first time a program of it is looked up. `aecl hook` is a
/// process per tool call that looks up a handful of programs: building the spec of all
/// 333 names up front took about 150 µs of its start.
static SPECS: LazyLock<Vec<OnceLock<ProgramSpec>>> =
    LazyLock::new(|| (0..builtin::len()).map(|_| OnceLock::new()).collect());

fn entry_spec(index: usize) -> Option<&'static ProgramSpec> {
    let entry = builtin::entry(index)?;
    Some(SPECS.get(index)?.get_or_init(|| entry.spec()))
}

/// The built-in entry of `program` (a canonical program name). Versioned names
/// (`python3.12`, `pip3.11`) fall back to their stem.
pub fn builtin(program: &str) -> Option<&'static ProgramSpec> {
    if let Some(&index) = BY_NAME.get(program) {
        return entry_spec(index);
    }
    let stem = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if stem.len() < program.len() && !stem.is_empty() {
        return BY_NAME.get(stem).and_then(|&index| entry_spec(index));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Every name finds its entry's spec (the last entry naming it), the same one for
    /// every name of an entry; a versioned name finds its stem's; others find nothing.
    #[test]
    fn every_name_finds_the_spec_of_the_last_entry_naming_it() {
        let mut last = BTreeMap::new();
        for (index, entry) in builtin::entries().enumerate() {
            for name in entry.names {
                last.insert(*name, index);
            }
        }
        let mut names: Vec<&str> = BY_NAME.keys().copied().collect();
        names.sort_unstable();
        assert_eq!(names, last.keys().copied().collect::<Vec<_>>());
        for (name, index) in &last {
            let found = builtin(name).expect("a built-in name");
            let entry = builtin::entry(*index).expect("an entry");
            assert_eq!(*found, entry.spec(), "{name}");
            assert!(std::ptr::eq(found, builtin(name).expect("again")), "{name}: built once");
        }
        assert_eq!(builtin("python3.12"), builtin("python"));
        assert!(builtin("python3.12").is_some());
        assert_eq!(builtin("no-such-program"), None);
        assert_eq!(builtin("3.12"), None);
        assert_eq!(builtin::entries().count(), builtin::len());
        assert!(builtin::entry(builtin::len()).is_none());
    }

    /// The curl entry's own lists (uploads, writes) name options curl has, each read with
    /// or without a value as curl's table says.
    #[test]
    fn the_entrys_lists_name_options_curl_has() {
        let spec = builtin("curl").expect("curl's entry");
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
}
