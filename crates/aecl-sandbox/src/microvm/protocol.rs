//! The guest protocol on the microVM's second serial port (the guest's side is `init.sh`).
//!
//! The guest says `AECL-READY` once its port is raw and silent; only then does the host
//! send the request, because a UART drops what arrives before the guest opens it. Every
//! value that may hold arbitrary bytes travels as base64, so the line discipline, the
//! shell's `read` and trailing newlines never touch it:
//!
//! ```text
//! host:  AECL-REQUEST 1 / CAP n / LIMITS pids cpu_s files work_bytes /
//!        ARGV n + n base64 lines / ENV n + n base64 `NAME=VALUE` lines / STDIN len + base64
//! guest: AECL-ANSWER 1 / EXIT code / STDOUT total + base64 lines /
//!        STDERR total + base64 lines / AECL-END          (or AECL-FAIL reason)
//! ```
//!
//! The answer is written by a machine that ran untrusted code: it is data, parsed with
//! bounds, and any deviation from the grammar is an error, never a panic or a guess.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::spec::Limits;

/// The guest's line once it is ready for the request.
pub(crate) const READY: &[u8] = b"AECL-READY\n";

const END: &[u8] = b"AECL-END\n";
const FAIL: &[u8] = b"AECL-FAIL ";

/// Why a command cannot go through the protocol; nothing ran.
pub(crate) fn check_request(argv: &[String], env: &[(String, String)]) -> Result<(), String> {
    let Some(program) = argv.first() else {
        return Err("the command is empty".to_owned());
    };
    if program.is_empty() || program.contains('=') {
        // `env -i` in the guest would take a program name with `=` for a variable.
        return Err(format!("program `{program}`: expected a non-empty name without `=`"));
    }
    if let Some(arg) = argv.iter().find(|a| a.contains('\0')) {
        return Err(format!("argument `{}` contains a NUL byte", arg.escape_debug()));
    }
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(format!(
                "environment variable `{}`: expected a name without `=` or NUL and a value \
                 without NUL",
                name.escape_debug()
            ));
        }
    }
    Ok(())
}

/// The request's bytes, sent after the guest's `AECL-READY`.
pub(crate) fn encode_request(
    argv: &[String],
    env: &[(String, String)],
    stdin: &[u8],
    output_cap: usize,
    limits: &Limits,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + stdin.len() * 4 / 3);
    out.extend_from_slice(b"AECL-REQUEST 1\n");
    out.extend_from_slice(format!("CAP {output_cap}\n").as_bytes());
    out.extend_from_slice(
        format!(
            "LIMITS {} {} {} {}\n",
            limits.pids.max(1),
            limits.cpu_seconds.max(1),
            limits.open_files.max(16),
            limits.work_bytes.max(1 << 20)
        )
        .as_bytes(),
    );
    out.extend_from_slice(format!("ARGV {}\n", argv.len()).as_bytes());
    for arg in argv {
        out.extend_from_slice(STANDARD.encode(arg).as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(format!("ENV {}\n", env.len()).as_bytes());
    for (name, value) in env {
        out.extend_from_slice(STANDARD.encode(format!("{name}={value}")).as_bytes());
        out.push(b'\n');
    }
    let stdin = STANDARD.encode(stdin);
    out.extend_from_slice(format!("STDIN {}\n", stdin.len()).as_bytes());
    out.extend_from_slice(stdin.as_bytes());
    out
}

/// The most bytes a well-formed answer for `output_cap` can take: two capped streams in
/// base64 with a newline per 76 characters, and the header lines.
pub(crate) fn max_answer_len(output_cap: usize) -> usize {
    let encoded = output_cap.div_ceil(3).saturating_mul(4);
    let stream = encoded.saturating_add(encoded / 76 + 1);
    stream.saturating_mul(2).saturating_add(4096)
}

/// Whether `received` (everything after `AECL-READY`) holds a whole answer: its end
/// marker, or a first line that is not an answer's (a failure, or garbage for the parser
/// to reject at once rather than wait for the deadline).
pub(crate) fn answer_complete(received: &[u8]) -> bool {
    match received.iter().position(|b| *b == b'\n') {
        None => false,
        Some(end) if received.get(..end) == Some(b"AECL-ANSWER 1".as_slice()) => {
            received.ends_with(END)
        }
        Some(_) => true,
    }
}

/// What the guest reported of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) code: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_total: u64,
    pub(crate) stderr: Vec<u8>,
    pub(crate) stderr_total: u64,
}

/// An answer that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnswerError {
    /// The guest's init said it could not run the command.
    Failed(String),
    /// The bytes do not follow the grammar.
    Malformed(String),
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerError::Failed(why) => write!(f, "the guest could not run the command: {why}"),
            AnswerError::Malformed(why) => write!(f, "malformed answer from the guest: {why}"),
        }
    }
}

/// Parses a whole answer; each stream may hold at most `output_cap` bytes.
pub(crate) fn parse_answer(bytes: &[u8], output_cap: usize) -> Result<Answer, AnswerError> {
    let malformed = |why: &str| AnswerError::Malformed(why.to_owned());
    if let Some(reason) = bytes.strip_prefix(FAIL) {
        let line = reason.split(|b| *b == b'\n').next().unwrap_or_default();
        return Err(AnswerError::Failed(printable(line)));
    }
    let body = bytes.strip_suffix(b"\n").ok_or_else(|| malformed("no final newline"))?;
    let mut lines = body.split(|b| *b == b'\n');
    expect_line(lines.next(), b"AECL-ANSWER 1")?;
    let code = keyed_number(lines.next(), "EXIT")?;
    let code = i32::try_from(code)
        .ok()
        .filter(|c| (0..=255).contains(c))
        .ok_or_else(|| malformed("EXIT: expected a status from 0 to 255"))?;
    let stdout_total = keyed_number(lines.next(), "STDOUT")?;
    let (stdout, next) = base64_until(&mut lines, output_cap, "stdout")?;
    let stderr_total = keyed_number(next, "STDERR")?;
    let (stderr, next) = base64_until(&mut lines, output_cap, "stderr")?;
    expect_line(next, b"AECL-END")?;
    if lines.next().is_some() {
        return Err(malformed("bytes after AECL-END"));
    }
    for (name, kept, total) in
        [("stdout", &stdout, stdout_total), ("stderr", &stderr, stderr_total)]
    {
        // The guest sends the first `output_cap` bytes of each stream and its full size.
        let expected = total.min(output_cap as u64);
        if kept.len() as u64 != expected {
            return Err(AnswerError::Malformed(format!(
                "{name}: {} bytes sent of {total}, expected {expected}",
                kept.len()
            )));
        }
    }
    Ok(Answer { code, stdout, stdout_total, stderr, stderr_total })
}

fn expect_line(line: Option<&[u8]>, expected: &[u8]) -> Result<(), AnswerError> {
    match line {
        Some(line) if line == expected => Ok(()),
        Some(line) => Err(AnswerError::Malformed(format!(
            "expected `{}`, got `{}`",
            printable(expected),
            printable(line)
        ))),
        None => Err(AnswerError::Malformed(format!("`{}` is missing", printable(expected)))),
    }
}

/// `KEY n` with n a decimal number (busybox `wc -c` may pad it with spaces).
fn keyed_number(line: Option<&[u8]>, key: &str) -> Result<u64, AnswerError> {
    let line = line.ok_or_else(|| AnswerError::Malformed(format!("`{key}` is missing")))?;
    let text = std::str::from_utf8(line).ok();
    text.and_then(|t| t.strip_prefix(key))
        .and_then(|rest| rest.strip_prefix(' '))
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| {
            AnswerError::Malformed(format!("expected `{key} <number>`, got `{}`", printable(line)))
        })
}

/// Base64 lines up to the next line that is not base64, which is returned with the
/// decoded bytes.
fn base64_until<'a>(
    lines: &mut impl Iterator<Item = &'a [u8]>,
    output_cap: usize,
    stream: &str,
) -> Result<(Vec<u8>, Option<&'a [u8]>), AnswerError> {
    let limit = output_cap.div_ceil(3).saturating_mul(4);
    let mut encoded = Vec::new();
    for line in lines.by_ref() {
        let is_base64 = !line.is_empty()
            && line.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if !is_base64 {
            let decoded = STANDARD
                .decode(&encoded)
                .map_err(|e| AnswerError::Malformed(format!("{stream}: not base64 ({e})")))?;
            return Ok((decoded, Some(line)));
        }
        if encoded.len() + line.len() > limit {
            return Err(AnswerError::Malformed(format!(
                "{stream}: more than the {output_cap} bytes asked for"
            )));
        }
        encoded.extend_from_slice(line);
    }
    Err(AnswerError::Malformed(format!("{stream}: the answer ends inside it")))
}

/// Guest bytes for a message: lossy UTF-8, control characters escaped, at most 200 chars.
pub(crate) fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for c in text.chars().take(200) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}
