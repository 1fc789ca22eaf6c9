//! E-mail addresses: `mailto:` removed, the domain case-folded (and IDNA as punycode), the
//! local part kept as written and also case-folded, so the policy can choose.

/// The normal forms of one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailForm {
    /// `local@domain`, the local part as written.
    pub exact: String,
    /// `local@domain`, the local part case-folded too.
    pub folded: String,
    pub domain: String,
    /// The mailbox it delivers to, as providers read it: the local part case-folded
    /// without its `+tag` (`fred+invite@x.test` is `fred@x.test`), and for Gmail without
    /// dots, `googlemail.com` being `gmail.com`.
    pub mailbox: String,
}

impl EmailForm {
    /// The form the policy compares: folded when the local part's case does not matter.
    pub fn key(&self, local_part_insensitive: bool) -> &str {
        if local_part_insensitive { &self.folded } else { &self.exact }
    }
}

/// The normal form of `text` as an e-mail address, or `None` when it is not one.
pub fn normal(text: &str) -> Option<EmailForm> {
    let folded = super::fold(text);
    let text = folded.as_ref();
    let mut text = text.trim().trim_start_matches('<').trim_end_matches('>');
    if text.len() >= 7 && text.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("mailto:")) {
        text = text.get(7..)?;
        // `mailto:a@b.test?subject=hi`: the headers are not the address.
        text = text.split('?').next()?;
    }
    let (local, domain) = text.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:@\"".contains(c));
    if !local_ok || domain.is_empty() || domain.chars().any(|c| c.is_whitespace() || c == '/') {
        return None;
    }
    let domain = match url::Host::parse(domain.trim_end_matches('.')).ok()? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        _ => return None,
    };
    if !domain.contains('.') && domain != "localhost" {
        return None;
    }
    Some(EmailForm {
        exact: format!("{local}@{domain}"),
        folded: format!("{}@{domain}", local.to_lowercase()),
        mailbox: mailbox(local, &domain),
        domain,
    })
}

/// The mailbox `local@domain` delivers to (`EmailForm::mailbox`).
fn mailbox(local: &str, domain: &str) -> String {
    let local = local.to_lowercase();
    let base = local.split_once('+').map_or(local.as_str(), |(base, _)| base);
    let base = if base.is_empty() { local.as_str() } else { base };
    match domain {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", base.replace('.', "")),
        _ => format!("{base}@{domain}"),
    }
}

/// The addresses in a recipient field written as mail clients accept it: display names
/// (`Fred <fred@x.test>`, `"Doe, J" <j@x.test>`, look-alike brackets `‹…›`) and lists
/// (`a@x.test, b@y.test; c@z.test`), each address a word between the separators that
/// reads as one. RFC 5322's groups (`Team: a@x.test, b@y.test;`, `x:a@x.test`) and
/// obsolete source routes (`<@relay.test:a@x.test>`) name the address after the `:`, which
/// mail libraries deliver to (red team round 24, flow E1), and what follows a `?` or `#`
/// that made the text no address (`a@x.test?b@y.test`) is read as another. `None` when
/// the text is a single plain address (or holds none).
pub fn recipient_addresses(text: &str) -> Option<Vec<String>> {
    if normal(text).is_some() && !text.contains([',', ';']) {
        return None;
    }
    let separators = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';'
                    | ':'
                    | '?'
                    | '#'
                    | '<'
                    | '>'
                    | '"'
                    | '('
                    | ')'
                    | '‹'
                    | '›'
                    | '＜'
                    | '＞'
                    | '«'
                    | '»'
            )
    };
    let found: Vec<String> = text
        .split(separators)
        .filter(|word| word.contains('@') && normal(word).is_some())
        .map(str::to_owned)
        .collect();
    (!found.is_empty()).then_some(found)
}

/// Every address a `mailto:` URI sends to (RFC 6068), percent-decoded: those of its path
/// (`mailto:a@x.test,b@y.test`) and of its `to`, `cc` and `bcc` fields
/// (`mailto:bob@x.test?bcc=eve@evil.test`, `mailto:?to=eve%40evil.test`). `None` when
/// `text` is not a `mailto:` URI. The other fields (`subject`, `body`) are no recipients.
pub fn mailto_addresses(text: &str) -> Option<Vec<String>> {
    let folded = super::fold(text);
    let text = folded.trim().trim_start_matches('<').trim_end_matches('>');
    if !text.get(..7)?.eq_ignore_ascii_case("mailto:") {
        return None;
    }
    let rest = text.get(7..)?;
    // A fragment names no recipient; an HTML page writes `&` as `&amp;`.
    let rest = rest.split('#').next().unwrap_or_default().replace("&amp;", "&");
    let (path, query) = rest.split_once('?').unwrap_or((&rest, ""));
    let decode = super::percent_decoded;
    let mut out = Vec::new();
    let mut add = |list: &str| {
        out.extend(
            decode(list).split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned),
        );
    };
    add(path);
    for field in query.split(['&', ';']) {
        let (name, value) = field.split_once('=').unwrap_or((field, ""));
        let name = decode(name);
        if ["to", "cc", "bcc"].iter().any(|n| name.trim().eq_ignore_ascii_case(n)) {
            add(value);
        }
    }
    Some(out)
}
