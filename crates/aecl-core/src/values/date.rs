//! Dates: ISO 8601 (`2026-03-01`, with or without a time), `01/03/2026`, `1.3.2026`,
//! `1 March 2026`, `March 1, 2026`, `1-Mar-2026`, all as `2026-03-01`.
//!
//! A numeric date whose day and month could be swapped (`01/03/2026`) has two readings;
//! both are returned, so a look-up matches either and an untrusted source of either one
//! counts.

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The readings of `text` as a date (one, or two for an ambiguous numeric date); empty
/// when it is not a date.
pub fn normal(text: &str) -> Vec<String> {
    let text = text.trim().trim_end_matches(['.', ',']);
    // ISO with a time: the day is the value.
    let day_part = match text.split_once(['T', 't']) {
        Some((day, time))
            if day.len() == 10 && time.as_bytes().first().is_some_and(u8::is_ascii_digit) =>
        {
            day
        }
        _ => text,
    };
    let fields: Vec<&str> = day_part
        .split(|c: char| c == '-' || c == '/' || c == '.' || c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    let [a, b, c] = fields.as_slice() else { return Vec::new() };
    let number = |s: &str| {
        (s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let day_number = |s: &str| number(s.trim_end_matches(|c: char| c.is_ascii_alphabetic()));
    let readings: Vec<(u32, u32, u32)> = match (number(a), month(b), month(a)) {
        // 2026-03-01
        (Some(y), _, _) if a.len() == 4 => {
            number(b).zip(number(c)).map(|(m, d)| vec![(y, m, d)]).unwrap_or_default()
        }
        // 1 March 2026, 1-Mar-2026
        (_, Some(m), _) => {
            day_number(a).zip(number(c)).map(|(d, y)| vec![(y, m, d)]).unwrap_or_default()
        }
        // March 1, 2026
        (_, _, Some(m)) => {
            day_number(b).zip(number(c)).map(|(d, y)| vec![(y, m, d)]).unwrap_or_default()
        }
        // 01/03/2026: day first unless it cannot be, and both when either fits.
        (Some(x), _, _) => match (number(b), number(c)) {
            (Some(y2), Some(year)) if c.len() == 4 => {
                let mut out = vec![(year, y2, x)];
                if x != y2 {
                    out.push((year, x, y2));
                }
                out
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut out: Vec<String> = readings
        .into_iter()
        .filter(|&(y, m, d)| valid(y, m, d))
        .map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
        .collect();
    out.dedup();
    out
}

fn month(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    let index = MONTHS.iter().position(|m| m.starts_with(lower.trim_end_matches('.')))?;
    u32::try_from(index).ok().map(|i| i + 1)
}

fn valid(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1000..=9999).contains(&year) && (1..=days).contains(&day)
}
