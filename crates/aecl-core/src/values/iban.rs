//! IBANs: folded (`fold`), every separator and the case removed, and the mod-97 checksum
//! checked. A text that fails the checksum is not an IBAN (it is compared as plain text),
//! unless it holds one whole (`IBAN: GB29 ...`, `GB29.../REF 7`).

/// The normal form (upper case, no separators) of a valid IBAN, or of the one IBAN the
/// text holds between a label and a reference.
pub fn normal(text: &str) -> Option<String> {
    // Dots, slashes, underscores, commas and dashes group an IBAN like spaces do: the
    // checksum, not the spelling, says what is one.
    let compact: String = super::fold(text.trim())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if valid(&compact) {
        return Some(compact);
    }
    embedded(&compact).or_else(|| {
        // `GB29%20NWBK...`, `GB29&#32;NWBK...`: escaped separators.
        super::readings(text).iter().find_map(|reading| {
            let compact: String = reading
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect();
            if valid(&compact) { Some(compact) } else { embedded(&compact) }
        })
    })
}

/// The IBAN inside `compact` (upper-case letters and digits): at a country code and two
/// check digits, the country's length (or, for a country not listed, the longest that
/// passes the checksum).
fn embedded(compact: &str) -> Option<String> {
    let bytes = compact.as_bytes();
    for start in 0..bytes.len().saturating_sub(14) {
        let head = bytes.get(start..start + 4)?;
        if !(head.iter().take(2).all(u8::is_ascii_uppercase)
            && head.iter().skip(2).all(u8::is_ascii_digit))
        {
            continue;
        }
        let country = head.get(..2);
        let lengths: Vec<usize> = match LENGTHS.iter().find(|(cc, _)| country == Some(&cc[..])) {
            Some((_, length)) => vec![*length],
            None => (15..=34).rev().collect(),
        };
        for length in lengths {
            if let Some(candidate) = compact.get(start..start + length)
                && valid(candidate)
            {
                return Some(candidate.to_owned());
            }
        }
    }
    None
}

/// The IBAN at the start of `compact` (upper-case letters and digits) when its country's
/// length is known and more follows it: `DE89...3000THANKS`, where markup dropped from a
/// page glued the next word on.
pub(super) fn known_prefix(compact: &str) -> Option<&str> {
    let country = compact.as_bytes().get(..2)?;
    let (_, length) = LENGTHS.iter().find(|(cc, _)| country == &cc[..])?;
    compact.get(..*length).filter(|candidate| valid(candidate))
}

/// The fixed lengths of the IBANs of common countries (ISO 13616 registry). A known
/// country's IBAN has exactly its length: without it, one IBAN in six hundred or so
/// followed by a short word (`ES91...1332; his`) also passes the checksum with the word.
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AT", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"CH", 21),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"EE", 20),
    (b"ES", 24),
    (b"FI", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GR", 27),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IS", 26),
    (b"IT", 27),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MT", 31),
    (b"NL", 18),
    (b"NO", 15),
    (b"PL", 28),
    (b"PT", 25),
    (b"RO", 24),
    (b"SA", 24),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"TR", 26),
];

/// ISO 13616: two letters, two check digits, up to 30 letters and digits (exactly the
/// country's length when it is known), and the number made by moving the first four
/// characters to the end (letters as 10..35) is 1 mod 97.
pub(crate) fn valid(compact: &str) -> bool {
    let bytes = compact.as_bytes();
    if !(15..=34).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let country = bytes.get(..2);
    if let Some((_, length)) = LENGTHS.iter().find(|(cc, _)| country == Some(&cc[..]))
        && *length != bytes.len()
    {
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
