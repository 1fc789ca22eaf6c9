//! Checks that JSON text is canonical — exactly what `aecl_core::canonical::canonical_json`
//! prints for the value it denotes — in one pass, without building the value.
//!
//! Canonical here means: no white space; object keys strictly increasing by the bytes of
//! their unescaped text (so no duplicates); strings escaped as serde_json escapes them
//! (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx` in
//! lower-case hex, everything else literal); numbers as serde_json prints the number it
//! parses (integers without leading zeros or `-0`, within `i64`/`u64`; other numbers in
//! the shortest form that reads back to the same `f64`). Verification runs this on the
//! free-form JSON inside every record (the call's arguments, the tool's output), so it
//! must be fast and allocate nothing in the common case.

/// How deep arrays and objects may nest: serde_json stops at 128 levels, so nothing deeper
/// can have been parsed when the record was written.
const MAX_DEPTH: usize = 127;

/// Checks `text`. On failure, the offset of the first byte that is not canonical.
pub fn check(text: &[u8]) -> Result<(), usize> {
    check_nested(text, 0)
}

/// Checks `text` as a value found `depth` levels deep inside another (a record's arguments
/// are one level down), so that the whole still fits serde_json's nesting limit.
pub(crate) fn check_nested(text: &[u8], depth: usize) -> Result<(), usize> {
    let mut cursor = Cursor::new(text);
    cursor.value(depth)?;
    if cursor.at_end() { Ok(()) } else { Err(cursor.pos) }
}

/// Whether `text` is canonical JSON.
pub fn is_canonical(text: &str) -> bool {
    check(text.as_bytes()).is_ok()
}

/// A position in a text being checked. Every method either consumes one canonical item and
/// returns `Ok`, or returns the offset where the text stops being canonical.
pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Cursor<'a> {
        Cursor { b, pos: 0 }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.b.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    pub(crate) fn eat(&mut self, c: u8) -> Result<(), usize> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), usize> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    /// One canonical JSON value, nested `depth` levels deep already.
    pub(crate) fn value(&mut self, depth: usize) -> Result<(), usize> {
        match self.peek() {
            Some(b'n') => self.literal(b"null"),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.pos),
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), usize> {
        if depth > MAX_DEPTH {
            return Err(self.pos);
        }
        self.eat(b'[')?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value(depth)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.pos),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), usize> {
        if depth > MAX_DEPTH {
            return Err(self.pos);
        }
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let mut previous: Option<&'a [u8]> = None;
        loop {
            let key_at = self.pos;
            let key = self.string()?;
            if let Some(previous) = previous
                && unescaped(previous).cmp(unescaped(key)) != std::cmp::Ordering::Less
            {
                return Err(key_at);
            }
            previous = Some(key);
            self.eat(b':')?;
            self.value(depth)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.pos),
            }
        }
    }

    /// A string; returns its raw contents between the quotes.
    pub(crate) fn string(&mut self) -> Result<&'a [u8], usize> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            let rest = self.b.get(self.pos..).unwrap_or_default();
            let Some(skip) = plain_run(rest) else {
                return Err(self.b.len());
            };
            self.pos += skip;
            match self.peek() {
                Some(b'"') => {
                    let contents = self.b.get(start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return Ok(contents);
                }
                Some(b'\\') => self.escape()?,
                // A raw control character: serde_json would have escaped it.
                _ => return Err(self.pos),
            }
        }
    }

    /// One escape sequence, which must be the one serde_json writes.
    fn escape(&mut self) -> Result<(), usize> {
        let at = self.pos;
        match self.b.get(at + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let Some(&[b'0', b'0', hi, lo]) = self.b.get(at + 2..at + 6) else {
                    return Err(at);
                };
                match (lower_hex(hi), lower_hex(lo)) {
                    (Some(hi), Some(lo)) => {
                        let c = hi * 16 + lo;
                        // Only control characters without a short escape are written so.
                        if c < 0x20 && !matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                            self.pos += 6;
                            Ok(())
                        } else {
                            Err(at)
                        }
                    }
                    _ => Err(at),
                }
            }
            _ => Err(at),
        }
    }

    fn number(&mut self) -> Result<(), usize> {
        let start = self.pos;
        let token = self.number_token();
        if canonical_integer(token) || canonical_float(token) { Ok(()) } else { Err(start) }
    }

    /// The longest run of number characters here, consumed.
    fn number_token(&mut self) -> &'a [u8] {
        let rest = self.b.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or_default()
    }

    /// A `u64` as serde_json prints it.
    pub(crate) fn u64(&mut self) -> Result<u64, usize> {
        let start = self.pos;
        let token = self.number_token();
        let canonical = !token.is_empty()
            && token.iter().all(u8::is_ascii_digit)
            && (token.len() == 1 || token.first() != Some(&b'0'));
        std::str::from_utf8(token)
            .ok()
            .filter(|_| canonical)
            .and_then(|t| t.parse().ok())
            .ok_or(start)
    }

    /// A finite `f64` as serde_json prints it (`0.0`, `0.35`, `1e+20`).
    pub(crate) fn f64(&mut self) -> Result<f64, usize> {
        let start = self.pos;
        let token = self.number_token();
        canonical_f64(token).ok_or(start)
    }
}

/// The offset of the first byte of `text` that ends a run of plain string characters (a
/// quote, a backslash or a control character), looking at eight bytes at a time.
fn plain_run(text: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Sets the high bit of every zero byte of `x` (and possibly of a byte above one).
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let special = |c: &u8| *c == b'"' || *c == b'\\' || *c < 0x20;
    let mut chunks = text.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let below = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let quote = zero_bytes(x ^ (ONES * u64::from(b'"')));
        let backslash = zero_bytes(x ^ (ONES * u64::from(b'\\')));
        // A set bit can be a false alarm: the chunk is then searched byte by byte.
        if below | quote | backslash != 0
            && let Some(i) = chunk.iter().position(special)
        {
            return Some(offset + i);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(special).map(|i| offset + i)
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// An integer that serde_json reads as `u64` or `i64` and prints back unchanged.
fn canonical_integer(token: &[u8]) -> bool {
    let (negative, digits) = match token.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, token),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return false;
    }
    let Ok(text) = std::str::from_utf8(token) else { return false };
    if negative {
        // `-0` reads as the float -0.0 and prints as `-0.0`.
        digits != b"0" && text.parse::<i64>().is_ok()
    } else {
        text.parse::<u64>().is_ok()
    }
}

/// A non-integer number (or an integer too large for 64 bits) that serde_json prints back
/// unchanged. serde_json reads such a token as the nearest `f64` (the `float_roundtrip`
/// feature makes that exact, like `str::parse`) and prints it in its shortest form; a
/// token is canonical when it is that form. Tokens serde_json would refuse (`1.`, `.5`,
/// `+1`, `01.5`, out of range) parse here to a value whose printed form differs, or not at
/// all, so they are refused too.
fn canonical_float(token: &[u8]) -> bool {
    canonical_f64(token).is_some()
}

/// The value of a token that is a finite `f64` printed as serde_json prints it.
pub(crate) fn canonical_f64(token: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(token).ok()?.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let mut printed = [0u8; 40];
    let mut out = printed.as_mut_slice();
    serde_json::to_writer(&mut out, &value).ok()?;
    let room = out.len();
    let written = printed.get(..printed.len() - room)?;
    (written == token).then_some(value)
}

/// The bytes of a canonical string's contents, unescaped.
fn unescaped(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *raw.get(i)?;
        if c != b'\\' {
            i += 1;
            return Some(c);
        }
        let (byte, len) = match raw.get(i + 1)? {
            b'b' => (0x08, 2),
            b't' => (0x09, 2),
            b'n' => (0x0a, 2),
            b'f' => (0x0c, 2),
            b'r' => (0x0d, 2),
            b'u' => {
                let hi = lower_hex(*raw.get(i + 4)?)?;
                let lo = lower_hex(*raw.get(i + 5)?)?;
                (hi * 16 + lo, 6)
            }
            other => (*other, 2),
        };
        i += len;
        Some(byte)
    })
}

#[cfg(test)]
mod tests;
