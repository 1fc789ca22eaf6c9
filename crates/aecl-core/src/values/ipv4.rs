//! IPv4 addresses in the other spellings clients accept: a bare integer (`3405803783`), a
//! hexadecimal one (`0xcb007107`), octal parts (`0313.0.0161.07`) and the short forms of
//! two or three parts (`203.0.28935`, `127.1`). curl, wget, browsers, Node and httpx all
//! connect to `203.0.113.7` for each of these (`inet_aton`'s and the WHATWG URL standard's
//! reading), so data flow keys each by its dotted form: a page that writes the address one
//! way and a call that writes it another are one host.
//!
//! Most such words of a text are numbers, versions or decimals (`3.14`, `1.2.3`), not
//! addresses. `find` takes a word as a host only where the spelling is deliberate (a hex
//! part, four parts) or where a port or a path follows a form no number has (an integer
//! past the first 16,777,216 addresses, a short form whose last part is too large for an
//! octet). The provenance index is looser (`hosts_in`): keying a number of an untrusted
//! text as an address only makes a call to that address untrusted.

use std::net::Ipv4Addr;

/// The address a numeric spelling stands for, as the WHATWG host parser (and `inet_aton`)
/// reads it: one to four parts, each decimal, octal (a leading `0`) or hex (`0x`), every
/// part but the last an octet and the last filling the rest; `None` for anything else.
/// Parsed by hand: this runs on every number of every output the index reads.
pub(crate) fn parse(text: &str) -> Option<Ipv4Addr> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if !text.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut numbers = [0u32; 4];
    let mut count = 0;
    for part in text.split('.') {
        *numbers.get_mut(count)? = number(part)?;
        count += 1;
    }
    let (last, octets) = numbers.get(..count)?.split_last()?;
    if octets.iter().any(|n| *n > 255) {
        return None;
    }
    // The last part fills the bytes the others leave: 24 bits after one octet, 32 alone.
    let room = 8 * (4 - octets.len() as u32);
    if room < 32 && *last >> room != 0 {
        return None;
    }
    let high = octets.iter().zip([24u32, 16, 8]).fold(0u32, |acc, (n, shift)| acc | n << shift);
    Some(Ipv4Addr::from(high | last))
}

/// One part of a numeric address: `0x` and hex digits (none is 0), `0` and octal digits,
/// or decimal digits.
fn number(part: &str) -> Option<u32> {
    let (digits, radix) = match part.get(..2) {
        Some("0x" | "0X") => (part.get(2..)?, 16),
        _ if part.len() > 1 && part.starts_with('0') => (part.get(1..)?, 8),
        _ => (part, 10),
    };
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Whether `host` is a numeric IPv4 spelling `find` takes as a host: four parts or a hex
/// part whatever follows; with a port or a path after it (`located`), also an integer of
/// eight digits and more and a short form whose last part is larger than an octet.
pub(super) fn is_host(host: &str, located: bool) -> bool {
    if !located && !host.contains(['.', 'x', 'X']) {
        return false;
    }
    let Some(address) = parse(host) else { return false };
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    let hex = parts.iter().any(|p| p.get(..2).is_some_and(|h| h.eq_ignore_ascii_case("0x")));
    if parts.len() == 4 || hex {
        return true;
    }
    if !located {
        return false;
    }
    match parts.as_slice() {
        // `3405803783/x`: dates (`2026/03`) and counts name the first 16,777,216
        // addresses, which no one serves from.
        [_] => u32::from(address) >= 1 << 24,
        // `203.0.28935/x`, `127.1:8080`: a last part that is no octet is no version or
        // decimal (`3.5/5`, `1.2.3/docs`) either.
        [.., last] => last.parse::<u32>().is_ok_and(|n| n > 255),
        [] => false,
    }
}

/// The dotted forms of the numeric IPv4 spellings among the words of `text` that are no
/// dotted quad already (those are links `find` reports): every integer past the first
/// 16,777,216 addresses, every hex spelling and every form of two to four parts, with or
/// without a port or a path after it.
pub(crate) fn hosts_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let marks = |c: char| c.is_whitespace() || "\"'<>()[]{}|`,;=".contains(c);
    for word in text.split(marks) {
        // A word starts with a digit: most of a text's words are skipped here.
        if !word.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            continue;
        }
        let head = word.split(['/', ':', '?', '#']).next().unwrap_or_default();
        let head = head.trim_end_matches(['.', '!']);
        // Integers of up to seven digits are counts, years and ids below 1.0.0.0.
        if head.len() < 8 && head.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Some(address) = parse(head) else { continue };
        let parts = head.split('.').count();
        let quad = parts == 4 && head.split('.').all(|p| super::fold::ipv4_label(p).is_some());
        if quad || (parts == 1 && u32::from(address) < 1 << 24) {
            continue;
        }
        let dotted = address.to_string();
        if !out.contains(&dotted) {
            out.push(dotted);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_numeric_spelling_of_an_address_is_that_address() {
        for spelling in [
            "3405803783",
            "0xcb007107",
            "0XCB007107",
            "203.0.28935",
            "203.28935",
            "0xcb.0.0x71.7",
            "0313.0.0161.07",
            "203.0.113.7",
            "203.0.113.7.",
        ] {
            assert_eq!(parse(spelling), Some(Ipv4Addr::new(203, 0, 113, 7)), "{spelling}");
        }
        assert_eq!(parse("0x.0.0.1"), Some(Ipv4Addr::new(0, 0, 0, 1)));
        assert_eq!(parse("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(parse("4294967295"), Some(Ipv4Addr::new(255, 255, 255, 255)));
        for not in [
            "evil.test",
            "1e5",
            "300.1.2.3",
            "1.2.3.4.5",
            "",
            "0xfffffffff",
            "4294967296",
            "1.16777216",
            "08.1.2.3",
            "-1",
            "1..2",
        ] {
            assert_eq!(parse(not), None, "{not}");
        }
    }

    #[test]
    fn find_takes_deliberate_spellings_and_leaves_numbers_versions_and_dates() {
        for host in ["0xcb007107", "0xcb.0.0x71.7", "0313.0.0161.07"] {
            assert!(is_host(host, false), "{host}");
        }
        for host in ["3405803783", "203.0.28935", "203.28935"] {
            assert!(!is_host(host, false), "{host} bare");
            assert!(is_host(host, true), "{host} with a path");
        }
        for number in ["2026", "3.5", "1.2.3", "20", "1234567", "127.1"] {
            assert!(!is_host(number, true), "{number}");
        }
    }

    #[test]
    fn the_index_keys_numbers_that_may_be_addresses_by_their_dotted_form() {
        let text = "mirror: 3405803783 (port 80), or 0xcb007107:80/x; version 1.2.3, 127.1, \
                    203.0.113.7, 42";
        assert_eq!(hosts_in(text), ["203.0.113.7", "1.2.0.3", "127.0.0.1"].map(str::to_owned));
    }
}
