//! Programs that create, change, remove or archive files: which operands and option values
//! they write. Where an operand is written, every option that takes a value is listed, so
//! that no value is read as that operand.

use super::super::{Entry, PLAIN, Special, Writes};

pub(super) const ENTRIES: &[Entry] = &[
    // Removing and creating files: every argument is written.
    // Each with its own value options: a value option that is another program's flag
    // (`touch -d DATE`, `rm -d` = `--dir`) would hide the path after it.
    Entry { names: &["rm", "rmdir", "unlink", "tee"], writes: Writes::All, ..PLAIN },
    Entry {
        names: &["touch"],
        value_options: &["-d", "--date", "-r", "--reference", "-t"],
        writes: Writes::All,
        ..PLAIN
    },
    // `-Z` takes no value and `--context[=CTX]` only an attached one: neither may take
    // the next word, which is a path.
    Entry {
        names: &["mkdir", "mkfifo", "mknod"],
        value_options: &["-m", "--mode"],
        writes: Writes::All,
        ..PLAIN
    },
    Entry {
        names: &["shred"],
        value_options: &["-n", "--iterations", "-s", "--size", "--random-source"],
        writes: Writes::All,
        ..PLAIN
    },
    Entry {
        names: &["truncate"],
        value_options: &["-s", "--size", "-r", "--reference"],
        writes: Writes::All,
        ..PLAIN
    },
    // `mv` removes its sources and writes its target.
    // A backup suffix (`-S`) is appended to the name written, so one with a `/` names
    // another path: the suffix is a write target of its own.
    Entry {
        names: &["mv"],
        value_options: &["--sparse", "--no-preserve"],
        write_options: &["-t", "--target-directory", "-S", "--suffix"],
        writes: Writes::All,
        ..PLAIN
    },
    Entry {
        names: &["cp"],
        value_options: &["--sparse", "--no-preserve"],
        write_options: &["-t", "--target-directory", "-S", "--suffix"],
        // A linked copy writes, through the link, to its source.
        in_place_options: &["-s", "--symbolic-link", "-l", "--link"],
        writes: Writes::Last,
        ..PLAIN
    },
    Entry {
        names: &["install"],
        value_options: &["-m", "--mode", "-o", "--owner", "-g", "--group"],
        write_options: &["-t", "--target-directory", "-S", "--suffix"],
        // `-s --strip-program=PROGRAM` runs PROGRAM on the installed file.
        runs_code_options: &["--strip-program"],
        // `install -d DIR...` creates every directory named.
        in_place_options: &["-d", "--directory"],
        writes: Writes::Last,
        ..PLAIN
    },
    // A link writes, through itself, to what it points at: both ends must be writable.
    Entry {
        names: &["ln", "link"],
        write_options: &["-t", "--target-directory", "-S", "--suffix"],
        writes: Writes::All,
        ..PLAIN
    },
    // The first operand is the mode or owner, unless `--reference=FILE` gives it (then
    // every operand is written), or the mode is written as an option (`chmod -w FILE`,
    // `chattr -i FILE`: GNU chmod reads mode letters as options).
    Entry {
        names: &["chmod"],
        value_options: &["--reference"],
        in_place_options: &[
            "--reference",
            "-r",
            "-w",
            "-x",
            "-X",
            "-s",
            "-t",
            "-u",
            "-g",
            "-o",
            "-a",
            "-0",
            "-1",
            "-2",
            "-3",
            "-4",
            "-5",
            "-6",
            "-7",
            "-,",
            "-+",
            "-=",
        ],
        writes: Writes::AfterFirst,
        ..PLAIN
    },
    Entry {
        names: &["chown", "chgrp"],
        value_options: &["--reference", "--from"],
        in_place_options: &["--reference"],
        writes: Writes::AfterFirst,
        ..PLAIN
    },
    Entry {
        names: &["chattr"],
        long_prefixes: false,
        value_options: &["-v", "-p"],
        in_place_options: &[
            "-a", "-A", "-c", "-C", "-d", "-D", "-e", "-F", "-i", "-j", "-m", "-P", "-s", "-S",
            "-t", "-T", "-u", "-x",
        ],
        writes: Writes::AfterFirst,
        ..PLAIN
    },
    // `setfacl -m ACL FILE...`: every operand is a file. `--restore=FILE` sets the ACLs
    // of the files FILE names, which the table cannot read: refused as code is.
    Entry {
        names: &["setfacl"],
        value_options: &[
            "-m",
            "--modify",
            "-M",
            "--modify-file",
            "-x",
            "--remove",
            "-X",
            "--remove-file",
            "--set",
            "--set-file",
        ],
        runs_code_options: &["--restore"],
        writes: Writes::All,
        ..PLAIN
    },
    // `uniq IN OUT`, `xxd IN OUT`, `ptx -G IN OUT`: at most two operands, the second
    // written. Read as the last of at least two, so that a value option the table does
    // not know (its value read as an operand) can only add a write, never hide one.
    Entry {
        names: &["uniq"],
        value_options: &["-f", "--skip-fields", "-s", "--skip-chars", "-w", "--check-chars"],
        writes: Writes::Last,
        ..PLAIN
    },
    // xxd reads one option per word (`-ps` is `-p`, not `-p -s`) and stops at its first
    // operand; only its long spellings are listed as taking values, so that no short
    // option can take a word that is an operand.
    Entry {
        names: &["xxd"],
        long_prefixes: false,
        options_end_at_positional: true,
        value_options: &["-cols", "-groupsize", "-len", "-seek", "-name"],
        writes: Writes::Last,
        ..PLAIN
    },
    Entry {
        names: &["ptx"],
        value_options: &[
            "-b",
            "--break-file",
            "-F",
            "--flag-truncation",
            "-g",
            "--gap-size",
            "-i",
            "--ignore-file",
            "-M",
            "--macro-name",
            "-o",
            "--only-file",
            "-S",
            "--sentence-regexp",
            "-w",
            "--width",
            "-W",
            "--word-regexp",
            "--format",
        ],
        writes: Writes::Last,
        ..PLAIN
    },
    // `mapfile -C CALLBACK` runs the callback every `-c` lines.
    Entry {
        names: &["mapfile", "readarray"],
        value_options: &["-d", "-n", "-O", "-s", "-u", "-c"],
        runs_code_options: &["-C"],
        ..PLAIN
    },
    // `history -w FILE` and `-a FILE` write the history to a file.
    Entry { names: &["history"], write_options: &["-w", "-a"], ..PLAIN },
    Entry {
        names: &["tree"],
        value_options: &["-L", "-P", "-I", "--filelimit", "--timefmt", "--charset"],
        write_options: &["-o"],
        ..PLAIN
    },
    // `split IN PREFIX` writes files named from PREFIX; `--filter` hands each to a shell.
    Entry {
        names: &["split"],
        value_options: &[
            "-a",
            "--suffix-length",
            "-b",
            "--bytes",
            "-C",
            "--line-bytes",
            "-l",
            "--lines",
            "-n",
            "--number",
            "-t",
            "--separator",
            "--additional-suffix",
        ],
        runs_code_options: &["--filter"],
        // `split [FILE [PREFIX]]`: the last of two (see `uniq`).
        writes: Writes::Last,
        ..PLAIN
    },
    Entry {
        // It writes PREFIX followed by the suffix format: a format with a `/` (`-b
        // /../x%02d`) names another path, so the format is a write target too.
        names: &["csplit"],
        value_options: &["-n", "--digits"],
        write_options: &["-f", "--prefix", "-b", "--suffix-format"],
        ..PLAIN
    },
    Entry {
        names: &["shuf"],
        value_options: &["-n", "--head-count", "-i", "--input-range", "--random-source"],
        write_options: &["-o", "--output"],
        ..PLAIN
    },
    Entry {
        names: &["sort"],
        value_options: &[
            "-k",
            "--key",
            "-t",
            "--field-separator",
            "-S",
            "--buffer-size",
            "--parallel",
            "--batch-size",
            "--files0-from",
            "--random-source",
        ],
        // `-T DIR` puts its temporary files in DIR.
        write_options: &["-o", "--output", "-T", "--temporary-directory"],
        runs_code_options: &["--compress-program"],
        ..PLAIN
    },
    // diff3 and sdiff run the program `--diff-program` names; sdiff writes its merge to
    // `-o FILE`.
    Entry {
        names: &["diff3", "sdiff"],
        value_options: &[
            "-L",
            "--label",
            "-w",
            "--width",
            "--tabsize",
            "-I",
            "--ignore-matching-lines",
        ],
        write_options: &["-o", "--output"],
        runs_code_options: &["--diff-program"],
        ..PLAIN
    },
    Entry {
        names: &["iconv"],
        value_options: &["-f", "--from-code", "-t", "--to-code"],
        write_options: &["-o", "--output"],
        ..PLAIN
    },
    Entry {
        names: &["patch"],
        value_options: &[
            "-p",
            "--strip",
            "-i",
            "--input",
            "-F",
            "--fuzz",
            "-V",
            "--version-control",
            "-D",
            "--ifdef",
            "-g",
            "--get",
            "--reject-format",
            "--quoting-style",
        ],
        // `-d DIR` applies the patch inside DIR. Backups are named PREFIX + FILE (`-B`),
        // DIR/BASEPREFIX + BASE (`-Y`) or FILE + SUFFIX (`-z`): each is a path written.
        write_options: &[
            "-o",
            "--output",
            "-r",
            "--reject-file",
            "-d",
            "--directory",
            "-B",
            "--prefix",
            "-Y",
            "--basename-prefix",
            "-z",
            "--suffix",
        ],
        writes: Writes::All,
        special: Some(Special::Patch),
        ..PLAIN
    },
    // Compressors write FILE + SUFFIX next to each FILE (a suffix with `/` names another
    // path), decompressors FILE without it (`archives.rs`). A list of files read from a file (`--filelist`, `--files`) names files the
    // table cannot see: refused as code is.
    Entry {
        names: &[
            "gzip",
            "gunzip",
            "pigz",
            "unpigz",
            "bzip2",
            "bunzip2",
            "pbzip2",
            "lbzip2",
            "xz",
            "unxz",
            "lzma",
            "unlzma",
            "lz4",
            "unlz4",
            "lzip",
            "lunzip",
            "plzip",
            "brotli",
            "unbrotli",
            "lzop",
            "uncompress",
            "ccrypt",
            "ccencrypt",
            "ccdecrypt",
        ],
        value_options: &["-F", "--format", "-C", "--check", "-T", "--threads", "-M", "--memlimit"],
        write_options: &["-o", "--output", "-S", "--suffix"],
        runs_code_options: &["--files", "--files0"],
        writes: Writes::All,
        special: Some(Special::Compressor),
        ..PLAIN
    },
    Entry {
        names: &["zstd", "unzstd", "zstdmt"],
        value_options: &[
            "-D",
            "--patch-from",
            "--memory",
            "--format",
            "--stream-size",
            "--size-hint",
            "--maxdict",
            "--dictID",
            "--auto-threads",
            "--block-size",
            "--threads",
            "--priority",
            "--target-compressed-block-size",
        ],
        write_options: &[
            "-o",
            "--output",
            "--output-dir-flat",
            "--output-dir-mirror",
            "--trace",
            "-S",
            "--suffix",
        ],
        runs_code_options: &["--filelist"],
        writes: Writes::All,
        special: Some(Special::Compressor),
        ..PLAIN
    },
    Entry {
        names: &["zip"],
        value_options: &["-x", "-i", "-P", "--password"],
        // The archive elsewhere (`-O`), its temporary files (`-b`) and the log (`-lf`);
        // zip takes a value after `=` or glued on (`-lfPATH`: `special.rs`).
        write_options: &["-O", "--output-file", "-b", "--temp-path", "-lf", "--logfile-path"],
        runs_code_options: &["-TT", "--unzip-command"],
        special: Some(Special::Zip),
        writes: Writes::All,
        ..PLAIN
    },
    Entry { names: &["unzip"], write_options: &["-d"], special: Some(Special::Unzip), ..PLAIN },
    Entry {
        names: &[
            "jar",
            "ar",
            "7z",
            "7za",
            "7zr",
            "unrar",
            "dpkg-deb",
            "dpkg",
            "uudecode",
            "unar",
            "cabextract",
        ],
        // `cpio -D DIR`, `7z -oDIR` (glued: `special.rs` reads the mode, the directory is
        // the working one or this), `uudecode -o FILE`, `unar -o DIR`, `cabextract -d DIR`.
        value_options: &["-F", "--file", "-E", "--pattern-file", "-H", "--format", "-C"],
        write_options: &["-D", "--directory", "-o", "--output-file", "-d", "--output-directory"],
        special: Some(Special::Extractor),
        ..PLAIN
    },
    // cpio's modes are options: `-i` extracts (beneath `-D DIR`), `-o` writes an archive
    // (`-O FILE`, or `-F FILE` in that mode), `-p DIR` copies the files named on standard
    // input beneath DIR; `-d` makes directories, a flag (red team round 27, hooks K2:
    // `cpio -pdm DIR` read `m` as `-d`'s value).
    Entry {
        names: &["cpio", "bsdcpio"],
        value_options: &[
            "-C",
            "-E",
            "-F",
            "-H",
            "-I",
            "-M",
            "-R",
            "--block-size",
            "--file",
            "--format",
            "--io-size",
            "--message",
            "--owner",
            "--pattern-file",
        ],
        write_options: &["-D", "--directory", "-O"],
        runs_code_options: &["--rsh-command"],
        special: Some(Special::Extractor),
        ..PLAIN
    },
    // pax: `-r` extracts, `-w` writes the archive (`-f FILE`), both copy the operands
    // beneath the last one, a directory.
    Entry {
        names: &["pax"],
        value_options: &["-b", "-B", "-E", "-f", "-G", "-o", "-p", "-s", "-T", "-U", "-x"],
        special: Some(Special::Extractor),
        ..PLAIN
    },
    Entry { names: &["dd"], special: Some(Special::Dd), ..PLAIN },
    Entry {
        names: &["tar", "bsdtar", "gtar"],
        value_options: &[
            "-b",
            "--blocking-factor",
            "--exclude",
            "-X",
            "--exclude-from",
            "-T",
            "--files-from",
            "-f",
            "--file",
            "-N",
            "--newer",
            "--after-date",
            "--newer-mtime",
            "-K",
            "--starting-file",
            "-V",
            "--label",
            "-L",
            "--tape-length",
            "-H",
            "--format",
            "--owner",
            "--group",
            "--mode",
            "--mtime",
            "--owner-map",
            "--group-map",
            "--transform",
            "--xform",
            "--strip-components",
            "--record-size",
            "--exclude-tag",
            "--exclude-tag-all",
            "--exclude-tag-under",
            "--exclude-ignore",
            "--exclude-ignore-recursive",
            "--quoting-style",
            "--quote-chars",
            "--no-quote-chars",
            "--pax-option",
            "--warning",
            "--sort",
            "--level",
            "--add-file",
            "--hole-detection",
            "--sparse-version",
            "--xattrs-include",
            "--xattrs-exclude",
        ],
        runs_code_options: &[
            "--checkpoint-action",
            "--to-command",
            "--use-compress-program",
            "-I",
            "--rsh-command",
            "--rmt-command",
            "--info-script",
            "--new-volume-script",
            "--set-mtime-command",
            "-F",
            // Extracting with absolute names writes wherever the archive says.
            "--absolute-names",
            "-P",
        ],
        // `-g`/`--listed-incremental` writes the snapshot file, `--index-file` the
        // listing, `--volno-file` the volume number; a backup `--suffix` is appended to
        // extracted names.
        write_options: &[
            "-C",
            "--directory",
            "--one-top-level",
            "-g",
            "--listed-incremental",
            "--index-file",
            "--volno-file",
            "--suffix",
        ],
        special: Some(Special::Tar),
        ..PLAIN
    },
    Entry {
        names: &["sed", "gsed"],
        value_options: &["-e", "--expression", "-f", "--file", "-l", "--line-length"],
        attached_value_options: &["-i"],
        runs_code_options: &["-f", "--file"],
        in_place_options: &["-i", "--in-place"],
        special: Some(Special::Sed),
        ..PLAIN
    },
];
