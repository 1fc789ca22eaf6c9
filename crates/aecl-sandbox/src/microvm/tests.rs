//! Unit tests of the microVM tier's pure parts: the guest protocol both ways, the
//! initramfs and QEMU's command line. The guest itself is booted by tests/it/microvm.rs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::image::initramfs;
use super::protocol::{
    AnswerError, answer_complete, check_request, encode_request, max_answer_len, parse_answer,
};
use super::{Accel, MicrovmConfig, last_line, qemu_args};
use crate::spec::Limits;

/// The answer `init.sh` writes: busybox `base64` wraps its lines at 76 characters.
fn answer(
    code: i32,
    stdout: &[u8],
    stdout_total: u64,
    stderr: &[u8],
    stderr_total: u64,
) -> Vec<u8> {
    let wrapped = |bytes: &[u8]| {
        let encoded = STANDARD.encode(bytes);
        let mut out = String::new();
        for chunk in encoded.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out
    };
    format!(
        "AECL-ANSWER 1\nEXIT {code}\nSTDOUT {stdout_total}\n{}STDERR {stderr_total}\n{}AECL-END\n",
        wrapped(stdout),
        wrapped(stderr)
    )
    .into_bytes()
}

#[test]
fn an_answer_round_trips_byte_exact() {
    let stdout = b"line\n\0\xff\xfe trailing newlines\n\n".to_vec();
    let stderr = (0..=255u8).collect::<Vec<_>>();
    let bytes = answer(3, &stdout, stdout.len() as u64, &stderr, 256);
    assert!(answer_complete(&bytes));
    let parsed = parse_answer(&bytes, 1 << 20).unwrap();
    assert_eq!(parsed.code, 3);
    assert_eq!(parsed.stdout, stdout);
    assert_eq!(parsed.stderr, stderr);
    assert_eq!(parsed.stderr_total, 256);
}

#[test]
fn empty_streams_and_capped_streams_parse() {
    let bytes = answer(0, b"", 0, b"abc", 10);
    let parsed = parse_answer(&bytes, 3).unwrap();
    assert_eq!((parsed.stdout.as_slice(), parsed.stdout_total), (b"".as_slice(), 0));
    assert_eq!((parsed.stderr.as_slice(), parsed.stderr_total), (b"abc".as_slice(), 10));
}

#[test]
fn answers_that_break_the_grammar_are_rejected_with_the_reason() {
    let cases: [(&[u8], &str); 9] = [
        (b"AECL-ANSWER 2\nEXIT 0\n", "expected `AECL-ANSWER 1`"),
        (b"AECL-ANSWER 1\nEXIT 256\nSTDOUT 0\nSTDERR 0\nAECL-END\n", "EXIT"),
        (b"AECL-ANSWER 1\nEXIT -1\nSTDOUT 0\nSTDERR 0\nAECL-END\n", "EXIT"),
        (b"AECL-ANSWER 1\nEXIT 0\nSTDOUT 0\nSTDERR 0\nAECL-END\nmore\n", "after AECL-END"),
        (b"AECL-ANSWER 1\nEXIT 0\nSTDOUT 5\nYWJj\nSTDERR 0\nAECL-END\n", "3 bytes sent of 5"),
        (b"AECL-ANSWER 1\nEXIT 0\nSTDOUT 3\nYWJ\nSTDERR 0\nAECL-END\n", "not base64"),
        (b"AECL-ANSWER 1\nEXIT 0\nSTDOUT 3\nYWJj\n", "ends inside"),
        (b"AECL-ANSWER 1\nEXIT 0\nSTDOUT 0\nSTDERR 0\nAECL-END", "final newline"),
        (b"AECL-ANSWER 1\nEXIT x\n", "expected `EXIT <number>`"),
    ];
    for (bytes, expected) in cases {
        match parse_answer(bytes, 1 << 20) {
            Err(AnswerError::Malformed(why)) => assert!(why.contains(expected), "{why}"),
            other => panic!("{}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }
}

#[test]
fn a_stream_longer_than_the_cap_is_rejected_before_decoding() {
    let bytes = answer(0, &[7u8; 300], 300, b"", 0);
    match parse_answer(&bytes, 100) {
        Err(AnswerError::Malformed(why)) => assert!(why.contains("more than the 100"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_guests_failure_line_is_its_reason() {
    let bytes = b"AECL-FAIL mounting /work\n";
    assert!(answer_complete(bytes));
    assert_eq!(parse_answer(bytes, 10), Err(AnswerError::Failed("mounting /work".to_owned())));
}

#[test]
fn an_answer_is_complete_only_at_its_end_marker_or_a_foreign_first_line() {
    let whole = answer(0, b"x", 1, b"", 0);
    for cut in 0..whole.len() {
        assert!(!answer_complete(&whole[..cut]), "complete at {cut}");
    }
    assert!(answer_complete(b"garbage\n"));
    assert!(!answer_complete(b"garbage without a newline"));
}

#[test]
fn the_request_carries_every_value_in_base64() {
    let argv = vec!["/bin/sh".to_owned(), "-c".to_owned(), "echo 'a b'\n".to_owned()];
    let env = vec![("PATH".to_owned(), "/bin".to_owned())];
    let bytes = encode_request(&argv, &env, b"\0in\n", 4096, &Limits::default());
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], "AECL-REQUEST 1");
    assert_eq!(lines[1], "CAP 4096");
    assert_eq!(lines[2], format!("LIMITS 256 60 256 {}", 64 << 20));
    assert_eq!(lines[3], "ARGV 3");
    assert_eq!(STANDARD.decode(lines[6]).unwrap(), b"echo 'a b'\n");
    assert_eq!(lines[7], "ENV 1");
    assert_eq!(STANDARD.decode(lines[8]).unwrap(), b"PATH=/bin");
    assert_eq!(lines[9], "STDIN 8");
    assert_eq!(STANDARD.decode(lines[10]).unwrap(), b"\0in\n");
    assert_eq!(lines.len(), 11, "the stdin is the last thing sent, without a newline");
}

#[test]
fn requests_the_guest_cannot_carry_are_refused() {
    let env = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
    let argv = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    assert!(check_request(&argv(&["true"]), &env("A", "b=c")).is_ok());
    for (args, env) in [
        (argv(&[]), env("A", "b")),
        (argv(&["A=b"]), env("A", "b")),
        (argv(&["true", "a\0b"]), env("A", "b")),
        (argv(&["true"]), env("A=B", "c")),
        (argv(&["true"]), env("", "c")),
        (argv(&["true"]), env("A", "\0")),
    ] {
        assert!(check_request(&args, &env).is_err(), "{args:?} {env:?}");
    }
}

#[test]
fn the_initramfs_is_a_newc_archive_with_init_and_busybox() {
    let archive = initramfs(b"not really busybox");
    let mut names = Vec::new();
    let mut rest = archive.as_slice();
    loop {
        assert_eq!(&rest[..6], b"070701");
        let field = |i: usize| {
            u32::from_str_radix(std::str::from_utf8(&rest[6 + i * 8..14 + i * 8]).unwrap(), 16)
                .unwrap() as usize
        };
        let (mode, size, name_size) = (field(1), field(6), field(11));
        let name = std::str::from_utf8(&rest[110..110 + name_size - 1]).unwrap().to_owned();
        let data_at = (110 + name_size).next_multiple_of(4);
        let data = &rest[data_at..data_at + size];
        if name == "init" {
            assert_eq!(mode, 0o100_755);
            assert!(data.starts_with(b"#!/bin/sh\n"));
        }
        if name == "bin/busybox" {
            assert_eq!(data, b"not really busybox");
        }
        names.push(name.clone());
        rest = &rest[(data_at + size).next_multiple_of(4)..];
        if name == "TRAILER!!!" {
            break;
        }
    }
    assert!(rest.is_empty());
    for expected in ["init", "bin/busybox", "bin/sh", "etc/passwd", "dev/console", "work"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    assert_eq!(archive, initramfs(b"not really busybox"), "reproducible");
}

#[test]
fn qemu_runs_without_network_or_defaults_and_drops_root() {
    let mut vm = MicrovmConfig::new("/img/vmlinuz".into(), "/img/initrd.cpio".into());
    let args = qemu_args(&vm, 512 << 20, Some((7, 8))).join(" ");
    for expected in [
        "-nodefaults",
        "-nic none",
        "-no-reboot",
        "-accel kvm -cpu host",
        "-m 608M",
        "-run-with user=7:8",
        "elevateprivileges=allow,spawn=deny",
        "-kernel /img/vmlinuz -initrd /img/initrd.cpio",
    ] {
        assert!(args.contains(expected), "{expected} in {args}");
    }
    vm.accel = Accel::TcgEmulated;
    let args = qemu_args(&vm, 1, None).join(" ");
    assert!(args.contains("-accel tcg") && args.contains("elevateprivileges=deny"), "{args}");
    assert!(!args.contains("-run-with"), "{args}");
}

#[test]
fn a_boot_failure_names_the_last_console_line() {
    assert_eq!(
        last_line(b"[ 0.1] booting\r\n[ 0.2] Kernel panic - not syncing\r\n\r\n"),
        "QEMU's last output: [ 0.2] Kernel panic - not syncing"
    );
    assert_eq!(last_line(b"\n\n"), "nothing on its console or from QEMU");
}

proptest! {
    /// Whatever a guest writes, the parser returns (never panics) and never hands back
    /// more than the cap.
    #[test]
    fn arbitrary_guest_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                         cap in 0usize..64) {
        if let Ok(parsed) = parse_answer(&bytes, cap) {
            prop_assert!(parsed.stdout.len() <= cap && parsed.stderr.len() <= cap);
        }
        let _ = answer_complete(&bytes);
    }

    /// Any streams round-trip byte-exact within the bound the host reads up to.
    #[test]
    fn any_streams_round_trip(stdout in proptest::collection::vec(any::<u8>(), 0..400),
                              stderr in proptest::collection::vec(any::<u8>(), 0..400),
                              code in 0i32..=255) {
        let bytes = answer(code, &stdout, stdout.len() as u64, &stderr, stderr.len() as u64);
        prop_assert!(bytes.len() <= max_answer_len(400));
        let parsed = parse_answer(&bytes, 400).unwrap();
        prop_assert_eq!(parsed.code, code);
        prop_assert_eq!(parsed.stdout, stdout);
        prop_assert_eq!(parsed.stderr, stderr);
    }

    /// A valid answer with any one byte changed either still parses as an answer within
    /// the cap or is rejected; it never panics.
    #[test]
    fn a_corrupted_answer_is_handled(at in 0usize..200, byte in any::<u8>()) {
        let mut bytes = answer(1, b"some output\n", 12, b"err", 3);
        let at = at % bytes.len();
        bytes[at] = byte;
        if let Ok(parsed) = parse_answer(&bytes, 64) {
            prop_assert!(parsed.stdout.len() <= 64);
        }
    }
}
