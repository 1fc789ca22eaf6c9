//! Finding typed values inside free text, with their byte offsets: the links, addresses,
//! IBANs and phone numbers in a message body, and every typed value of a tool output (the
//! provenance index keys history by them).
//!
//! One pass splits the text into tokens at white space and quoting or bracketing marks;
//! each token (or run of tokens, for spaced IBANs and phone numbers) is tried as each
//! requested kind. Linear in the text.

use super::{EmailForm, PhoneForm, UrlForm, ValueKind, ValueOptions};

/// One typed value found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: ValueKind,
    /// Byte offsets of the value in the text.
    pub start: usize,
    pub end: usize,
    pub normal: Normal,
}

/// The normal forms of a found value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Normal {
    Url(UrlForm),
    Email(EmailForm),
    Iban(String),
    Phone(PhoneForm),
    Amount(String),
    Date(Vec<String>),
}

/// File name endings that are not taken as a bare host name (`report.pdf`), though some
/// are top-level domains: a host written without a scheme or `www.` is only a guess.
const FILE_ENDINGS: &[&str] = &[
    "bak", "bin", "c", "cfg", "conf", "csv", "doc", "docx", "exe", "gif", "gz", "h", "htm", "html",
    "ini", "jpeg", "jpg", "js", "json", "log", "md", "mov", "mp3", "mp4", "odt", "pdf", "png",
    "ppt", "pptx", "py", "rb", "rs", "sh", "svg", "tar", "tmp", "toml", "ts", "txt", "wav", "xls",
    "xlsx", "xml", "yaml", "yml", "zip",
];

#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
}

/// Every value of `kinds` in `text`, in order of position; where a span is a value of two
/// kinds (a URL with an `@`), each is reported.
pub fn find(text: &str, kinds: &[ValueKind], options: &ValueOptions) -> Vec<Found> {
    let want = |k: ValueKind| kinds.contains(&k);
    let tokens = tokens(text);
    let slice = |t: &Token| text.get(t.start..t.end).unwrap_or("");
    let mut found = Vec::new();
    let mut skip_until = 0;
    for (i, token) in tokens.iter().enumerate() {
        let word = slice(token);
        // Markdown emphasis round a link is not part of it (`**evil.test/x**`).
        let emphasis = |c: char| matches!(c, '*' | '_' | '~');
        let link = word.trim_start_matches(emphasis);
        let lead = word.len() - link.len();
        let link = link.trim_end_matches(['*', '~']);
        // A trailing `_` closes underscore emphasis (`_evil.test_`) where a host label may
        // hold one: the link without it is read too (red team round 29, flow H3).
        let unemphasised = link.trim_end_matches(['_', '*', '~']);
        if want(ValueKind::Url) {
            let mut links = vec![link];
            if unemphasised.len() < link.len() {
                links.push(unemphasised);
            }
            for link in links {
                if let Some((offset, form)) = url_in(link) {
                    found.push(Found {
                        kind: ValueKind::Url,
                        start: token.start + lead + offset,
                        end: token.start + lead + link.len(),
                        normal: Normal::Url(form),
                    });
                }
            }
        }
        if want(ValueKind::Email) && word.contains('@') && !word.contains("://") {
            emails_in(word, token.start, &mut found);
        }
        if token.start < skip_until {
            continue;
        }
        if want(ValueKind::Iban)
            && let Some((end, iban)) = iban_at(text, &tokens, i)
        {
            found.push(Found {
                kind: ValueKind::Iban,
                start: token.start,
                end,
                normal: Normal::Iban(iban),
            });
            skip_until = end;
            continue;
        }
        let dated = want(ValueKind::Date).then(|| date_at(text, &tokens, i)).flatten();
        if let Some((end, readings)) = dated {
            found.push(Found {
                kind: ValueKind::Date,
                start: token.start,
                end,
                normal: Normal::Date(readings),
            });
            skip_until = end;
            continue;
        }
        if want(ValueKind::Phone)
            && let Some((end, phone)) = phone_at(text, &tokens, i, options)
        {
            found.push(Found {
                kind: ValueKind::Phone,
                start: token.start,
                end,
                normal: Normal::Phone(phone),
            });
            skip_until = end;
            continue;
        }
        if want(ValueKind::Amount)
            && let Some((end, amount)) = amount_at(text, &tokens, i)
        {
            found.push(Found {
                kind: ValueKind::Amount,
                start: token.start,
                end,
                normal: Normal::Amount(amount),
            });
            skip_until = end;
        }
    }
    found
}

/// Splits at white space and `"'<>()[]{}|` and backticks; a `,` or `;` splits only before
/// white space or the end (`1,000` stays one token). Trailing sentence punctuation is
/// not part of a token.
fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let push = |s: usize, e: usize, out: &mut Vec<Token>| {
        let mut end = e;
        while end > s && bytes.get(end - 1).is_some_and(|b| b".,:;!?".contains(b)) {
            end -= 1;
        }
        if end > s {
            out.push(Token { start: s, end });
        }
    };
    // Inside an IPv6 literal host (`http://[::ffff:203.0.113.7]/`): its brackets and
    // colons are part of the link, not marks around it.
    let mut literal = false;
    for (i, c) in text.char_indices() {
        let next_is_break = bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
        let opens_literal = c == '['
            && start.is_some()
            && text.get(..i).is_some_and(|head| head.ends_with("//") || head.ends_with('@'));
        let closes_literal = c == ']' && literal;
        literal = (literal || opens_literal) && !closes_literal;
        let split = !(opens_literal || closes_literal)
            && (c.is_whitespace()
                || matches!(
                    c,
                    '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '`'
                )
                || ((c == ',' || c == ';') && next_is_break));
        match (split, start) {
            (true, Some(s)) => {
                push(s, i, &mut out);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        push(s, text.len(), &mut out);
    }
    out
}

/// A URL in a token: from a `scheme://` inside it, or the token itself when it starts with
/// `www.` or is a bare host name with a known-looking ending. Returns the offset of the URL
/// in the token.
fn url_in(word: &str) -> Option<(usize, UrlForm)> {
    // Each form below holds a `:`, a `.` or an `=`, or is a number (`3405803783/x`,
    // `0xcb007107`); most words of a text are neither.
    if !word.bytes().any(|b| matches!(b, b':' | b'.' | b'='))
        && !word.bytes().next().is_some_and(|b| b.is_ascii_digit())
    {
        return None;
    }
    if let Some(at) = word.find("://") {
        let head = word.get(..at)?;
        let scheme_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || "+.-".contains(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let candidate = word.get(scheme_start..)?;
        return super::url::normal(candidate).map(|f| (scheme_start, f));
    }
    // `https:evil.test/x`, `HTTPS:\\evil.test`: a web scheme without `//`.
    if word.contains(':') {
        let lower = word.to_ascii_lowercase();
        for scheme in super::url::SPECIAL_SCHEMES {
            let mut from = 0;
            while let Some(at) =
                lower.get(from..).and_then(|rest| rest.find(scheme)).map(|at| at + from)
            {
                let boundary =
                    at == 0 || !lower.as_bytes().get(at - 1).is_some_and(u8::is_ascii_alphanumeric);
                if boundary
                    && lower.as_bytes().get(at + scheme.len()) == Some(&b':')
                    && let Some(form) = word.get(at..).and_then(super::url::normal)
                {
                    return Some((at, form));
                }
                from = at + scheme.len();
            }
        }
    }
    // `x@evil.test/upgrade.sh`, `user:pw@evil.test`, `git@evil.test:tools/x.git`,
    // `@evil.test` (dig's server): user info before a host, which curl, wget, git and dig
    // read without a scheme, whatever the user info holds. Not `git@host` alone: that is
    // an address (its domain is a host to `provenance::typed`), or what is left of an scp
    // remote whose path a reading split off.
    if let Some(at) = word.rfind('@') {
        let user_info = word.get(..at)?;
        let host = word.get(at + 1..)?;
        let bare = host.split(['/', '?', '#']).next().unwrap_or_default();
        let scp = bare.split_once(':').is_some_and(|(_, p)| !p.bytes().all(|b| b.is_ascii_digit()));
        let host_only = if scp { bare.split(':').next().unwrap_or_default() } else { host };
        // (`git@evil.test:qa.git`, `ftp@evil.test:2121`: a path or a port after the host
        // makes it no address: red team round 29, flow H2.)
        let plain_address = !user_info.is_empty()
            && !user_info.contains(':')
            && bare == host
            && !host.contains(':');
        let literal = host.starts_with('[');
        return (!plain_address && (literal || bare_host(host_only)))
            .then(|| super::url::normal(word))
            .flatten()
            .map(|f| (0, f));
    }
    let www = word.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."));
    // `//host/path`: a scheme-relative link.
    let bare = word.strip_prefix("//").unwrap_or(word);
    if www || bare_host(bare) {
        return super::url::normal(word).map(|f| (0, f));
    }
    // `url:evil.test/x`, `link=evil.test/x`, `href=//evil.test`: a label, then a host.
    if let Some(at) = word.find([':', '=']) {
        let rest = word.get(at + 1..)?;
        let bare = rest.strip_prefix("//").unwrap_or(rest);
        if rest.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")) || bare_host(bare) {
            return super::url::normal(rest).map(|f| (at + 1, f));
        }
    }
    None
}

/// The addresses in `word` (at `offset` in the text): itself, or each part of a list
/// written without spaces (`boss@corp.test;eve@evil.test`, `a@x.test,b@y.test`).
fn emails_in(word: &str, offset: usize, found: &mut Vec<Found>) {
    let mut start = 0;
    for part in word.split([';', ',']) {
        let part_start = start;
        start += part.len() + 1;
        if !part.contains('@') {
            continue;
        }
        let Some(form) = super::email::normal(part) else { continue };
        // `mailto:x@y`: the address starts after the scheme.
        let skip = part.find(':').map_or(0, |c| {
            if part.get(..c).is_some_and(|p| p.eq_ignore_ascii_case("mailto")) { c + 1 } else { 0 }
        });
        found.push(Found {
            kind: ValueKind::Email,
            start: offset + part_start + skip,
            end: offset + part_start + part.len(),
            normal: Normal::Email(form),
        });
    }
}

/// `label.label[:port][/...]` with an alphabetic (or punycode) last label, or a dotted
/// IPv4 address. A last label that is also a file ending (`report.pdf`) counts only with a
/// path after it (`collect.evil.sh/hook`: `.sh` and `.zip` are top-level domains too; a
/// port is not enough, `main.rs:42` is a file and a line). One trailing dot (the root, `evil.test./x`) and underscores in labels,
/// which browsers accept, are part of a host.
/// Labels may hold letters of any script (`bücher-club.test`, an internationalised host,
/// which `url::normal` turns into its punycode form `xn--bcher-club-9db.test`).
fn bare_host(word: &str) -> bool {
    let authority = word.split(['/', '?', '#']).next().unwrap_or("");
    let located = word.get(authority.len()..).is_some_and(|rest| rest.starts_with('/'));
    let host = authority.split(':').next().unwrap_or("");
    let host = host.strip_suffix('.').unwrap_or(host);
    // A dotted IPv4 address names a host as surely as a name does (`--resolve
    // x:80:203.0.113.7`, a proxy's address in a page), and so do its other spellings that
    // are no number (`0xcb007107`, `3405803783/x`, `203.0.28935:80`).
    if super::ipv4::is_host(host, located || authority.contains(':')) {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    // Two labels at least.
    if labels.len() < 2 {
        return false;
    }
    let Some(last) = labels.last() else { return false };
    let punycode = last.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
        && last.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
        && (2..=24).contains(&last.chars().count())
        && (last.chars().all(char::is_alphabetic) || punycode)
        && (located || !FILE_ENDINGS.contains(&last.to_lowercase().as_str()))
}

/// An IBAN starting at token `i`, written whole or in groups: the longest run of tokens
/// that forms a valid IBAN. The first token may carry a label (`IBAN:GB29...`,
/// `iban=GB29...`); groups may be parted by punctuation (dashes, dots, slashes, colons,
/// pipes, markdown's `*`, ...) as well as by spaces (the checksum says what is one IBAN).
fn iban_at(text: &str, tokens: &[Token], i: usize) -> Option<(usize, String)> {
    // What groups an IBAN's characters as a space does (a match: this runs on every word).
    let separator = |b: u8| {
        matches!(b, b'-' | b'.' | b'/' | b'_' | b'*' | b':' | b'|' | b'~' | b'+' | b'\\' | b',')
    };
    let grouped = |w: &str| w.bytes().all(|b| b.is_ascii_alphanumeric() || separator(b));
    let first = tokens.get(i)?;
    let word = text.get(first.start..first.end)?;
    // Two letters, two digits, then letters and digits, separators aside.
    let looks = |from: usize| {
        let head = word.get(from..).unwrap_or_default().bytes().filter(|&b| !separator(b));
        let mut count = 0;
        for (at, b) in head.enumerate() {
            let fits = match at {
                0 | 1 => b.is_ascii_alphabetic(),
                2 | 3 => b.is_ascii_digit(),
                _ => b.is_ascii_alphanumeric(),
            };
            if !fits {
                return false;
            }
            count = at + 1;
        }
        count >= 4
    };
    // Whole (`GB29:NWBK:...`), or after a label (`IBAN:GB29...`, `iban=GB29...`).
    let after_label = word.find([':', '=']).map(|at| at + 1);
    let label = match (looks(0), after_label) {
        (true, _) => 0,
        (false, Some(at)) if looks(at) => at,
        _ => return None,
    };
    let mut compact = String::with_capacity(34);
    let mut best = None;
    let mut previous_end = first.start;
    for token in tokens.iter().skip(i) {
        let mut word = text.get(token.start..token.end)?;
        if token.start == first.start {
            word = word.get(label..)?;
        }
        // Groups are parted by spaces (or a table's `|`) only: `ES91...1332; his` ends at
        // the `;`.
        let gap = text.get(previous_end..token.start)?;
        // The first word may be long: an IBAN with the next word glued on.
        if (token.start != first.start && compact.len() + word.len() > 48)
            || !grouped(word)
            || (token.start != first.start
                && (gap.is_empty() || !gap.bytes().all(|b| b == b' ' || b == b'|')))
        {
            break;
        }
        previous_end = token.end;
        compact.extend(
            word.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()),
        );
        if super::iban::valid(&compact) {
            best = Some((token.end, compact.clone()));
        } else if best.is_none()
            && let Some(prefix) = super::iban::known_prefix(&compact)
        {
            // A word glued on after it: the IBAN ends inside this token.
            return Some((token.end, prefix.to_owned()));
        }
        if compact.len() > 34 {
            break;
        }
    }
    best
}

/// A date starting at token `i`: one token (`2026-03-01`, `01/03/2026`) or three
/// (`1 March 2026`, `March 1, 2026`).
fn date_at(text: &str, tokens: &[Token], i: usize) -> Option<(usize, Vec<String>)> {
    let first = tokens.get(i)?;
    let word = text.get(first.start..first.end)?;
    if word.bytes().filter(|b| matches!(b, b'-' | b'/' | b'.')).count() >= 2
        && word.bytes().next().is_some_and(|b| b.is_ascii_digit())
    {
        let readings = super::date::normal(word);
        if !readings.is_empty() {
            return Some((first.end, readings));
        }
    }
    let third = tokens.get(i + 2)?;
    let span = text.get(first.start..third.end)?;
    // Every spelling has a month name and a number (the year at least).
    if span.len() > 24
        || !span.bytes().any(|b| b.is_ascii_alphabetic())
        || !span.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    let readings = super::date::normal(span);
    (!readings.is_empty()).then_some((third.end, readings))
}

/// A phone number starting at token `i`: `+` and digits, or a national number starting
/// with `0`, or digits in two or more groups; 7 to 15 digits.
fn phone_at(
    text: &str,
    tokens: &[Token],
    i: usize,
    options: &ValueOptions,
) -> Option<(usize, PhoneForm)> {
    let first = tokens.get(i)?;
    let head = text.get(first.start..first.end)?;
    let plus = head.starts_with('+') && head.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
    if !plus && !head.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let phone_like = |w: &str| w.bytes().all(|b| b.is_ascii_digit() || b"+-./".contains(&b));
    let mut end = first.end;
    let mut groups = 0;
    let mut digits = 0;
    // Where the number stood before a bracketed group: a group in brackets is an area code
    // only when more of the number follows it; one at the end (`(24/7)`, `(9-5)`, `(24)`)
    // is a note beside the number, not part of it.
    let mut before_bracket: Option<(usize, usize, usize)> = None;
    for token in tokens.iter().skip(i) {
        let word = text.get(token.start..token.end)?;
        let mut bracketed = false;
        if groups > 0 {
            let gap = text.get(end..token.start)?;
            if gap.len() > 2 || !gap.bytes().all(|b| b == b' ' || b == b'(' || b == b')') {
                break;
            }
            bracketed = gap.contains('(');
        }
        if !phone_like(word) || (groups > 0 && word.starts_with('+')) {
            break;
        }
        // An area code in brackets is digits alone.
        if bracketed && !word.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        let n = word.bytes().filter(u8::is_ascii_digit).count();
        if digits + n > 15 {
            break;
        }
        before_bracket = bracketed.then_some((end, groups, digits));
        digits += n;
        groups += 1 + word.bytes().filter(|b| b"-./".contains(b)).count();
        end = token.end;
    }
    if let Some((at, groups_then, digits_then)) = before_bracket {
        (end, groups, digits) = (at, groups_then, digits_then);
    }
    let span = text.get(first.start..end)?;
    let national_zero = span.starts_with('0');
    if !(plus || national_zero || groups >= 2) || !(7..=15).contains(&digits) {
        return None;
    }
    // A number with a decimal point is an amount, and a date is a date.
    if span.matches('.').count() == 1 || !super::date::normal(span).is_empty() {
        return None;
    }
    super::phone::normal(span, options.phone_country_code).map(|p| (end, p))
}

/// An amount starting at token `i`: one token (`1,000.50`, `€12`), or digit groups spaced
/// by single spaces (`1 000,50`).
fn amount_at(text: &str, tokens: &[Token], i: usize) -> Option<(usize, String)> {
    let first = tokens.get(i)?;
    let word = text.get(first.start..first.end)?;
    if !word.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut end = first.end;
    let mut best = super::amount::normal(word).map(|a| (end, a));
    // `1 000 000,50`: a group of 1 to 3 digits, then groups of three (the last may carry
    // the decimals).
    if word.len() <= 3 && word.bytes().all(|b| b.is_ascii_digit()) {
        for token in tokens.iter().skip(i + 1) {
            let next = text.get(token.start..token.end)?;
            let gap = text.get(end..token.start)?;
            let group = next.get(..3.min(next.len()))?;
            if gap != " " || next.len() < 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
                break;
            }
            end = token.end;
            let span = text.get(first.start..end)?;
            match super::amount::normal(span) {
                Some(amount) => best = Some((end, amount)),
                None => break,
            }
        }
    }
    best
}
