//! What runsc leaves to read once it has ended: its own log (JSON lines: why it failed)
//! and the panic log of gVisor's kernel (`--panic-log`: why the kernel stopped).

/// Why gVisor's kernel stopped, from its panic log: the first line of a Go panic, or of a
/// fatal runtime error with the `runtime:` lines that explain it just before (the
/// goroutine dumps after either are not for the report). At most
/// [`MAX_STOPPED_BYTES`]: the report goes into the audit record.
pub(super) fn kernel_stopped(panic_log: &str) -> Option<String> {
    let lines: Vec<&str> = panic_log.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|line| line.starts_with("panic: ") || line.starts_with("fatal error: "))?;
    let mut from = at;
    while from > 0
        && lines[at].starts_with("fatal error: ")
        && lines[from - 1].starts_with("runtime: ")
    {
        from -= 1;
    }
    let mut said = lines[from..=at].join("; ");
    if said.len() > MAX_STOPPED_BYTES {
        let mut end = MAX_STOPPED_BYTES;
        while !said.is_char_boundary(end) {
            end -= 1;
        }
        said.truncate(end);
        said.push('…');
    }
    Some(said)
}

/// The most of a stopped kernel's reason kept (see [`kernel_stopped`]).
const MAX_STOPPED_BYTES: usize = 400;

/// The last error runsc logged (its log is JSON lines), if any.
pub(super) fn logged_error(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["level"] == "error")
        .find_map(|entry| entry["msg"].as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_kernel_is_told_by_its_first_line_and_what_explains_it() {
        let panicked = "panic: unable to activate mm: createStub: failed to get clone\n\n\
                        goroutine 161 gp=0xc0003fc1c0 m=11 [running]:\n\
                        panic({0x10e5ea0?, 0xc00052aa50?})\n";
        assert_eq!(
            kernel_stopped(panicked).as_deref(),
            Some("panic: unable to activate mm: createStub: failed to get clone")
        );
        let fatal = "runtime: failed to create new OS thread (have 12 already; errno=11)\n\
                     runtime: may need to increase max user processes (ulimit -u)\n\
                     fatal error: newosproc\n\ngoroutine 1 [running]:\n";
        assert_eq!(
            kernel_stopped(fatal).as_deref(),
            Some(
                "runtime: failed to create new OS thread (have 12 already; errno=11); \
                 runtime: may need to increase max user processes (ulimit -u); \
                 fatal error: newosproc"
            )
        );
        // An empty log (the kernel did not stop) and runsc's own chatter say nothing.
        assert_eq!(kernel_stopped(""), None);
        assert_eq!(kernel_stopped("runtime: something\nI1128 info line\n"), None);
        // A long reason is cut on a character boundary.
        let long = format!("panic: {}\n", "é".repeat(400));
        let said = kernel_stopped(&long).unwrap();
        assert!(said.len() <= MAX_STOPPED_BYTES + '…'.len_utf8() && said.ends_with('…'));
    }

    #[test]
    fn runsc_errors_are_read_from_its_json_log() {
        let log = "{\"msg\":\"starting\",\"level\":\"info\"}\n\
                   {\"msg\":\"error finding executable \\\"x\\\" in PATH\",\"level\":\"error\"}\n";
        assert_eq!(logged_error(log).as_deref(), Some("error finding executable \"x\" in PATH"));
        assert_eq!(logged_error("not json\n{\"level\":\"info\",\"msg\":\"ok\"}"), None);
    }
}
