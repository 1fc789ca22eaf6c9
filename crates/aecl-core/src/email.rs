//! One e-mail address, read the one way every mail system reads it, for the checks that
//! allow its domain: the catalog's `email_domains` (each address of a list) and a standing
//! grant's `email_domain` condition (exactly one address).
//!
//! The domain is what these checks allow, so anything a mail system could take for
//! another address or another domain is refused rather than guessed at: a second `@`
//! (`eve@evil.test?@example.com`), a list separator or a line break inside what should be
//! one address, a display name that holds an `@` or that is not plain words or one quoted
//! string, text after the closing `>`, a quoted local part, a domain literal
//! (`[1.2.3.4]`), a host name with characters a host has not, and the old routing forms
//! of a local part (`eve%evil.test@example.com`, `evil.test!eve@example.com`) that relays
//! still honour, passing the mail on to another domain. Refusing fails closed: the address
//! is then not allowed by any domain.

/// The domain (lower case, without a trailing dot) of `address`, one address in
/// `local@domain` or `Name <local@domain>` form; `None` when `address` is not exactly one
/// such address.
pub fn email_domain(address: &str) -> Option<String> {
    let address = address.trim();
    if address.chars().any(char::is_control) {
        return None;
    }
    let inner = match (address.find('<'), address.rfind('<'), address.find('>')) {
        (None, None, None) => address,
        // `Name <addr>`: one `<`, one `>`, and nothing after it (another address there is
        // what a reader could mail to instead).
        (Some(open), Some(last_open), Some(close))
            if open == last_open && close + 1 == address.len() && open < close =>
        {
            if !is_plain_display_name(address.get(..open)?) {
                return None;
            }
            address.get(open + 1..close)?
        }
        _ => return None,
    };
    let (local, domain) = inner.split_once('@')?;
    if local.is_empty() || !local.chars().all(is_local_char) {
        return None;
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    is_host_name(domain).then(|| domain.to_ascii_lowercase())
}

/// Whether `name`, the text before `<`, is a display name that no mail library reads as
/// an address: words of `atext` and dots, or one quoted string without escapes, and no
/// `@` anywhere. Python's `email` package sends `eve@evil.test <ann@example.com>` to
/// `eve@evil.test`, and some readers take the quoted `"eve@evil.test" <…>` the same way,
/// so a name that holds an `@` is refused whatever the address inside `<…>` is.
fn is_plain_display_name(name: &str) -> bool {
    let name = name.trim();
    // `=?utf-8?q?eve=40evil.test?=` is an encoded word (RFC 2047): decoded, it holds `@`.
    if name.contains('@') || name.contains("=?") {
        return false;
    }
    match name.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        Some(quoted) => !quoted.contains(['"', '\\']),
        None => name.chars().all(|c| c == ' ' || is_local_char(c)),
    }
}

/// A character of an unquoted local part (RFC 5322 `atext` and the dot; letters of any
/// script for internationalised addresses). Not `@`, white space, quotes, brackets,
/// commas, semicolons, colons or backslashes; nor `%` and `!`, which route the mail on
/// (the "percent hack" and UUCP bang paths).
fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || "#$&'*+-/=?^_`{|}~.".contains(c)
}

/// A DNS host name in ASCII: dot-separated labels of letters, digits and inner hyphens,
/// each 1 to 63 long, 253 in all (an internationalised domain is written in its `xn--`
/// form).
pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_part_that_routes_the_mail_on_is_refused() {
        for routed in ["eve%evil.test@example.com", "evil.test!eve@example.com", "a%b@example.com"]
        {
            assert_eq!(email_domain(routed), None, "{routed}");
        }
        assert_eq!(email_domain("a+tag@example.com").as_deref(), Some("example.com"));
    }

    #[test]
    fn one_plain_address_gives_its_domain() {
        assert_eq!(email_domain("ann@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(email_domain(" Ann <ann@example.com.> ").as_deref(), Some("example.com"));
        assert_eq!(
            email_domain("\"Ann, B.\" <a.b+x@mail.example.com>").as_deref(),
            Some("mail.example.com")
        );
        assert_eq!(email_domain("jörg@example.com").as_deref(), Some("example.com"));
        assert_eq!(email_domain("Ann B. Smith <ann@example.com>").as_deref(), Some("example.com"));
    }

    #[test]
    fn what_could_be_read_as_another_address_or_domain_is_refused() {
        for text in [
            "",
            "not-an-address",
            "@example.com",
            "eve@",
            "eve@evil.test, bob@example.com",
            "eve@evil.test;@example.com",
            "\"bob@example.com\" <eve@evil.test>, x@example.com",
            "eve@evil.test\n@example.com",
            "eve@evil.test\r\nBcc: x@example.com",
            "eve@evil.test?@example.com",
            "eve@evil.test#@example.com",
            "eve@evil.test@example.com",
            "\"eve@evil.test\"@example.com",
            "eve @example.com",
            "eve@exam ple.com",
            "eve@[192.0.2.1]",
            "eve@example.com>",
            "<eve@example.com",
            "A <eve@evil.test> <b@example.com>",
            "<eve@evil.test> b@example.com",
            "eve@-example.com",
            "eve@example..com",
            "eve@exämple.com",
            "@evil.test:eve@example.com",
            // A display name that holds an address, or that a reader splits elsewhere.
            "eve@evil.test <ann@example.com>",
            "\"eve@evil.test\" <ann@example.com>",
            "eve@evil.test, <ann@example.com>",
            "eve(at)evil.test: <ann@example.com>",
            "\"Ann\\\" eve@evil.test\" <ann@example.com>",
            "Ann \"B\" <ann@example.com>",
            "=?utf-8?q?eve=40evil.test?= <ann@example.com>",
        ] {
            assert_eq!(email_domain(text), None, "{text:?}");
        }
    }
}
