//! The sandbox's root file system, built in its own mount namespace: a tmpfs holding
//! read-only binds of the system directories, a synthetic `/etc`, a minimal `/dev` of
//! device binds, a fresh `/proc` of the sandbox's PID namespace, size-limited tmpfs work
//! dir and `/tmp`, the policy's binds, then `pivot_root` into it and the old root
//! detached. Host `/sys`, `/dev/shm`, `/home`, `/root` and everything not listed here
//! do not exist inside.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::statvfs::{FsFlags, statvfs};

use super::pinned;
use crate::spec::{EGRESS_SOCKET, Spec, WORK_DIR};

/// Host directories bound read-only at the same place (symlinks, as on merged-/usr
/// systems, are recreated as symlinks).
pub(crate) const SYSTEM_DIRS: &[&str] =
    &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Host files and directories of `/etc` programs need (the dynamic linker's cache,
/// `alternatives` symlinks, certificates, the time zone), bound read-only when present.
pub(crate) const ETC_BINDS: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/localtime",
];

/// Device nodes bound from the host.
pub(crate) const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

#[derive(Debug)]
pub(crate) enum MountError {
    /// The namespace does not let us mount at all: the caller may fall back.
    Denied(String),
    Other(String),
}

pub(crate) fn build_root(spec: &Spec) -> Result<(), MountError> {
    // Nothing done here may propagate back to the host's mounts.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| MountError::Denied(format!("making mounts private: {e}")))?;
    let root = spec.root_dir.as_path();
    // Every tmpfs here bounds its files as well as its bytes (`nr_inodes`): an empty
    // file costs no bytes, but a kilobyte of the host's kernel memory.
    tmpfs(root, "mode=0755,size=4m,nr_inodes=4096", MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
        .map_err(MountError::Denied)?;
    build_tree(spec, root).map_err(MountError::Other)?;
    pivot(root).map_err(MountError::Other)?;
    // The root itself is read-only; the work dir, /tmp, /dev/shm and writable binds are
    // separate mounts and stay writable.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| MountError::Other(format!("making the root read-only: {e}")))
}

fn build_tree(spec: &Spec, root: &Path) -> Result<(), String> {
    for dir in SYSTEM_DIRS {
        let host = Path::new(dir);
        let inside = under(root, host);
        match fs::symlink_metadata(host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(host).map_err(|e| format!("reading `{dir}`: {e}"))?;
                symlink(&target, &inside).map_err(|e| format!("linking `{dir}`: {e}"))?;
            }
            Ok(meta) if meta.is_dir() => bind(host, &inside, false)?,
            _ => {}
        }
    }
    etc(root)?;
    dev(root)?;
    mkdir(&under(root, Path::new("/proc")))?;
    mount(
        Some("proc"),
        &under(root, Path::new("/proc")),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("mounting /proc: {e}"))?;
    let size = format!("mode=0755,{}", super::enforce::tmpfs_options(&spec.limits));
    for dir in [WORK_DIR, "/tmp"] {
        let inside = under(root, Path::new(dir));
        mkdir(&inside)?;
        tmpfs(&inside, &size, MsFlags::MS_NOSUID | MsFlags::MS_NODEV)?;
    }
    if let Some(egress) = &spec.egress {
        let inside = under(root, Path::new(EGRESS_SOCKET));
        if let Some(parent) = inside.parent() {
            mkdir(parent)?;
        }
        fs::write(&inside, b"")
            .map_err(|e| format!("creating the egress socket's mount point: {e}"))?;
        bind(&egress.socket, &inside, false)?;
    }
    for b in crate::binds::with_intermediates(&spec.binds) {
        bind_pinned(root, &b.path, b.writable)?;
    }
    Ok(())
}

/// Binds the policy's `host` path at the same place under `root`, through descriptors
/// opened without following any link (`pinned.rs`): a bind inside a writable one is where
/// sandboxed commands could have put links, on the host side and on the mount point's.
fn bind_pinned(root: &Path, host: &Path, writable: bool) -> Result<(), String> {
    let source = pinned::open_plain(host)?;
    let point = pinned::make_beneath(root, host, source.is_dir)?;
    mount(
        Some(&source.proc_path()),
        &point.proc_path(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("binding `{}`: {e}", host.display()))?;
    // The mount's own root, opened again through no link: a remount names the mount.
    let mounted = pinned::open_plain(&under(root, host))?;
    restrict(&mounted.proc_path(), host, writable)
}

/// A synthetic `/etc`: the sandbox's own user and host names, and read-only binds of the
/// few host files programs need. Host secrets (`shadow`, keys) are never there.
fn etc(root: &Path) -> Result<(), String> {
    let etc = under(root, Path::new("/etc"));
    mkdir(&etc)?;
    let files: &[(&str, &str)] = &[
        ("passwd", "root:x:0:0:sandbox:/work:/bin/sh\nnobody:x:65534:65534::/:/usr/sbin/nologin\n"),
        ("group", "root:x:0:\nnogroup:x:65534:\n"),
        ("hostname", "aecl-sandbox\n"),
        ("hosts", "127.0.0.1 localhost aecl-sandbox\n::1 localhost\n"),
        ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"),
        ("resolv.conf", ""),
    ];
    for (name, text) in files {
        fs::write(etc.join(name), text).map_err(|e| format!("writing /etc/{name}: {e}"))?;
    }
    for host in ETC_BINDS {
        let host = Path::new(host);
        if host.exists() {
            bind(host, &under(root, host), false)?;
        }
    }
    Ok(())
}

/// A `/dev` with only harmless devices, the usual symlinks and a private `/dev/shm`.
fn dev(root: &Path) -> Result<(), String> {
    let dev = under(root, Path::new("/dev"));
    mkdir(&dev)?;
    tmpfs(&dev, "mode=0755,size=64k,nr_inodes=64", MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC)?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        bind(&host, &dev.join(name), true)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(link)).map_err(|e| format!("linking /dev/{link}: {e}"))?;
    }
    let shm = dev.join("shm");
    mkdir(&shm)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    tmpfs(&shm, "mode=1777,size=1m,nr_inodes=256", flags)
}

/// `pivot_root` into `root` with the old root stacked under it, then detached.
fn pivot(root: &Path) -> Result<(), String> {
    nix::unistd::chdir(root).map_err(|e| format!("entering the new root: {e}"))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| format!("pivot_root: {e}"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| format!("detaching the old root: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("entering /: {e}"))
}

/// Binds `host` at `inside` (made to match: a directory or an empty file), read-only
/// unless `writable`. Not recursive: mounts under `host` are not carried in. For the
/// system's own paths (links there, such as `/etc/localtime`, are the host's and are
/// followed); the policy's binds go through `bind_pinned`.
fn bind(host: &Path, inside: &Path, writable: bool) -> Result<(), String> {
    let meta = fs::metadata(host).map_err(|e| format!("bind `{}`: {e}", host.display()))?;
    if meta.is_dir() {
        mkdir(inside)?;
    } else {
        if let Some(parent) = inside.parent() {
            mkdir(parent)?;
        }
        fs::write(inside, b"").map_err(|e| format!("bind `{}`: {e}", inside.display()))?;
    }
    mount(Some(host), inside, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| format!("binding `{}`: {e}", host.display()))?;
    restrict(inside, host, writable)
}

/// Remounts the bind at `inside` (of `host`) read-only unless `writable`, and nosuid.
fn restrict(inside: &Path, host: &Path, writable: bool) -> Result<(), String> {
    // A remount must keep the flags the host's mount has (the kernel locks them in a
    // user namespace), adding read-only and nosuid.
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | locked(inside);
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, inside, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("restricting the bind of `{}`: {e}", host.display()))
}

/// The flags of the mount at `path` that a remount in a user namespace must keep.
fn locked(path: &Path) -> MsFlags {
    let Ok(stat) = statvfs(path) else { return MsFlags::empty() };
    let flags = stat.flags();
    let mut out = MsFlags::empty();
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if flags.contains(fs_flag) {
            out |= ms_flag;
        }
    }
    out
}

pub(crate) fn tmpfs(at: &Path, options: &str, flags: MsFlags) -> Result<(), String> {
    mount(Some("tmpfs"), at, Some("tmpfs"), flags, Some(options)).map_err(|e| match e {
        Errno::EPERM => format!("mounting a tmpfs at `{}` is not permitted", at.display()),
        e => format!("mounting a tmpfs at `{}`: {e}", at.display()),
    })
}

fn mkdir(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("creating `{}`: {e}", path.display()))
}

/// `inside` (an absolute path) under `root`.
fn under(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}
