//! Phone numbers in E.164 (`+442079460958`).
//!
//! A hand table of country calling codes rather than the `phonenumber` crate: E.164 only
//! needs the calling code of the policy's `default_phone_region` (for numbers written
//! without one) and the national trunk prefix, while that crate carries the whole of
//! libphonenumber's metadata and a regex engine into the pure core for formatting rules we
//! do not use. A number that is written without a country code and has no default region
//! is still compared by its national significant number.

/// The normal forms of one phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneForm {
    /// `+` and the digits, when the country is known.
    pub e164: Option<String>,
    /// The national significant number (no country code, no trunk `0`), when the number
    /// was written nationally or its country is the default region's.
    pub national: Option<String>,
    /// Written nationally after a trunk `0` (`020 7946 0958`), with no default region: the
    /// number of a country whose trunk prefix is `0` ([`trunk_zero_code`]), never of one
    /// without (`+1 207 946 0958` is not it).
    pub trunk: bool,
}

/// Regions (ISO 3166 alpha-2), their calling code, and whether a leading `0` is a trunk
/// prefix dropped in international form (Italy keeps it).
const REGIONS: &[(&str, &str, bool)] = &[
    ("AE", "971", true),
    ("AR", "54", true),
    ("AT", "43", true),
    ("AU", "61", true),
    ("BE", "32", true),
    ("BR", "55", true),
    ("CA", "1", false),
    ("CH", "41", true),
    ("CN", "86", true),
    ("CZ", "420", false),
    ("DE", "49", true),
    ("DK", "45", false),
    ("ES", "34", false),
    ("FI", "358", true),
    ("FR", "33", true),
    ("GB", "44", true),
    ("GR", "30", false),
    ("HK", "852", false),
    ("IE", "353", true),
    ("IL", "972", true),
    ("IN", "91", true),
    ("IT", "39", false),
    ("JP", "81", true),
    ("KR", "82", true),
    ("LU", "352", false),
    ("MX", "52", false),
    ("NL", "31", true),
    ("NO", "47", false),
    ("NZ", "64", true),
    ("PL", "48", false),
    ("PT", "351", false),
    ("RU", "7", false),
    ("SE", "46", true),
    ("SG", "65", false),
    ("TR", "90", true),
    ("US", "1", false),
    ("ZA", "27", true),
];

/// The calling code of a region, for `default_phone_region`.
pub fn region_code(region: &str) -> Option<&'static str> {
    REGIONS.iter().find(|(r, _, _)| r.eq_ignore_ascii_case(region)).map(|(_, code, _)| *code)
}

fn trunk_zero(code: &str) -> bool {
    REGIONS.iter().find(|(_, c, _)| *c == code).is_none_or(|(_, _, trunk)| *trunk)
}

/// Whether `code` is the calling code of a region the table knows whose national numbers
/// are written after a trunk `0`.
pub fn trunk_zero_code(code: &str) -> bool {
    REGIONS.iter().any(|(_, c, trunk)| *c == code && *trunk)
}

/// The normal forms of `text` as a phone number, or `None` when it is not one: digits
/// with at most `+`, spaces, `-`, `.`, `/` and parentheses, 7 to 15 digits in all. What a
/// dialler sends after the number is not part of it: an extension (`ext. 12`, `x12`,
/// `;ext=12`), pauses and tones (`,,1234`, `p1`, `w123`, `#`), a `tel:` URI's parameters;
/// nor is a `sip:` URI's host (`sip:+442079460958@sip.example` calls that number).
pub fn normal(text: &str, default_code: Option<&str>) -> Option<PhoneForm> {
    let folded = super::fold(text);
    let decoded = percent_encoding::percent_decode_str(folded.as_ref()).decode_utf8_lossy();
    let mut text = decoded.trim();
    // A `tel:` number local to a context (`tel:7946-0958;phone-context=+44-20`) is the
    // context's digits and its own.
    let mut context = String::new();
    for scheme in ["tel:", "callto:", "sms:", "sip:", "sips:"] {
        if text.len() > scheme.len()
            && text.get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            text = text.get(scheme.len()..).unwrap_or_default();
            if scheme.starts_with("sip") {
                // `sip:USER[:PASSWORD]@HOST`.
                text = text.split(['@', ':']).next().unwrap_or_default();
            }
            if let Some(at) = text.to_ascii_lowercase().find(";phone-context=+") {
                let value = text.get(at + ";phone-context=".len()..).unwrap_or_default();
                context = value.split(';').next().unwrap_or_default().to_owned();
            }
        }
    }
    // A vertical service code before the number (`*31#`, `*67`) only sets how it is
    // dialled.
    while let Some(rest) = text.strip_prefix('*') {
        let code = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let rest = rest.get(code..).unwrap_or_default();
        text = rest.strip_prefix('#').unwrap_or(rest).trim_start();
    }
    // The number ends where a dial string's suffix starts: a letter (`ext`, `x`, `p`,
    // `w`), `,`, `;` or `#`.
    let end = text
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_alphabetic() || matches!(c, ',' | ';' | '#'))
        .map_or(text.len(), |(at, _)| at);
    let text = text.get(..end).unwrap_or(text);
    let contexted;
    let text = if context.is_empty() {
        text
    } else {
        contexted = format!("{context}{text}");
        contexted.as_str()
    };
    // `+44 (0) 20 ...`: the bracketed trunk zero is not dialled from abroad.
    let cleaned = text.replace("(0)", "");
    let mut international = false;
    let mut digits = String::with_capacity(16);
    for (i, c) in cleaned.trim().chars().enumerate() {
        match c {
            '+' if i == 0 => international = true,
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' => {}
            _ => return None,
        }
    }
    if !international && let Some(rest) = digits.strip_prefix("00") {
        // The international prefix of most of the world.
        digits = rest.to_owned();
        international = true;
    } else if !international
        && default_code == Some("1")
        && let Some(rest) = digits.strip_prefix("011")
    {
        // North America's.
        digits = rest.to_owned();
        international = true;
    }
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    if international {
        let e164 = format!("+{digits}");
        let national = default_code.and_then(|code| digits.strip_prefix(code)).map(str::to_owned);
        return Some(PhoneForm { e164: Some(e164), national, trunk: false });
    }
    let national = match default_code {
        Some("1") if digits.len() == 11 => digits.strip_prefix('1').unwrap_or(&digits).to_owned(),
        Some(code) if trunk_zero(code) => digits.strip_prefix('0').unwrap_or(&digits).to_owned(),
        Some(_) => digits.clone(),
        None => digits.strip_prefix('0').unwrap_or(&digits).to_owned(),
    };
    let trunk = default_code.is_none() && digits.starts_with('0');
    let e164 = default_code.map(|code| format!("+{code}{national}"));
    Some(PhoneForm { e164, national: Some(national), trunk })
}
