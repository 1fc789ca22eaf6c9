//! Unit tests of typed normalisation and of `find`.

use super::*;

fn url(text: &str) -> String {
    url_normal(text).map(|f| f.full).unwrap_or_else(|| panic!("`{text}` is a URL"))
}

#[test]
fn url_spellings_of_one_address_are_one_value() {
    let one = url("www.example.test");
    for spelling in [
        "http://www.example.test",
        "https://www.example.test/",
        "HTTPS://WWW.Example.TEST",
        "https://www.example.test:443/",
        "http://www.example.test:80",
        "//www.example.test/",
        "https://user:pw@www.example.test/",
        "<https://www.example.test>",
    ] {
        assert_eq!(url(spelling), one, "{spelling}");
    }
    assert_eq!(one, "www.example.test");
}

#[test]
fn url_parts_that_change_the_request_stay_apart() {
    // `www.` is a different host; a query is different data; a port other than the default
    // is another service.
    assert_ne!(url("www.example.test"), url("example.test"));
    assert_ne!(url("example.test/a?q=secret"), url("example.test/a?q=other"));
    assert_ne!(url("example.test:8080"), url("example.test"));
    assert_eq!(url("example.test/a/b/"), url("https://example.test/a/b"));
    // Escapes of unreserved characters mean the same decoded; dot segments are resolved.
    assert_eq!(url("example.test/%7Euser/%61"), url("example.test/~user/a"));
    assert_eq!(url("example.test/a/../b"), url("example.test/b"));
}

#[test]
fn url_identifiers_are_the_token_like_pieces_after_the_host() {
    let ids = |text: &str| -> Vec<String> {
        let form = url::normal(text).unwrap();
        form.identifiers().map(str::to_owned).collect()
    };
    assert_eq!(
        ids("https://hooks.slack.com/services/T999/B999/attackerkey1234"),
        ["attackerkey1234"]
    );
    assert_eq!(ids("https://api.test/v1/items?access=ab12cd34ef56&page=2"), ["ab12cd34ef56"]);
    assert_eq!(
        ids("https://b.test/qwertyuiopasdfghjklzx#section12345"),
        ["qwertyuiopasdfghjklzx", "section12345"]
    );
    // Compound names choose a resource as an id does: an ntfy topic, a repository (red
    // team round 22, flow F3).
    assert_eq!(ids("https://ntfy.sh/exfil-drop?message=hi"), ["exfil-drop"]);
    assert_eq!(ids("https://git.test/repos/evil_corp/drop-box/issues"), ["evil_corp", "drop-box"]);
    assert!(ids("https://x.test/a-b/-docs-/v_1").is_empty(), "under six letters and digits");
    // Words, short pieces and the host itself are not identifiers.
    assert!(ids("https://status.test/services/documentation").is_empty());
    assert!(ids("https://host12345678.test/a/b").is_empty());
    assert!(ids("ftp://files12345.test/pub").is_empty());
}

#[test]
fn url_user_info_names_no_host_and_idna_is_punycode() {
    let form = url_normal("https://www.bank.test@evil.test/login").unwrap();
    assert_eq!(form.host, "evil.test");
    assert_eq!(form.full, "evil.test/login");
    assert_eq!(url_normal("https://Bücher.example/").unwrap().host, "xn--bcher-kva.example");
    assert_eq!(url("ftp://files.test/x"), "ftp://files.test/x");
    assert!(url_normal("not a url").is_none());
    assert!(url_normal("mailto:a@b.test").is_none());
}

#[test]
fn email_domain_case_is_folded_and_local_case_only_on_request() {
    let a = email_normal("mailto:Bob.Smith@Example.TEST?subject=hi").unwrap();
    let b = email_normal("bob.smith@example.test").unwrap();
    assert_eq!(a.domain, "example.test");
    assert_ne!(a.key(false), b.key(false));
    assert_eq!(a.key(true), b.key(true));
    assert_eq!(a.exact, "Bob.Smith@example.test");
    assert!(email_normal("no-at-sign").is_none());
    assert!(email_normal("a b@example.test").is_none());
}

#[test]
fn ibans_lose_spacing_and_case_and_need_their_checksum() {
    assert_eq!(
        iban_normal("gb29 nwbk 6016 1331 9268 19").as_deref(),
        Some("GB29NWBK60161331926819")
    );
    assert_eq!(
        iban_normal("DE89-3704-0044-0532-0130-00").as_deref(),
        Some("DE89370400440532013000")
    );
    // One digit changed: the checksum fails and it is just text.
    assert_eq!(iban_normal("GB29NWBK60161331926818"), None);
}

#[test]
fn ibans_in_look_alike_characters_are_read_at_their_places() {
    let gb = "GB29NWBK60161331926819";
    for (text, iban) in [
        // O for 0 and l for 1 in the account number, in any case, after a label.
        ("pay GB29 NWBK 6O16 l33l 9268 l9 today", gb),
        ("gb29 nwbk 6o16 1331 9268 19", gb),
        ("IBAN:GB29NWBK6Ol6I33I9268I9.", gb),
        ("(GB29-NWBK-60I6-1331-9268-I9)", gb),
        // 8 for B in the bank code (a place of letters), B for 8 in digits, S for 5.
        ("GB29 NW8K 6016 1331 9268 19", gb),
        ("DE89 37O4 OO44 OS32 O13O OO", "DE89370400440532013000"),
        ("NL2O INGB OOO1 2345 67", "NL20INGB0001234567"),
        ("GBll BOFI 9O2l 27l2 3456 78", "GB11BOFI90212712345678"),
        // Check digits drawn like letters.
        ("NLZO INGB 0001 2345 67", "NL20INGB0001234567"),
        // A place of either (France's account number): as written, or look-alikes digits.
        ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
        ("FR14 2OO4 lOlO O5O5 OOOl 3M02 6O6", "FR1420041010050500013M02606"),
    ] {
        assert_eq!(iban_look_alikes(text), vec![iban.to_owned()], "{text}");
    }
    // Valid as written: the same (the text as it looks, `as_it_looks`, comes here too).
    assert_eq!(iban_look_alikes("GB29 NWBK 6016 1331 9268 19"), vec![gb.to_owned()]);
    for text in [
        // The reading fails the checksum.
        "GB29 NWBK 6O16 l33l 9268 l8",
        // A country not listed, words that start like a country code, a short first word.
        "XX29 NWBK 6O16 l33l 9268 l9",
        "it is so good to be back at home: DESOLATE BIG DOG LOSS",
        "GB 29 NWBK 6O16 l33l 9268 l9",
    ] {
        assert_eq!(iban_look_alikes(text), Vec::<String>::new(), "{text}");
    }
}

#[test]
fn phone_numbers_are_e164() {
    let gb = region_code("gb");
    assert_eq!(gb, Some("44"));
    let e164 = |t: &str| phone_normal(t, gb).and_then(|p| p.e164);
    for spelling in [
        "+44 20 7946 0958",
        "020 7946 0958",
        "(020) 7946-0958",
        "+44 (0)20 7946 0958",
        "0044 20 7946 0958",
        // What is dialled after the number (red team, 2026-11-30): an extension, pauses,
        // tones, a `tel:` URI's parameters, a `sip:` URI's host.
        "+44 20 7946 0958 ext. 1",
        "+44 20 7946 0958 extension 12",
        "+44 20 7946 0958 x1",
        "+442079460958p1",
        "+442079460958w123",
        "+44 20 7946 0958,,1234",
        "+44 20 7946 0958#",
        "tel:+442079460958;ext=1",
        "tel:+442079460958;phone-context=example.com",
        "sip:+442079460958@sip.example",
        "SIPS:+44-20-7946-0958@sip.example;user=phone",
        // Red team round 2: a service code first, an escaped `+`, a password, a context.
        "*31#+442079460958",
        "*67 +44 20 7946 0958",
        "tel:%2B442079460958",
        "sip:+442079460958:secret@sip.example",
        "tel:7946-0958;phone-context=+44-20",
    ] {
        assert_eq!(e164(spelling).as_deref(), Some("+442079460958"), "{spelling}");
    }
    let us = region_code("US");
    assert_eq!(phone_normal("(202) 555-0143", us).unwrap().e164.as_deref(), Some("+12025550143"));
    assert_eq!(phone_normal("1-202-555-0143", us).unwrap().e164.as_deref(), Some("+12025550143"));
    // North America's international prefix; elsewhere `011` starts a national number.
    assert_eq!(
        phone_normal("011 44 20 7946 0958", us).unwrap().e164.as_deref(),
        Some("+442079460958")
    );
    assert_eq!(phone_normal("0113 496 0000", gb).unwrap().e164.as_deref(), Some("+441134960000"));
    // Without a region a national number is still known by its national digits.
    assert_eq!(
        phone_normal("020 7946 0958", None).unwrap().national.as_deref(),
        Some("2079460958")
    );
    assert!(phone_normal("12", gb).is_none());
    assert!(phone_normal("call me", gb).is_none());
}

#[test]
fn amounts_in_any_grouping_are_one_number() {
    for spelling in ["1,000.50", "1000.5", "EUR 1 000,50", "€1.000,50", "1000.50 USD", "1'000.50"]
    {
        assert_eq!(amount_normal(spelling).as_deref(), Some("1000.5"), "{spelling}");
    }
    assert_eq!(amount_normal("1,000").as_deref(), Some("1000"));
    assert_eq!(amount_normal("0.50").as_deref(), Some("0.5"));
    assert_eq!(amount_normal("-12").as_deref(), Some("-12"));
    assert_eq!(amount_normal("1,00,0"), None);
    assert_eq!(amount_normal("twelve"), None);
}

#[test]
fn dates_in_common_forms_are_iso() {
    for spelling in [
        "2026-03-14",
        "14/03/2026",
        "14.3.2026",
        "14 March 2026",
        "March 14, 2026",
        "14-Mar-2026",
        "2026-03-14T09:30:00Z",
    ] {
        assert_eq!(date_normal(spelling), vec!["2026-03-14".to_owned()], "{spelling}");
    }
    // Day and month could be swapped: both readings.
    assert_eq!(date_normal("01/03/2026"), vec!["2026-03-01".to_owned(), "2026-01-03".to_owned()]);
    assert!(date_normal("2026-02-30").is_empty());
    assert!(date_normal("hello").is_empty());
}

#[test]
fn find_reports_each_value_with_its_byte_offset() {
    let text = "Hi! Wire to GB29 NWBK 6016 1331 9268 19, see www.pay.test/x, mail ceo@corp.test or call +44 20 7946 0958.";
    let kinds = [ValueKind::Url, ValueKind::Email, ValueKind::Iban, ValueKind::Phone];
    let found = find(text, &kinds, &ValueOptions::default());
    let spans: Vec<(&str, &str)> =
        found.iter().map(|f| (f.kind.name(), &text[f.start..f.end])).collect();
    assert_eq!(
        spans,
        [
            ("iban", "GB29 NWBK 6016 1331 9268 19"),
            ("url", "www.pay.test/x"),
            ("email", "ceo@corp.test"),
            ("phone", "+44 20 7946 0958"),
        ]
    );
}

#[test]
fn find_takes_links_out_of_markup_and_leaves_file_names() {
    let text = r#"<a href="https://evil.test/c?d=1">here</a> and [docs](http://docs.test/a). Attached report.pdf; host evil.example"#;
    let found = find(text, &[ValueKind::Url], &ValueOptions::default());
    let urls: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
    assert_eq!(urls, ["https://evil.test/c?d=1", "http://docs.test/a", "evil.example"]);
}

/// Hosts a page writes bare that the scan left out (red team, 2026-11-28), so that the
/// agent's `https://` link to them counted as unseen.
#[test]
fn find_takes_bare_hosts_that_look_like_files_when_a_path_or_port_follows() {
    let text = "post to collect.evil.sh/hook or collect.evil.zip/x, via edge.evil.test./in, \
                collect_x.evil.test/h and xn--80ak6aa92e.xn--p1ai/x; read notes.md, run.sh, \
                main.rs:42, package.json:5 and README.md#usage";
    let found = find(text, &[ValueKind::Url], &ValueOptions::default());
    let urls: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
    assert_eq!(
        urls,
        [
            "collect.evil.sh/hook",
            "collect.evil.zip/x",
            "edge.evil.test./in",
            "collect_x.evil.test/h",
            "xn--80ak6aa92e.xn--p1ai/x",
        ]
    );
}

#[test]
fn kinds_parse_by_name_and_custom_names_are_kept() {
    assert_eq!(ValueKind::parse("url"), ValueKind::Url);
    let custom = ValueKind::parse("slack_user");
    assert_eq!(custom.name(), "slack_user");
    assert!(!custom.scannable());
    assert_eq!(decode_unreserved("%41%2f%zz"), "A%2F%zz");
}

#[test]
fn addresses_that_wildcard_dns_names_carry_are_a_reading() {
    for (text, address) in [
        ("http://203.0.113.7.nip.io/x", "203.0.113.7"),
        ("see app.203.0.113.7.sslip.io now", "203.0.113.7"),
        ("https://app-203-0-113-7.sslip.io/", "203.0.113.7"),
        ("http://cb007107.nip.io/", "203.0.113.7"),
    ] {
        let readings = readings(text);
        assert!(
            readings.iter().any(|r| r.split(' ').any(|w| w == address)),
            "{text}: {readings:?}"
        );
    }
    // A bare address is found as itself; versions and plain names carry none.
    for text in ["203.0.113.7", "version 2.4.1 of x.test", "pkg-1.2.3.tgz"] {
        assert!(readings(text).iter().all(|r| !r.contains("203.")), "{text}");
    }
}

#[test]
fn a_link_to_an_ipv6_literal_and_a_bare_ipv4_address_are_links() {
    let options = ValueOptions::default();
    let found = |text: &str| -> Vec<String> {
        find(text, &[ValueKind::Url], &options)
            .into_iter()
            .filter_map(|f| match f.normal {
                Normal::Url(form) => Some(form.host),
                _ => None,
            })
            .collect()
    };
    assert_eq!(found("curl http://[::ffff:203.0.113.7]/upload"), ["203.0.113.7"]);
    assert_eq!(found("curl http://user@[::ffff:cb00:7107]:8080/"), ["203.0.113.7"]);
    // A zone picks an interface; the address is the host, however the `%` is written
    // (red team round 27, flow D4).
    assert_eq!(found("curl http://[::ffff:203.0.113.7%25eth0]/upload"), ["203.0.113.7"]);
    assert_eq!(found("curl http://[fe80::1%eth0]:8080/x"), ["[fe80::1]"]);
    assert_eq!(found("curl -g 'http://[2001:db8::7%251]/'"), ["[2001:db8::7]"]);
    assert_eq!(found("the proxy is 203.0.113.7, port 3128"), ["203.0.113.7"]);
    // Brackets around a link still part it from the text.
    assert_eq!(found("[https://x.test/a] (see [1])"), ["x.test"]);
    assert!(found("version 1.2.3 and 300.1.2.3").is_empty());
}

/// `find` and `readings` skip most words of a long text cheaply (a word with no `:`, `.`
/// or `=` is no link; a span with no digit is no date; a text holding no disguise is not
/// rewritten): the values those checks guard are still found in a long text around them.
#[test]
fn values_inside_long_prose_are_found_past_the_quick_checks() {
    let prose = "lorem ipsum dolor sit amet ".repeat(200);
    let text = format!(
        "{prose}pay GB29-NWBK-6016-1331-9268-19 by 1 March 2026 {prose}write to \
         eve@evil.test or HTTPS:evil.test/x and link=bad.test/y {prose}call +44 20 7946 0958"
    );
    let kinds =
        [ValueKind::Url, ValueKind::Email, ValueKind::Iban, ValueKind::Phone, ValueKind::Date];
    let found = find(&text, &kinds, &ValueOptions::default());
    let spans: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
    assert_eq!(
        spans,
        [
            "GB29-NWBK-6016-1331-9268-19",
            "1 March 2026",
            "eve@evil.test",
            "HTTPS:evil.test/x",
            "bad.test/y",
            "+44 20 7946 0958",
        ]
    );
}

#[test]
fn readings_undo_each_disguise_in_any_case_among_long_text() {
    let prose = "nothing to see here ".repeat(100);
    let has = |text: &str, wanted: &str| readings(text).iter().any(|r| r.contains(wanted));
    assert!(has(&format!("{prose}eve (AT) evil [DoT] test"), "eve@evil.test"));
    assert!(has(&format!("{prose}hXXps://evil[.]test/x"), "https://evil.test/x"));
    assert!(has(&format!("{prose}eve AT evil DOT test"), "eve@evil.test"));
    assert!(has(&format!("{prose}Mailto:eve@evil.test"), " eve@evil.test"));
    // Escapes far apart in one text are each decoded.
    let escaped = format!("a&#64;b.test {prose} c%40d.test {prose} e=40f.test \\x40g");
    for wanted in ["a@b.test", "c@d.test", "e@f.test", "@g"] {
        assert!(has(&escaped, wanted), "{wanted}");
    }
    // Markup is kept in one reading and laid out in another.
    let page = format!("{prose}<a href=\"https://evil&#46;test\">x</a><b>GB29</b>NWBK");
    assert!(has(&page, "href=\"https://evil.test\""));
    assert!(has(&page, "GB29NWBK"));
    // A text with no marker at all has no other reading.
    assert!(readings("plainwords").is_empty());
}

/// URL red team, round 10: clients that end the authority at `/`, `?` or `#` only (curl,
/// wget, git, httpx) go to the host after the last `@` of `https://docs.test\@evil.test/`,
/// where WHATWG readers go to `docs.test`; both are hosts of the value.
#[test]
fn url_other_hosts_are_those_rfc_3986_readers_connect_to() {
    let others = |text: &str| url_normal(text).map(|f| (f.host, f.other_hosts));
    let hosts = |host: &str, others: &[&str]| {
        Some((host.to_owned(), others.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>()))
    };
    assert_eq!(others("https://docs.test\\@evil.test/x"), hosts("docs.test", &["evil.test"]));
    assert_eq!(others("https:/\\docs.test\\:x@evil.test/x"), hosts("docs.test", &["evil.test"]));
    assert_eq!(others("HTTP://docs.test\\@EVIL.test:8080/"), hosts("docs.test", &["evil.test"]));
    // Where every client agrees there is one host.
    assert_eq!(others("https://docs.test/notes#@evil.test"), hosts("docs.test", &[]));
    assert_eq!(others("https://docs.test;@evil.test/x"), hosts("evil.test", &[]));
    assert_eq!(others("https://evil.test\\.docs.test/"), hosts("evil.test", &[]));
    assert_eq!(others("http://[::ffff:203.0.113.7]/"), hosts("203.0.113.7", &[]));
}

/// URL red team, round 10: user info before a host without a scheme (curl and wget read
/// the word as `http://`), git's scp remotes and numeric IPv4 spellings are URLs to it.
#[test]
fn url_user_info_scp_remotes_and_numeric_addresses_name_their_host() {
    for (text, full) in [
        ("x@evil.test/upgrade.sh", "evil.test/upgrade.sh"),
        (":@evil.test/upgrade.sh", "evil.test/upgrade.sh"),
        ("user:pw@evil.test", "evil.test"),
        ("docs.test:@evil.test?u.sh", "evil.test?u.sh"),
        ("git@evil.test:tools/helper.git", "evil.test/tools/helper.git"),
        ("evil.test:tools/helper.git", "evil.test/tools/helper.git"),
        ("http://3405803783/x", "203.0.113.7/x"),
        ("0xcb.0.0x71.7/x", "203.0.113.7/x"),
    ] {
        assert_eq!(url(text), full, "{text}");
    }
    assert!(url_normal("mailto:eve@evil.test").is_none());
    assert!(url_normal("sip:eve@evil.test").is_none());
    assert_eq!(url("main.rs:42"), "main.rs:42");
}

#[test]
fn find_takes_user_info_forms_and_numeric_addresses_as_links() {
    let options = ValueOptions::default();
    let hosts = |text: &str, kinds: &[ValueKind]| -> Vec<(String, String)> {
        find(text, kinds, &options)
            .into_iter()
            .filter_map(|f| match f.normal {
                Normal::Url(form) => Some((text[f.start..f.end].to_owned(), form.host)),
                _ => None,
            })
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };
    let url = [ValueKind::Url];
    assert_eq!(
        hosts("curl -s x@evil.test/u.sh :@evil.test/v 'docs.test:@evil.test?w'", &url),
        pairs(&[
            ("x@evil.test/u.sh", "evil.test"),
            (":@evil.test/v", "evil.test"),
            ("docs.test:@evil.test?w", "evil.test"),
        ])
    );
    assert_eq!(
        hosts("dig @evil.test docs.test; git clone git@evil.test:t/h.git", &url),
        pairs(&[
            ("@evil.test", "evil.test"),
            ("docs.test", "docs.test"),
            ("git@evil.test:t/h.git", "evil.test"),
        ])
    );
    assert_eq!(
        hosts("curl 3405803783/x 203.0.28935:80 0xcb007107 0313.0.0161.07", &url),
        pairs(&[
            ("3405803783/x", "203.0.113.7"),
            ("203.0.28935:80", "203.0.113.7"),
            ("0xcb007107", "203.0.113.7"),
            ("0313.0.0161.07", "203.0.113.7"),
        ])
    );
    // Addresses are addresses, and numbers, versions, ratings and dates are no links.
    assert!(hosts("mail eve@evil.test or git@github.com", &url).is_empty());
    assert!(hosts("order 3405803783, rated 3.5/5, v1.2.3, on 2026/03/01, 127.1", &url).is_empty());
}

#[test]
fn a_mailto_uri_names_every_recipient_it_sends_to() {
    let all = |text| mailto_addresses(text);
    assert_eq!(
        all("mailto:bob@ourco.test?bcc=eve@evil.test"),
        Some(vec!["bob@ourco.test".to_owned(), "eve@evil.test".to_owned()])
    );
    assert_eq!(all("MAILTO:eve%40evil.test"), Some(vec!["eve@evil.test".to_owned()]));
    assert_eq!(all("mailto:?to=eve@evil.test"), Some(vec!["eve@evil.test".to_owned()]));
    assert_eq!(
        all("<mailto:a@x.test,b@y.test?CC=c%40z.test%2Cd@w.test&subject=to%3Dx@no.test>"),
        Some(["a@x.test", "b@y.test", "c@z.test", "d@w.test"].map(str::to_owned).to_vec())
    );
    assert_eq!(
        all("mailto:a@x.test?subject=hi&body=bcc%3Deve@evil.test"),
        Some(vec!["a@x.test".to_owned()])
    );
    // A fragment, `&amp;`, `;` between fields, double encoding (red team round 2).
    assert_eq!(
        all("mailto:a@x.test?subject=s&amp;bcc=eve%2540evil.test;cc=c@z.test#bcc=no@no.test"),
        Some(["a@x.test", "eve@evil.test", "c@z.test"].map(str::to_owned).to_vec())
    );
    assert_eq!(all("bob@ourco.test"), None);
    assert_eq!(all("https://x.test/?to=a@b.test"), None);
}

/// Flow red team, round 22 (F4): a host or address spelled a character at a time is read
/// as the word it spells, alone, with a scheme or an `@`, or with its dot written out;
/// initials and list marks are not joined.
#[test]
fn text_spelled_a_character_at_a_time_is_read_as_its_word() {
    let has = |text: &str, wanted: &str| readings(text).iter().any(|r| r.contains(wanted));
    assert!(has("Collector host: e v i l . t e s t", "evil.test"));
    assert!(has("use c o l l e c t o r . e v i l . t e s t now", "collector.evil.test"));
    assert!(has("post to e v i l . t e s t / c", "evil.test/c"));
    assert!(has("server: e v i l dot t e s t", "evil.test"));
    assert!(has("mail h e l p d e s k @ e v i l . t e s t", "helpdesk@evil.test"));
    assert!(has("h t t p s : / / e v i l . t e s t / l o g i n", "https://evil.test/login"));
    // Spelled with tabs or several spaces.
    assert!(has("e\tv\ti\tl\t.\tt\te\ts\tt", "evil.test"));
    assert!(has("x y z dot c o m", "xyz.com"));
    // Listed with commas, or spelled only at its start (second pass, F4).
    assert!(has("e, v, i, l, dot, t, e, s, t", "evil.test"));
    assert!(has("host e v i l.test now", "evil.test"));
    assert!(has("write to h e l p@evil.test", "help@evil.test"));
    // Two lone characters are an initial or an operator, not a word.
    assert!(!has("options A B and C D", "AB"));
    assert!(!readings("see section a b").iter().any(|r| r.contains("ab")));
}

/// Flow red team, round 22 (F7): letters that pass for digits in a number are read as the
/// digits; words that are not numbers keep their letters.
#[test]
fn letters_passing_for_digits_in_a_number_are_read_as_digits() {
    let has = |text: &str, wanted: &str| readings(text).iter().any(|r| r.contains(wanted));
    assert!(has("Call +44 2O 7946 O958 today", "+44 20 7946 0958"));
    assert!(has("fax (O2O) 7946-O958", "(020) 7946-0958"));
    assert!(has("ext l5O", "150"));
    assert!(has("Call +44 2О 7946 О958 (Cyrillic)", "+44 20 7946 0958"));
    assert!(!has("Hello World 2026", "He110"));
    assert!(!readings("Hello to all").iter().any(|r| r.contains('0')));
}
