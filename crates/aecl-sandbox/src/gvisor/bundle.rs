//! The OCI bundle of one `gvisor` run (runtime-spec 1.0): a root directory holding only
//! mount points, symlinks and a synthetic `/etc`, and a `config.json` that mounts the
//! system directories read-only over it, gives the command a size-limited tmpfs work dir
//! and `/tmp`, the request's binds, no capabilities, `noNewPrivileges`, rlimits, memory
//! and pid limits, and a seccomp filter (applied by gVisor's kernel, `--oci-seccomp`)
//! that refuses what the process tier refuses (but `clone3`: see [`seccomp`]), under the
//! process tier's own filter, which the helper bound in applies before it becomes the
//! command.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _, symlink};
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use crate::error::SandboxError;
use crate::helper::mounts::{ETC_BINDS, SYSTEM_DIRS};
use crate::spec::{Bind, EGRESS_SOCKET, Limits, WORK_DIR};

/// Where the helper executable is bound inside: it starts the command.
pub(crate) const HELPER_INSIDE: &str = "/run/aecl/aecl-sandbox";

/// What the bundle runs and with what.
#[derive(Debug)]
pub(crate) struct Contents<'a> {
    /// The container's id: its host cgroups are `/ID` in each hierarchy (`host_cgroups`).
    pub(crate) container: &'a str,
    /// The uid and gid the command runs as: never 0.
    pub(crate) uid: u32,
    pub(crate) args: &'a [String],
    pub(crate) env: &'a [(String, String)],
    pub(crate) binds: &'a [Bind],
    pub(crate) limits: Limits,
    /// The egress proxy's socket on the host, bound in when hosts are allowed.
    pub(crate) egress: Option<&'a Path>,
    /// The helper executable on the host, bound in: it starts the command
    /// (`helper::gvisor_init`).
    pub(crate) helper: &'a Path,
}

/// A bind as runsc is given it: at `at`, in the sandbox's own directory, where the
/// launcher mounts the directory or file `pinned` opened (through no link) in runsc's
/// mount namespace before runsc starts (`gvisor::stage_binds`). runsc resolves a bind's
/// source itself, later: given the host path, it would follow a link a concurrent
/// sandbox sharing a writable bind put there meanwhile; `at` is root's alone.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) pinned: crate::helper::pinned::Pinned,
    pub(crate) at: PathBuf,
}

/// The bundle written ([`write`]).
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) bundle: PathBuf,
    pub(crate) staged: Vec<Staged>,
}

/// Writes the bundle into `dir` (which must be empty but for what the caller keeps
/// there): its directory, and the binds to stage before runsc starts.
pub(crate) fn write(dir: &Path, contents: &Contents<'_>) -> Result<Written, SandboxError> {
    let bundle = dir.join("bundle");
    let rootfs = bundle.join("rootfs");
    mkdir(&rootfs)?;
    // The bundle's `config.json` holds the command's environment (its `env` and `pass_env`
    // secrets among it): for runsc (the launcher's user) alone.
    fs::set_permissions(&bundle, fs::Permissions::from_mode(0o700))
        .map_err(|e| io("securing the bundle's directory", e))?;
    let mut mounts = vec![json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "nodev", "noexec"]})];
    mkdir(&rootfs.join("proc"))?;
    for dir in SYSTEM_DIRS {
        let host = Path::new(dir);
        let inside = under(&rootfs, host);
        match fs::symlink_metadata(host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(host).map_err(|e| io(&format!("reading `{dir}`"), e))?;
                symlink(&target, &inside).map_err(|e| io(&format!("linking `{dir}`"), e))?;
            }
            Ok(meta) if meta.is_dir() => mounts.push(bind(&rootfs, host, false)?),
            _ => {}
        }
    }
    etc(&rootfs, contents.uid)?;
    for host in ETC_BINDS {
        let host = Path::new(host);
        if host.exists() {
            mounts.push(bind(&rootfs, host, false)?);
        }
    }
    // gVisor's tmpfs honours `size`: the work dir and /tmp live in the sandbox's memory
    // and can never fill the host's disk. `nr_inodes` bounds the files as on the other
    // tiers (derived from the work size, `Limits::work_inodes`); runsc 2024-07 accepts
    // the option without enforcing it (measured: 3000 empty files under
    // `nr_inodes=256`), so there the files are bounded only by the sentry's memory.
    let size = contents.limits.work_bytes;
    let inodes = contents.limits.work_inodes();
    for dir in [WORK_DIR, "/tmp"] {
        mkdir(&under(&rootfs, Path::new(dir)))?;
        mounts.push(json!({
            "destination": dir, "type": "tmpfs", "source": "tmpfs",
            "options": [
                "nosuid", "nodev", format!("size={size}"), format!("nr_inodes={inodes}"),
                "mode=1777",
            ],
        }));
    }
    if let Some(socket) = contents.egress {
        mounts.push(bind_at(&rootfs, socket, Path::new(EGRESS_SOCKET), false)?);
    }
    mounts.push(bind_at(&rootfs, contents.helper, Path::new(HELPER_INSIDE), false)?);
    let stage = dir.join("binds");
    let mut staged = Vec::new();
    for (i, b) in crate::binds::with_intermediates(contents.binds).iter().enumerate() {
        check_bind(&b.path)?;
        // A link on the way now (which a command of an earlier run may have made inside a
        // writable bind) is refused here, as the process tier refuses it
        // (`helper/pinned.rs`); what is opened is what runsc is given, staged.
        let pinned = crate::helper::pinned::open_plain(&b.path).map_err(SandboxError::Helper)?;
        if i == 0 {
            mkdir(&stage)?;
            fs::set_permissions(&stage, fs::Permissions::from_mode(0o700))
                .map_err(|e| io("the staged binds' directory", e))?;
        }
        let at = stage.join(i.to_string());
        if pinned.is_dir {
            mkdir(&at)?;
        } else {
            fs::write(&at, b"").map_err(|e| io("a staged bind's mount point", e))?;
        }
        mounts.push(mount(&rootfs, &at, &b.path, pinned.is_dir, b.writable)?);
        staged.push(Staged { pinned, at });
    }
    let config = config(contents, mounts);
    let text = serde_json::to_vec_pretty(&config)
        .map_err(|e| SandboxError::Helper(format!("writing the OCI config: {e}")))?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(bundle.join("config.json"))
        .map_err(|e| io("writing the bundle's config.json", e))?;
    file.write_all(&text).map_err(|e| io("writing the bundle's config.json", e))?;
    Ok(Written { bundle, staged })
}

/// The pid limit of the sandbox's host cgroup, where runsc puts gVisor's kernel with its
/// threads, its gofer and (under `systrap`) a stub process for each of the command's
/// address spaces: room for all of them with the command at its own limit (`RLIMIT_NPROC`).
/// A fork bomb held at 64 took 102 host processes, at 256 took 371 (runsc 20240729,
/// `systrap`). A kernel that cannot start a host process stops, ending the run, so this
/// backstop must be the looser of the two; it still bounds what a sandbox takes of the host.
fn host_pids(pids: u64) -> u64 {
    pids.saturating_mul(2).saturating_add(64)
}

fn config(contents: &Contents<'_>, mounts: Vec<Value>) -> Value {
    let limits = contents.limits;
    let env: Vec<String> = contents.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let rlimit = |kind: &str, value: u64| json!({"type": kind, "hard": value, "soft": value});
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": contents.uid, "gid": contents.uid},
            "args": contents.args,
            "env": env,
            "cwd": WORK_DIR,
            "capabilities": {
                "bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": [],
            },
            "noNewPrivileges": true,
            "rlimits": [
                rlimit("RLIMIT_NOFILE", limits.open_files),
                rlimit("RLIMIT_FSIZE", limits.file_bytes),
                rlimit("RLIMIT_CPU", limits.cpu_seconds),
                rlimit("RLIMIT_CORE", 0),
                // The pid limit, held by gVisor's kernel: a fork past it fails in the
                // sandbox, as under the process tier's cgroup (the command never runs as
                // root, whom the limit would not bind). One more for the helper, the
                // container's init, which waits for the command (`helper/gvisor_init.rs`).
                rlimit("RLIMIT_NPROC", limits.pids.saturating_add(1)),
            ],
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "aecl-sandbox",
        "mounts": mounts,
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                {"type": "mount"},
            ],
            "cgroupsPath": format!("/{}", contents.container),
            "resources": {
                "memory": {"limit": limits.memory_bytes},
                "pids": {"limit": host_pids(limits.pids)},
            },
            "seccomp": seccomp(),
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"],
        },
    })
}

/// System calls refused with `EPERM` whatever their arguments: the process tier's list
/// (`helper::seccomp`), by name. gVisor implements few of them at all; refusing them in
/// its kernel makes the answer the same as the process tier's.
const DENIED: &[&str] = &[
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "userfaultfd",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "quotactl",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "vhangup",
    "iopl",
    "ioperm",
];

/// The OCI seccomp profile: `EPERM` for [`DENIED`], for `clone` with a namespace flag,
/// for vsock and packet sockets and for `TIOCSTI`/`TIOCLINUX`, as the process tier's
/// filter. The command also runs under that very filter, which the helper applies
/// inside before it becomes the command (`helper::gvisor_init`, `--seccomp`): this
/// profile is the same rules once more, applied by runsc.
///
/// Not `clone3`: this runsc answers every refusal with `EPERM` whatever `errnoRet` says,
/// and libc falls back to `clone` only on `ENOSYS`, so refusing `clone3` here would
/// refuse every thread. The helper's filter refuses it with `ENOSYS`, as in the process
/// tier (gVisor's kernel honours the errno of a filter the process installs itself).
///
/// And what the process tier refuses by other means than its filter, so that a command
/// gets the same answers in both (gVisor's kernel would allow them, if only inside
/// itself): `mknod` of a character or block device (the process tier's user namespace
/// has no `CAP_MKNOD` over any device) and ICMP datagram ("ping") sockets (its network
/// namespace's `ping_group_range` admits no group), both `EPERM` here where the process
/// tier says `EPERM` and `EACCES`.
fn seccomp() -> Value {
    let eperm = libc::EPERM;
    let mut rules = vec![json!({"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": eperm})];
    // The mode is `mknod`'s second argument and `mknodat`'s third; its type bits decide.
    for (name, index) in [("mknod", 1), ("mknodat", 2)] {
        for kind in [libc::S_IFCHR, libc::S_IFBLK] {
            rules.push(json!({
                "names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": eperm,
                "args": [{"index": index, "value": libc::S_IFMT, "valueTwo": kind,
                          "op": "SCMP_CMP_MASKED_EQ"}],
            }));
        }
    }
    // `SOCK_NONBLOCK` and `SOCK_CLOEXEC` ride in the type's high bits: compare the type.
    for (family, protocol) in
        [(libc::AF_INET, libc::IPPROTO_ICMP), (libc::AF_INET6, libc::IPPROTO_ICMPV6)]
    {
        rules.push(json!({
            "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": eperm,
            "args": [
                {"index": 0, "value": family, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": SOCK_TYPE_MASK, "valueTwo": libc::SOCK_DGRAM,
                 "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": protocol, "op": "SCMP_CMP_EQ"},
            ],
        }));
    }
    let namespace_flags = [
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWNS,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWCGROUP,
        libc::CLONE_NEWTIME,
    ];
    for flag in namespace_flags {
        rules.push(json!({
            "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": eperm,
            "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
        }));
    }
    for family in [libc::AF_VSOCK, libc::AF_PACKET] {
        rules.push(json!({
            "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": eperm,
            "args": [{"index": 0, "value": family, "op": "SCMP_CMP_EQ"}],
        }));
    }
    for request in [libc::TIOCSTI, libc::TIOCLINUX] {
        rules.push(json!({
            "names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": eperm,
            "args": [{"index": 1, "value": request, "op": "SCMP_CMP_EQ"}],
        }));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [if cfg!(target_arch = "aarch64") { "SCMP_ARCH_AARCH64" } else { "SCMP_ARCH_X86_64" }],
        "syscalls": rules,
    })
}

/// The bits of `socket`'s type argument that hold the type (`SOCK_TYPE_MASK` in Linux).
const SOCK_TYPE_MASK: i32 = 0xf;

/// The synthetic `/etc`: the sandbox's own user and host names; the few host files
/// programs need are bound over it (`ETC_BINDS`). Host secrets are never there.
fn etc(rootfs: &Path, uid: u32) -> Result<(), SandboxError> {
    let etc = rootfs.join("etc");
    mkdir(&etc)?;
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n\
         sandbox:x:{uid}:{uid}:sandbox:{WORK_DIR}:/bin/sh\n\
         nobody:x:65534:65534::/:/usr/sbin/nologin\n"
    );
    let group = format!("root:x:0:\nsandbox:x:{uid}:\nnogroup:x:65534:\n");
    let files: [(&str, &str); 6] = [
        ("passwd", &passwd),
        ("group", &group),
        ("hostname", "aecl-sandbox\n"),
        ("hosts", "127.0.0.1 localhost aecl-sandbox\n::1 localhost\n"),
        ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"),
        ("resolv.conf", ""),
    ];
    for (name, text) in files {
        fs::write(etc.join(name), text).map_err(|e| io(&format!("writing /etc/{name}"), e))?;
    }
    Ok(())
}

/// A read-only (unless `writable`) bind of `host` at the same path inside: the system's
/// own directories, which no sandbox writes.
fn bind(rootfs: &Path, host: &Path, writable: bool) -> Result<Value, SandboxError> {
    bind_at(rootfs, host, host, writable)
}

/// A bind of `host` at `inside`, whose mount point is made in the root directory (the
/// root is read-only: gVisor cannot make it).
fn bind_at(
    rootfs: &Path,
    host: &Path,
    inside: &Path,
    writable: bool,
) -> Result<Value, SandboxError> {
    let meta = fs::metadata(host).map_err(|e| io(&format!("bind `{}`", host.display()), e))?;
    mount(rootfs, host, inside, meta.is_dir(), writable)
}

/// A read-only (unless `writable`) bind of `source` (a directory when `dir`) at `inside`,
/// its mount point made in the root directory.
fn mount(
    rootfs: &Path,
    source: &Path,
    inside: &Path,
    dir: bool,
    writable: bool,
) -> Result<Value, SandboxError> {
    let point = under(rootfs, inside);
    if dir {
        mkdir(&point)?;
    } else {
        if let Some(parent) = point.parent() {
            mkdir(parent)?;
        }
        fs::write(&point, b"").map_err(|e| io(&format!("bind `{}`", inside.display()), e))?;
    }
    Ok(json!({
        "destination": inside, "type": "bind", "source": source,
        "options": ["bind", if writable { "rw" } else { "ro" }, "nosuid", "nodev"],
    }))
}

/// A bind's path must be absolute and plain: a `..` could put its mount point outside
/// the root directory on the host.
fn check_bind(path: &Path) -> Result<(), SandboxError> {
    let plain = path.is_absolute()
        && path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(SandboxError::Helper(format!(
            "bind `{}`: expected an absolute path without `.` or `..`",
            path.display()
        )))
    }
}

fn mkdir(path: &Path) -> Result<(), SandboxError> {
    fs::create_dir_all(path).map_err(|e| io(&format!("creating `{}`", path.display()), e))
}

/// `inside` (an absolute path) under `root`.
fn under(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

fn io(what: &str, e: std::io::Error) -> SandboxError {
    SandboxError::Io(what.to_owned(), e)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn contents<'a>(env: &'a [(String, String)], binds: &'a [Bind]) -> Contents<'a> {
        Contents {
            container: "test",
            uid: 1000,
            args: &[],
            env,
            binds,
            limits: Limits::default(),
            egress: None,
            helper: Path::new("/bin/sh"),
        }
    }

    /// The bundle's `config.json` holds the command's environment (its secrets): neither
    /// it nor its directory is readable by other users (red-team round 10).
    #[test]
    fn the_bundle_is_its_users_alone() {
        let dir = tempfile::tempdir().unwrap();
        let env = [("SECRET_TOKEN".to_owned(), "hunter2".to_owned())];
        let bundle = write(dir.path(), &contents(&env, &[])).unwrap().bundle;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&bundle), 0o700);
        assert_eq!(mode(&bundle.join("config.json")), 0o600);
        assert!(fs::read_to_string(bundle.join("config.json")).unwrap().contains("hunter2"));
    }

    /// runsc is never given a bind's host path, which it would resolve itself later (a
    /// concurrent sandbox sharing a writable bind could put a link on it meanwhile: the
    /// red team's round 19, 3 runs in 12): each bind's source is its staged mount point in
    /// the sandbox's directory, root's alone, where the descriptor opened now is mounted.
    #[test]
    fn runsc_is_given_each_bind_staged_not_its_host_path() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        fs::create_dir_all(base.join("ws/docs")).unwrap();
        fs::write(base.join("notes.txt"), "n").unwrap();
        let binds = [
            Bind { path: base.join("ws"), writable: true },
            Bind { path: base.join("ws/docs"), writable: false },
            Bind { path: base.join("notes.txt"), writable: false },
        ];
        let run = tempfile::tempdir().unwrap();
        let written = write(run.path(), &contents(&[], &binds)).unwrap();
        let config: Value =
            serde_json::from_slice(&fs::read(written.bundle.join("config.json")).unwrap()).unwrap();
        let stage = run.path().join("binds");
        assert_eq!(fs::metadata(&stage).unwrap().permissions().mode() & 0o777, 0o700);
        for bind in &binds {
            let mount = config["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["destination"] == json!(bind.path))
                .unwrap_or_else(|| panic!("no mount at {}", bind.path.display()));
            let source = PathBuf::from(mount["source"].as_str().unwrap());
            assert!(source.starts_with(&stage), "{}", source.display());
            let staged = written.staged.iter().find(|s| s.at == source).expect("staged");
            assert_eq!(staged.pinned.is_dir, bind.path.is_dir());
            assert_eq!(source.is_dir(), bind.path.is_dir());
        }
    }

    /// runsc follows a bind's source: a link on the way (one a command could have planted
    /// inside a writable bind) is refused before any bundle names it.
    #[test]
    fn a_bind_through_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        fs::create_dir_all(base.join("ws/x")).unwrap();
        symlink("/etc", base.join("ws/x/ro")).unwrap();
        let binds = [Bind { path: base.join("ws/x/ro"), writable: false }];
        let run = tempfile::tempdir().unwrap();
        let error = write(run.path(), &contents(&[], &binds)).unwrap_err().to_string();
        assert!(error.contains("is a symbolic link"), "{error}");
    }
}
