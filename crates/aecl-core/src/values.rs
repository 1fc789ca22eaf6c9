//! Typed values: the normal form of a URL, e-mail address, IBAN, phone number, amount or
//! date, so that two spellings of one value are matched as one by provenance.
//!
//! A value's normal form is a key: two texts with the same key are the same value. The keys
//! are deliberately a little coarse (a URL's path is compared case-insensitively, `http`
//! and `https` are one), because a key that is too fine lets an attacker's value pass as
//! "never seen" by respelling it, and unseen values are the model's own. `scan` finds the
//! values of these kinds inside free text, with their byte offsets.

mod amount;
mod confusable;
mod date;
mod email;
mod encoded;
mod fold;
mod iban;
pub(crate) mod ipv4;
mod phone;
mod scan;
mod url;

use std::fmt::{self, Write as _};
use std::sync::Arc;

pub use amount::normal as amount_normal;
pub(crate) use confusable::{as_it_looks, host_skeletons, written_host};
pub use date::normal as date_normal;
pub use email::{EmailForm, mailto_addresses, normal as email_normal, recipient_addresses};
pub use encoded::{base64_text, hinted, names_a_transform};
pub(crate) use fold::embedded_ipv4;
pub use fold::{fold, percent_decoded, readings, source_readings};
pub(crate) use iban::digit as look_alike_digit;
pub(crate) use iban::look_alikes as iban_look_alikes;
pub use iban::normal as iban_normal;
pub(crate) use ipv4::hosts_in as numeric_ipv4_hosts;
pub(crate) use ipv4::parse as numeric_ipv4;
pub use phone::{PhoneForm, normal as phone_normal, region_code, trunk_zero_code};
pub use scan::{Found, Normal, find};
pub(crate) use url::{SPECIAL_SCHEMES, site};
pub use url::{UrlForm, normal as url_normal};

/// How an argument's values are normalised before provenance matching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Url,
    Email,
    Iban,
    Phone,
    Amount,
    Date,
    /// A name the catalog made up (`slack_user`): plain text, case-folded and trimmed. It
    /// exists so that an action can be authoritative for it.
    Custom(Arc<str>),
}

impl ValueKind {
    /// The built-in kinds, which `scan` can find inside free text.
    pub const BUILT_IN: [&'static str; 6] = ["url", "email", "iban", "phone", "amount", "date"];

    /// The kind a catalog names; any other name is a custom kind.
    pub fn parse(name: &str) -> ValueKind {
        match name {
            "url" => ValueKind::Url,
            "email" => ValueKind::Email,
            "iban" => ValueKind::Iban,
            "phone" => ValueKind::Phone,
            "amount" => ValueKind::Amount,
            "date" => ValueKind::Date,
            other => ValueKind::Custom(Arc::from(other)),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ValueKind::Url => "url",
            ValueKind::Email => "email",
            ValueKind::Iban => "iban",
            ValueKind::Phone => "phone",
            ValueKind::Amount => "amount",
            ValueKind::Date => "date",
            ValueKind::Custom(name) => name,
        }
    }

    /// Whether `scan` can find values of this kind inside free text.
    pub fn scannable(&self) -> bool {
        matches!(self, ValueKind::Url | ValueKind::Email | ValueKind::Iban | ValueKind::Phone)
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of the policy that change normal forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValueOptions {
    /// `email_local_part_case = "insensitive"`: `Bob@x.test` and `bob@x.test` are one
    /// address. Either way, a case variant of an address seen only in untrusted content is
    /// still untrusted.
    pub email_local_part_insensitive: bool,
    /// The country calling code (`44`) of `default_phone_region`, for numbers written
    /// without one.
    pub phone_country_code: Option<&'static str>,
}

/// The key of a custom kind's value, and of any text compared as text: lower case, runs
/// of white space folded to one space, ends trimmed.
pub fn text_normal(text: &str) -> String {
    crate::text::normalise(text)
}

/// Decodes `%XX` escapes of unreserved characters (letters, digits, `-._~`), which mean
/// the same decoded, and upper-cases the hex digits of the others.
pub(crate) fn decode_unreserved(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            let c = h * 16 + l;
            if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                out.push(char::from(c));
            } else {
                // Writing to a `String` cannot fail.
                let _ = write!(out, "%{c:02X}");
            }
            i += 3;
            continue;
        }
        // Copy one whole character: `text` is valid UTF-8 and `i` is on a boundary.
        let len = text.get(i..).and_then(|rest| rest.chars().next()).map_or(1, char::len_utf8);
        if let Some(piece) = text.get(i..i + len) {
            out.push_str(piece);
        }
        i += len;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod glued_tests;
#[cfg(test)]
mod tests;
