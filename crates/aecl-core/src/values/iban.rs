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
        let lengths: Vec<usize> = match country.and_then(length_of) {
            Some(length) => vec![length],
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
    let length = length_of(compact.as_bytes().get(..2)?)?;
    compact.get(..length).filter(|candidate| valid(candidate))
}

/// The structure of the BBAN (what follows the country code and check digits) of common
/// countries, from the ISO 13616 registry: runs of digits (`n`), upper-case letters (`a`)
/// and either (`c`). A known country's IBAN has exactly its length: without it, one IBAN in
/// six hundred or so followed by a short word (`ES91...1332; his`) also passes the checksum
/// with the word. Where each run is digits or letters is how a look-alike is read
/// ([`look_alikes`]).
const FORMATS: &[(&[u8; 2], &str)] = &[
    (b"AD", "4n4n12c"),
    (b"AE", "3n16n"),
    (b"AT", "5n11n"),
    (b"BE", "3n7n2n"),
    (b"BG", "4a4n2n8c"),
    (b"CH", "5n12c"),
    (b"CY", "3n5n16c"),
    (b"CZ", "4n6n10n"),
    (b"DE", "8n10n"),
    (b"DK", "4n9n1n"),
    (b"EE", "2n2n11n1n"),
    (b"ES", "4n4n1n1n10n"),
    (b"FI", "3n11n"),
    (b"FR", "5n5n11c2n"),
    (b"GB", "4a6n8n"),
    (b"GR", "3n4n16c"),
    (b"HR", "7n10n"),
    (b"HU", "3n4n1n15n1n"),
    (b"IE", "4a6n8n"),
    (b"IS", "4n2n6n10n"),
    (b"IT", "1a5n5n12c"),
    (b"LI", "5n12c"),
    (b"LT", "5n11n"),
    (b"LU", "3n13c"),
    (b"LV", "4a13c"),
    (b"MC", "5n5n11c2n"),
    (b"MT", "4a5n18c"),
    (b"NL", "4a10n"),
    (b"NO", "4n6n1n"),
    (b"PL", "8n16n"),
    (b"PT", "4n4n11n2n"),
    (b"RO", "4a16c"),
    (b"SA", "2n18c"),
    (b"SE", "3n16n1n"),
    (b"SI", "5n8n2n"),
    (b"SK", "4n6n10n"),
    (b"SM", "1a5n5n12c"),
    (b"TR", "5n1n16c"),
];

/// The length of a known country's IBANs.
fn length_of(country: &[u8]) -> Option<usize> {
    let (_, format) = FORMATS.iter().find(|(cc, _)| country == &cc[..])?;
    Some(4 + runs(format).map(|(count, _)| count).sum::<usize>())
}

/// The runs of a BBAN format: (how many, of which class).
fn runs(format: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut count = 0;
    format.bytes().filter_map(move |b| {
        if b.is_ascii_digit() {
            count = count * 10 + usize::from(b - b'0');
            None
        } else {
            Some((std::mem::take(&mut count), b))
        }
    })
}

/// ISO 13616: two letters, two check digits, up to 30 letters and digits (exactly the
/// country's length when it is known), and the number made by moving the first four
/// characters to the end (letters as 10..35) is 1 mod 97.
pub(crate) fn valid(compact: &str) -> bool {
    let bytes = compact.as_bytes();
    if !(15..=34).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    if let Some(length) = bytes.get(..2).and_then(length_of)
        && length != bytes.len()
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

/// The IBANs `text` shows, in look-alike characters too: `O` for `0`, `l` or `I` for `1`,
/// `S` for `5`, `B` for `8` (and `0` for `O` where a letter stands), which fail the
/// checksum as written, so the scanner finds no IBAN, while the model that "corrects" them
/// pays the real one. Read at a known country's structure ([`FORMATS`]): a look-alike is taken for
/// what its place holds (a digit in an account number, a letter in a bank code), and the
/// checksum says whether the reading is an IBAN. Letters of other scripts drawn like Latin
/// ones (Cyrillic `В`, Greek `Ο`) arrive here already read as them (`as_it_looks`).
pub(crate) fn look_alikes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    // Bytes, not characters: asked of every output, and an IBAN's words are ASCII (what
    // is drawn like ASCII has been read as it by now).
    let mut words = text.as_bytes().split(|&b| b.is_ascii_whitespace() || b == b'|');
    while let Some(word) = words.next() {
        // After a label (`IBAN:GB29...`), the first word holds the country and check
        // digits at least: `GB29 NWBK ...` and `GB29NWBK...`, not every `it` or `at`.
        let word = match word.iter().rposition(|&b| b == b':' || b == b'=') {
            Some(at) => word.get(at + 1..).unwrap_or_default(),
            None => word,
        };
        let Some(length) = head_length(word) else { continue };
        let Some(mut written) = compact(word) else { continue };
        for next in words.clone() {
            if written.len() >= length {
                break;
            }
            match compact(next) {
                Some(more) if !more.is_empty() => written.extend(more),
                _ => break,
            }
        }
        if let Some(iban) = written.get(..length).and_then(read_at_places)
            && !found.contains(&iban)
        {
            found.push(iban);
        }
    }
    found
}

/// The length of the IBAN a word may start: a known country's code and two check digits,
/// then what its structure holds at each place, as they may be drawn (`Friday` is no
/// `FR` IBAN: its `a` stands where a digit does). Asked of every word, so it makes
/// nothing.
fn head_length(word: &[u8]) -> Option<usize> {
    let start = word.iter().position(|b| !OPENING.contains(b))?;
    let mut head =
        word.get(start..)?.iter().filter(|&&b| !separator(b)).map(u8::to_ascii_uppercase);
    let (a, b, c, d) = (head.next()?, head.next()?, head.next()?, head.next()?);
    digit(c)?;
    digit(d)?;
    let country = [letter(a)?, letter(b)?];
    let (_, format) = FORMATS.iter().find(|(cc, _)| country == **cc)?;
    let mut places = runs(format).flat_map(|(count, class)| std::iter::repeat_n(class, count));
    for b in head.take_while(|b| !CLOSING.contains(b)) {
        let fits = match places.next() {
            Some(b'n') => digit(b).is_some(),
            Some(b'a') => letter(b).is_some(),
            Some(_) => b.is_ascii_alphanumeric(),
            // A word glued on after it: the reading decides.
            None => break,
        };
        if !fits {
            return None;
        }
    }
    length_of(&country)
}

/// What may open a word before an IBAN: brackets and quotes.
const OPENING: [u8; 4] = [b'(', b'[', b'<', b'"'];
/// What may close it.
const CLOSING: [u8; 7] = [b')', b']', b'>', b'"', b';', b'!', b'?'];

/// What groups an IBAN's characters as a space does.
fn separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'/' | b'_' | b'*' | b'~' | b'+' | b',')
}

/// A word's letters and digits in upper case, its separators and the brackets, quotes and
/// stops around it dropped; `None` when it has anything else.
fn compact(word: &[u8]) -> Option<Vec<u8>> {
    let start = word.iter().position(|b| !OPENING.contains(b)).unwrap_or(word.len());
    let end = word.iter().rposition(|b| !CLOSING.contains(b)).map_or(start, |at| at + 1);
    let word = word.get(start..end.max(start)).unwrap_or_default();
    let bytes = word.iter().filter(|&&b| !separator(b));
    bytes.map(|b| b.is_ascii_alphanumeric().then(|| b.to_ascii_uppercase())).collect()
}

/// The IBAN `written` (upper case, a known country's length) reads as, each look-alike
/// taken for what its place holds, if that passes the checksum. A place that holds either
/// (`FR`'s account number) is read as written, then with every look-alike a digit: two
/// readings, not every mix, so that the checksum still says something.
fn read_at_places(written: &[u8]) -> Option<String> {
    let country = [letter(*written.first()?)?, letter(*written.get(1)?)?];
    let (_, format) = FORMATS.iter().find(|(cc, _)| country == **cc)?;
    let places = || {
        [b'a', b'a', b'n', b'n']
            .into_iter()
            .chain(runs(format).flat_map(|(count, class)| std::iter::repeat_n(class, count)))
    };
    let read = |either_as_digit: bool| -> Option<String> {
        let iban: Option<String> = written
            .iter()
            .zip(places())
            .map(|(&b, place)| match place {
                b'n' => digit(b),
                b'a' => letter(b),
                _ if either_as_digit => digit(b).or(Some(b)),
                _ => Some(b),
            })
            .map(|b| b.map(char::from))
            .collect();
        iban.filter(|iban| valid(iban))
    };
    read(false).or_else(|| read(true))
}

/// The digit an upper-case letter or digit is drawn like, in a place that holds a digit.
pub(crate) fn digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b),
        b'O' | b'Q' | b'D' => Some(b'0'),
        b'I' | b'L' => Some(b'1'),
        b'Z' => Some(b'2'),
        b'S' => Some(b'5'),
        b'G' => Some(b'6'),
        b'T' => Some(b'7'),
        b'B' => Some(b'8'),
        _ => None,
    }
}

/// The letter an upper-case letter or digit is drawn like, in a place that holds a letter.
fn letter(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b),
        b'0' => Some(b'O'),
        b'1' => Some(b'I'),
        b'2' => Some(b'Z'),
        b'5' => Some(b'S'),
        b'6' => Some(b'G'),
        b'8' => Some(b'B'),
        _ => None,
    }
}
