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
//! host has two skeletons, of its lower-case and of its upper-case letters, and two hosts
//! are alike when either pair agrees. UTS #39's table leaves out a few families of
//! look-alikes (Latin small capitals, negative squared letters, `ß` for `ss`) and the
//! letter pairs drawn like one letter (`vv` for `w`, `cl` for `d`; `rn` for `m` it has):
//! those are added here.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The skeletons of a host name (punycode or Unicode), of its lower-case and upper-case
/// letters: its labels read as Unicode, each character mapped to its confusable prototype,
/// accents dropped, lower case. Empty for an IP address, whose digits are no letters
/// anyone mistakes for a name.
pub(crate) fn host_skeletons(host: &str) -> Vec<String> {
    let host = host.trim_end_matches('.');
    if host.is_empty()
        || host.starts_with('[')
        || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Vec::new();
    }
    // A label that is not valid punycode stays as written (`to_unicode` keeps it).
    let (unicode, _) = idna::domain_to_unicode(host);
    let mut plain = String::with_capacity(unicode.len());
    for c in unicode.nfkc() {
        push_prototype(c, &mut plain);
    }
    let mut out = vec![skeleton(&plain.to_lowercase())];
    let upper = skeleton(&plain.to_uppercase());
    if upper != out[0] {
        out.push(upper);
    }
    out
}

/// The skeleton of `text`: UTS #39's, accents and case dropped, then the letter pairs.
fn skeleton(text: &str) -> String {
    let mapped: String = unicode_security::skeleton(text).collect();
    let plain: String = mapped.nfd().filter(|c| !is_combining_mark(*c)).collect();
    // Prototypes are sometimes capitals (`0` is drawn like `O`): lower-cased, and the
    // skeleton of that taken again (lower-casing can make a new look-alike).
    let lower = plain.to_lowercase();
    let again: String = unicode_security::skeleton(&lower).collect::<String>().to_lowercase();
    again.replace("vv", "w").replace("cl", "d")
}

/// `c`, or the prototype of a look-alike UTS #39 does not list, appended to `out`.
fn push_prototype(c: char, out: &mut String) {
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
        'ᴘ' => 'p',
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

#[cfg(test)]
mod tests {
    use super::host_skeletons;

    /// Whether two hosts share a skeleton.
    fn alike(a: &str, b: &str) -> bool {
        let b = host_skeletons(b);
        host_skeletons(a).iter().any(|s| b.contains(s))
    }

    #[test]
    fn look_alike_spellings_of_a_host_share_a_skeleton() {
        let punycode = idna::domain_to_ascii("раураl-billing.example").unwrap();
        assert!(punycode.starts_with("xn--"), "{punycode}");
        for spelling in [
            "раураl-billing.example",
            punycode.as_str(),
            "paypa1-billing.example",
            "PAYPAL-billing.example",
            "pаypаl-billing.exаmple",
            "ᴘᴀʏᴘᴀʟ-billing.example",
            "🅿🅰🆈🅿🅰🅻-billing.example",
            // As URL parsing hands them over: lower case.
            "paypai-billing.example",
            "ρaypal-billing.example",
        ] {
            assert!(alike(spelling, "paypal-billing.example"), "{spelling}");
        }
        for spelling in ["gοοgle.example", "g00gle.example", "gооgle.example", "goögle.example"]
        {
            assert!(alike(spelling, "google.example"), "{spelling}");
        }
        // Capitals of other scripts, lower-cased by URL parsing before they arrive.
        for (spelling, plain) in [
            ("νετflιχ-billing.example", "netflix-billing.example"),
            ("нѕвс-secure.example", "hsbc-secure.example"),
            ("амаzоn.example", "amazon.example"),
            ("vvallet-help.example", "wallet-help.example"),
            ("clropbox.example", "dropbox.example"),
            ("paßport.example", "passport.example"),
            ("rnicrosoft.example", "microsoft.example"),
        ] {
            assert!(alike(spelling, plain), "{spelling}");
        }
    }

    #[test]
    fn different_names_and_addresses_keep_apart() {
        assert!(!alike("paypal.example", "paypai-shop.example"));
        assert!(!alike("evil.example", "devil.example"));
        assert!(!alike("docs.example", "paypal.example"));
        assert!(host_skeletons("203.0.113.7").is_empty());
        assert!(host_skeletons("[2001:db8::1]").is_empty());
        assert!(host_skeletons("").is_empty());
    }
}
