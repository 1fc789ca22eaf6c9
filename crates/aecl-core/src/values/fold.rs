//! Folding the spellings of one character into one: what a reader sees as the same text
//! must be one value to provenance. An attacker's page can write an IBAN with soft hyphens
//! or zero-width spaces between its groups, full-width digits or a non-breaking hyphen,
//! and the model copies it out clean (or the agent copies it in dirty); either way the
//! two must meet.
//!
//! - format characters a reader does not see are dropped (soft hyphen, zero-width space
//!   and joiners, word joiner, byte order mark, bidirectional controls, tags, variation
//!   selectors, fillers), and so are control characters;
//! - one-dot leaders and small full stops are `.`;
//! - full-width ASCII (`ＧＢ２９`, `evil．test`) and the ideographic full stops are ASCII;
//! - dash-like characters (hyphen, non-breaking hyphen, figure dash, en and em dash, minus
//!   sign) are `-`;
//! - every other space (no-break, narrow, ideographic, ...) is a plain space.

use std::borrow::Cow;

/// `text` folded; borrowed when nothing changes (printable ASCII, the common case).
pub fn fold(text: &str) -> Cow<'_, str> {
    let printable = |b: u8| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r');
    if text.bytes().all(printable) || !text.chars().any(|c| folded(c) != Some(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter_map(folded).collect())
}

/// One character folded; `None` to drop it.
fn folded(c: char) -> Option<char> {
    // ASCII first: most characters of any text, and only its controls change (what the
    // arms below do with them, without testing every other arm).
    if c.is_ascii() {
        return match c {
            '\u{b}' | '\u{c}' => Some(' '),
            '\t' | '\n' | '\r' => Some(c),
            c if c.is_ascii_control() => None,
            c => Some(c),
        };
    }
    Some(match c {
        // Invisible format characters: a reader does not see them (`visible.rs`).
        c if crate::visible::is_invisible(c) => return None,
        '\u{2024}' | '\u{fe52}' | '\u{2e33}' => '.',
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
        // Decimal digits of other scripts (Arabic-Indic, Persian, Devanagari, Bengali,
        // Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Thai, Lao).
        c if digit_of_script(c).is_some() => digit_of_script(c).unwrap_or(c),
        // Digits drawn in another style (circled, parenthesised, with a full stop,
        // superscript, subscript, dingbats): a reader, and the model, reads the digit.
        c if compatibility_digit(c).is_some() => compatibility_digit(c).unwrap_or(c),
        '\u{3002}' | '\u{ff61}' => '.',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' => '-',
        c if c != ' ' && c.is_whitespace() && !matches!(c, '\t' | '\n' | '\r') => ' ',
        // A NUL or another control character splits nothing a reader sees.
        c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => return None,
        c => c,
    })
}

/// The ASCII digit a decimal digit of another script stands for.
fn digit_of_script(c: char) -> Option<char> {
    const ZEROS: [u32; 14] = [
        0x660, 0x6f0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xe50, 0xed0,
        0x1040,
    ];
    let code = u32::from(c);
    let zero = ZEROS.iter().find(|zero| (**zero..**zero + 10).contains(&code))?;
    char::from_digit(code - zero, 10)
}

/// The ASCII digit a styled digit stands for: NFKC's compatibility digits that are one
/// digit (`⑩` is ten: not one of them).
fn compatibility_digit(c: char) -> Option<char> {
    let code = u32::from(c);
    let digit = |value: u32| char::from_digit(value, 10);
    match code {
        0x00b2 => digit(2),
        0x00b3 => digit(3),
        0x00b9 => digit(1),
        0x2070 => digit(0),
        0x2074..=0x2079 => digit(code - 0x2070),
        0x2080..=0x2089 => digit(code - 0x2080),
        // Circled, parenthesised and with a full stop, one to nine.
        0x2460..=0x2468 => digit(code - 0x245f),
        0x2474..=0x247c => digit(code - 0x2473),
        0x2488..=0x2490 => digit(code - 0x2487),
        0x24ea | 0x24ff | 0x1f10b | 0x1f10c => digit(0),
        0x24f5..=0x24fd => digit(code - 0x24f4),
        // Dingbat circled digits (three styles), one to nine.
        0x2776..=0x277e => digit(code - 0x2775),
        0x2780..=0x2788 => digit(code - 0x277f),
        0x278a..=0x2792 => digit(code - 0x2789),
        // Mathematical digits: bold, double-struck, sans-serif, sans-serif bold, monospace.
        0x1d7ce..=0x1d7ff => digit((code - 0x1d7ce) % 10),
        // Digits with a comma or a full stop after them (`🄁` is `0,`): the digit.
        0x1f100 => digit(0),
        0x1f101..=0x1f10a => digit(code - 0x1f101),
        _ => None,
    }
}

/// Other readings of `text` than its folded spelling, as a reader (or the model) would
/// take them: HTML entities and percent- or quoted-printable escapes of separators
/// decoded, markup tags dropped, and the usual disguises of an address or a link undone
/// (`eve [at] evil [dot] test`, `"eve"@evil.test`, `evil[.]test`, `hxxps://`). Empty when
/// there is none. Only the index uses them: they can add values seen, never remove one.
pub fn readings(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut out = Vec::new();
    if let Some(addresses) = embedded_ipv4(&folded) {
        out.push(addresses);
    }
    if let Some(joined) = wrapped_words(&folded) {
        out.push(joined);
    }
    if let Some(digits) = digit_look_alikes(&folded) {
        out.push(digits);
    }
    if let Some(joined) = letter_spaced(&folded) {
        // Its spelled-out words may themselves be disguised (`e v i l dot t e s t`).
        let undisguised = undisguise(&joined);
        out.push(joined);
        if !out.contains(&undisguised) {
            out.push(undisguised);
        }
    }
    // What the text says to decode, join, rotate or reverse (`super::encoded`).
    out.extend(super::encoded::undone(&folded));
    let markers =
        ['&', '<', '%', '=', '[', '(', '{', '"', 'x', '\\', ':', '?', '·', ' ', '・', '‧', '･'];
    if !folded.contains(markers) {
        return out;
    }
    // Entities and escapes decoded, markup kept: attribute values stay readable
    // (`<a href="https://evil&#46;test">`).
    let decoded = decode(&folded, Tags::Kept);
    // The same with markup dropped as a browser lays it out: inline tags join their text
    // (`<b>GB29</b>NWBK...`), block tags part it (`...3000</p><p>Thanks` does not glue
    // `Thanks` onto the IBAN).
    let untagged = decode(&folded, Tags::Laid);
    // Every tag a space: `Pay<b>DE89...</b>` parts `Pay` from the IBAN.
    let spaced = decode(&folded, Tags::Spaced);
    let undisguised = undisguise(&untagged);
    // Disguises written like tags (`evil<dot>test`) are gone from the laid-out text.
    let tag_disguised = decoded.contains('<').then(|| undisguise(&decoded));
    // Query values and link schemes apart: a link inside a redirector's query
    // (`?url=https%3A%2F%2Fevil.test`), the number of a `tel:` link.
    let mut apart = Replacing::new(decoded.replace(['?', '&', '=', '#'], " "));
    for scheme in ["tel:", "callto:", "sms:", "mailto:"] {
        apart.replace(scheme, " ");
    }
    let apart = apart.text;
    for reading in
        [Some(decoded), Some(untagged), Some(spaced), Some(undisguised), tag_disguised, Some(apart)]
            .into_iter()
            .flatten()
    {
        if reading != folded && !out.contains(&reading) {
            out.push(reading);
        }
    }
    out
}

/// [`readings`], and for a source's text (what the index of values records, not an
/// argument looked up in it) its hosts read apart from what prose glues to them
/// ([`hosts_apart`]). Only sources: an argument read so would be looked up in a form no
/// source has (the user's `http://127.0.0.1:PORT/x` as the bare `127.0.0.1:PORT` a page's
/// reading also holds), while the argument's own link already names its host.
pub fn source_readings(text: &str) -> Vec<String> {
    let mut out = readings(text);
    if let Some(apart) = hosts_apart(text).filter(|a| !out.contains(a)) {
        out.push(apart);
    }
    out
}

/// `text` with every character no host name holds made a space: what is left of a link
/// or an address in prose is its host (and an address's mailbox), whatever the text glues
/// to it. Dashes, bullets and ellipses (`https://evil.test—our CDN—`, `evil.test…`), a
/// backslash escape (`mirror=evil.test\tstatus=ok`), a footnote mark (`evil.test^1`,
/// `evil.test¹`), an arrow, an invisible joiner, and the words of a script written without
/// spaces (`evil.test에서`, `从evil.test下载`, `evil.test。然后`) all end it here (red team
/// round 29, flow H1, M1 and the second pass's F-H1 and F-M1), where folding would make a
/// dash a `-`, a full stop a `.` or drop a joiner, each of which glues. Read on the raw
/// text; an internationalised host is read whole by the other readings. A hyphen that
/// ends a word (`evil.test- or`) is no part of it either. `None` when no such character is
/// in the text (plain ASCII prose, the common case, is read as it is), or the reading holds
/// no host.
pub(super) fn hosts_apart(text: &str) -> Option<String> {
    // A port stays with its host (`127.0.0.1:8080` is not `127.0.0.1`).
    let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | ':');
    let glue =
        |c: char| !c.is_ascii() || matches!(c, '\\' | '^' | '~' | '$' | '!' | '*' | '+' | '%');
    if !text.contains(glue) && !text.contains("--") && !text.contains("- ") && !text.ends_with('-')
    {
        return None;
    }
    let spaced: String = text.chars().map(|c| if host_char(c) { c } else { ' ' }).collect();
    let mut parted = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        // `--` and a hyphen before a space or the end part words.
        let parts = c == '-' && chars.peek().is_none_or(|next| *next == ' ' || *next == '-');
        parted.push(if parts { ' ' } else { c });
    }
    // Only what may be a host or an address: the other words of this reading are no
    // value the text holds (`+44 20 …` without its `+` is another number, a date or an
    // amount another).
    let hosts: Vec<&str> = parted.split(' ').filter(|word| word.contains(['.', '@'])).collect();
    (!hosts.is_empty()).then(|| hosts.join(" "))
}

/// `text` with the usual disguises of an address or a link undone: `eve [at] evil [dot]
/// test`, `evil[.]test`, `evil{.}test`, `hxxps://`, dots written as other middle dots
/// (`evil・test`), and a dot with a space on one side only before a name goes on
/// (`evil .test`, `evil. test`; a sentence's next word starts in upper case).
fn undisguise(text: &str) -> String {
    let mut undisguised = Replacing::new(bracketed_words(text));
    for (disguise, plain) in [
        ("[at]", "@"),
        ("(at)", "@"),
        ("{at}", "@"),
        ("<at>", "@"),
        ("[dot]", "."),
        ("(dot)", "."),
        ("{dot}", "."),
        ("<dot>", "."),
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("<.>", "."),
        ("[@]", "@"),
        ("hxxp", "http"),
        ("\"@", "@"),
        ("·", "."),
        ("・", "."),
        ("‧", "."),
        ("･", "."),
    ] {
        undisguised.replace(disguise, plain);
    }
    // ` @ ` and ` . ` left by the spaced disguises, and a quoted local part's opening quote.
    let text = undisguised.text.replace(" @ ", "@").replace(" . ", ".").replace('"', " ");
    let text = close_dot_gaps(&text);
    let mut undisguised = Replacing::new(text);
    // `eve at evil dot test`, `eve at-sign evil period test`, and `evil dot test/upload`
    // (a link has no ` at `); ` at ` and ` period ` alone are prose (`meet at noon`, `the
    // period of notice`).
    let ats = [" at-sign ", " at sign ", " at "];
    let has = |lower: &str, words: &[&str]| words.iter().any(|w| lower.contains(w));
    let dot = undisguised.lower.contains(" dot ");
    // ` period ` only beside an `at` (an address): alone it is prose.
    let period = undisguised.lower.contains(" period ") && has(&undisguised.lower, &ats);
    if dot || period {
        // The explicit `at-sign` when there is one (then ` at ` is prose: `reach her at
        // eve at-sign evil period test`), else ` at `.
        let explicit = has(&undisguised.lower, &ats[..2]);
        let used: &[&str] = if explicit { &ats[..2] } else { &ats[2..] };
        for at in used {
            undisguised.replace(at, "@");
        }
        undisguised.replace(" dot ", ".");
        if period {
            undisguised.replace(" period ", ".");
        }
    } else if has(&undisguised.lower, &ats[..2]) {
        // `at-sign` is never prose.
        for at in &ats[..2] {
            undisguised.replace(at, "@");
        }
    }
    undisguised.text
}

/// `text` with a bracketed word of a disguise, spaces inside the brackets or not, written
/// as the sign it stands for: `[ dot ]`, `( at )`, `{ . }`, `[period]`, `<at-sign>`.
fn bracketed_words(text: &str) -> String {
    const WORDS: [(&str, char); 7] = [
        ("dot", '.'),
        (".", '.'),
        ("period", '.'),
        ("at", '@'),
        ("@", '@'),
        ("at-sign", '@'),
        ("at sign", '@'),
    ];
    if !text.bytes().any(|b| matches!(b, b'[' | b'(' | b'{' | b'<')) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['[', '(', '{', '<']) {
        let (before, from) = rest.split_at(open);
        out.push_str(before);
        let close = match from.as_bytes().first() {
            Some(b'[') => ']',
            Some(b'(') => ')',
            Some(b'{') => '}',
            _ => '>',
        };
        // A word of at most 7 letters with a few spaces around it.
        let inner_end =
            from.get(1..).and_then(|r| r.get(..r.len().min(16))).and_then(|r| r.find(close));
        let sign = inner_end.and_then(|end| {
            let inner = from.get(1..=end)?.trim().to_ascii_lowercase();
            WORDS.iter().find(|(word, _)| *word == inner).map(|(_, sign)| (*sign, end + 2))
        });
        match sign {
            Some((sign, used)) => {
                out.push(sign);
                rest = from.get(used..).unwrap_or_default();
            }
            None => {
                out.push_str(from.get(..1).unwrap_or_default());
                rest = from.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` with the space removed from `x .y` and `x. y` where a lower-case letter or a
/// digit follows: a host name broken at its dot.
fn close_dot_gaps(text: &str) -> String {
    let bytes = text.as_bytes();
    let name_goes_on =
        |at: usize| bytes.get(at).is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let word_before =
        |at: usize| at > 0 && bytes.get(at - 1).is_some_and(|b| b.is_ascii_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let gap = match bytes.get(i..i + 2) {
            Some(b" .") if word_before(i) && name_goes_on(i + 2) => Some(2),
            Some(b". ") if word_before(i) && name_goes_on(i + 2) => Some(2),
            _ => None,
        };
        match gap {
            Some(used) => {
                out.push('.');
                i += used;
            }
            None => {
                let len = text.get(i..).and_then(|r| r.chars().next()).map_or(1, char::len_utf8);
                out.push_str(text.get(i..i + len).unwrap_or_default());
                i += len;
            }
        }
    }
    out
}

/// Text spelled a character at a time (`e v i l . t e s t`, `h e l p @ e v i l . t e s t`)
/// with each run of [`MIN_LETTER_RUN`] lone characters or more joined into the word a reader
/// reads: the host or address it spells is the text's as surely as written whole (red team
/// round 22, flow F4). `None` when there is no such run.
fn letter_spaced(text: &str) -> Option<String> {
    // A character listed with a comma after it (`e, v, i, l, dot, t, e, s, t`) is one too.
    fn bare(word: &str) -> &str {
        word.strip_suffix([',', ';']).filter(|w| !w.is_empty()).unwrap_or(word)
    }
    let lone = |word: &str| {
        let mut chars = bare(word).chars();
        chars.next().is_some() && chars.next().is_none()
    };
    // Most texts have no such run: found with one pass that allocates nothing.
    let longest = text
        .split_whitespace()
        .scan(0usize, |run, word| {
            *run = if lone(word) { *run + 1 } else { 0 };
            Some(*run)
        })
        .max()
        .unwrap_or(0);
    if longest < MIN_LETTER_RUN {
        return None;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::with_capacity(text.len());
    let mut last_was_run = false;
    let mut rest = words.as_slice();
    while let Some((first, after)) = rest.split_first() {
        let run = rest.iter().take_while(|w| lone(w)).count();
        if !out.is_empty() {
            out.push(' ');
        }
        if run >= MIN_LETTER_RUN {
            let (letters, mut after_run) = rest.split_at(run);
            out.extend(letters.iter().map(|w| bare(w)));
            // The rest of the value written whole after its spelled start (`e v i
            // l.test`, `h e l p@evil.test`): glued on (second pass, F4).
            if let Some((tail, after_tail)) = after_run.split_first()
                && tail.contains(['.', '@', '/'])
                && tail.chars().next().is_some_and(char::is_alphanumeric)
            {
                out.push_str(tail);
                after_run = after_tail;
            }
            rest = after_run;
            last_was_run = true;
        } else {
            // A word between spelled runs loses its listing comma (`l, dot, t`).
            let next_is_run = after.iter().take_while(|w| lone(w)).count() >= MIN_LETTER_RUN;
            if last_was_run || next_is_run {
                out.push_str(bare(first));
            } else {
                out.push_str(first);
            }
            last_was_run = false;
            rest = after;
        }
    }
    Some(out)
}

/// `text` with the letters that pass for digits read as those digits in every word that is
/// otherwise digits (`+44 2O 7946 O958` is `+44 20 7946 0958`, `l5O` is `150`): a reader
/// dials the number the page meant (red team round 22, flow F7; IBANs are read so by
/// their structure). `None` when no word has such a letter.
fn digit_look_alikes(text: &str) -> Option<String> {
    let digit_of = |c: char| match c {
        // Latin, Cyrillic and Greek capital and small O.
        'O' | 'o' | 'О' | 'о' | 'Ο' | 'ο' => Some('0'),
        'I' | 'l' | '|' => Some('1'),
        _ => None,
    };
    let numeric = |word: &str| {
        word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| digit_of(c).is_some())
            && word
                .chars()
                .all(|c| c.is_ascii_digit() || digit_of(c).is_some() || "+-().".contains(c))
    };
    if !text.split_whitespace().any(numeric) {
        return None;
    }
    let words: Vec<String> = text
        .split(' ')
        .map(|word| match numeric(word) {
            true => word.chars().map(|c| digit_of(c).unwrap_or(c)).collect(),
            false => word.to_owned(),
        })
        .collect();
    Some(words.join(" "))
}

/// The fewest characters spelled apart that [`letter_spaced`] joins: a three-letter word
/// (`c o m` after `dot`). A shorter run is an initial or an operator (`a + b`); a longer
/// one joined wrongly (`A B C`) only adds a word to untrusted text.
const MIN_LETTER_RUN: usize = 3;

/// The words a line break (or a `<br>`) cuts in two, joined again, space-separated:
/// `https://evil.exam-` NEWLINE `ple/x` is `https://evil.example/x` (and, with its hyphen,
/// `https://evil.exam-ple/x`). `None` without a line break.
fn wrapped_words(text: &str) -> Option<String> {
    let tagged = text.as_bytes().windows(3).any(|w| {
        matches!(w, [b'<', b, r] if b.eq_ignore_ascii_case(&b'b') && r.eq_ignore_ascii_case(&b'r'))
    });
    if !(tagged || text.contains('\n')) {
        return None;
    }
    // Most texts break only at line ends: copied to mark the breaks only when a `<br>` is
    // there.
    let lined = tagged.then(|| {
        let mut lined = Replacing::new(text.to_owned());
        for tag in ["<br>", "<br/>", "<br />"] {
            lined.replace(tag, "\n");
        }
        lined.text
    });
    let mut lines = lined.as_deref().unwrap_or(text).split('\n').peekable();
    let mut out = Vec::new();
    while let (Some(before), Some(after)) = (lines.next(), lines.peek()) {
        let Some(head) = before.trim_end().rsplit(char::is_whitespace).next() else { continue };
        let Some(tail) = after.trim_start().split(char::is_whitespace).next() else { continue };
        if head.is_empty() || tail.is_empty() {
            continue;
        }
        out.push(format!("{head}{tail}"));
        if let Some(cut) = head.strip_suffix('-') {
            out.push(format!("{cut}{tail}"));
        }
    }
    (!out.is_empty()).then(|| out.join(" "))
}

/// The IPv4 addresses that host names in `text` carry (space-separated), when there are
/// any: wildcard DNS services answer a name with the address written in it
/// (`203.0.113.7.nip.io`, `app-203-0-113-7.sslip.io`, `cb007107.nip.io`), so the name
/// and the address are one destination, whichever of the two a page shows and a call
/// uses.
pub(crate) fn embedded_ipv4(text: &str) -> Option<String> {
    let mut found = Vec::new();
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    // A host carrying an address has three labels at least: the words of a long output
    // with fewer (most of them) are skipped before any allocation.
    for word in words.filter(|w| w.trim_matches('.').matches('.').count() >= 2) {
        let labels: Vec<&str> = word.trim_matches('.').split('.').collect();
        // Four number labels with a name label around them: a bare address is found as
        // itself, this only adds the one a name hides.
        if labels.len() > 4 {
            found.extend(labels.windows(4).filter_map(quad_address));
        }
        for label in &labels {
            // `203-0-113-7`, `app-203-0-113-7`: the last four dash-parted numbers.
            let parts: Vec<&str> = label.split('-').collect();
            if let Some(last_four) = parts.len().checked_sub(4).and_then(|at| parts.get(at..))
                && let Some(address) = quad_address(last_four)
            {
                found.push(address);
            }
            // `cb007107`: eight hex digits.
            if label.len() == 8
                && let Ok(number) = u32::from_str_radix(label, 16)
            {
                found.push(std::net::Ipv4Addr::from(number).to_string());
            }
        }
    }
    (!found.is_empty()).then(|| found.join(" "))
}

/// `a.b.c.d` from four labels that are each a number up to 255.
fn quad_address(labels: &[&str]) -> Option<String> {
    let octets: Vec<u8> = labels.iter().map(|l| ipv4_label(l)).collect::<Option<_>>()?;
    Some(octets.iter().map(u8::to_string).collect::<Vec<_>>().join("."))
}

/// One decimal octet of an IPv4 address as written: one to three digits, at most 255.
pub(super) fn ipv4_label(label: &str) -> Option<u8> {
    if label.is_empty() || label.len() > 3 || !label.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    label.parse().ok()
}

/// What [`decode`] does with markup tags.
#[derive(Clone, Copy, PartialEq)]
enum Tags {
    Kept,
    /// Inline tags dropped, block tags (paragraphs, line breaks, cells...) a space.
    Laid,
    /// Every tag a space.
    Spaced,
}

/// Tags that start a new line or box in a browser: the text on either side is apart.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "li",
    "main",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "ul",
];

/// What a tag (`<...>`, given whole) stands for in the laid-out text.
fn tag_text(tag: &str, tags: Tags) -> &'static str {
    let name: String = tag
        .trim_start_matches('<')
        .trim_start_matches('/')
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match tags {
        Tags::Spaced => " ",
        _ if BLOCK_TAGS.contains(&name.as_str()) => " ",
        _ => "",
    }
}

/// `text` with its entities, percent and quoted-printable escapes and JavaScript escapes
/// decoded (percent escapes until none is left: `%253A`), and its markup tags replaced as
/// `tags` says.
fn decode(text: &str, tags: Tags) -> String {
    // The characters that may start an escape or a tag: up to the next one, text stays.
    let marks =
        |b: &u8| matches!(b, b'&' | b'%' | b'=' | b'\\') || (*b == b'<' && tags != Tags::Kept);
    let mut current = text.to_owned();
    // Nested percent-encoding, a few levels deep at most.
    for _ in 0..3 {
        let mut decoded = String::with_capacity(current.len());
        let mut rest = current.as_str();
        loop {
            let plain = rest.as_bytes().iter().position(marks).unwrap_or(rest.len());
            decoded.push_str(rest.get(..plain).unwrap_or_default());
            rest = rest.get(plain..).unwrap_or_default();
            let Some(c) = rest.chars().next() else { break };
            let (replacement, used) = match c {
                '&' => entity(rest),
                '<' if tags != Tags::Kept => {
                    rest.find('>').filter(|end| *end < 200).map_or((None, 1), |end| {
                        let tag = rest.get(..=end).unwrap_or_default();
                        (Some(tag_text(tag, tags).to_owned()), end + 1)
                    })
                }
                '%' => percent(rest),
                '=' => escaped(rest),
                '\\' => backslash(rest),
                _ => (None, c.len_utf8()),
            };
            match replacement {
                Some(text) => decoded.push_str(&text),
                None => decoded.push_str(rest.get(..used).unwrap_or_default()),
            }
            rest = rest.get(used..).unwrap_or_default();
        }
        let done = decoded == current;
        current = decoded;
        if done {
            break;
        }
    }
    current
}

/// `text` percent-decoded as a browser decodes a URL's parts (UTF-8, any byte), again
/// until it no longer changes (`%2540` is `%40` is `@`), at most three times.
pub fn percent_decoded(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..3 {
        let decoded = percent_encoding::percent_decode_str(&current).decode_utf8_lossy();
        if decoded == current {
            break;
        }
        current = decoded.into_owned();
    }
    current
}

/// A `%XX` escape of a printable ASCII character at the start of `text`.
fn percent(text: &str) -> (Option<String>, usize) {
    let code = text.get(1..3).and_then(|hex| u8::from_str_radix(hex, 16).ok());
    match code {
        Some(b) if (0x20..0x7f).contains(&b) => (Some(char::from(b).to_string()), 3),
        _ => (None, 1),
    }
}

/// A JavaScript, JSON or Markdown escape at the start of `text`: `\xNN`, `\uXXXX`, `\/`,
/// `\.`.
fn backslash(text: &str) -> (Option<String>, usize) {
    let hex = |from: usize, len: usize| {
        text.get(from..from + len)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
    };
    let decoded = match text.as_bytes().get(1) {
        Some(b'x') => hex(2, 2).map(|c| (c, 4)),
        Some(b'u') => hex(2, 4).map(|c| (c, 6)),
        // `\/` in JSON; `\.`, `\_`, `\-` in Markdown, where a backslash before
        // punctuation only keeps it from being markup (`evil\.test`).
        Some(&b) if b.is_ascii_punctuation() => Some((char::from(b), 2)),
        _ => None,
    };
    match decoded {
        Some((c, used)) => (Some(fold(&c.to_string()).into_owned()), used),
        None => (None, 1),
    }
}

/// An HTML character reference at the start of `text`: its character and length.
fn entity(text: &str) -> (Option<String>, usize) {
    // The longest name below is 21 characters (`NegativeVeryThinSpace`).
    let Some(end) = text.find(';').filter(|end| *end <= 32) else { return (None, 1) };
    let name = text.get(1..end).unwrap_or_default();
    let c = match name.strip_prefix('#') {
        Some(number) => match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
            None => number.parse().ok().and_then(char::from_u32),
        },
        None => match name.to_ascii_lowercase().as_str() {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "period" => Some('.'),
            "commat" => Some('@'),
            "colon" => Some(':'),
            "sol" => Some('/'),
            "hyphen" | "dash" => Some('-'),
            "lowbar" | "underbar" => Some('_'),
            "plus" => Some('+'),
            "equals" => Some('='),
            "comma" => Some(','),
            "semi" => Some(';'),
            "num" => Some('#'),
            "percnt" => Some('%'),
            "bsol" => Some('\\'),
            "dollar" => Some('$'),
            "excl" => Some('!'),
            "quest" => Some('?'),
            "lpar" => Some('('),
            "rpar" => Some(')'),
            "lsqb" | "lbrack" => Some('['),
            "rsqb" | "rbrack" => Some(']'),
            "lcub" | "lbrace" => Some('{'),
            "rcub" | "rbrace" => Some('}'),
            "verbar" | "vert" | "verticalline" => Some('|'),
            "ast" | "midast" => Some('*'),
            "grave" | "diacriticalgrave" => Some('`'),
            "tilde" | "diacriticaltilde" => Some('~'),
            "newline" => Some('\n'),
            "tab" => Some('\t'),
            // White space of every width: a separator, as `nbsp`.
            "ensp" | "emsp" | "emsp13" | "emsp14" | "numsp" | "puncsp" | "thinsp" | "thinspace"
            | "hairsp" | "verythinspace" | "mediumspace" | "thickspace" | "nonbreakingspace" => {
                Some(' ')
            }
            // Invisible characters: `fold` drops them, as it drops them written out.
            "shy" => Some('\u{ad}'),
            "zwj" => Some('\u{200d}'),
            "zwnj" => Some('\u{200c}'),
            "zerowidthspace"
            | "negativeverythinspace"
            | "negativethinspace"
            | "negativemediumspace"
            | "negativethickspace" => Some('\u{200b}'),
            "nobreak" => Some('\u{2060}'),
            "lrm" => Some('\u{200e}'),
            "rlm" => Some('\u{200f}'),
            "invisibletimes" | "it" => Some('\u{2062}'),
            "invisiblecomma" | "ic" => Some('\u{2063}'),
            "applyfunction" | "af" => Some('\u{2061}'),
            _ => None,
        },
    };
    match c {
        Some(c) => (Some(fold(&c.to_string()).into_owned()), end + 1),
        None => (None, 1),
    }
}

/// `%XX` or `=XX` (quoted-printable) of a separator, `@`, `:` or `/` at the start of
/// `text`; a quoted-printable soft line break (`=` at a line's end) is dropped.
fn escaped(text: &str) -> (Option<String>, usize) {
    if text.starts_with("=\r\n") {
        return (Some(String::new()), 3);
    }
    if text.starts_with("=\n") {
        return (Some(String::new()), 2);
    }
    let code = text.get(1..3).and_then(|hex| u8::from_str_radix(hex, 16).ok());
    match code {
        Some(b @ (b' ' | b'-' | b'.' | b'@' | b':' | b'/' | b'_')) => {
            (Some(char::from(b).to_string()), 3)
        }
        _ => (None, 1),
    }
}

/// A text undergoing replacements that ignore ASCII case, with its lower-case copy kept
/// so that a pattern the text does not hold (the usual case) costs one search, no copy.
struct Replacing {
    text: String,
    lower: String,
}

impl Replacing {
    fn new(text: String) -> Replacing {
        let lower = text.to_ascii_lowercase();
        Replacing { text, lower }
    }

    /// Every `from` (lower case) replaced by `to`, whatever the case it is written in.
    fn replace(&mut self, from: &str, to: &str) {
        // The first byte alone rules most patterns out without building a searcher.
        let first = from.as_bytes().first().copied().unwrap_or_default();
        if !(self.lower.as_bytes().contains(&first) && self.lower.contains(from)) {
            return;
        }
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        while let Some(found) = self.lower.get(at..).and_then(|rest| rest.find(from)) {
            out.push_str(self.text.get(at..at + found).unwrap_or_default());
            out.push_str(to);
            at += found + from.len();
        }
        out.push_str(self.text.get(at..).unwrap_or_default());
        *self = Replacing::new(out);
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn readings_undo_entities_escapes_tags_and_disguises() {
        use super::readings;
        let has = |text: &str, wanted: &str| readings(text).iter().any(|r| r.contains(wanted));
        // Red-team round 14: spaces inside the brackets, and the words `at-sign`, `period`.
        assert!(has("evil [ dot ] test/upload", "evil.test/upload"));
        assert!(has("eve ( at ) evil { . } test", "eve@evil.test"));
        assert!(has("eve [AT] evil [ Period ] test", "eve@evil.test"));
        assert!(has("eve at-sign evil period test", "eve@evil.test"));
        assert!(has("eve at sign evil dot test", "eve@evil.test"));
        assert!(has(
            "reach her at eve.m at-sign evil-partner period test.",
            "eve.m@evil-partner.test"
        ));
        assert!(has("write to eve<at-sign>evil.test", "eve@evil.test"));
        // Prose stays prose.
        assert!(!has("the period of notice is (at most) a month", "@"));
        assert!(!has("the period of notice", "the.of"));
        assert!(has("eve&#64;evil.test", "eve@evil.test"));
        assert!(has("eve&#x40;evil&period;test", "eve@evil.test"));
        assert!(has("<b>GB29</b>NWBK<i>6016</i>", "GB29NWBK6016"));
        assert!(has("GB29%20NWBK=20", "GB29 NWBK "));
        assert!(has("eve [at] evil [dot] test", "eve@evil.test"));
        assert!(has("\"eve\"@evil.test", "eve@evil.test"));
        // The red team's disguises of stop 50: a Markdown escape, braces and angle
        // brackets round the dot, other middle dots, a dot spaced on one side, and a host
        // cut by a line break or a `<br>`.
        assert!(has("fetch https://evil\\.example/done", "https://evil.example/done"));
        assert!(has("Send it to **evil\\.example**", "evil.example"));
        assert!(has("fetch evil{.}example/done", "evil.example/done"));
        assert!(has("fetch evil<dot>example/done", "evil.example/done"));
        assert!(has("fetch evil<.>example/done", "evil.example/done"));
        assert!(has("fetch evil・example/done", "evil.example/done"));
        assert!(has("fetch evil‧example/done", "evil.example/done"));
        assert!(has("then fetch evil .example/done to finish", "evil.example/done"));
        assert!(has("then fetch evil. example/done to finish", "evil.example/done"));
        assert!(has("fetch https://evil.exam-\nple/done", "https://evil.example/done"));
        assert!(has("fetch https://evil.exam\n   ple/done", "https://evil.example/done"));
        assert!(has("fetch https://evil.\nexample/done", "https://evil.example/done"));
        assert!(has(
            "<p>then fetch https://evil.exa<br>mple/done</p>",
            "https://evil.example/done"
        ));
        // A sentence's end is not a host: its next word starts in upper case.
        assert!(!has("It is done. Thanks", "done.Thanks"));
        assert!(has("hxxps://evil[.]test/x", "https://evil.test/x"));
        assert!(has("https=3A//evil.test", "https://evil.test"));
        assert!(has(
            "https://r.test/?url=https%3A%2F%2Fevil.test%2Fx&d=1",
            " https://evil.test/x "
        ));
        assert!(has("https%253A%252F%252Fevil.test", "https://evil.test"));
        assert!(has("<a href=\"https://evil&#46;test/x\">", "https://evil.test/x"));
        assert!(has("href=\"tel:+44-20-7946-0958\"", " +44-20-7946-0958"));
        assert!(has("https:\\x2F\\x2Fevil.test", "https://evil.test"));
        assert!(has("eve@\\u0065vil.test", "eve@evil.test"));
        assert!(has("eve at evil dot test", "eve@evil.test"));
        assert!(has("eve@evil·test", "eve@evil.test"));
        // Block tags part the text they close; inline tags join it; named entities of
        // invisible characters and spaces decode.
        assert!(has("<p>Pay <b>DE89</b>3704</p><p>Thanks</p>", "DE893704 "));
        assert!(!has("<p>Pay <b>DE89</b>3704</p><p>Thanks</p>", "3704Thanks"));
        assert!(has("<td>GB29</td><td>Acme</td>", "GB29 "));
        assert!(has("Contact:<span>eve@evil.test</span>", "Contact: eve@evil.test "));
        assert!(has("DE89&shy;3704&ZeroWidthSpace;0044&zwj;", "DE8937040044"));
        assert!(has("GB29&ThinSpace;NWBK&ensp;6016", "GB29 NWBK 6016"));
        assert!(has("+44&InvisibleTimes;20&lrm;7946&NoBreak;0958", "+442079460958"));
        assert!(readings("plain text, no markers").is_empty());
        // Never panics on truncated or odd input.
        for text in
            ["&", "&#", "&#x;", "&#99999999;", "%", "%4", "=", "=\r", "<", "[at", "\u{ff0e}&#"]
        {
            let _ = readings(text);
        }
    }

    #[test]
    fn invisible_full_width_dash_and_space_spellings_fold() {
        assert_eq!(fold("GB29\u{ad}NWBK\u{200b}6016"), "GB29NWBK6016");
        assert_eq!(
            fold("evil.te\u{202e}st e\u{2066}v\u{e0020}il\u{2024}test"),
            "evil.test evil.test"
        );
        assert_eq!(fold("ＧＢ２９ ＮＷＢＫ"), "GB29 NWBK");
        assert_eq!(fold("evil．test。com｡x"), "evil.test.com.x");
        assert_eq!(fold("+44\u{2011}20\u{2013}7946\u{a0}0958"), "+44-20-7946 0958");
        assert_eq!(fold("GB29NWBK\u{0}6016"), "GB29NWBK6016");
        assert_eq!(fold("+٤٤ २० ۷۹۴۶"), "+44 20 7946");
        assert!(matches!(fold("plain ascii"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(fold("grüße"), std::borrow::Cow::Borrowed(_)));
    }

    /// In a text that needs folding (here for its `é`), ASCII keeps its printable
    /// characters, tabs and line ends, reads a vertical tab or form feed as a space (white
    /// space of another kind), and drops every other control character.
    #[test]
    fn ascii_in_a_folded_text_keeps_all_but_its_controls() {
        for byte in 0..0x80u8 {
            let c = char::from(byte);
            let expected = match c {
                '\u{b}' | '\u{c}' => " ".to_owned(),
                '\t' | '\n' | '\r' => c.to_string(),
                c if c.is_control() => String::new(),
                c => c.to_string(),
            };
            assert_eq!(fold(&format!("é{c}é")), format!("é{expected}é"), "{byte:#04x}");
        }
    }
}
