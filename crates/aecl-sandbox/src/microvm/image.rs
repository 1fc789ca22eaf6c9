//! The microVM's guest image: the kernel as given, and an initramfs (a `newc` cpio
//! archive, which the kernel unpacks without any compression support) holding a static
//! busybox, the `/init` of `init.sh`, and the few files the guest needs.
//!
//! The archive is written here rather than by `cpio(1)`: the format is 110 bytes of hex
//! header per entry, and writing it ourselves keeps the image reproducible (fixed inode
//! numbers, owners and times) and free of whatever the host has in its directories.

use std::path::{Path, PathBuf};

use crate::error::SandboxError;
use crate::microvm::MicrovmConfig;

/// The guest's init script.
const INIT: &str = include_str!("init.sh");

/// The unprivileged user the command runs as inside the guest.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\naecl:x:1000:1000:aecl:/work:/bin/sh\n";
const GROUP: &str = "root:x:0:\naecl:x:1000:\n";

/// The file names [`build_image`] writes in its output directory.
pub const KERNEL_FILE: &str = "vmlinuz";
pub const INITRD_FILE: &str = "initrd.cpio";

/// Writes `out_dir/vmlinuz` (a copy of `kernel`) and `out_dir/initrd.cpio` (the guest's
/// initramfs around `busybox`), and returns the configuration that boots them under KVM.
///
/// `kernel` must be an x86 bzImage with the 8250 serial driver built in (Debian's
/// `linux-image-*-cloud-amd64` is); `busybox` must be statically linked (Debian's
/// `busybox-static`), since the guest has no libraries.
pub fn build_image(
    kernel: &Path,
    busybox: &Path,
    out_dir: &Path,
) -> Result<MicrovmConfig, SandboxError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| SandboxError::Io(format!("reading `{}`", path.display()), e))
    };
    let kernel_bytes = read(kernel)?;
    check_bzimage(&kernel_bytes)
        .map_err(|why| SandboxError::Image(format!("kernel `{}`: {why}", kernel.display())))?;
    let busybox_bytes = read(busybox)?;
    check_static_elf(&busybox_bytes)
        .map_err(|why| SandboxError::Image(format!("busybox `{}`: {why}", busybox.display())))?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| SandboxError::Io(format!("creating `{}`", out_dir.display()), e))?;
    let config = MicrovmConfig::new(out_dir.join(KERNEL_FILE), out_dir.join(INITRD_FILE));
    write_atomically(&config.kernel, &kernel_bytes)?;
    write_atomically(&config.initrd, &initramfs(&busybox_bytes))?;
    Ok(config)
}

/// Written beside and renamed, so that a guest booting meanwhile never reads half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| SandboxError::Io(format!("writing `{}`", path.display()), e))
}

/// The initramfs around a static busybox. Busybox's applet links are made by `/init` at
/// boot (`busybox --install -s /bin`), except `/bin/sh`, which runs `/init` itself.
pub(crate) fn initramfs(busybox: &[u8]) -> Vec<u8> {
    let mut cpio = Cpio::default();
    for dir in ["bin", "dev", "etc", "proc", "root", "run", "sys", "tmp", "usr", "work"] {
        cpio.entry(dir, 0o040_755, 0, &[]);
    }
    // Merged /usr: every applet is in /bin, whichever path a command uses.
    for (link, target) in [("sbin", "bin"), ("usr/bin", "../bin"), ("usr/sbin", "../bin")] {
        cpio.entry(link, 0o120_777, 0, target.as_bytes());
    }
    cpio.entry("bin/busybox", 0o100_755, 0, busybox);
    cpio.entry("bin/sh", 0o120_777, 0, b"busybox");
    cpio.entry("init", 0o100_755, 0, INIT.as_bytes());
    cpio.entry("etc/passwd", 0o100_644, 0, PASSWD.as_bytes());
    cpio.entry("etc/group", 0o100_644, 0, GROUP.as_bytes());
    // The kernel opens /dev/console for init before anything is mounted.
    cpio.entry("dev/console", 0o020_600, (5 << 8) | 1, &[]);
    cpio.finish()
}

/// A `newc` cpio archive being written.
#[derive(Debug, Default)]
struct Cpio {
    bytes: Vec<u8>,
    inode: u32,
}

impl Cpio {
    /// One entry; `rdev` is `major << 8 | minor` for device nodes.
    fn entry(&mut self, name: &str, mode: u32, rdev: u32, data: &[u8]) {
        self.inode += 1;
        let nlink = if mode & 0o170_000 == 0o040_000 { 2 } else { 1 };
        let fields = [
            self.inode,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime: fixed, for a reproducible image
            u32::try_from(data.len()).unwrap_or(u32::MAX),
            0, // devmajor
            0, // devminor
            rdev >> 8,
            rdev & 0xff,
            u32::try_from(name.len() + 1).unwrap_or(u32::MAX),
            0, // check
        ];
        self.bytes.extend_from_slice(b"070701");
        for field in fields {
            self.bytes.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 0, &[]);
        self.bytes
    }
}

/// An x86 Linux boot image carries `HdrS` at offset 0x202.
fn check_bzimage(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(0x202..0x206) == Some(b"HdrS".as_slice()) {
        Ok(())
    } else {
        Err("not an x86 Linux kernel image (bzImage; no `HdrS` boot header)".to_owned())
    }
}

/// A 64-bit little-endian x86-64 ELF executable without a program interpreter.
fn check_static_elf(bytes: &[u8]) -> Result<(), String> {
    let u16_at =
        |at: usize| bytes.get(at..at + 2).and_then(|b| b.try_into().ok()).map(u16::from_le_bytes);
    let u32_at =
        |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    let u64_at =
        |at: usize| bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) || u16_at(18) != Some(62) {
        return Err("not an x86-64 ELF executable".to_owned());
    }
    let truncated = || "truncated ELF header".to_owned();
    let table = u64_at(32).and_then(|o| usize::try_from(o).ok()).ok_or_else(truncated)?;
    let entry_size = usize::from(u16_at(54).ok_or_else(truncated)?);
    let count = usize::from(u16_at(56).ok_or_else(truncated)?);
    for i in 0..count {
        let header = table.saturating_add(i.saturating_mul(entry_size));
        const PT_INTERP: u32 = 3;
        if u32_at(header).ok_or_else(truncated)? == PT_INTERP {
            return Err("dynamically linked (the guest has no libraries): use a static \
                        busybox, e.g. Debian's `busybox-static`"
                .to_owned());
        }
    }
    Ok(())
}
