//! Look-alike host names: the form a host takes once every letter is replaced by the one
//! it is drawn like (Unicode's confusable skeleton, UTS #39), so that `раураl.example`
//! (Cyrillic `р`, `а`, `у`), `gοοgle.example` (Greek `ο`), `paypa1.example` and
//! `paypal.example` are one name.
//!
//! A page that shows a host in look-alike letters and a model that retypes it in plain
//! Latin letters (or the other way round) send the call where the page said while the two
//! spellings differ as text and as punycode. Data flow keys every host of history by its
//! skeleton as well; a call's host that history never showed as itself is looked up by
//! its skeleton, and only an untrusted first sighting counts there (`typed::host_source`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The skeleton of a host name (punycode or Unicode): its labels read as Unicode, each
/// character mapped to its confusable prototype, accents dropped, lower case. `None` for an
/// IP address, whose digits are no letters anyone mistakes for a name.
pub(crate) fn host_skeleton(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    if host.is_empty()
        || host.starts_with('[')
        || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    // A label that is not valid punycode stays as written (`to_unicode` keeps it).
    let (unicode, _) = idna::domain_to_unicode(host);
    let mapped: String = unicode_security::skeleton(&unicode).collect();
    let plain: String = mapped.nfd().filter(|c| !is_combining_mark(*c)).collect();
    // Prototypes are sometimes capitals (`0` is drawn like `O`); the skeleton of what is
    // left is taken again, since lower-casing can make a new look-alike (`I` → `i`).
    let lower = plain.to_lowercase();
    Some(unicode_security::skeleton(&lower).collect::<String>().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::host_skeleton;

    #[test]
    fn look_alike_spellings_of_a_host_share_its_skeleton() {
        let plain = host_skeleton("paypal-billing.example").unwrap();
        let punycode = idna::domain_to_ascii("раураl-billing.example").unwrap();
        assert!(punycode.starts_with("xn--"), "{punycode}");
        for spelling in [
            "раураl-billing.example",
            punycode.as_str(),
            "paypa1-billing.example",
            "PAYPAL-billing.example",
            "pаypаl-billing.exаmple",
            "pаypаl-bіllіng.example",
        ] {
            assert_eq!(host_skeleton(spelling).as_deref(), Some(plain.as_str()), "{spelling}");
        }
        let google = host_skeleton("google.example").unwrap();
        for spelling in ["gοοgle.example", "g00gle.example", "gооgle.example", "goögle.example"]
        {
            assert_eq!(host_skeleton(spelling).as_deref(), Some(google.as_str()), "{spelling}");
        }
    }

    #[test]
    fn different_names_and_addresses_keep_apart() {
        assert_ne!(host_skeleton("paypal.example"), host_skeleton("paypai.example"));
        assert_ne!(host_skeleton("evil.example"), host_skeleton("devil.example"));
        assert_eq!(host_skeleton("203.0.113.7"), None);
        assert_eq!(host_skeleton("[2001:db8::1]"), None);
        assert_eq!(host_skeleton(""), None);
    }
}
