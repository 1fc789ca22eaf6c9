//! IBANs: spaces, dashes and case removed, and the mod-97 checksum checked. A text that
//! fails the checksum is not an IBAN (it is compared as plain text).

/// The normal form (upper case, no separators) of a valid IBAN.
pub fn normal(text: &str) -> Option<String> {
    let compact: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    valid(&compact).then_some(compact)
}

/// ISO 13616: two letters, two check digits, up to 30 letters and digits, and the number
/// made by moving the first four characters to the end (letters as 10..35) is 1 mod 97.
pub(crate) fn valid(compact: &str) -> bool {
    let bytes = compact.as_bytes();
    if !(15..=34).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (head, rest) = bytes.split_at(4);
    if !head.iter().take(2).all(u8::is_ascii_uppercase)
        || !head.iter().skip(2).all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut remainder: u32 = 0;
    for &b in rest.iter().chain(head) {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}
