//! Which modules `python -m NAME` may run as a script file is run: the top-level modules
//! of Python's standard library (`sys.stdlib_module_names` of CPython 3.11, and those 3.12
//! to 3.14 added) run the library's own code, some of which takes code from its arguments
//! (`timeit`, `pickle`, `code`), so only the plain ones are let through; so do the shells,
//! notebook runners, profilers and task runners of well-known packages (`IPython -c`,
//! `jupyter nbconvert --execute`, `coverage run -m`). Any other module is the project's or
//! an installed package's: a program the table does not know, judged as one.

/// Packages whose modules run code their arguments give (a shell's `-c`, a notebook's
/// cells, a task file, a command or a module to run under a profiler, a debugger or a
/// task runner): matched on the top-level name, as Python spells it (red team round 28,
/// hooks H4: `fire`, `coverage run`, `memray run -c`, `pdm run`).
const CODE_RUNNERS: [&str; 31] = [
    "IPython",
    "bpython",
    "celery",
    "coconut",
    "coverage",
    "debugpy",
    "doit",
    "fabric",
    "fire",
    "hatch",
    "hy",
    "invoke",
    "ipdb",
    "ipykernel",
    "jupyter",
    "jupyter_core",
    "kernprof",
    "line_profiler",
    "memray",
    "nbclient",
    "nbconvert",
    "pdm",
    "pipenv",
    "ptpython",
    "pudb",
    "pyinstrument",
    "pyspy",
    "scalene",
    "viztracer",
    "xonsh",
    "yappi",
];

/// Sorted, for a binary search.
#[rustfmt::skip]
const NAMES: [&str; 317] = [
    "__future__", "_abc", "_aix_support", "_ast", "_asyncio", "_bisect", "_blake2",
    "_bootsubprocess", "_bz2", "_codecs", "_codecs_cn", "_codecs_hk", "_codecs_iso2022",
    "_codecs_jp", "_codecs_kr", "_codecs_tw", "_collections", "_collections_abc", "_colorize",
    "_compat_pickle", "_compression", "_contextvars", "_crypt", "_csv", "_ctypes", "_curses",
    "_curses_panel", "_datetime", "_dbm", "_decimal", "_elementtree", "_frozen_importlib",
    "_frozen_importlib_external", "_functools", "_gdbm", "_hashlib", "_heapq", "_imp",
    "_interpchannels", "_interpqueues", "_interpreters", "_io", "_json", "_locale", "_lsprof",
    "_lzma", "_markupbase", "_md5", "_msi", "_multibytecodec", "_multiprocessing", "_opcode",
    "_opcode_metadata", "_operator", "_osx_support", "_overlapped", "_pickle", "_posixshmem",
    "_posixsubprocess", "_py_abc", "_pydecimal", "_pyio", "_pyrepl", "_queue", "_random",
    "_remote_debugging", "_scproxy", "_sha1", "_sha256", "_sha3", "_sha512", "_signal",
    "_sitebuiltins", "_socket", "_sqlite3", "_sre", "_ssl", "_stat", "_statistics", "_string",
    "_strptime", "_struct", "_suggestions", "_symtable", "_sysconfig", "_thread",
    "_threading_local", "_tkinter", "_tokenize", "_tracemalloc", "_typing", "_uuid",
    "_warnings", "_weakref", "_weakrefset", "_winapi", "_zoneinfo", "_zstd", "abc", "aifc",
    "annotationlib", "antigravity", "argparse", "array", "ast", "asynchat", "asyncio",
    "asyncore", "atexit", "audioop", "base64", "bdb", "binascii", "bisect", "builtins", "bz2",
    "cProfile", "calendar", "cgi", "cgitb", "chunk", "cmath", "cmd", "code", "codecs",
    "codeop", "collections", "colorsys", "compileall", "compression", "concurrent",
    "configparser", "contextlib", "contextvars", "copy", "copyreg", "crypt", "csv", "ctypes",
    "curses", "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis", "distutils",
    "doctest", "email", "encodings", "ensurepip", "enum", "errno", "faulthandler", "fcntl",
    "filecmp", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "gc", "genericpath",
    "getopt", "getpass", "gettext", "glob", "graphlib", "grp", "gzip", "hashlib", "heapq",
    "hmac", "html", "http", "idlelib", "imaplib", "imghdr", "imp", "importlib", "inspect",
    "io", "ipaddress", "itertools", "json", "keyword", "lib2to3", "linecache", "locale",
    "logging", "lzma", "mailbox", "mailcap", "marshal", "math", "mimetypes", "mmap",
    "modulefinder", "msilib", "msvcrt", "multiprocessing", "netrc", "nis", "nntplib", "nt",
    "ntpath", "nturl2path", "numbers", "opcode", "operator", "optparse", "os", "ossaudiodev",
    "pathlib", "pdb", "pickle", "pickletools", "pipes", "pkgutil", "platform", "plistlib",
    "poplib", "posix", "posixpath", "pprint", "profile", "pstats", "pty", "pwd", "py_compile",
    "pyclbr", "pydoc", "pydoc_data", "pyexpat", "queue", "quopri", "random", "re", "readline",
    "reprlib", "resource", "rlcompleter", "runpy", "sched", "secrets", "select", "selectors",
    "shelve", "shlex", "shutil", "signal", "site", "smtpd", "smtplib", "sndhdr", "socket",
    "socketserver", "spwd", "sqlite3", "sre_compile", "sre_constants", "sre_parse", "ssl",
    "stat", "statistics", "string", "stringprep", "struct", "subprocess", "sunau", "symtable",
    "sys", "sysconfig", "syslog", "tabnanny", "tarfile", "telnetlib", "tempfile", "termios",
    "textwrap", "this", "threading", "time", "timeit", "tkinter", "token", "tokenize",
    "tomllib", "trace", "traceback", "tracemalloc", "tty", "turtle", "turtledemo", "types",
    "typing", "unicodedata", "unittest", "urllib", "uu", "uuid", "venv", "warnings", "wave",
    "weakref", "webbrowser", "winreg", "winsound", "wsgiref", "xdrlib", "xml", "xmlrpc",
    "zipapp", "zipfile", "zipimport", "zlib", "zoneinfo",
];

/// Whether `module` (dotted or not) belongs to Python's standard library, or to a package
/// of [`CODE_RUNNERS`].
pub(super) fn runs_given_code(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    NAMES.binary_search(&top).is_ok() || CODE_RUNNERS.contains(&top)
}

#[cfg(test)]
mod tests {
    use super::{NAMES, runs_given_code};

    #[test]
    fn the_list_is_sorted_and_finds_dotted_modules() {
        assert!(NAMES.windows(2).all(|w| matches!(w, [a, b] if a < b)));
        for module in
            ["timeit", "http.server", "pickle", "code", "json.tool", "xml.dom.minidom", "IPython"]
        {
            assert!(runs_given_code(module), "{module}");
        }
        for module in ["myapp", "myapp.cli", "black", "app.http", "ipython", ""] {
            assert!(!runs_given_code(module), "{module}");
        }
    }
}
