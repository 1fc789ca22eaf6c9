//! Typed provenance: every history document is scanned for URLs, e-mail addresses, IBANs,
//! phone numbers, amounts and dates, keyed by their normal form, so an argument of a kind
//! matches history by value rather than by spelling. (What authoritative sources confirm is
//! recorded by `confirm.rs`, and looked up here.)
//!
//! A typed look-up combines several keys (a URL's full form, its host and, for a URL not
//! seen whole, the identifiers in its path; an address and its domain; the raw text): the value is untrusted-only when ANY of them was seen in
//! untrusted content before a trusted source, because one injected part (the host) is
//! enough to steer the effect. Only then may a confirmation by an authoritative source
//! (see `confirm_output`) make it trusted.

use super::{Doc, FirstSeen, ProvenanceIndex, SourceKind, SourceRef};
use crate::hash::HashSet;
use crate::text::normalise;
use crate::values::{self, Normal, ValueKind, ValueOptions};

/// What a typed key is a normal form of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(super) enum Tag {
    Url,
    UrlHost,
    EmailExact,
    EmailFolded,
    EmailDomain,
    Iban,
    Phone,
    /// A national significant number (no calling code, no trunk `0`), of a number written
    /// nationally or of the default region.
    PhoneNational,
    /// What follows each calling code an international number may start with
    /// ([`phone_tails`]): where a number written nationally is looked for.
    PhoneTail,
    Amount,
    Date,
    /// A link's host or an address's domain by its look-alike skeletons
    /// (`values::host_skeletons`), of its lower-case letters and as written.
    HostSkeleton,
    /// The same of its upper-case letters, for a host with letters outside ASCII.
    HostSkeletonUpper,
    /// The registrable domain (`values::site`) of a link's host or an address's domain.
    Site,
    /// A link's host with the port it names (`127.0.0.1:18202`): another service on the
    /// same host.
    UrlAuthority,
    /// The national significant number of a number written nationally after a trunk `0`
    /// (`values::PhoneForm::trunk`).
    PhoneTrunk,
    /// The mailbox an address delivers to (`values::EmailForm::mailbox`).
    EmailMailbox,
}

/// The kinds every history document is scanned for.
pub(super) const INDEXED: [ValueKind; 6] = [
    ValueKind::Url,
    ValueKind::Email,
    ValueKind::Iban,
    ValueKind::Phone,
    ValueKind::Amount,
    ValueKind::Date,
];

/// Typed keys of the index.
type Keys = Vec<(Tag, String)>;

/// The typed keys of one found value.
pub(super) fn keys(normal: &Normal) -> Keys {
    match normal {
        Normal::Url(f) => [(Tag::Url, f.full.clone()), (Tag::UrlHost, f.host.clone())]
            .into_iter()
            .chain(f.other_hosts.iter().map(|h| (Tag::UrlHost, h.clone())))
            .chain(f.authority.iter().map(|a| (Tag::UrlAuthority, a.clone())))
            .collect(),
        Normal::Email(f) => vec![
            (Tag::EmailExact, f.exact.clone()),
            (Tag::EmailFolded, f.folded.clone()),
            (Tag::EmailDomain, f.domain.clone()),
            (Tag::EmailMailbox, f.mailbox.clone()),
        ],
        Normal::Iban(i) => vec![(Tag::Iban, i.clone())],
        Normal::Phone(p) => p
            .e164
            .iter()
            .map(|e| (Tag::Phone, e.clone()))
            .chain(p.national.iter().map(|n| (Tag::PhoneNational, n.clone())))
            .chain(p.national.iter().filter(|_| p.trunk).map(|n| (Tag::PhoneTrunk, n.clone())))
            .chain(p.e164.iter().flat_map(|e| phone_tails(e)).map(|t| (Tag::PhoneTail, t)))
            .collect(),
        Normal::Amount(a) => vec![(Tag::Amount, a.clone())],
        Normal::Date(readings) => readings.iter().map(|d| (Tag::Date, d.clone())).collect(),
    }
}

/// The shortest national significant number a tail may be: shorter ones would meet other
/// numbers by chance.
const MIN_PHONE_TAIL: usize = 7;

/// The digits of an E.164 number after each calling code it may start with (one to three
/// digits, no table needed): `+442079460777` gives `42079460777`, `2079460777` and
/// `079460777`, one of which is the national significant number.
fn phone_tails(e164: &str) -> impl Iterator<Item = String> + '_ {
    let digits = e164.strip_prefix('+').unwrap_or(e164);
    (1..=3)
        .filter_map(move |code| digits.get(code..))
        .filter(|t| t.len() >= MIN_PHONE_TAIL)
        .map(str::to_owned)
}

/// The national significant numbers of an E.164 number after each calling code it may
/// start with that is a country's whose trunk prefix is `0`.
fn trunk_tails(e164: &str) -> impl Iterator<Item = String> + '_ {
    let digits = e164.strip_prefix('+').unwrap_or(e164);
    (1..=3)
        .filter(move |&code| digits.get(..code).is_some_and(values::trunk_zero_code))
        .filter_map(move |code| digits.get(code..))
        .filter(|t| t.len() >= MIN_PHONE_TAIL)
        .map(str::to_owned)
}

/// The keys a phone number of a call is looked for under: its own forms, and the other way
/// of writing it. Written internationally, it is also each national mention of one of its
/// tails, but those only count against it (the second list); written nationally (no
/// default region), each international mention whose tail it is. Two international forms
/// with different calling codes share no key.
///
/// A national mention's country is the default region's, or unknown: the user's `020 7946
/// 0958` must not vouch for a page's `+1 207 946 0958`, a number in another country with
/// the same national digits (red team round 20, F3); it may still be the page's number
/// the model retyped, so it taints. A mention written after a trunk `0` is of a country
/// whose trunk prefix is `0`, so it is the number's own form when the number's calling
/// code is such a country's: the user's `07700 900111` stays theirs when a page repeats it
/// as `+44 7700 900111` (red team round 23, FP2), and never vouches for a `+1` number.
/// With a default region (`regional`), a national mention is that region's number only.
fn phone_lookup(p: &values::PhoneForm, regional: bool) -> (Keys, Keys) {
    match &p.e164 {
        Some(e164) => (
            std::iter::once((Tag::Phone, e164.clone()))
                .chain(p.national.iter().map(|n| (Tag::PhoneNational, n.clone())))
                .chain(trunk_tails(e164).filter(|_| !regional).map(|t| (Tag::PhoneTrunk, t)))
                .collect(),
            phone_tails(e164).map(|t| (Tag::PhoneNational, t)).collect(),
        ),
        None => (
            p.national
                .iter()
                .flat_map(|n| [(Tag::PhoneNational, n.clone()), (Tag::PhoneTail, n.clone())])
                .collect(),
            Vec::new(),
        ),
    }
}

/// The key under which a confirmed value of `kind` is remembered.
pub(super) fn confirmation_key(kind: &ValueKind, normal: &Normal, folded: bool) -> Option<String> {
    let form = match (kind, normal) {
        (ValueKind::Url, Normal::Url(f)) => f.full.clone(),
        (ValueKind::Email, Normal::Email(f)) => {
            if folded {
                format!("~{}", f.folded)
            } else {
                f.exact.clone()
            }
        }
        (ValueKind::Iban, Normal::Iban(i)) => i.clone(),
        (ValueKind::Phone, Normal::Phone(p)) => p.e164.clone().or_else(|| p.national.clone())?,
        (ValueKind::Amount, Normal::Amount(a)) => a.clone(),
        (ValueKind::Date, Normal::Date(d)) => d.first()?.clone(),
        _ => return None,
    };
    Some(form)
}

/// The normal forms of a whole argument value of a built-in kind, as `scan` would find it.
pub fn normal_of(kind: &ValueKind, value: &str, options: &ValueOptions) -> Option<Normal> {
    Some(match kind {
        ValueKind::Url => Normal::Url(values::url_normal(value)?),
        ValueKind::Email => Normal::Email(values::email_normal(value)?),
        ValueKind::Iban => Normal::Iban(values::iban_normal(value)?),
        ValueKind::Phone => Normal::Phone(values::phone_normal(value, options.phone_country_code)?),
        ValueKind::Amount => Normal::Amount(values::amount_normal(value)?),
        ValueKind::Date => {
            let readings = values::date_normal(value);
            if readings.is_empty() {
                return None;
            }
            Normal::Date(readings)
        }
        ValueKind::Custom(_) => return None,
    })
}

/// A text as a reader reads it: folded (`values::fold`: an IBAN written with soft hyphens
/// or full-width digits in a page is the IBAN the model copies out clean), its readings
/// (`values::readings`) and the letters it looks like (`values::as_it_looks`).
pub(super) struct Read<'t> {
    pub folded: std::borrow::Cow<'t, str>,
    pub readings: Vec<String>,
    pub looks: Vec<String>,
}

impl<'t> Read<'t> {
    pub fn of(text: &'t str) -> Read<'t> {
        Read {
            folded: values::fold(text),
            readings: values::source_readings(text),
            looks: values::as_it_looks(text),
        }
    }
}

impl ProvenanceIndex {
    /// Notes the typed values of a document just added, from its ways of being read
    /// ([`Read`]).
    /// The typed values of an argument text the model wrote in the call of event `seq`
    /// (`ProvenanceIndex::note_arguments`), by their keys.
    pub(super) fn note_typed_arguments(&mut self, seq: u32, text: &str) {
        for found in values::find(text, &INDEXED, &ValueOptions::default()) {
            for key in keys(&found.normal) {
                self.typed.entry(key).or_default().model.get_or_insert(seq);
            }
        }
    }

    pub(super) fn add_typed(&mut self, kind: SourceKind, doc: u32, read: &Read<'_>) {
        let Read { folded, readings, looks } = read;
        let texts = std::iter::once(folded.as_ref()).chain(readings.iter().map(String::as_str));
        // Each host once, with its spelling where that has capitals (`PaypaI`): the readings
        // find most hosts several times, and a skeleton is a few Unicode passes.
        let mut hosts: Vec<(String, Option<String>)> = Vec::new();
        for text in texts {
            for found in values::find(text, &INDEXED, &ValueOptions::default()) {
                let raw = text.get(found.start..found.end).unwrap_or_default();
                for key in keys(&found.normal) {
                    if matches!(key.0, Tag::UrlHost | Tag::EmailDomain) {
                        let written = (raw.chars().any(char::is_uppercase))
                            .then(|| values::written_host(raw, &key.1))
                            .flatten()
                            .map(str::to_owned);
                        let host = (key.1.clone(), written);
                        if !hosts.contains(&host) {
                            hosts.push(host);
                        }
                    }
                    self.typed.entry(key).or_default().note(kind, doc);
                }
            }
        }
        let mut sites: Vec<&str> = Vec::new();
        for (host, written) in &hosts {
            if let Some(site) = values::site(host).filter(|site| !sites.contains(site)) {
                sites.push(site);
                self.typed.entry((Tag::Site, site.to_owned())).or_default().note(kind, doc);
            }
            let skeletons = values::host_skeletons(host, written.as_deref());
            let upper = skeletons.upper.filter(|_| skeletons.foreign);
            let lower = skeletons.lower.into_iter().map(|s| (Tag::HostSkeleton, s));
            for key in lower.chain(upper.map(|s| (Tag::HostSkeletonUpper, s))) {
                self.typed.entry(key).or_default().note(kind, doc);
            }
        }
        // The text as it looks (`p⍺yp⍺l`, `paypal-billing•example`): the hosts found there
        // are keyed by their skeletons only, so that they count against a host the model
        // retypes (never shown as itself) and not against the user's own later words.
        let mut looking = Vec::new();
        for looks in looks {
            let kinds = [ValueKind::Url, ValueKind::Email];
            for found in values::find(looks, &kinds, &ValueOptions::default()) {
                for (tag, host) in keys(&found.normal) {
                    if matches!(tag, Tag::UrlHost | Tag::EmailDomain) && !looking.contains(&host) {
                        looking.push(host);
                    }
                }
            }
        }
        for host in &looking {
            for skeleton in values::host_skeletons(host, None).lower {
                self.typed.entry((Tag::HostSkeleton, skeleton)).or_default().note(kind, doc);
            }
        }
        // IBANs in look-alike characters (`GB29 NWBK 6O16 l331 ...`, Cyrillic `В`): the
        // model that corrects them pays the IBAN they stand for.
        for text in std::iter::once(folded.as_ref()).chain(looks.iter().map(String::as_str)) {
            for iban in values::iban_look_alikes(text) {
                self.typed.entry((Tag::Iban, iban)).or_default().note(kind, doc);
            }
        }
        // Numbers that may be addresses (`3405803783`, `203.0.28935`): a call to the
        // address in any spelling goes where the page said (`values::ipv4`).
        // As the link to the address, too: the user's `ping 203.7` is theirs when a page
        // later shows `203.0.0.7`, which `find` takes as a link.
        for host in values::numeric_ipv4_hosts(folded) {
            if let Some(link) = values::url_normal(&host) {
                for key in keys(&Normal::Url(link)) {
                    self.typed.entry(key).or_default().note(kind, doc);
                }
            }
            self.typed.entry((Tag::UrlHost, host)).or_default().note(kind, doc);
        }
    }

    /// The deciding source of one typed key (see `source_of_normal` for the rule).
    fn source_of_key(&self, tag: Tag, key: &str) -> Option<&SourceRef> {
        let first = self.typed.get(&(tag, key.to_owned())).copied()?;
        self.decide_first(first)
    }

    /// The deciding source of a whole word (no substring search: a host `evil.test` must
    /// not match inside `notevil.test`).
    fn source_of_word(&self, word: &str) -> Option<&SourceRef> {
        let first = self.words.get(word).copied()?;
        self.decide_first(first)
    }

    /// The deciding source of a host: as a link's host or an address's domain where
    /// history holds one (whichever of the user and a page named it first: `it@evil.test`
    /// in a page names `evil.test` as surely as a link does), else as a whole word. A page
    /// of a site names its own host as a word (`docs.example`) after the user asked for a
    /// link on it; that mention must not make the user's host the page's.
    fn host_source(&self, host: &str) -> Option<&SourceRef> {
        let seen = |tag: Tag| self.typed.get(&(tag, host.to_owned())).copied();
        // A host seen only as an address's domain in untrusted content counts against it
        // only while nothing trusted names the host: every mail header names the user's
        // own company domain, and the user who then types a link to it means it. (A link
        // keeps "first seen decides": the user may be echoing what the agent read.)
        let first = match (seen(Tag::UrlHost), seen(Tag::EmailDomain)) {
            (Some(link), Some(address)) => {
                let trusted = earliest(link.trusted, address.trusted);
                let untrusted = match trusted {
                    Some(_) => link.untrusted,
                    None => earliest(link.untrusted, address.untrusted),
                };
                Some(FirstSeen { trusted, untrusted, model: earliest(link.model, address.model) })
            }
            (Some(link), None) => Some(link),
            (None, Some(address)) => Some(match address.trusted {
                Some(_) => FirstSeen { untrusted: None, ..address },
                None => address,
            }),
            (None, None) => None,
        };
        let exact = match first {
            Some(first) => self.decide_first(first),
            None => self.source_of_word(host),
        };
        match exact {
            // Never shown as itself: a look-alike shown in untrusted content is where the
            // model took it from, whoever else showed another look-alike; else a host of a
            // site only untrusted content named (`www.`, the parent, a new label).
            None => {
                self.look_alike_source(host, u32::MAX).or_else(|| self.site_source(host, u32::MAX))
            }
            // Shown first by a tool the catalog trusts: no proof that the host is not a
            // page's look-alike retyped (a note or memory tool echoes what the model wrote).
            // Only the user's own words make it theirs.
            Some(source) if source.kind == SourceKind::TrustedTool => self
                .look_alike_source(host, source.seq)
                .or_else(|| self.site_source(host, source.seq))
                .or(exact),
            exact => exact,
        }
    }

    /// The untrusted source that named a host of `host`'s site (its registrable domain)
    /// before the event `before`, when it named the site first: whoever holds `evil.test`
    /// answers for `www.evil.test`, `cdn.evil.test` and `alice-at-ourco.evil.test`. A site
    /// the user named first is not a page's to claim; but a site never makes a host
    /// trusted (the user who names one host vouches for none of the others).
    fn site_source(&self, host: &str, before: u32) -> Option<&SourceRef> {
        let site = values::site(host)?;
        let first = self.typed.get(&(Tag::Site, site.to_owned())).copied()?;
        self.decide_first(first).filter(|s| !s.kind.is_trusted() && s.seq < before)
    }

    /// The untrusted source that showed a host drawn like `host` (`раураl.example` for
    /// `paypal.example`, or the other way round) before the event `before`, if any. A
    /// look-alike never makes a host trusted.
    fn look_alike_source(&self, host: &str, before: u32) -> Option<&SourceRef> {
        let skeletons = values::host_skeletons(host, None);
        let lower = skeletons.lower.into_iter().map(|s| (Tag::HostSkeleton, s));
        let mut keys = lower.chain(skeletons.upper.map(|s| (Tag::HostSkeletonUpper, s)));
        keys.find_map(|key| {
            let first = self.typed.get(&key)?;
            let source = self.docs.get(first.untrusted? as usize).map(|d| &d.source)?;
            (source.seq < before).then_some(source)
        })
    }

    /// The sources of the addresses a host name carries: wildcard DNS services answer
    /// `203.0.113.7.nip.io` (or `app-203-0-113-7.sslip.io`, `cb007107.nip.io`) with the
    /// address written in it, so a name an agent makes up around an address a page
    /// showed goes where the page said.
    fn carried_addresses<'a>(&'a self, host: &str, parts: &mut Vec<Option<&'a SourceRef>>) {
        if let Some(addresses) = values::embedded_ipv4(host) {
            for address in addresses.split(' ') {
                parts.push(self.host_source(address));
            }
        }
    }

    /// The source that decides the provenance of `value` as a value of `kind`: its normal
    /// forms, its parts (a URL's host, an address's domain) and its raw text are looked up;
    /// any one untrusted-only makes the value untrusted-only, unless an authoritative
    /// source confirmed the value itself. Text that is not a valid value of the kind is
    /// looked up as text.
    pub fn source_of_kind(
        &self,
        kind: &ValueKind,
        value: &str,
        options: &ValueOptions,
    ) -> Option<&SourceRef> {
        // A `mailto:` URI sends to every address it names (`?bcc=`, `%40`): each is looked
        // up, the first untrusted one decides, and one never seen makes the whole unseen.
        // So does a recipient field with display names or several addresses (red team
        // round 23, second pass N4: `Fred <fred9246@gmail.com>` was never looked up as an
        // address).
        if *kind == ValueKind::Email
            && let Some(addresses) =
                values::mailto_addresses(value).or_else(|| values::recipient_addresses(value))
            && addresses.iter().any(|a| a.as_str() != value)
        {
            // Every one is looked up, in any order: an untrusted one decides over one
            // never seen (red team round 2: `mailto:unseen@x.test,eve@evil.test`).
            let mut trusted = None;
            let mut unseen = addresses.is_empty();
            for address in &addresses {
                match self.source_of_kind(kind, address, options) {
                    Some(source) if !source.kind.is_trusted() => return Some(source),
                    Some(source) => trusted = trusted.or(Some(source)),
                    None => unseen = true,
                }
            }
            return if unseen { None } else { trusted };
        }
        let normal = normal_of(kind, value, options);
        let mut parts: Vec<Option<&SourceRef>> = Vec::new();
        // Whether the value's whole normal form (not only a part, like a URL's host) was
        // recognised somewhere in history.
        let mut main_seen = false;
        match &normal {
            Some(Normal::Url(f)) => {
                parts.push(self.source_of_key(Tag::Url, &f.full));
                main_seen = parts.iter().any(Option::is_some);
                // A port names another service on the host: one only untrusted content
                // named is not the user's (red team, 2026-11-30: the user's
                // `127.0.0.1:18201` vouched for a page's `127.0.0.1:18202`).
                if let Some(authority) = &f.authority {
                    parts.push(self.source_of_key(Tag::UrlAuthority, authority));
                }
                // Every host a client may connect to for this spelling (`values::url`).
                for host in std::iter::once(&f.host).chain(&f.other_hosts) {
                    parts.push(self.host_source(host));
                    self.carried_addresses(host, &mut parts);
                }
                // A URL nobody showed whole, on a host someone may trust, whose path holds
                // an identifier only untrusted content supplied (a webhook's id an e-mail
                // gave, on the team's own chat host): the sender chose where it lands.
                if !main_seen {
                    for piece in f.identifiers() {
                        parts.push(self.source_of(piece).filter(|s| !s.kind.is_trusted()));
                    }
                }
            }
            Some(Normal::Email(f)) => {
                let insensitive = options.email_local_part_insensitive;
                let main = if insensitive { Tag::EmailFolded } else { Tag::EmailExact };
                // The model's earlier call carrying the address in any spelling that reaches
                // the same mailbox: a trusted tool that stores it lower-cased, or with its
                // `+tag` dropped, and reads it back only echoes it (red team round 24, flow
                // E3: `HELP@EVIL.TEST` noted, `help@evil.test` read back, was trusted).
                let model = self.model_of(&[
                    (Tag::EmailExact, &f.exact),
                    (Tag::EmailFolded, &f.folded),
                    (Tag::EmailMailbox, &f.mailbox),
                ]);
                parts.push(self.source_of_key_after(main, f.key(insensitive), model));
                main_seen = parts.iter().any(Option::is_some);
                // A case variant of an address seen only in untrusted content is untrusted
                // whatever the policy says about case: being "unseen" must not be bought by
                // respelling.
                let folded = self.source_of_key(Tag::EmailFolded, &f.folded);
                parts.push(folded.filter(|s| !s.kind.is_trusted()));
                // So is one that reaches the mailbox a page named in another spelling: its
                // `+tag` dropped, Gmail's dots or `googlemail.com` (red team round 23, flow
                // M1, M4: a page's `fred9246+invite@gmail.com` invited as
                // `fred9246@gmail.com`).
                let mailbox = self.source_of_key(Tag::EmailMailbox, &f.mailbox);
                parts.push(mailbox.filter(|s| !s.kind.is_trusted()));
                // The domain speaks against an address, never for it: the user's
                // `bob.smith@outlook.example` is not every mailbox of `outlook.example`
                // (red team round 20, F6: `bobsmith@outlook.example` was trusted).
                let mut domain = vec![
                    self.source_of_key(Tag::EmailDomain, &f.domain),
                    self.host_source(&f.domain),
                ];
                self.carried_addresses(&f.domain, &mut domain);
                parts.extend(domain.into_iter().map(|s| s.filter(|s| !s.kind.is_trusted())));
                // An address never seen whole whose mailbox name only a page gave, at a
                // domain from elsewhere (the user's, a trusted tool's): the page chose
                // where it lands (red team round 26, flow G1: "the account kpaudit2024 on
                // Gmail" became `kpaudit2024@gmail.com`). Three letters at least: shorter
                // names are words any text has.
                if !main_seen
                    && let Some((local, _)) = f.exact.rsplit_once('@')
                    && local.chars().filter(|c| c.is_alphanumeric()).count() >= 3
                {
                    parts.push(self.source_of(local).filter(|s| !s.kind.is_trusted()));
                }
            }
            Some(Normal::Phone(p)) => {
                // One number, whatever form each mention took: its first mention in any
                // form decides. A page's `+44 7700 900123` stays the page's when the model
                // retypes it `07700 900123`, and the user's `07700 900123` stays theirs
                // when a page later writes it `+44 7700 900123`.
                let (own, tails) = phone_lookup(p, options.phone_country_code.is_some());
                let seen = |keys: &Keys| {
                    keys.iter()
                        .filter_map(|key| self.typed.get(key))
                        .fold(FirstSeen::default(), |all, seen| all.merged(*seen))
                };
                let taint = FirstSeen { trusted: None, ..seen(&tails) };
                let first = seen(&own).merged(taint);
                let source = self.decide_first(first);
                main_seen = source.is_some();
                parts.push(source);
            }
            Some(other) => {
                // The model's first call whose words spell the IBAN's national digits (the
                // IBAN whole in any case or grouping, or its BBAN as a part): a trusted tool
                // showing the IBAN or its details after it echoes it (red team round 24,
                // flow E3: an IBAN noted and read back was trusted through its details).
                let model = match other {
                    Normal::Iban(iban) => self.model_spelled_national(iban),
                    _ => None,
                };
                for (tag, key) in keys(other) {
                    parts.push(self.source_of_key_after(tag, &key, model));
                }
                main_seen = parts.iter().any(Option::is_some);
                // An IBAN built from the national details a text gave (a German bank code
                // and account, a British sort code and account, a French RIB): that text
                // showed it, when it did so before anyone showed the IBAN itself (red team
                // round 22, flow F1; the user's own details vouch likewise).
                // First sighting decides: the details given before anyone showed the IBAN
                // whole are where it came from (the user's own sort code and account, then
                // a landlord's mail repeating them: the user's; second pass, FP1).
                if let Normal::Iban(iban) = other
                    && let Some(national) = self.national_details_source(iban, model)
                {
                    let whole = parts.iter().flatten().map(|s| s.seq).min();
                    if whole.is_none_or(|seq| national.seq < seq) {
                        parts = vec![Some(national)];
                        main_seen = true;
                    }
                }
            }
            None => {
                if matches!(kind, ValueKind::Custom(_)) {
                    // A name is written bare or as a mention (`@dana.k`, `#general`).
                    let name = mention_free(value);
                    for word in [name.clone(), format!("@{name}"), format!("#{name}")] {
                        parts.push(self.source_of_word(&word));
                    }
                }
            }
        }
        // The raw text speaks only for a value whose whole normal form was never recognised
        // in history: a value the user showed first in one spelling (`+44 7700-900-123`) is
        // theirs when a page later repeats it in another (`+447700900123`), while a value
        // the scanner missed (or saw only the host of) is still traced by its text. For a
        // valid value of the kind the text can only make it untrusted: its letters inside a
        // trusted text are not that value (red team round 20, F6: the user's
        // `ci.ourco.example` vouched for `https://ciourco.example/…`, `bob.smith@` for
        // `bobsmith@`), and only its normal form seen says who showed it.
        if !main_seen {
            // A value of a kind that has a normal form is read whole and by its words: its
            // punctuation is the kind's syntax (a URL's `/`, an address's `@`), whose
            // pieces are not names. A custom kind's is read as an untyped control value.
            parts.push(match normal {
                Some(_) => self.source_of_words(value).filter(|s| !s.kind.is_trusted()),
                None => self.source_of_parts(value),
            });
        }
        let untrusted = parts.iter().flatten().find(|s| !s.kind.is_trusted()).copied();
        if let Some(source) = untrusted {
            let confirmed = match (&normal, kind) {
                (Some(normal), _) => {
                    confirmation_key(kind, normal, options.email_local_part_insensitive)
                        .and_then(|key| self.confirmed.get(&(kind.name().to_owned(), key)))
                }
                (None, ValueKind::Custom(_)) => {
                    self.confirmed.get(&(kind.name().to_owned(), mention_free(value)))
                }
                (None, _) => None,
            };
            return Some(confirmed.unwrap_or(source));
        }
        parts.into_iter().flatten().next()
    }
}

impl ProvenanceIndex {
    /// The first document whose consecutive numbers spell the digits of `iban`'s national
    /// part (its BBAN): `BLZ 370 400 44, Konto 0532 0130 00` for `DE89370400440532013000`,
    /// `sort code 20-20-15, account 55555555` for `GB33BUKB20201555555555`. Zeros are left
    /// out of the comparison, since a national account number is written with or without
    /// the ones that pad it to its IBAN width; letters (a British or Dutch bank's code) are
    /// what the model derives from the numbers. At least [`MIN_NATIONAL_DIGITS`] digits.
    ///
    /// A trusted tool's document after `model` (the model's first call spelling them) only
    /// repeats what it was given and is passed over.
    fn national_details_source(&self, iban: &str, model: Option<u32>) -> Option<&SourceRef> {
        let national = national_digits(iban)?;
        let echo = |doc: &Doc| {
            doc.source.kind == SourceKind::TrustedTool && model.is_some_and(|m| m < doc.source.seq)
        };
        self.docs
            .iter()
            .find(|doc| !echo(doc) && spells_national(&doc.compact, &national))
            .map(|doc| &doc.source)
    }

    /// The first call of the model whose arguments' words spell `iban`'s national digits,
    /// and the first that carried the IBAN itself.
    fn model_spelled_national(&self, iban: &str) -> Option<u32> {
        let whole = self.typed.get(&(Tag::Iban, iban.to_owned())).and_then(|s| s.model);
        let national = national_digits(iban);
        // The numbers each call carried first, whatever argument held them (a sort code
        // and an account given apart).
        let spelled = national.and_then(|national| {
            let mut calls: std::collections::BTreeMap<u32, String> = Default::default();
            for (word, seen) in &self.words {
                if let Some(call) = seen.model
                    && word.bytes().any(|b| b.is_ascii_digit())
                {
                    let numbers = calls.entry(call).or_default();
                    numbers.push(' ');
                    numbers.push_str(word);
                }
            }
            calls
                .into_iter()
                .find(|(_, numbers)| spells_national(numbers, &national))
                .map(|(c, _)| c)
        });
        [whole, spelled].into_iter().flatten().min()
    }

    /// The earliest call of the model that carried any of `keys`.
    fn model_of(&self, keys: &[(Tag, &String)]) -> Option<u32> {
        keys.iter().filter_map(|(tag, key)| self.typed.get(&(*tag, (*key).clone()))?.model).min()
    }

    /// [`Self::source_of_key`], with `model` as the model's first call carrying the value
    /// when it is earlier than the one noted under the key (another spelling of it).
    fn source_of_key_after(&self, tag: Tag, key: &str, model: Option<u32>) -> Option<&SourceRef> {
        let mut first = self.typed.get(&(tag, key.to_owned())).copied()?;
        first.model = [first.model, model].into_iter().flatten().min();
        self.decide_first(first)
    }
}

/// An IBAN's national digits without zeros, when there are enough to tell it.
fn national_digits(iban: &str) -> Option<String> {
    let national: String =
        iban.get(4..)?.chars().filter(|c| c.is_ascii_digit() && *c != '0').collect();
    (national.len() >= MIN_NATIONAL_DIGITS).then_some(national)
}

/// Whether the numbers of `compact` (a document's letters and digits) spell `national`
/// (an IBAN's national digits without zeros): as one number that ends with it (the IBAN's
/// check digits written before, `61 1090 1014 ...`), or as at most
/// [`MAX_NATIONAL_PIECES`] of its numbers in any order (`account 55555555, sort code
/// 20-20-15`; second pass, F1).
fn spells_national(compact: &str, national: &str) -> bool {
    let mut numbers: HashSet<String> = HashSet::default();
    for number in compact.split(|c: char| !c.is_ascii_digit()) {
        let digits: String = number.chars().filter(|c| *c != '0').collect();
        if digits.ends_with(national) {
            return true;
        }
        if !digits.is_empty() && digits.len() < national.len() {
            numbers.insert(digits);
        }
    }
    // The fewest pieces that reach each position of `national`, from its start.
    let mut pieces: Vec<Option<usize>> = vec![None; national.len() + 1];
    if let Some(first) = pieces.first_mut() {
        *first = Some(0);
    }
    for end in 1..=national.len() {
        let fewest = (0..end)
            .filter_map(|start| {
                let before = pieces.get(start).copied().flatten()?;
                let piece = national.get(start..end)?;
                numbers.contains(piece).then_some(before + 1)
            })
            .min();
        if let Some(slot) = pieces.get_mut(end) {
            *slot = fewest;
        }
    }
    pieces.last().copied().flatten().is_some_and(|n| n <= MAX_NATIONAL_PIECES)
}

/// The most numbers [`spells_national`] joins: a bank, a branch, an account and a key.
const MAX_NATIONAL_PIECES: usize = 4;

/// The fewest non-zero digits of an IBAN's national part that
/// [`ProvenanceIndex::national_details_source`] looks for: fewer would be found in any
/// text of numbers.
const MIN_NATIONAL_DIGITS: usize = 7;

/// The earlier of two documents, either maybe absent.
fn earliest(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A custom kind's key: the normalised text without a leading `@` or `#`.
pub(super) fn mention_free(text: &str) -> String {
    let normal = normalise(text);
    normal.trim_start_matches(['@', '#']).to_owned()
}

#[cfg(test)]
mod tests;
