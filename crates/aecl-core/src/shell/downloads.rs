//! Where an HTTP client saves what it fetches when the line names no output file: curl's
//! `-O` (the URL's last segment, in `--output-dir`), wget's default (the URL's name, or
//! `index.html`, in `-P`'s directory, under the host and the URL's directories with `-x`).
//! Each such file is a write of the line like a named output's: `curl -O
//! https://x/.bashrc` from the home directory writes `~/.bashrc`. A name the server
//! chooses (curl's `-J`, wget's `--content-disposition` and `--trust-server-names`), a
//! URL pattern or one built at run time, URLs read from a file (`wget -i`) and a recursive
//! fetch (`wget -r`, `-m`, `-p`) write files the line does not name.

use super::finding::Finding;
use super::programs::Special;
use super::scan::Scanned;
use super::{ShellArg, Unnamed};

/// Adds the files a download saves by a name the line does not spell as an output.
pub(super) fn read(kind: Special, scanned: &Scanned, out: &mut Vec<Finding>) {
    match kind {
        Special::Curl => curl(scanned, out),
        Special::HttpClient => wget(scanned, out),
        _ => {}
    }
}

fn curl(scanned: &Scanned, out: &mut Vec<Finding>) {
    let dir = scanned.values(&["--output-dir"]).last().cloned();
    let urls: Vec<&ShellArg> =
        scanned.positionals.iter().chain(scanned.values(&["--url"])).collect();
    let globbing = !scanned.has(&["-g", "--globoff"]);
    outputs_of_patterns(scanned, &urls, globbing, out);
    if !scanned.has(&["-O", "--remote-name", "--remote-name-all"]) {
        return;
    }
    if scanned.has(&["-J", "--remote-header-name"]) {
        out.push(unnamed("the file the server names (`-J`)", dir.as_ref(), Unnamed::Entry));
    }
    // curl expands `{a,b}` and `[1-3]` in a URL unless `-g`.
    for url in urls {
        let expanded = if !url.is_known() {
            None
        } else if globbing {
            expand_pattern(&url.text)
        } else {
            Some(vec![url.text.clone()])
        };
        let Some(expanded) = expanded else {
            let what = format!("the file `{}` is saved as", url.raw);
            out.push(unnamed(&what, dir.as_ref(), Unnamed::Entry));
            continue;
        };
        let mut names: Vec<&str> = expanded
            .iter()
            // curl keeps the name as the URL spells it; a URL without one saves
            // `curl_response` (8.10 and later; earlier ones refuse it).
            .map(|url| Some(last_segment(url)).filter(|n| !n.is_empty()).unwrap_or("curl_response"))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            push(name.to_owned(), dir.as_ref(), out);
        }
    }
}

/// URLs a curl pattern stands for (`{a,b}` lists, `[1-3]`, `[a-c]`, `[01-10:2]` ranges),
/// at most [`MAX_EXPANSIONS`]; `None` past that or for a pattern curl would refuse.
fn expand_pattern(url: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut rest = url;
    while !rest.is_empty() {
        let (choices, after): (Vec<String>, &str) = if let Some(body) = rest.strip_prefix('{') {
            let end = body.find('}')?;
            (body.get(..end)?.split(',').map(str::to_owned).collect(), body.get(end + 1..)?)
        } else if let Some(body) = rest.strip_prefix('[') {
            let end = body.find(']')?;
            (range(body.get(..end)?)?, body.get(end + 1..)?)
        } else {
            let end = rest.find(['{', '[']).unwrap_or(rest.len());
            (vec![rest.get(..end)?.to_owned()], rest.get(end..)?)
        };
        if out.len().saturating_mul(choices.len()) > MAX_EXPANSIONS {
            return None;
        }
        out =
            out.iter().flat_map(|head| choices.iter().map(move |c| format!("{head}{c}"))).collect();
        rest = after;
    }
    Some(out)
}

/// Names one URL pattern may stand for at most.
const MAX_EXPANSIONS: usize = 256;

/// A curl range's values: `1-3`, `01-10` (zero-padded), `a-z`, with `:STEP`.
fn range(body: &str) -> Option<Vec<String>> {
    let (span, step) = body.split_once(':').map_or((body, "1"), |(s, n)| (s, n));
    let step: usize = step.parse().ok().filter(|n| *n > 0)?;
    let (low, high) = span.split_once('-')?;
    let values: Vec<String> = match (low.parse::<u64>(), high.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => {
            let width = if low.starts_with('0') { low.len() } else { 0 };
            (a..=b).step_by(step).take(MAX_EXPANSIONS + 1).map(|n| format!("{n:0width$}")).collect()
        }
        _ => {
            let (a, b) = (low.chars().next()?, high.chars().next()?);
            if low.chars().count() != 1 || high.chars().count() != 1 || a > b {
                return None;
            }
            (a..=b).step_by(step).take(MAX_EXPANSIONS + 1).map(String::from).collect()
        }
    };
    Some(values)
}

/// `-o` names with `#N`, which curl replaces with the text the Nth pattern of the URL
/// matched (`-o '.claude/#1.json' 'https://x/{settings}.json'`): a name of any text in
/// its place, or of any path when an alternative holds a `/`.
fn outputs_of_patterns(
    scanned: &Scanned,
    urls: &[&ShellArg],
    globbing: bool,
    out: &mut Vec<Finding>,
) {
    let numbered = |text: &str| {
        text.as_bytes()
            .windows(2)
            .any(|w| w.first() == Some(&b'#') && w.get(1).is_some_and(u8::is_ascii_digit))
    };
    let slashes =
        urls.iter().any(|url| {
            !url.is_known()
                || url.text.split('{').skip(1).any(|alternatives| {
                    alternatives.split('}').next().is_some_and(|a| a.contains('/'))
                })
        });
    for output in scanned.values(&["-o", "--output"]).filter(|o| globbing && numbered(&o.text)) {
        if slashes || !output.is_known() {
            out.push(super::archives::run_time(format!(
                "the file `-o {}` names with the URL's pattern",
                output.raw
            )));
            continue;
        }
        let mut any = String::new();
        let mut chars = output.text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '#' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                any.push('*');
            } else {
                any.push(c);
            }
        }
        out.push(Finding::Writes(ShellArg {
            text: any.clone(),
            raw: any,
            pattern: true,
            ..output.clone()
        }));
    }
}

fn wget(scanned: &Scanned, out: &mut Vec<Finding>) {
    // wget takes any unambiguous prefix of a long option (`--rec`, `--content-d`).
    let has = |names: &[&str]| scanned.has_abbreviated(names);
    // One output document takes every URL (a write option of the table).
    if has(&["-O", "--output-document"]) {
        return;
    }
    let dir = value(scanned, "-P", "--directory-prefix");
    let recursive = has(&["-r", "--recursive", "-m", "--mirror", "-p", "--page-requisites"]);
    let server_named = has(&["--content-disposition", "--trust-server-names"]);
    let directories = has(&["-x", "--force-directories"]);
    if recursive {
        let what = "the files a recursive fetch saves (`-r`, `-m`, `-p`)";
        out.push(unnamed(what, dir.as_ref(), Unnamed::Tree));
    } else if server_named {
        out.push(unnamed("the file the server names", dir.as_ref(), Unnamed::Entry));
    }
    if has(&["-i", "--input-file"]) {
        let what = "the files of the URLs `-i` reads";
        let depth = if directories { Unnamed::Tree } else { Unnamed::Entry };
        out.push(unnamed(what, dir.as_ref(), depth));
    }
    // The name of a URL that ends in `/` (`index.html` unless `--default-page` says).
    let default_page = value(scanned, "", "--default-page");
    let default_page = match &default_page {
        Some(page) if !page.is_known() => {
            out.push(unnamed("the page `--default-page` names", dir.as_ref(), Unnamed::Entry));
            "index.html"
        }
        Some(page) => page.text.as_str(),
        None => "index.html",
    };
    for url in &scanned.positionals {
        if !url.is_known() {
            let depth = if directories { Unnamed::Tree } else { Unnamed::Entry };
            out.push(unnamed(&format!("the file `{}` is saved as", url.raw), dir.as_ref(), depth));
            continue;
        }
        let name = saved_name(last_segment_with_query(&url.text), default_page);
        if !directories {
            push(name, dir.as_ref(), out);
            continue;
        }
        // `-x` keeps the host (unless `-nH`) and the URL's directories (past
        // `--cut-dirs`): every such tail of the path is written, whichever options the
        // words spell.
        let parts = wget_parts(&url.text, &name);
        for start in 0..parts.len() {
            push(parts.get(start..).unwrap_or_default().join("/"), dir.as_ref(), out);
        }
    }
}

/// The value of the option `short` or `long` (or an unambiguous prefix of `long`).
fn value(scanned: &Scanned, short: &str, long: &str) -> Option<ShellArg> {
    scanned
        .options
        .iter()
        .rev()
        .filter(|o| {
            o.names.iter().any(|n| n == short || n == long || super::scan::abbreviates(n, long))
        })
        .find_map(|o| o.value.clone())
}

/// Files only the run names, in the working directory or `dir`.
fn unnamed(what: &str, dir: Option<&ShellArg>, depth: Unnamed) -> Finding {
    Finding::Unnamed { what: what.to_owned(), dir: dir.cloned(), depth }
}

/// The write of `name` in `dir` (the working directory when `None`).
fn push(name: String, dir: Option<&ShellArg>, out: &mut Vec<Finding>) {
    let target = ShellArg::known(&name);
    out.push(match dir {
        Some(dir) => Finding::WritesUnder(target, dir.clone()),
        None => Finding::Writes(target),
    });
}

/// The URL's path after its scheme and authority (with its leading `/`) and its query,
/// without the fragment.
fn path_and_query(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split('#').next().unwrap_or_default();
    rest.find(['/', '?']).and_then(|at| rest.get(at..)).unwrap_or_default()
}

/// The URL's path, without its query.
fn path(url: &str) -> &str {
    path_and_query(url).split('?').next().unwrap_or_default()
}

/// The URL's last path segment without its query: the name curl saves it as.
fn last_segment(url: &str) -> &str {
    path(url).rsplit('/').next().unwrap_or_default()
}

/// The URL's last path segment with its query (`page.php?id=1`): the name wget saves it as.
fn last_segment_with_query(url: &str) -> &str {
    let full = path_and_query(url);
    let start = path(url).rfind('/').map_or(0, |at| at + 1);
    full.get(start..).unwrap_or_default()
}

/// The components of the path wget saves a URL at with `-x`: the host, the URL's
/// directories (decoded), then `name`.
fn wget_parts(url: &str, name: &str) -> Vec<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_name = authority.rsplit('@').next().unwrap_or_default();
    let host_name = host_name.split(':').next().unwrap_or_default();
    let path = path(url);
    let mut dirs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if !path.ends_with('/') {
        dirs.pop();
    }
    let mut parts = vec![host_name.to_ascii_lowercase()];
    parts.extend(dirs.iter().map(|d| decoded(d)));
    parts.push(name.to_owned());
    parts
}

/// The name wget saves a last segment as: decoded (a `/` in its query escaped again),
/// `default_page` for none.
fn saved_name(segment: &str, default_page: &str) -> String {
    let name = decoded(segment).replace('/', "%2F");
    if name.is_empty() || name.starts_with('?') {
        return format!("{default_page}{name}");
    }
    name
}

/// `%XX` decoded, as wget names a local file; a name that would decode to a `/` or a NUL
/// keeps its escapes.
fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.filter(|_| b == b'%').and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out.contains(&b'/') || out.contains(&0) {
        return text.to_owned();
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_the_file_curl_and_wget_save() {
        assert_eq!(last_segment("https://x.test/a/b/settings.json?x=1#f"), "settings.json");
        assert_eq!(last_segment("https://x.test"), "");
        assert_eq!(last_segment("https://x.test?a=/b"), "");
        assert_eq!(last_segment("x.test/a/.bashrc"), ".bashrc");
        assert_eq!(last_segment_with_query("https://x.test/a/p.php?id=1#f"), "p.php?id=1");
        assert_eq!(last_segment_with_query("https://x.test/dir/"), "");
        assert_eq!(decoded("settings%2Ejson"), "settings.json");
        assert_eq!(decoded("a%2Fb"), "a%2Fb");
        assert_eq!(saved_name("?a=/b", "index.html"), "index.html?a=%2Fb");
        assert_eq!(saved_name("", "settings.json"), "settings.json");
        assert_eq!(
            expand_pattern("https://x/part[1-3].tgz").unwrap(),
            ["https://x/part1.tgz", "https://x/part2.tgz", "https://x/part3.tgz"]
        );
        assert_eq!(
            expand_pattern("https://{a,b}.x/[08-10:2]").unwrap(),
            ["https://a.x/08", "https://a.x/10", "https://b.x/08", "https://b.x/10"]
        );
        assert_eq!(
            expand_pattern("https://x/{.claude/settings.json}").unwrap(),
            ["https://x/.claude/settings.json"]
        );
        assert!(expand_pattern("https://x/[1-100000]").is_none());
        assert!(expand_pattern("https://x/{a").is_none());
        assert_eq!(
            wget_parts("https://user@X.test:8080/a/%2Eclaude/s", "s"),
            ["x.test", "a", ".claude", "s"]
        );
        assert_eq!(wget_parts("https://x.test/a/", "index.html"), ["x.test", "a", "index.html"]);
    }
}
