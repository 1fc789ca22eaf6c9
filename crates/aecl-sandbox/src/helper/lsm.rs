//! Landlock: which files the command may read, execute or write, which TCP ports it may
//! bind or connect to, and the scopes that keep it from abstract Unix sockets and
//! signals outside its own domain. In the namespace tier this is a second wall behind the
//! mount namespace; in the fallback it is the wall.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use super::mounts::{DEVICES, ETC_BINDS};
use crate::spec::{Bind, EGRESS_SOCKET, Spec, WORK_DIR};

/// The newest ABI whose rights we ask for; older kernels get what they support, and the
/// report says how much was enforced.
const TARGET_ABI: ABI = ABI::V6;

/// The paths the rules name, as the command sees them.
#[derive(Debug, Default)]
pub(crate) struct Paths {
    pub(crate) read_exec: Vec<PathBuf>,
    pub(crate) read_write: Vec<PathBuf>,
    /// The policy's binds, opened through no link (`pinned.rs`): a link inside a writable
    /// bind may be a sandboxed command's, and must not move a rule.
    binds: Vec<Bind>,
}

impl Paths {
    /// Inside the namespace tier's new root, which holds only what the sandbox may see:
    /// all of it readable, only the work dir, `/tmp`, `/dev/shm`, the devices and the
    /// writable binds writable.
    pub(crate) fn namespaces(spec: &Spec) -> Paths {
        let mut paths = Paths::system();
        paths.read_exec.push(PathBuf::from("/"));
        paths.read_write.extend([WORK_DIR, "/tmp", "/dev/shm"].map(PathBuf::from));
        if spec.egress.is_some() {
            paths.read_write.push(PathBuf::from(EGRESS_SOCKET));
        }
        paths.add_binds(spec);
        paths
    }

    /// On the host's own file system (the fallback): the system directories, the few
    /// `/etc` entries programs need, `/proc`, and the work dir. Refused when a read-only
    /// bind lies inside a writable one: Landlock adds rights along a tree, so nothing here
    /// could keep it read-only (the namespace tier remounts it read-only).
    pub(crate) fn fallback(spec: &Spec) -> Result<Paths, String> {
        if let Some((read_only, writable)) = crate::read_only_inside_writable(&spec.binds) {
            return Err(format!(
                "the read-only bind `{}` lies inside the writable bind `{}`: Landlock, the \
                 only wall without namespaces, cannot keep it read-only; nothing was run",
                read_only.display(),
                writable.display()
            ));
        }
        let mut paths = Paths::system();
        paths.read_exec.extend(ETC_BINDS.iter().map(PathBuf::from));
        paths.read_exec.push(PathBuf::from("/proc"));
        paths.read_write.push(spec.fallback_work_dir.clone());
        paths.add_binds(spec);
        Ok(paths)
    }

    fn system() -> Paths {
        let mut paths = Paths::default();
        paths
            .read_exec
            .extend(["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"].map(PathBuf::from));
        paths.read_write.extend(DEVICES.iter().map(|d| Path::new("/dev").join(d)));
        paths
    }

    fn add_binds(&mut self, spec: &Spec) {
        self.binds.extend(spec.binds.iter().cloned());
    }
}

/// Restricts this process (and what it executes). `connect_port` is the one TCP port
/// the command may connect to (the egress proxy's); it may bind none. Returns how much
/// the kernel enforced and its ABI; a kernel without Landlock is `not_enforced`, which the
/// fallback refuses.
pub(crate) fn restrict(paths: &Paths, connect_port: Option<u16>) -> Result<(String, i32), String> {
    let fs_all = AccessFs::from_all(TARGET_ABI);
    let read_exec = AccessFs::from_read(TARGET_ABI);
    let err = |e: landlock::RulesetError| format!("landlock: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(fs_all)
        .map_err(err)?
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
        .map_err(err)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(err)?
        .create()
        .map_err(err)?;
    for (list, access) in [(&paths.read_exec, read_exec), (&paths.read_write, fs_all)] {
        for path in list {
            // A path the host does not have (no `/lib32` here) is simply not granted.
            let Ok(fd) = PathFd::new(path) else { continue };
            let access = if path.is_dir() { access } else { access & file_rights() };
            ruleset = ruleset.add_rule(PathBeneath::new(fd, access)).map_err(err)?;
        }
    }
    for bind in &paths.binds {
        let pinned = super::pinned::open_plain(&bind.path)?;
        let access = if bind.writable { fs_all } else { read_exec };
        let access = if pinned.is_dir { access } else { access & file_rights() };
        ruleset = ruleset.add_rule(PathBeneath::new(pinned.into_fd(), access)).map_err(err)?;
    }
    if let Some(port) = connect_port {
        ruleset = ruleset.add_rule(NetPort::new(port, AccessNet::ConnectTcp)).map_err(err)?;
    }
    let status = ruleset.restrict_self().map_err(err)?;
    let enforced = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully_enforced",
        RulesetStatus::PartiallyEnforced => "partially_enforced",
        RulesetStatus::NotEnforced => "not_enforced",
    };
    Ok((enforced.to_owned(), abi_version()))
}

/// The rights that apply to a file (not a directory) beneath-rule.
fn file_rights() -> BitFlags<AccessFs> {
    AccessFs::from_file(TARGET_ABI)
}

/// The kernel's Landlock ABI version (0 or negative: none).
fn abi_version() -> i32 {
    // SAFETY: `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)` reads no
    // memory and returns the ABI version or -1.
    let version = unsafe {
        libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32)
    };
    i32::try_from(version).unwrap_or(-1)
}
