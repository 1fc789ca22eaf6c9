//! The typed-value part of the data-flow stage: which kind an argument is matched as, the
//! values `scan` finds inside free text, and verbatim copies of untrusted content
//! (`max_copied_from_untrusted`).

use super::{Evaluation, shorten};
use crate::constraint::Constraint;
use crate::policy::{AgentManifest, ArgSpec};
use crate::provenance::SourceKind;
use crate::provenance::SourceRef;
use crate::values::{self, ValueKind, ValueOptions};
use crate::verdict::{Decision, Stage, ValueSpan};

/// The normalisation settings for one argument: the manifest's, with the argument's own
/// `email_local_part_case` over them.
pub(super) fn options(agent: &AgentManifest, spec: Option<&ArgSpec>) -> ValueOptions {
    let mut options = agent.data_flow.values;
    if let Some(insensitive) = spec.and_then(|s| s.values.email_local_part_insensitive) {
        options.email_local_part_insensitive = insensitive;
    }
    options
}

/// The kind a value is matched as: the argument's declared kind; for a control argument
/// without one, the kind its text plainly has (a `scheme://` URL, an address, a valid
/// IBAN), so respelling a link or an address does not make it "unseen".
pub(super) fn kind_of(spec: Option<&ArgSpec>, text: &str) -> Option<ValueKind> {
    let spec = spec?;
    if let Some(kind) = &spec.values.kind {
        return Some(kind.clone());
    }
    if !spec.control {
        return None;
    }
    let text = text.trim();
    // `https:evil.test`, `https:/evil.test`, `https:\\evil.test` and the JSON-escaped
    // `https:\/\/evil.test` name a host for browsers and Node as `https://` does.
    let web_scheme = text.split_once(':').is_some_and(|(head, _)| {
        values::SPECIAL_SCHEMES.iter().any(|s| head.eq_ignore_ascii_case(s))
    });
    if web_scheme
        || text.contains("://")
        || text.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."))
    {
        values::url_normal(text).map(|_| ValueKind::Url)
    } else if values::mailto_addresses(text).is_some() {
        Some(ValueKind::Email)
    } else if text.contains('@') {
        values::email_normal(text).map(|_| ValueKind::Email)
    } else {
        values::iban_normal(text).map(|_| ValueKind::Iban)
    }
}

/// A link to `text` when it is a bare host, as a control argument names a server (`host`,
/// `smtp_host`, `proxy`): a dotted name whose last label is letters, a dotted IPv4
/// address or an IPv6 literal, with a port or not; its spelling folded first (full-width
/// dots and letters). Numbers alone are not taken for hosts.
pub(super) fn bare_host_link(text: &str) -> Option<String> {
    let text = values::fold(text.trim());
    let text = text.as_ref();
    if text.is_empty()
        || text.len() > 253
        || text.contains(|c: char| c.is_whitespace() || "/@?#\\".contains(c))
    {
        return None;
    }
    let hex_or_colon = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    if text.matches(':').count() >= 2 {
        // An IPv6 literal, bracketed or not.
        let inner = text.strip_prefix('[').and_then(|t| t.split_once(']')).map_or(text, |(h, _)| h);
        return inner.chars().all(hex_or_colon).then(|| format!("http://[{inner}]/"));
    }
    let host = match text.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => host,
        Some(_) => return None,
        None => text,
    };
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let ipv4 = labels.len() == 4
        && labels.iter().all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    let name = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| {
            // An internationalised top-level domain in its ASCII form (`xn--p1ai`) too (red
            // team round 28, flow M2).
            let punycode = tld.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
                && tld.len() > 4
                && tld.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            punycode || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
        });
    (ipv4 || name).then(|| format!("http://{text}/"))
}

impl Evaluation<'_> {
    /// Scans a free-text argument for values of its `scan` kinds and checks its copy limit;
    /// returns whether a finding was made.
    pub(super) fn scan_text(
        &mut self,
        agent: &AgentManifest,
        spec: &ArgSpec,
        path: &str,
        text: &str,
    ) -> bool {
        let options = options(agent, Some(spec));
        let decision = agent.data_flow.untrusted_control_argument.max(Decision::RequireApproval);
        let mut flagged = false;
        if !spec.values.scan.is_empty() {
            // What the text writes, and the values it keeps: a patch adds its `+` lines
            // and keeps the others; an edit keeps what the text it replaces held.
            // Both keep the text's offsets: a patch's other lines and a kept value's
            // spelling are blanked, not cut out.
            let patch = crate::patch::written_and_kept(text);
            let written = patch.as_ref().map_or(text, |(written, _)| written.as_str());
            let kept = self.kept_values(spec, &options, patch.as_ref().map(|(_, kept)| kept));
            let provenance = &self.run.provenance;
            // Folded like the index (`values::fold`); offsets are the folded text's. Then
            // the text's other readings, as the index reads history (`eve&#64;evil.test`,
            // `hxxps://evil[.]test` in an e-mail body): their values have no offset in
            // the text, so they are reasons without a span.
            let folded = values::fold(written);
            let folded = match kept.is_empty() {
                true => folded,
                false => std::borrow::Cow::Owned(without_kept(&folded, &kept)),
            };
            let text = folded.as_ref();
            let mut readings = values::readings(text);
            readings.extend(values::as_it_looks(text));
            if spec.constraints.iter().any(|c| matches!(c, Constraint::Shell(_))) {
                readings.extend(shell_readings(text));
            }
            let texts = std::iter::once(text).chain(readings.iter().map(String::as_str));
            let mut findings: Vec<(String, Option<usize>, ValueKind, SourceRef)> = Vec::new();
            // A set: a text of 80,000 links took 22 s with a list's `contains`.
            let mut seen = std::collections::HashSet::new();
            for (reading, scanned) in texts.enumerate() {
                for found in values::find(scanned, &spec.values.scan, &options) {
                    let Some(raw) = scanned.get(found.start..found.end) else { continue };
                    // One reason per value, however many readings spell it.
                    if !seen.insert(found.normal.clone()) {
                        continue;
                    }
                    let Some(source) = provenance.source_of_kind(&found.kind, raw, &options) else {
                        continue;
                    };
                    if !source.kind.is_trusted() {
                        let offset = (reading == 0).then_some(found.start);
                        findings.push((raw.to_owned(), offset, found.kind, source.clone()));
                    }
                }
            }
            for (raw, offset, kind, source) in findings {
                let at = match offset {
                    Some(offset) => format!("at byte {offset}"),
                    None => "once decoded".to_owned(),
                };
                let message = format!(
                    "`{path}` holds the {} `{}` {at}: it appears only in untrusted content \
                     ({})",
                    kind_name(&kind),
                    shorten(&raw),
                    source.label
                );
                let rule = "data_flow.untrusted_value_in_text";
                self.reason(Stage::DataFlow, rule, decision, Some(path.to_owned()), message);
                if let Some(offset) = offset {
                    self.spans.push(ValueSpan {
                        field: path.to_owned(),
                        kind: kind.name().to_owned(),
                        offset,
                        length: raw.len(),
                        source_call: source_call(&source),
                        source: source.label,
                    });
                }
                flagged = true;
            }
        }
        // The copy is looked for in the text as a reader sees it: folded (zero-width and
        // other invisible characters dropped), then with entities and escapes decoded (red
        // team, 2026-11-28: a paragraph copied with a zero-width space between every letter
        // passed). Punctuation (`_` and `-` for spaces) is not compared at all (`compact`).
        // The other readings are only built when the text as written copies nothing.
        let copied = |limit| {
            let copy = |reading: &str| {
                self.run
                    .provenance
                    .untrusted_copy(reading, limit)
                    .map(|copy| (copy.len, copy.pieces, copy.source.label.clone(), copy.excerpt))
            };
            copy(&values::fold(text))
                .or_else(|| values::readings(text).iter().find_map(|r| copy(r)))
        };
        if let Some(limit) = spec.values.max_copied_from_untrusted
            && let Some((len, pieces, label, excerpt)) = copied(limit)
        {
            let parts = if pieces > 1 { format!(" in {pieces} pieces") } else { String::new() };
            let message = format!(
                "`{path}` copies {len} characters of untrusted content from {label}{parts} \
                 (more than {limit}): `{}`",
                shorten(&excerpt)
            );
            let rule = "data_flow.copied_from_untrusted";
            self.reason(Stage::DataFlow, rule, decision, Some(path.to_owned()), message);
            flagged = true;
        }
        flagged
    }

    /// The spellings of the values of `spec`'s scanned kinds that the call keeps rather
    /// than writes: those in the text its argument replaces (`replaces`, an edit's
    /// `old_string`; every one of a list's) and in a patch's removed and context lines.
    fn kept_values(
        &self,
        spec: &ArgSpec,
        options: &ValueOptions,
        patch_kept: Option<&String>,
    ) -> Vec<String> {
        let mut texts: Vec<&str> = patch_kept.map(String::as_str).into_iter().collect();
        // One replaced text only: a later edit of a list replaces text the earlier ones may
        // have written (a `MultiEdit` whose second `old_string` holds the link its first
        // `new_string` put there: red team round 31, second pass, P2-3).
        if let Some(replaced) = &spec.values.replaces {
            let mut replaced_texts = Vec::new();
            replaced.for_each_value(&self.call.args, &mut |value| replaced_texts.push(value));
            if let [only] = replaced_texts.as_slice() {
                texts.extend(only.as_str());
            }
        }
        let mut kept: Vec<String> = Vec::new();
        for text in texts {
            let folded = values::fold(text);
            for found in values::find(&folded, &spec.values.scan, options) {
                if let Some(raw) = folded.get(found.start..found.end)
                    && !kept.iter().any(|k| k == raw)
                {
                    kept.push(raw.to_owned());
                }
            }
        }
        // The longest first: a kept link that another one starts is blanked whole.
        kept.sort_by_key(|k| std::cmp::Reverse(k.len()));
        kept
    }
}

/// `text` with every spelling in `kept` blanked (spaces, byte for byte) where it stands
/// whole: not where the text goes on with what a link or an address holds, so a kept
/// `https://cdn.test/lib.js` does not vouch for `https://cdn.test/lib.js?d=secret` or
/// `https://cdn.test/lib.js.evil.test` written in its place.
fn without_kept(text: &str, kept: &[String]) -> String {
    let continues = |c: char| c.is_alphanumeric() || "-._~:/?#[]@$&+=%".contains(c);
    let ends = |rest: &str| {
        let mut chars = rest.chars();
        match chars.next() {
            None => true,
            Some('.' | ':' | '?') => chars.next().is_none_or(|next| !continues(next)),
            Some(next) => !continues(next),
        }
    };
    let mut out = text.to_owned();
    for spelling in kept.iter().filter(|k| !k.is_empty()) {
        let mut from = 0;
        while let Some(at) = out[from..].find(spelling.as_str()).map(|i| i + from) {
            let end = at + spelling.len();
            let starts = out[..at].chars().next_back().is_none_or(|c| !continues(c));
            if starts && ends(&out[end..]) {
                out.replace_range(at..end, &" ".repeat(spelling.len()));
            }
            from = end;
        }
    }
    out
}

/// A command line as its programs receive it: each command's words with quotes and
/// escapes removed (`ev""il.test`, `evil\.test`, `$'\x65vil.test'`), its redirection
/// targets and assigned values, a command a line; then the same with `:`, `,` and `=`
/// apart, for option values that pack a host between other fields (`--connect-to
/// ::evil.test:`, `--resolve x:80:203.0.113.7`); then the links its network clients connect
/// to in spellings the scanner does not read as links (`client_links`). None when the line
/// does not parse (the shell rules block it then).
fn shell_readings(text: &str) -> Vec<String> {
    let Ok(analysis) = crate::shell::analyse_line(text) else { return Vec::new() };
    let mut words = String::with_capacity(text.len());
    for command in &analysis.commands {
        words.push_str(&command.program);
        for word in &command.words {
            words.push(' ');
            words.push_str(&word.text);
        }
        words.push('\n');
    }
    let targets = analysis.redirections.iter().map(|r| &r.target);
    for word in targets.chain(analysis.assignments.iter().map(|a| &a.value)) {
        words.push_str(&word.text);
        words.push('\n');
    }
    let apart = words.replace([':', ',', '='], " ");
    vec![words, apart, client_links(&analysis)]
}

/// Where a shell line may connect, each as a link: every link its words and redirections
/// hold (an operand, `--index-url=URL`, `sparse+https://...`: red team round 28, flow M1),
/// and each bare host its network clients take (`evil.test`, `root@evil.test`,
/// `git@evil.test:repo.git`, `evil.test:8443`, and a name of one label before `:PATH` or
/// after `USER@`: `collector:r.git`, flow H2), remotes a later `git push` sends to (`git
/// remote add x URL`) among them. Data flow looks each up as a link, without any `scan`
/// rule: a destination only untrusted content named (its site, a look-alike of it) steers
/// where the line sends (red team round 27, flow D3).
pub(super) fn shell_destinations(text: &str, options: &ValueOptions) -> Vec<String> {
    let Ok(analysis) = crate::shell::analyse_line(text) else { return Vec::new() };
    let mut links = Vec::new();
    let words = analysis.commands.iter().flat_map(|c| &c.words);
    let targets = analysis.redirections.iter().map(|r| &r.target);
    for word in words.chain(targets).chain(analysis.assignments.iter().map(|a| &a.value)) {
        links.extend(word_link(&word.text));
    }
    for operand in crate::shell::host_operands(&analysis) {
        // A link is read whole from its word, above (an operand's pieces cut it at `=`).
        if operand.contains("://") {
            continue;
        }
        // An scp-like remote the scanner reads as the link it is (`git@host:path`), user
        // and path with it: that link decides.
        let found = values::find(&operand, &[ValueKind::Url], options);
        if let Some(remote) = found.iter().find(|f| f.start == 0) {
            links.extend(operand.get(remote.start..remote.end).map(str::to_owned));
            continue;
        }
        let (user, after_user) = match operand.rsplit_once('@') {
            Some((user, host)) => (!user.is_empty(), host),
            None => (false, operand.as_str()),
        };
        let authority = after_user.split('/').next().unwrap_or_default();
        // `HOST:PATH` (scp, git, rsync): the host alone; `HOST:PORT` and IPv6 as they are.
        let remote = authority.split_once(':').filter(|(host, _)| !host.is_empty());
        let link = bare_host_link(authority)
            .or_else(|| remote.and_then(|(host, _)| bare_host_link(host)))
            .or_else(|| {
                // One label names a host only where the syntax says it is one.
                let host = match remote {
                    Some((host, _)) => host,
                    None if user => authority,
                    None => return None,
                };
                let label = !host.is_empty()
                    && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                label.then(|| format!("http://{}/", host.to_ascii_lowercase()))
            });
        links.extend(link);
    }
    links.extend(client_links(&analysis).lines().map(str::to_owned));
    links.sort();
    links.dedup();
    links
}

/// The link a shell word holds from its scheme to its end (a word has no spaces: its query
/// and fragment are the link's, `?k=v` and all): `https://x/y`, the value of
/// `--index-url=https://x/y`, cargo's `sparse+https://x/` as `https://x/`.
fn word_link(word: &str) -> Option<String> {
    let at = word.find("://")?;
    let scheme_start = word
        .get(..at)?
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map_or(0, |i| i + 1);
    let link = word.get(scheme_start..)?;
    (scheme_start < at && link.len() > at - scheme_start + 3).then(|| link.to_owned())
}

/// A network client's operands whose host is a number in one of the short spellings
/// clients accept (`curl 3405803783`, `curl 203.7/x`, `ssh root@203.7`) or an IPv6 address
/// (`curl -g '[::ffff:cb00:7107]/x'`, `ping6 ::ffff:cb00:7107`), as links, one a line: no text scanner takes such a
/// word for a host, since most are counts, versions and dates. Addresses of `0.0.0.0/8`
/// are left out: they are what option values and ports read as (`ping -c 4`, `nc HOST 80`).
fn client_links(analysis: &crate::shell::Analysis) -> String {
    let mut links = String::new();
    for operand in crate::shell::host_operands(analysis) {
        if operand.contains("://") {
            continue;
        }
        let after_user = operand.rsplit_once('@').map_or(operand.as_str(), |(_, host)| host);
        // An IPv6 address written bare (`ping6 ::ffff:cb00:7107`, `dig @64:ff9b::cb00:7107`).
        if after_user.parse::<std::net::Ipv6Addr>().is_ok() {
            links.push_str("http://[");
            links.push_str(after_user);
            links.push_str("]/\n");
            continue;
        }
        let host = match after_user.strip_prefix('[') {
            Some(v6) => match v6.find(']') {
                Some(end) => &after_user[..end + 2],
                None => continue,
            },
            None => {
                let host = after_user.split(['/', ':', '?', '#']).next().unwrap_or_default();
                match values::numeric_ipv4(host) {
                    Some(address) if address.octets()[0] != 0 => host,
                    _ => continue,
                }
            }
        };
        links.push_str("http://");
        links.push_str(host);
        // `HOST:PATH` (scp, git, rsync) is a path on the host, `HOST:PORT` a port.
        let rest = &after_user[host.len()..];
        match rest.strip_prefix(':') {
            Some(path) if !path.starts_with(|c: char| c.is_ascii_digit()) => {
                links.push('/');
                links.push_str(path.trim_start_matches(':'));
            }
            _ => links.push_str(rest),
        }
        links.push('\n');
    }
    links
}

/// The call whose output `source` is: a tool output's label starts with its call id
/// (`c3 read_email.body`, `RunState::record_result`); the user's words and a lost history
/// are no call's.
fn source_call(source: &SourceRef) -> Option<String> {
    if source.kind == SourceKind::User || source.label.starts_with("history lost") {
        return None;
    }
    source.label.split_once(' ').map(|(call, _)| call.to_owned())
}

fn kind_name(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Url => "link",
        ValueKind::Email => "e-mail address",
        ValueKind::Iban => "IBAN",
        ValueKind::Phone => "phone number",
        ValueKind::Amount => "amount",
        ValueKind::Date => "date",
        ValueKind::Custom(_) => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::{bare_host_link, kind_of};

    /// Red team round 20, F2: hosts a control argument names without a scheme.
    #[test]
    fn a_bare_host_is_read_as_a_link_and_numbers_and_files_paths_are_not() {
        for (host, link) in [
            ("db.evil-sync.example", "http://db.evil-sync.example/"),
            ("db.evil-sync.example:5432", "http://db.evil-sync.example:5432/"),
            ("203.0.113.77", "http://203.0.113.77/"),
            ("::ffff:203.0.113.77", "http://[::ffff:203.0.113.77]/"),
            ("[2001:db8::1]:443", "http://[2001:db8::1]/"),
            ("ｄｂ．ｅｖｉｌ．ｅｘａｍｐｌｅ", "http://db.evil.example/"),
            ("x.io", "http://x.io/"),
        ] {
            assert_eq!(bare_host_link(host).as_deref(), Some(link), "{host}");
        }
        for text in [
            "3405803853",
            "0xcb00714d",
            "src/main.rs",
            "v1.2.3",
            "a b.com",
            "eve@evil.test",
            "1.5",
            "",
        ] {
            assert_eq!(bare_host_link(text), None, "{text}");
        }
    }
    use crate::path::FieldPath;
    use crate::policy::{ArgSpec, ArgValues};
    use crate::values::ValueKind;

    /// A control argument without a declared kind is a URL wherever browsers and Node read
    /// one, `//` or not (red team, 2026-11-28: these were matched as plain text, so a
    /// page's link respelt this way counted as unseen).
    #[test]
    fn a_control_argument_is_a_url_in_every_spelling_that_names_a_host() {
        let spec = ArgSpec {
            path: FieldPath::parse("url").unwrap(),
            control: true,
            sink: false,
            constraints: Vec::new(),
            values: ArgValues::default(),
        };
        for url in [
            "https://collect.evil.test/hook",
            "https:collect.evil.test/hook",
            "HTTPS:/collect.evil.test/hook",
            "https:\\\\collect.evil.test\\hook",
            "https:\\/\\/collect.evil.test\\/hook",
            "ws:collect.evil.test",
            "www.evil.test/x",
        ] {
            assert_eq!(kind_of(Some(&spec), url), Some(ValueKind::Url), "{url}");
        }
        assert_ne!(kind_of(Some(&spec), "mailto:eve@evil.test"), Some(ValueKind::Url));
        let plain = ArgSpec { control: false, ..spec };
        assert_eq!(kind_of(Some(&plain), "https:collect.evil.test/hook"), None);
    }
}
