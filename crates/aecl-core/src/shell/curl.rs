//! How curl reads an option's name, which is not how getopt does. Before 8.6 (what Debian
//! 12, Ubuntu 22.04 and 24.04 ship) it matched long names without regard to case and took
//! any unambiguous prefix: `--DATA-B @secret` is `--data-binary`, `--Output ~/.bashrc` is
//! `--output`. Since 8.3, `--expand-NAME` is `--NAME` with `{{variables}}` expanded in its
//! value. Every reader of curl's words (the guard, the network operands) takes them from
//! [`prepare`], and the normaliser names long options with [`long_name`], so that each sees
//! the options curl acts on; the program table knows every option curl has
//! (`curl_options.rs`, generated from curl's own table), so a prefix stands for the options it
//! could abbreviate and nothing else. [`read`] then judges curl's own ways of building a
//! request at run time or sending it elsewhere than its URL.

use std::borrow::Cow;

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;

use super::curl_options::VALUE_NAMES;

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

/// curl's own ways of building a request from what the line does not show, or of sending
/// it to another host than its URL names.
pub(super) fn read(scanned: &Scanned, out: &mut Vec<Finding>) {
    // `--variable NAME@FILE` (or `%ENV`) loads a file or the environment, which the
    // `--expand-*` options put into the URL, headers and credentials: the request is then
    // built at run time from what no word of the line shows. (`prepare` reads
    // `--expand-NAME` as `--NAME` with a value built at run time, judged as such.)
    if let Some(name) =
        scanned.options.iter().find_map(|o| o.names.iter().find(|n| *n == "--variable"))
    {
        out.push(Finding::Uploads(format!(
            "`{name}` builds the request from files, the environment or values known at run \
             time"
        )));
    }
    // Cookies read from a file (`-b FILE`: a value without `=` names one), credentials
    // from a netrc file, and URLs read from a file (`--url @FILE`, curl 8.13) send what
    // the files hold.
    for cookie in scanned.values(&["-b", "--cookie"]) {
        if !cookie.is_known() || !cookie.text.contains('=') {
            out.push(Finding::Uploads(format!("`-b {}` sends the cookies of a file", cookie.raw)));
        }
    }
    if scanned.has(&["-n", "--netrc", "--netrc-optional", "--netrc-file"]) {
        out.push(Finding::Uploads("credentials are read from a netrc file".to_owned()));
    }
    if let Some(list) =
        scanned.values(&["--url"]).find(|u| !u.is_known() || u.text.starts_with('@'))
    {
        out.push(Finding::Uploads(format!("`--url {}` reads URLs from a file", list.raw)));
    }
    // `-Q CMD` sends a command to an FTP or SFTP server before or after the transfer
    // (`DELE f`, `rm f`, `rename a b`, `chmod 777 f`): a change on the server, as an upload.
    if let Some(command) = scanned.values(&["-Q", "--quote"]).next() {
        out.push(Finding::Uploads(format!("`-Q {}` runs a command on the server", command.raw)));
    }
    // These send the request to another host than its URL names (a proxy, a
    // forced address, a socket, a resolver of the caller's choosing).
    const ELSEWHERE: [&str; 14] = [
        "-x",
        "--proxy",
        "--proxy1.0",
        "--preproxy",
        "--socks4",
        "--socks4a",
        "--socks5",
        "--socks5-hostname",
        "--connect-to",
        "--resolve",
        "--doh-url",
        "--dns-servers",
        "--unix-socket",
        "--abstract-unix-socket",
    ];
    if let Some(option) = scanned
        .options
        .iter()
        .find_map(|o| o.names.iter().find(|n| ELSEWHERE.contains(&n.as_str())))
    {
        out.push(Finding::Uploads(format!(
            "`{option}` sends the request elsewhere than its URL says"
        )));
    }
    // `-w '%output{FILE}...'` writes the rest of the format to FILE (curl 8.3); a format
    // read from a file (`-w @FILE`) or built at run time may hold one.
    for format in scanned.values(&["-w", "--write-out"]) {
        if !format.is_known() || format.text.starts_with('@') {
            out.push(Finding::Writes(ShellArg {
                raw: format!("the files `-w {}` may name", format.raw),
                expansion: true,
                ..ShellArg::default()
            }));
            continue;
        }
        let mut rest = format.text.as_str();
        while let Some(start) = rest.find("%output{") {
            let after = &rest[start + "%output{".len()..];
            let Some(end) = after.find('}') else { break };
            // `%output{>>FILE}` appends to FILE.
            let file = after[..end].strip_prefix(">>").unwrap_or(&after[..end]);
            out.push(Finding::Writes(ShellArg::known(file)));
            rest = &after[end..];
        }
    }
    // An option's value built at run time is sent (`-A "$(cat .env)"`, `-u`, `-b`,
    // `--oauth2-bearer`), as a URL built at run time is. Not the values that name a file
    // curl writes (its table's write options, judged as writes) or reads for itself, the
    // write-out format (above), nor numbers and times.
    let writes = super::programs::builtin("curl").map_or(&[][..], |spec| &spec.write_options);
    const NOT_SENT: [&str; 24] = [
        "-w",
        "--write-out",
        "--cacert",
        "--capath",
        "-E",
        "--cert",
        "--key",
        "--cert-type",
        "--key-type",
        "--proxy-cacert",
        "--netrc-file",
        "-m",
        "--max-time",
        "--connect-timeout",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "--speed-limit",
        "--speed-time",
        "--limit-rate",
        "--max-filesize",
        "--max-redirs",
        "--keepalive-time",
        "--local-port",
    ];
    if let Some(value) = scanned
        .options
        .iter()
        .filter(|o| !o.names.iter().any(|n| NOT_SENT.contains(&n.as_str()) || writes.contains(n)))
        .filter_map(|o| o.value.as_ref())
        .find(|v| v.expansion)
    {
        out.push(Finding::Uploads(format!(
            "the option value `{}` is built at run time",
            value.raw
        )));
    }
    // Other protocols send what no upload option shows: `telnet:` (or `--proto-default
    // telnet`) sends standard input, `smtp:`, `mqtt:`, `dict:`, `gopher:` and the rest
    // requests of the caller's own making.
    let urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
    // curl expands `{a,b}` and `[1-3]` in a URL (unless `-g`): `{telnet,http}://x` speaks
    // telnet, so a pattern where the scheme is stands for any protocol.
    let globbing = !scanned.has(&["-g", "--globoff"]);
    // Without `--proto-default`, curl guesses the protocol of a URL without a scheme from
    // its host name (`dict.x/d:secret` speaks DICT).
    let guessing = scanned.values(&["--proto-default"]).next().is_none();
    let mut schemes = Vec::new();
    for url in urls {
        let head = url.text.split("://").next().unwrap_or_default();
        if globbing && head.contains(['{', '[']) {
            out.push(Finding::Uploads(format!(
                "`{}`: a URL pattern where the scheme is may make curl speak any protocol",
                url.raw
            )));
        } else if let Some(scheme) =
            url_scheme(&url.text).or_else(|| guessing.then(|| guessed_scheme(&url.text)).flatten())
        {
            schemes.push((scheme, &url.raw));
        }
        // `https://[e-e]vil.test/`, `https://docs.test{,@evil.test}/`: the hosts curl
        // connects to are known once it expands the pattern, as a URL built at run time.
        if globbing && host_pattern(&url.text) {
            out.push(Finding::Uploads(format!(
                "`{}`: a URL pattern in the host makes curl connect to hosts the line does not \
                 spell",
                url.raw
            )));
        }
    }
    let defaults = scanned.values(&["--proto-default"]).map(|v| (v.text.clone(), &v.raw));
    for (scheme, raw) in schemes.into_iter().chain(defaults) {
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "http" | "https" | "ftp" | "ftps" | "file"
        ) {
            out.push(Finding::Uploads(format!("`{raw}` makes curl speak `{scheme}`")));
        }
    }
}

/// The scheme of a URL as curl reads it (`telnet:/host`, `TELNET://host`, `dict:x`):
/// one of curl's protocols, or any name followed by `:/`; `None` for `host:port/path`,
/// `user:password@host` and text without a scheme.
fn url_scheme(url: &str) -> Option<String> {
    const PROTOCOLS: [&str; 27] = [
        "dict", "file", "ftp", "ftps", "gopher", "gophers", "http", "https", "imap", "imaps",
        "ldap", "ldaps", "mqtt", "pop3", "pop3s", "rtmp", "rtsp", "scp", "sftp", "smb", "smbs",
        "smtp", "smtps", "telnet", "tftp", "ws", "wss",
    ];
    let (scheme, rest) = url.split_once(':')?;
    let name = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    let known = PROTOCOLS.contains(&scheme.to_ascii_lowercase().as_str());
    (name && (known || rest.starts_with('/'))).then(|| scheme.to_owned())
}

/// The protocol curl guesses for a URL without a scheme from its host name (curl's
/// `guess_scheme`: `ftp.`, `dict.`, `ldap.`, `imap.`, `smtp.` and `pop3.` at its start, in
/// any case); `None` for a URL with a scheme and for the others, which curl fetches over
/// HTTP.
fn guessed_scheme(url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    let authority = url.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
    ["ftp", "dict", "ldap", "imap", "smtp", "pop3"]
        .into_iter()
        .find(|p| host.strip_prefix(p).is_some_and(|rest| rest.starts_with('.')))
        .map(str::to_owned)
}

/// Whether curl's URL globbing (`{a,b}`, `[a-z]`) reaches the host of `url`: a `{` or a
/// `[` before its path, other than an IPv6 literal (`[::1]`, which curl leaves as it is).
fn host_pattern(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let user_info = authority.get(..authority.len() - host.len()).unwrap_or_default();
    let after_literal = host.strip_prefix('[').and_then(|inner| inner.split_once(']')).and_then(
        |(inside, port)| {
            let address = inside.contains(':')
                && inside.bytes().all(|b| b.is_ascii_alphanumeric() || b":.%".contains(&b));
            address.then_some(port)
        },
    );
    user_info.contains(['{', '[']) || after_literal.unwrap_or(host).contains(['{', '['])
}

#[cfg(test)]
mod tests {
    use super::super::curl_options::{FLAG_NAMES, SHORT_FLAGS, SHORT_VALUES};
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
