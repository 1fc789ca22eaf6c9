//! Unpacking: what tar, unzip and the decompressors write. An archive's members are named
//! by the archive, which the line does not show: an extraction writes paths only known at
//! run time, anywhere under its directory (the project's `.git/hooks`, the agent's
//! settings) and through any link an earlier extraction left there. It is judged as a
//! write of a run-time path, with members named on the line too: a member named `src` may
//! be a link the archive makes (to `.git/hooks`) that the next member is written through,
//! a hard link to `.git/config` that the next one overwrites, and `--no-anchored` or
//! `--ignore-case` (`unzip -C`) match other names than the one written. Named members are
//! also writes of their own; a decompressor writes its file's name without the suffix
//! (`.npmrc.gz` makes `.npmrc`).

use super::finding::Finding;
use super::scan::Scanned;
use super::{ShellArg, Unnamed};

/// A write whose path only the archive knows, said as `what`.
pub(super) fn run_time(what: String) -> Finding {
    Finding::Writes(ShellArg { raw: what, expansion: true, ..ShellArg::default() })
}

/// The write of an extraction whose members only the archive names, anywhere (an
/// archiver that writes `../` and absolute member names as they are).
pub(super) fn unnamed_members() -> Finding {
    run_time("the archive's members, named only when it is read".to_owned())
}

/// Files only the run names, anywhere beneath the working directory or `dir` (tar and
/// unzip drop a member's leading `/` and refuse or strip its `..`, unless `-P` or `-:`
/// say otherwise, which are judged apart).
pub(super) fn beneath(what: &str, dir: Option<&ShellArg>) -> Finding {
    Finding::Unnamed { what: what.to_owned(), dir: dir.cloned(), depth: Unnamed::Tree }
}

/// The members of an extraction that keeps them beneath each of `directories` (none: the
/// working directory).
fn members_beneath(what: &str, directories: &[&ShellArg], out: &mut Vec<Finding>) {
    if directories.is_empty() {
        out.push(beneath(what, None));
    }
    out.extend(directories.iter().map(|dir| beneath(what, Some(dir))));
}

const MEMBERS: &str = "the archive's members, named only when it is read";

/// Whether a member name is a pattern that tar (bsdtar by default, GNU tar with
/// `--wildcards`) or unzip matches against the archive: the members it names are
/// unknown.
fn is_pattern(member: &ShellArg) -> bool {
    !member.is_known() || member.text.contains(['*', '?', '[', '\\'])
}

/// `tar` (GNU tar, bsdtar): the archive written by `-c`/`-r`/`-u`/`-A`/`--delete`, a
/// remote archive, the sources `--remove-files` deletes, and what an extraction writes.
pub(super) fn tar(scanned: &Scanned, out: &mut Vec<Finding>) {
    // GNU tar takes any unambiguous prefix of a long option (`--remove-f`).
    let has = |names: &[&str]| scanned.has_abbreviated(names);
    let create = has(&[
        "-c",
        "--create",
        "-r",
        "--append",
        "-u",
        "--update",
        "-A",
        "--catenate",
        "--concatenate",
        "--delete",
    ]);
    let extract = has(&["-x", "--extract", "--get"]);
    for archive in scanned.values(&["-f", "--file"]) {
        if archive.text.contains(':') && !scanned.has(&["--force-local"]) {
            out.push(Finding::RunsCode(format!(
                "the archive `{}` is opened through a remote shell",
                archive.raw
            )));
        }
        if create {
            out.push(Finding::Writes(archive.clone()));
        }
    }
    // `-O` writes the members to standard output, no file.
    if extract && !has(&["-O", "--to-stdout"]) {
        let directories: Vec<&ShellArg> = scanned.values(&["-C", "--directory"]).collect();
        if directories.is_empty() {
            out.push(Finding::Writes(ShellArg::known(".")));
        }
        if has(&["-P", "--absolute-names"]) {
            out.push(run_time("the archive's absolute paths".to_owned()));
        }
        // These change which members are written, or under which names: a list read from
        // a file, every member after one, patterns, renaming (`--transform`, bsdtar's
        // `-s`), dropped leading components, a directory named after the archive.
        let renamed = has(&[
            "-T",
            "--files-from",
            "-K",
            "--starting-file",
            "--wildcards",
            "--transform",
            "--xform",
            "-s",
            "--strip-components",
            "--one-top-level",
        ]);
        // A named member may be a directory (everything under it), a link the next one is
        // written through, or a hard link it overwrites: what it writes is the archive's.
        extraction(&scanned.positionals, renamed, &directories, out);
    }
    if has(&["--remove-files"]) {
        out.extend(scanned.positionals.iter().map(|p| Finding::Writes(p.clone())));
    }
}

/// `unzip ARCHIVE [MEMBER...] [-x EXCLUDED...] [-d DIR]`: the members named (patterns that
/// unzip matches, `*` across `/` too) written under the working directory or `-d DIR`
/// (a write option of its entry, so written already), or every member the archive holds
/// when none is named. `-:` keeps the members' `../`, which may climb anywhere. `-l`,
/// `-v` and `-Z` list, `-t` tests, `-p` and `-c` print to standard output.
pub(super) fn unzip(scanned: &Scanned, out: &mut Vec<Finding>) {
    if scanned.has(&["-l", "-v", "-Z", "-t", "-p", "-c"]) {
        return;
    }
    let directories: Vec<&ShellArg> = scanned.values(&["-d"]).collect();
    if directories.is_empty() {
        out.push(Finding::Writes(ShellArg::known(".")));
    }
    if scanned.has(&["-:"]) {
        out.push(run_time("the archive's `../` paths".to_owned()));
    }
    // The first positional is the archive; the words after `-x` are read as members too,
    // which can only add writes.
    // Words after `-x` exclude rather than name, `-C` matches any case, and a member may
    // be a link or a directory: what is written is the archive's.
    let members = scanned.positionals.get(1..).unwrap_or_default();
    extraction(members, false, &directories, out);
}

/// Archivers other than tar and unzip (red team round 15: `jar xf`, `cpio -idmu`, `ar x`,
/// `dpkg-deb -x` overwrote the agent's settings): in their extraction mode they write the
/// archive's members, named only when it is read, under the working directory (or the
/// directory `dpkg-deb` is given). A mode the line does not show (`7z $MODE`) is taken as
/// extraction.
pub(super) fn extractor(
    program: &str,
    words: &[ShellArg],
    scanned: &Scanned,
    out: &mut Vec<Finding>,
) {
    let mode = scanned.positionals.first().map(|p| (p.is_known(), p.text.as_str()));
    let mode_has = |letters: &[char]| match mode {
        Some((true, text)) => text.trim_start_matches('-').contains(letters),
        Some((false, _)) => true,
        None => false,
    };
    let extracts = match program {
        "jar" => mode_has(&['x']) || scanned.has(&["-x", "--extract"]),
        "ar" => mode_has(&['x']),
        "7z" | "7za" | "7zr" | "unrar" => mode_has(&['x', 'e']),
        // `-i`, alone or in a cluster (`-idmu`).
        "cpio" | "bsdcpio" => scanned.options.iter().flat_map(|o| &o.names).any(|name| {
            name == "--extract"
                || (!name.starts_with("--") && name.starts_with('-') && name.contains('i'))
        }),
        "pax" => scanned.has(&["-r"]) && !scanned.has(&["-w"]),
        // dpkg's other modes install and remove packages (their scripts run as root):
        // a program the table does not know.
        "dpkg" if !scanned.has(&["-x", "-X", "--extract", "--vextract"]) => {
            out.push(Finding::Unknown);
            return;
        }
        "dpkg" => true,
        "dpkg-deb" => scanned.has(&[
            "-x",
            "-X",
            "-R",
            "-e",
            "--extract",
            "--vextract",
            "--raw-extract",
            "--control",
        ]),
        // `uudecode`, `unar`, `cabextract`: nothing but extraction.
        _ => true,
    };
    // `ar r`, `q`, `d`, `m`, `s` change the archive (after a member named for `a`, `b`,
    // `i`).
    if program == "ar" && mode_has(&['r', 'q', 'd', 'm', 's']) {
        let count = if mode_has(&['a', 'b', 'i']) { 2 } else { 1 };
        for archive in scanned.positionals.iter().skip(1).take(count) {
            out.push(Finding::Writes(archive.clone()));
        }
    }
    // 7-Zip's `a`, `u`, `d` and `rn` write the archive, its second word; `-sdel` deletes
    // the files it adds. jar's `c` and `u` with `f` write the file named after the mode
    // (after the manifest when `m` comes first), or `--file`'s.
    let sevens = matches!(program, "7z" | "7za" | "7zr");
    if sevens && matches!(mode, Some((false, _)) | Some((true, "a" | "u" | "d" | "rn"))) {
        out.extend(scanned.positionals.get(1).cloned().map(Finding::Writes));
        if words.iter().any(|w| !w.is_known() || w.text.eq_ignore_ascii_case("-sdel")) {
            out.extend(scanned.positionals.iter().skip(2).cloned().map(Finding::Writes));
        }
    }
    if program == "jar" && mode_has(&['c', 'u']) {
        let letters = mode.map_or("", |(_, text)| text);
        let at = match (letters.find('m'), letters.find('f')) {
            (Some(m), Some(f)) if m < f => Some(2),
            (_, Some(_)) => Some(1),
            _ => None,
        };
        out.extend(at.and_then(|at| scanned.positionals.get(at)).cloned().map(Finding::Writes));
        out.extend(scanned.values(&["--file"]).cloned().map(Finding::Writes));
    }
    if matches!(program, "cpio" | "bsdcpio" | "pax") {
        copies(program, scanned, out);
    }
    if !extracts {
        return;
    }
    match program {
        // `dpkg-deb -x DEB DIR`: the members beneath DIR (its tar keeps them there).
        "dpkg-deb" | "dpkg" => {
            let dir = scanned.positionals.get(1);
            if let Some(dir) = dir {
                out.push(Finding::WritesUnder(ShellArg::known("."), dir.clone()));
            }
            out.push(beneath(MEMBERS, dir));
        }
        // `ar xP` writes each member at the full path it was stored with: anywhere.
        "ar" if mode_has(&['P']) => {
            out.push(Finding::Writes(ShellArg::known(".")));
            out.push(unnamed_members());
        }
        // An `ar` archive's members are plain names: each lands in the working directory.
        "ar" => {
            out.push(Finding::Writes(ShellArg::known(".")));
            out.push(Finding::Unnamed {
                what: MEMBERS.to_owned(),
                dir: None,
                depth: Unnamed::Entry,
            });
        }
        // The others may write a member's `../` or absolute name as it is (GNU cpio
        // without `--no-absolute-filenames`, uudecode's `begin 644 /path`).
        _ => {
            out.push(Finding::Writes(ShellArg::known(".")));
            out.push(unnamed_members());
        }
    }
}

/// cpio's and pax's other modes (red team round 27, hooks K2): writing an archive writes
/// its file (cpio's `-o -F FILE`, `-O FILE`, pax's `-w -f FILE`); copying (cpio's `-p
/// DIR`, pax's `-rw ... DIR`) writes the files named on standard input or on the line
/// beneath the directory, by names only the run knows. An archive named `host:file` is
/// opened through a remote shell, as tar's is.
fn copies(program: &str, scanned: &Scanned, out: &mut Vec<Finding>) {
    let (create, copy, archives): (bool, bool, &[&str]) = if program == "pax" {
        let (read, write) = (scanned.has(&["-r"]), scanned.has(&["-w"]));
        (write && !read, read && write, &["-f"])
    } else {
        let create = scanned.has_abbreviated(&["-o", "--create"]);
        let copy = scanned.has_abbreviated(&["-p", "--pass-through"]);
        (create, copy, &["-F", "--file", "-O", "-I"])
    };
    for archive in scanned.values(archives) {
        if archive.text.contains(':') && !scanned.has_abbreviated(&["--force-local"]) {
            out.push(Finding::RunsCode(format!(
                "the archive `{}` is opened through a remote shell",
                archive.raw
            )));
        }
    }
    if create {
        out.extend(scanned.values(&["-f", "-F", "--file"]).cloned().map(Finding::Writes));
    }
    if copy {
        let dir =
            if program == "pax" { scanned.positionals.last() } else { scanned.positionals.first() };
        // No directory on the line: the run's own argument, anywhere.
        match dir {
            Some(dir) => {
                out.push(Finding::Writes(dir.clone()));
                out.push(beneath("the files copied, named only when the copy runs", Some(dir)));
            }
            None => out.push(run_time("the directory the files are copied to".to_owned())),
        }
    }
}

/// What an extraction of `members` (none: every member; `renamed`: names the archive
/// changes) under `directories` (none: the working directory) writes: the members named,
/// and always names only the archive knows.
fn extraction(
    members: &[ShellArg],
    renamed: bool,
    directories: &[&ShellArg],
    out: &mut Vec<Finding>,
) {
    if members.is_empty() || renamed || members.iter().any(is_pattern) {
        members_beneath(MEMBERS, directories, out);
        return;
    }
    for member in members {
        if directories.is_empty() {
            out.push(Finding::Writes(member.clone()));
        }
        for dir in directories {
            out.push(Finding::WritesUnder(member.clone(), (*dir).clone()));
        }
    }
    members_beneath(
        "what the members named are in the archive: links, directories",
        directories,
        out,
    );
}

/// `patch`: without a file named on the line, the files the patch names (created,
/// changed or removed, a git-style patch's modes and links included) are written under
/// the working directory or `-d DIR`: names only known at run time.
pub(super) fn patch(scanned: &Scanned, out: &mut Vec<Finding>) {
    if scanned.has(&["--dry-run"]) {
        return;
    }
    if !scanned.has(&["-d", "--directory"]) {
        out.push(Finding::Writes(ShellArg::known(".")));
    }
    if scanned.positionals.is_empty() {
        out.push(run_time(super::PATCHED_FILES.to_owned()));
    }
}

/// Suffixes a decompressor takes off (`.tgz` becomes `.tar`, which keeps the name's
/// stem): the file it writes is the operand without one.
const SUFFIXES: [&str; 23] = [
    ".gz", "-gz", ".z", "-z", "_z", ".Z", ".tgz", ".taz", ".bz2", ".bz", ".tbz2", ".tbz", ".xz",
    ".txz", ".lzma", ".tlz", ".lz4", ".zst", ".tzst", ".lz", ".lzo", ".br", ".cpt",
];

/// gzip, bzip2, xz, zstd, lz4 and their `un` names, `uncompress`, and ccrypt (red team
/// round 30, shell F2: `ccrypt -d X.cpt` writes `X`). Decompressing writes each operand's
/// name without its suffix, beside it (`gunzip .npmrc.gz` writes `.npmrc`); gzip's `-N`
/// takes the name stored in the file instead, and `-r` works through a whole tree, both
/// names only known at run time.
pub(super) fn compressor(program: &str, scanned: &Scanned, out: &mut Vec<Finding>) {
    let has = |names: &[&str]| scanned.has_abbreviated(names);
    if has(&["-r", "--recursive"]) {
        out.push(run_time(format!("the files `{program} -r` finds under its operands")));
    }
    let decompress = program.starts_with("un")
        || matches!(program, "gunzip" | "bunzip2" | "lunzip" | "ccdecrypt")
        || has(&["-d", "--decompress", "--uncompress"]);
    let printing = has(&["-c", "--stdout", "--to-stdout", "-t", "--test", "-l", "--list"]);
    if !decompress || printing {
        return;
    }
    if has(&["-N", "--name"]) {
        out.push(run_time(format!("the names stored in the files `{program} -N` reads")));
    }
    let own_suffix: Vec<&str> =
        scanned.values(&["-S", "--suffix"]).map(|s| s.text.as_str()).collect();
    for operand in scanned.positionals.iter().filter(|o| o.text != "-") {
        // A pattern matches files only known at run time, maybe made by the line itself
        // (`cp x.gz .claude/settings.json.gz; gunzip .claude/*.gz`): each stem lands in
        // the pattern's directory.
        if operand.pattern && !operand.expansion && !operand.tilde {
            let dir = operand.text.rsplit_once('/').map_or("", |(dir, _)| dir);
            let any = if dir.is_empty() { "*".to_owned() } else { format!("{dir}/*") };
            out.push(Finding::Writes(ShellArg { text: any.clone(), raw: any, ..operand.clone() }));
            continue;
        }
        if !operand.is_known() {
            out.push(run_time(format!("the file `{}` decompresses to", operand.raw)));
            continue;
        }
        let text = operand.text.as_str();
        let stem = own_suffix
            .iter()
            .copied()
            .chain(SUFFIXES)
            .filter(|s| !s.is_empty())
            .find_map(|s| text.strip_suffix(s))
            .filter(|stem| !stem.is_empty() && !stem.ends_with('/'));
        if let Some(stem) = stem {
            out.push(Finding::Writes(ShellArg::known(stem)));
        }
    }
}
