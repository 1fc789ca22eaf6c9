//! Look-alike host names: the forms a host takes once every letter is replaced by the one
//! it is drawn like (Unicode's confusable skeleton, UTS #39), so that `раураl.example`
//! (Cyrillic `р`, `а`, `у`), `gοοgle.example` (Greek `ο`), `ΝΕΤFLΙΧ.example` (Greek
//! capitals), `ᴘᴀʏᴘᴀʟ.example` (small capitals), `paypa1.example`, `PaypaI.example` and
//! `paypal.example` are one name.
//!
//! A page that shows a host in look-alike letters and a model that retypes it in plain
//! Latin letters (or the other way round) send the call where the page said while the two
//! spellings differ as text and as punycode. Data flow keys every host of history by its
//! skeletons as well, and a call's host is looked up by them (`typed::host_source`).
//!
//! A host reaches here as URL parsing leaves it, lower case: `НЅВС` (Cyrillic capitals,
//! drawn like `HSBC`) arrives as `нѕвс`, whose letters are drawn like nothing Latin. So a
//! host is keyed by the skeleton of its lower-case letters, of its letters as the page
//! wrote them (`PaypaI`), and, for a host with letters outside ASCII, of its upper-case
//! letters, which are compared only among themselves (they merge `i`, `l` and `1`, which
//! ASCII hosts keep apart: `api` and `ap1`, `.it` and `.lt`). UTS #39's table leaves out a
//! few families of look-alikes (Latin small capitals, negative squared letters, `ß` for
//! `ss`) and the letter pair `vv` for `w` (`rn` for `m` it has): those are added here; `cl`
//! for `d` is not (`clock`, `dock`).
//!
//! [`as_it_looks`] reads untrusted text the way a reader sees it, every character drawn
//! like an ASCII one written as that one, for the hosts it shows that no scanner of the
//! text as written finds (`p⍺yp⍺l`, `paypal-billing•example`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The look-alike keys of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Skeletons {
    /// Of its lower-case letters, and of the letters as written where the text is at hand
    /// (`PaypaI`: a capital I drawn like an l).
    pub lower: Vec<String>,
    /// Of its upper-case letters: only for a host with letters outside ASCII (`ΝΕΤFLΙΧ`,
    /// which URL parsing hands over as `νετflιχ`), and for every host looked up. Kept
    /// apart from `lower`: compared among themselves, upper-case skeletons merge `i` and
    /// `l` (`I`, `l` and `1` are one prototype), which would make `api` and `ap1`, `.it`
    /// and `.lt` alike.
    pub upper: Option<String>,
    /// The host has letters outside ASCII: its `upper` skeleton is indexed.
    pub foreign: bool,
}

/// The skeletons of a host name (punycode or Unicode; `written`, the host as the text
/// wrote it, when at hand): its labels read as Unicode, each character mapped to its
/// confusable prototype, accents dropped, lower case. Empty for an IP address, whose
/// digits are no letters anyone mistakes for a name.
pub(crate) fn host_skeletons(host: &str, written: Option<&str>) -> Skeletons {
    let host = host.trim_end_matches('.');
    if host.is_empty()
        || host.starts_with('[')
        || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Skeletons::default();
    }
    // A label that is not valid punycode stays as written (`to_unicode` keeps it).
    let (unicode, _) = idna::domain_to_unicode(host);
    let prototypes = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for c in text.nfkc() {
            push_prototype(c, &mut out);
        }
        out
    };
    let plain = prototypes(&unicode);
    let lowered = skeleton(&plain.to_lowercase());
    let upper = Some(skeleton(&plain.to_uppercase())).filter(|u| *u != lowered);
    let mut lower = vec![lowered];
    if let Some(written) = written.filter(|w| w.chars().any(char::is_uppercase)) {
        let as_written = skeleton(&prototypes(written.trim_end_matches('.')));
        if !lower.contains(&as_written) {
            lower.push(as_written);
        }
    }
    Skeletons { lower, upper, foreign: !unicode.is_ascii() }
}

/// The host of a link or an address as `text` writes it (`HTTPS://user@PaypaI.example:443/x`
/// → `PaypaI.example`), when it is the host `host` (its ASCII form, lower case): the case
/// and the characters URL parsing maps (`ϲ` to `σ`) are kept.
pub(crate) fn written_host<'t>(text: &'t str, host: &str) -> Option<&'t str> {
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let written = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let written = written.split(':').next().unwrap_or_default();
    let ascii = idna::domain_to_ascii(written).ok()?;
    (ascii.trim_end_matches('.') == host.trim_end_matches('.')).then_some(written)
}

/// The skeleton of `text`: UTS #39's, accents and case dropped, then `vv` for `w`.
fn skeleton(text: &str) -> String {
    let mapped: String = unicode_security::skeleton(text).collect();
    let plain: String = mapped.nfd().filter(|c| !is_combining_mark(*c)).collect();
    // Prototypes are sometimes capitals (`0` is drawn like `O`): lower-cased, and the
    // skeleton of that taken again (lower-casing can make a new look-alike).
    let lower = plain.to_lowercase();
    let again: String = unicode_security::skeleton(&lower).collect::<String>().to_lowercase();
    again.replace("vv", "w")
}

/// `c`, or the prototype of a look-alike UTS #39 does not list, appended to `out`.
pub(super) fn push_prototype(c: char, out: &mut String) {
    let prototype = match c {
        'ᴀ' => 'a',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ꜰ' => 'f',
        'ɢ' => 'g',
        'ʜ' => 'h',
        'ɪ' => 'i',
        'ᴊ' => 'j',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' | 'ᴩ' => 'p',
        'ꞯ' => 'q',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        'ß' | 'ẞ' => return out.push_str("ss"),
        // Negative circled and negative squared capitals (🅐, 🅰), which NFKC leaves.
        '\u{1f150}'..='\u{1f169}' | '\u{1f170}'..='\u{1f189}' => {
            let base = if c >= '\u{1f170}' { 0x1f170 } else { 0x1f150 };
            char::from_u32(u32::from(c) - base + u32::from('a')).unwrap_or(c)
        }
        c => c,
    };
    out.push(prototype);
}

/// `text` as it looks: every character drawn like an ASCII one written as that one (its
/// UTS #39 confusable prototype: `p⍺yp⍺l`, `seϲure`, `paypal-billing•example`,
/// `paypal一billing`, Cyrillic `раураl`), combining marks dropped (`a\u{300}pple`, a mark
/// no letter composes with), and tag characters read as the ASCII they encode (a link
/// hidden from a reader but not from the model, "ASCII smuggling"); then folded. A host
/// written so is then found as the host it looks like, which is where a model that retypes
/// it sends the call. `None` for ASCII text, and when nothing changes.
pub(crate) fn as_it_looks(text: &str) -> Vec<String> {
    if text.is_ascii() {
        return Vec::new();
    }
    let shown = displayed(text);
    let mut out: Vec<String> = looks(&shown, false).into_iter().collect();
    if out.is_empty() && matches!(shown, std::borrow::Cow::Owned(_)) {
        out.push(super::fold(&shown).into_owned());
    }
    // Tags beside visible letters are read joined to them by the model (`pay` + the tags
    // of `pal` + `-billing.example`), and apart where they are a text of their own.
    if text.chars().any(|c| matches!(c, '\u{e0020}'..='\u{e007e}')) {
        out.extend(looks(&shown, true).filter(|apart| !out.contains(apart)));
    }
    out
}

/// `text` in the order a reader sees it: a run after a right-to-left override (U+202E,
/// or the isolate U+2067), up to its end (U+202C, U+2069) or the line's, reversed
/// (`\u{202e}elpmaxe.lapyap\u{202c}` shows `paypal.example`).
fn displayed(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\u{202e}', '\u{2067}']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut run: Option<String> = None;
    for c in text.chars() {
        match (c, &mut run) {
            ('\u{202e}' | '\u{2067}', None) => run = Some(String::new()),
            ('\u{202c}' | '\u{2069}' | '\n', Some(reversed)) => {
                out.extend(reversed.chars().rev());
                run = None;
                if c == '\n' {
                    out.push(c);
                }
            }
            (c, Some(reversed)) => reversed.push(c),
            (c, None) => out.push(c),
        }
    }
    if let Some(reversed) = run {
        out.extend(reversed.chars().rev());
    }
    std::borrow::Cow::Owned(out)
}

/// [`as_it_looks`] of one reading: tag runs joined to the letters beside them, or apart.
fn looks(text: &str, tags_apart: bool) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut utf8 = [0u8; 4];
    let mut prototypes: crate::hash::HashMap<char, Option<String>> = Default::default();
    let mut in_tags = false;
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        if let '\u{e0020}'..='\u{e007e}' = c {
            if tags_apart && !in_tags {
                out.push(' ');
                in_tags = true;
            }
            out.push(char::from_u32(u32::from(c) - 0xe0000).unwrap_or(' '));
            changed = true;
            continue;
        }
        in_tags = false;
        if is_combining_mark(c) {
            changed = true;
            continue;
        }
        if let Some(plain) = dot_or_dash(c) {
            out.push(plain);
            changed = true;
            continue;
        }
        // Once per character: a page of another script repeats a few hundred of them.
        let prototype = prototypes.entry(c).or_insert_with(|| {
            // A look-alike the table leaves out, first: the table draws some small
            // capitals as letters of another script (`ᴍ` as Cyrillic `м`: red team round
            // 26, flow G3).
            let mut own = String::new();
            push_prototype(c, &mut own);
            if own.is_ascii() {
                return Some(own);
            }
            // The table's prototype, then the look-alikes it leaves out (its prototype of
            // `ᴩ` is the small capital `ᴘ`).
            let mut prototype = String::new();
            for p in unicode_security::skeleton(c.encode_utf8(&mut utf8)) {
                if !is_combining_mark(p) {
                    push_prototype(p, &mut prototype);
                }
            }
            match prototype.as_str() {
                // A middle dot is how the table draws most dot-like characters.
                "\u{b7}" => Some(".".to_owned()),
                p if !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_graphic()) => {
                    Some(prototype)
                }
                _ => None,
            }
        });
        match prototype {
            Some(prototype) => {
                out.push_str(prototype);
                changed = true;
            }
            None => out.push(c),
        }
    }
    changed.then(|| super::fold(&out).into_owned())
}

/// A dot or a dash for a character drawn like one between two words of a host that UTS
/// #39 does not map to it (or maps to a letter of its script): middle dots, bullets and
/// tone marks; hyphens of other scripts, strokes (the ideograph and the Hangul vowel for
/// "one"), box-drawing lines, the Ogham space mark, the Arabic tatweel.
fn dot_or_dash(c: char) -> Option<char> {
    match c {
        '\u{b7}' | '\u{2d1}' | '\u{2d9}' | '\u{387}' | '\u{660}' | '\u{6d4}' | '\u{6f0}'
        | '\u{701}' | '\u{702}' | '\u{971}' | '\u{a76}' | '\u{f0b}' | '\u{1427}' | '\u{16eb}'
        | '\u{18df}' | '\u{2022}' | '\u{2027}' | '\u{2219}' | '\u{22c5}' | '\u{2981}'
        | '\u{2e30}' | '\u{2e31}' | '\u{30fb}' | '\u{318d}' | '\u{a4f8}' | '\u{a60e}'
        | '\u{a78f}' | '\u{ff65}' | '\u{10101}' => Some('.'),
        '\u{2d7}' | '\u{58a}' | '\u{5be}' | '\u{640}' | '\u{1173}' | '\u{1428}' | '\u{1680}'
        | '\u{1806}' | '\u{2043}' | '\u{207b}' | '\u{208b}' | '\u{23af}' | '\u{23bc}'
        | '\u{2500}' | '\u{2501}' | '\u{2504}' | '\u{2796}' | '\u{2cba}' | '\u{2e3a}'
        | '\u{2f00}' | '\u{30fc}' | '\u{3127}' | '\u{3161}' | '\u{4e00}' | '\u{a7f7}'
        | '\u{ff70}' | '\u{ffda}' | '\u{10191}' | '\u{1d360}' => Some('-'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::host_skeletons;

    /// Whether a host of a page (as URL parsing hands it over, and as the page wrote it)
    /// and a host of a call share a skeleton, as `typed::host_source` compares them.
    fn alike(page: &str, call: &str) -> bool {
        let (host, written) = match idna::domain_to_ascii(page) {
            Ok(host) => (host, Some(page)),
            Err(_) => (page.to_lowercase(), None),
        };
        let page = host_skeletons(&host, written);
        let call = host_skeletons(call, None);
        call.lower.iter().any(|s| page.lower.contains(s))
            || (page.foreign && page.upper.is_some() && page.upper == call.upper)
    }

    #[test]
    fn look_alike_spellings_of_a_host_share_a_skeleton() {
        let punycode = idna::domain_to_ascii("раураl-billing.example").unwrap();
        assert!(punycode.starts_with("xn--"), "{punycode}");
        for spelling in [
            "раураl-billing.example",
            punycode.as_str(),
            "paypa1-billing.example",
            "PaypaI-billing.example",
            "pаypаl-billing.exаmple",
            "ᴘᴀʏᴘᴀʟ-billing.example",
            "🅿🅰🆈🅿🅰🅻-billing.example",
            "ρaypal-billing.example",
        ] {
            assert!(alike(spelling, "paypal-billing.example"), "{spelling}");
        }
        for spelling in ["gοοgle.example", "g00gle.example", "gооgle.example", "goögle.example"]
        {
            assert!(alike(spelling, "google.example"), "{spelling}");
        }
        for (spelling, plain) in [
            ("ΝΕΤFLΙΧ-billing.example", "netflix-billing.example"),
            // All capitals with an I, and nothing in ASCII lower case beside it.
            ("ΝΕΤFLΙΧ.com", "netflix.com"),
            ("МІСRОЅОFТ.com", "microsoft.com"),
            ("НЅВС-secure.example", "hsbc-secure.example"),
            ("АМАZОN.example", "amazon.example"),
            ("vvallet-help.example", "wallet-help.example"),
            ("paßport.example", "passport.example"),
            ("rnicrosoft.example", "microsoft.example"),
        ] {
            assert!(alike(spelling, plain), "{spelling}");
        }
    }

    #[test]
    fn different_names_and_addresses_keep_apart() {
        for (page, call) in [
            ("paypal.example", "paypai-shop.example"),
            ("evil.example", "devil.example"),
            ("docs.example", "paypal.example"),
            // `i`, `l` and `1` meet only in upper case, kept apart for ASCII hosts.
            ("ap1.datadoghq.example", "api.datadoghq.example"),
            ("acme-store.lt", "acme-store.it"),
            ("mail.example", "mall.example"),
            ("dock.example", "clock.example"),
        ] {
            assert!(!alike(page, call), "{page} {call}");
        }
    }

    #[test]
    fn the_written_host_is_the_one_the_text_names() {
        use super::written_host;
        let host = idna::domain_to_ascii("PaypaI.example").unwrap();
        assert_eq!(written_host("HTTPS://me@PaypaI.example:443/x", &host), Some("PaypaI.example"));
        assert_eq!(written_host("PaypaI.example/login", &host), Some("PaypaI.example"));
        assert_eq!(written_host("billing@PaypaI.example", &host), Some("PaypaI.example"));
        assert_eq!(written_host("https://other.example/PaypaI.example", &host), None);
    }

    #[test]
    fn addresses_have_no_skeleton() {
        assert_eq!(host_skeletons("203.0.113.7", None), Default::default());
        assert_eq!(host_skeletons("[2001:db8::1]", None), Default::default());
        assert_eq!(host_skeletons("", None), Default::default());
    }
}
