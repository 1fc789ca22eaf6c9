//! The seccomp filter: system calls the command never needs and that open ways out of a
//! sandbox or into the kernel's less-travelled code fail with `EPERM` (a program probing
//! for them carries on; one that insists gets an error). `clone3` fails with `ENOSYS` so
//! that libc falls back to `clone`, whose namespace flags the filter can see. Another
//! architecture's system calls and the x32 ABI kill the process.
//!
//! A file the command writes into a writable bind outlives the sandbox on the host: a mode
//! with the set-user-id or set-group-id bit (`chmod 4755`, a file created with one) would
//! leave a program there that runs as the sandbox's host user, aecl's own when aecl is not
//! root, for whoever starts it (red team round 22, sandbox F1). Every call that gives a
//! file its mode fails with `EPERM` when the mode holds either bit.
//!
//! System calls numbered past the newest one this filter was written for fail with
//! `ENOSYS`, as on an older kernel: a kernel's new calls (`open_tree_attr` reopened the
//! mount family the list denies; round 22, F2) reach the command only once they are
//! judged here.
//!
//! The fallback, which has no network namespace of its own, adds a third filter
//! ([`apply_fallback_network`]): it may open no socket (`socketpair` aside).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// `statmount` and `listmount` (Linux 6.8; one number on every architecture), which the
/// `libc` crate does not name yet.
const SYS_STATMOUNT: libc::c_long = 457;
const SYS_LISTMOUNT: libc::c_long = 458;
/// `fchmodat2` (Linux 6.6), which the `libc` crate names on x86-64 alone.
const SYS_FCHMODAT2: libc::c_long = 452;

/// Denied outright, whatever their arguments.
const DENIED: &[libc::c_long] = &[
    // Debugging and reading other processes.
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    // The mount family and namespaces.
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    // Newer members of the mount family: a mount's and the system's mounts read.
    SYS_STATMOUNT,
    SYS_LISTMOUNT,
    // Kernel interfaces with a history of escapes.
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_bpf,
    libc::SYS_userfaultfd,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fanotify_init,
    // Memory the kernel itself cannot read: nothing a command needs.
    libc::SYS_memfd_secret,
    // The machine itself.
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    // Segment descriptors of the process's own: a history of kernel bugs, no use to a
    // command (Docker's default profile refuses it too).
    #[cfg(target_arch = "x86_64")]
    libc::SYS_modify_ldt,
];

/// The execution domains `personality` may set (Docker's default profile's): the default,
/// the 32-bit one, `uname` reporting 2.6, and the query. Others (`READ_IMPLIES_EXEC`, which
/// makes every readable mapping executable; `ADDR_NO_RANDOMIZE`, which turns address
/// randomisation off for what the command runs next) weaken the command's own defences.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// The newest system call number this filter was written for (`removexattrat`, Linux
/// 6.13): every later one fails with `ENOSYS`.
const NEWEST_KNOWN: u32 = 466;

/// Calls that give a file its mode, with the mode's argument (from 0): refused when it
/// holds a set-id bit. `open`, `openat` and `creat` only use it to create a file;
/// `openat2` carries it in a structure the filter cannot read, so it fails with `ENOSYS`
/// (libc and programs then use `openat`).
const MODE_ARGUMENTS: &[(libc::c_long, u8)] = &[
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_chmod, 1),
    (libc::SYS_fchmod, 1),
    (libc::SYS_fchmodat, 2),
    (SYS_FCHMODAT2, 2),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_open, 2),
    (libc::SYS_openat, 3),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_creat, 1),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_mknod, 1),
    (libc::SYS_mknodat, 2),
];

/// The set-user-id and set-group-id bits of a mode.
const SET_ID_BITS: &[u64] = &[libc::S_ISUID as u64, libc::S_ISGID as u64];

/// Namespace flags that `clone` must not carry.
const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWTIME as u64,
];

/// Socket families the command may not open.
const DENIED_FAMILIES: &[u64] = &[libc::AF_VSOCK as u64, libc::AF_PACKET as u64];

/// `ioctl` requests that push input into a terminal (`TIOCSTI`) or reach the console.
const DENIED_IOCTLS: &[u64] = &[libc::TIOCSTI, libc::TIOCLINUX];

/// Builds and applies both filters to this process; they are inherited across `fork`
/// and `execve`. Needs `no_new_privs` (set by the caller).
pub(crate) fn apply() -> Result<(), String> {
    for program in [deny_filter()?, enosys_filter()?] {
        seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))?;
    }
    Ok(())
}

fn deny_filter() -> Result<BpfProgram, String> {
    let err = |e: seccompiler::BackendError| format!("seccomp: {e}");
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in DENIED {
        rules.insert(*nr, Vec::new());
    }
    let any_of = |arg: u8, values: &[u64], op: fn(u64) -> SeccompCmpOp| {
        values
            .iter()
            .map(|v| {
                SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op(*v), *v)
                    .and_then(|c| SeccompRule::new(vec![c]))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    rules.insert(libc::SYS_clone, any_of(0, NAMESPACE_FLAGS, SeccompCmpOp::MaskedEq).map_err(err)?);
    // The family is an `int`: compared on its low 32 bits, which are all the kernel reads
    // (a family with garbage in the high half would pass a 64-bit comparison).
    let families = DENIED_FAMILIES
        .iter()
        .map(|family| int_rule(&[(0, SeccompCmpOp::Eq, *family)]))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    rules.insert(libc::SYS_socket, families);
    let ioctls = DENIED_IOCTLS
        .iter()
        .map(|v| {
            // The request is an `unsigned int`: compare the low 32 bits only, so a
            // request with garbage in the high half cannot slip past.
            SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, *v)
                .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    rules.insert(libc::SYS_ioctl, ioctls);
    // The persona is an `unsigned int`: refused unless it is one of those allowed.
    let other_persona: Vec<_> =
        PERSONALITIES.iter().map(|persona| (0, SeccompCmpOp::Ne, *persona)).collect();
    rules.insert(libc::SYS_personality, vec![int_rule(&other_persona).map_err(err)?]);
    for (nr, arg) in MODE_ARGUMENTS {
        // A mode is a `mode_t` (32 bits): the low half is what the kernel reads.
        let set_id = SET_ID_BITS
            .iter()
            .map(|bit| {
                SeccompCondition::new(
                    *arg,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::MaskedEq(*bit),
                    *bit,
                )
                .and_then(|c| SeccompRule::new(vec![c]))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        rules.insert(*nr, set_id);
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .map_err(err)?;
    let program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e}"))?;
    Ok(with_x32_guard(with_newer_calls_refused(program)))
}

/// Prepends to `program` a check that fails every system call numbered past
/// [`NEWEST_KNOWN`] with `ENOSYS` (those of the x32 range, bit 30 set, are killed before
/// it by [`with_x32_guard`]).
fn with_newer_calls_refused(program: BpfProgram) -> BpfProgram {
    const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const BPF_JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
    const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let enosys = libc::SECCOMP_RET_ERRNO | (libc::ENOSYS as u32 & libc::SECCOMP_RET_DATA);
    let mut guarded = vec![
        // Offset 0 of `seccomp_data` is the system call number.
        sock_filter { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: 0 },
        sock_filter { code: BPF_JGT_K, jt: 0, jf: 1, k: NEWEST_KNOWN },
        sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: enosys },
    ];
    guarded.extend(program);
    guarded
}

/// The fallback's network, where the command shares the host's network namespace and
/// nothing but a namespace could confine where a socket connects (Landlock's TCP rules
/// name ports on every address; a `connect`'s address is behind a pointer seccomp cannot
/// read): so the fallback runs no command that allows hosts, and this filter makes
/// `socket` fail for every family (UDP, TCP, raw, Unix pathname sockets of the host,
/// which Landlock does not mediate, netlink and the rest). `socketpair` stays, its ends
/// connected to each other only.
pub(crate) fn apply_fallback_network() -> Result<(), String> {
    let program = fallback_network_filter()?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))
}

fn fallback_network_filter() -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_socket, Vec::new());
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .map_err(|e| format!("seccomp: {e}"))?;
    filter.try_into().map_err(|e| format!("seccomp: {e}"))
}

/// A rule matching when every condition holds, each on an `int` argument: only its low 32
/// bits are compared, as the kernel reads only those.
fn int_rule(
    conditions: &[(u8, SeccompCmpOp, u64)],
) -> Result<SeccompRule, seccompiler::BackendError> {
    let conditions = conditions
        .iter()
        .map(|(arg, op, value)| {
            SeccompCondition::new(*arg, SeccompCmpArgLen::Dword, op.clone(), *value)
        })
        .collect::<Result<Vec<_>, _>>()?;
    SeccompRule::new(conditions)
}

fn enosys_filter() -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_clone3, Vec::new());
    rules.insert(libc::SYS_openat2, Vec::new());
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        ARCH,
    )
    .map_err(|e| format!("seccomp: {e}"))?;
    filter.try_into().map_err(|e| format!("seccomp: {e}"))
}

/// Prepends to `program` a check that kills any system call numbered in the x32 range
/// (bit 30 set): x32 calls arrive with the x86-64 architecture token and their own
/// numbers, which a filter keyed on x86-64 numbers would otherwise allow.
fn with_x32_guard(program: BpfProgram) -> BpfProgram {
    const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    if !cfg!(target_arch = "x86_64") {
        return program;
    }
    let mut guarded = vec![
        // Offset 0 of `seccomp_data` is the system call number.
        sock_filter { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: 0 },
        sock_filter { code: BPF_JGE_K, jt: 0, jf: 1, k: X32_SYSCALL_BIT },
        sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_KILL_PROCESS },
    ];
    guarded.extend(program);
    guarded
}
