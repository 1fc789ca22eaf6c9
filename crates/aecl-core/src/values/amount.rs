//! Amounts: `1,000.50`, `1000.5`, `EUR 1 000,50` and `€1.000,50` are one value, `1000.5`.
//! The currency is not part of the value: provenance asks where the number came from.

/// The normal form of `text` as an amount: the number in its shortest decimal form, or
/// `None` when it is not one.
pub fn normal(text: &str) -> Option<String> {
    let trimmed = text.trim();
    // A currency code or symbol before or after the number.
    let body = trimmed
        .trim_start_matches(|c: char| c.is_ascii_alphabetic() || "€$£¥".contains(c))
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() || "€$£¥".contains(c))
        .trim();
    let letters = trimmed.len() - body.len();
    if body.is_empty() || letters > 8 {
        return None;
    }
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, body),
    };
    let mut digits = String::with_capacity(body.len());
    let mut separators: Vec<(usize, char)> = Vec::new();
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ',' | '.' | '\'' => separators.push((digits.len(), c)),
            ' ' | '\u{a0}' | '\u{202f}' => separators.push((digits.len(), ' ')),
            _ => return None,
        }
    }
    if digits.is_empty() || digits.len() > 30 {
        return None;
    }
    // The decimal separator is the last `.` or `,` unless it groups three digits while
    // the other mark is also used (or it repeats): `1,000` is a thousand, `1,5` is 1.5.
    let decimal =
        separators.iter().rev().find(|(_, c)| *c == '.' || *c == ',').and_then(|&(at, mark)| {
            let after = digits.len() - at;
            let repeated = separators.iter().filter(|(_, c)| *c == mark).count() > 1;
            let grouping = after == 3 && (repeated || separators.len() == 1 && mark == ',');
            (!grouping && !repeated).then_some(at)
        });
    // Every other separator must group: 1 to 3 digits before the first, 3 between.
    let groups: Vec<usize> =
        separators.iter().map(|(at, _)| *at).filter(|at| Some(*at) != decimal).collect();
    let mut previous: Option<usize> = None;
    for &at in &groups {
        let width = at - previous.unwrap_or(0);
        let ok = if previous.is_none() { (1..=3).contains(&width) } else { width == 3 };
        if !ok {
            return None;
        }
        previous = Some(at);
    }
    let int_end = decimal.unwrap_or(digits.len());
    if let Some(last) = previous
        && int_end - last != 3
    {
        return None;
    }
    let (int, frac) = digits.split_at(int_end);
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(digits.len() + 2);
    if negative && !(int.is_empty() && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}
