//! What the sandbox's microVM tests need on the host: QEMU (10.x from bookworm-backports
//! on Debian bookworm: the tier uses `-run-with`), Debian's static busybox for the guest's
//! initramfs, and Debian's cloud kernel, whose `vmlinuz` is extracted into
//! `target/microvm-guest/` (where tests/it/microvm.rs looks for it).
//!
//! `cargo xtask microvm-kernel` does only this; `cargo xtask ci` does it first.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{run, which};

/// The metapackage whose dependency is the current cloud kernel.
const KERNEL_METAPACKAGE: &str = "linux-image-cloud-amd64";

/// Where the tests find the kernel: `<target dir>/microvm-guest/vmlinuz`.
pub fn kernel_path(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("microvm-guest/vmlinuz")
}

/// Installs QEMU and busybox-static when missing, and fetches the kernel once.
pub fn ensure_guest(root: &Path) -> Result<()> {
    ensure_packages()?;
    let kernel = kernel_path(root);
    if kernel.is_file() {
        return Ok(());
    }
    fetch_kernel(&kernel)
}

fn ensure_packages() -> Result<()> {
    let qemu = which("qemu-system-x86_64");
    let busybox = busybox_static_installed();
    if qemu && busybox {
        return Ok(());
    }
    if !which("apt-get") {
        bail!(
            "the microVM tests need qemu-system-x86_64 (QEMU 9.1 or later) and a static busybox \
             at /usr/bin/busybox: install them"
        );
    }
    let bookworm = std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|release| release.lines().any(|l| l == "VERSION_CODENAME=bookworm"));
    if bookworm && !qemu {
        add_backports()?;
    }
    let slash = Path::new("/");
    run(slash, "apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    if bookworm && !qemu {
        // Bookworm's own QEMU 7.2 lacks `-run-with`.
        args.extend(["-t", "bookworm-backports"]);
    }
    if !qemu {
        args.push("qemu-system-x86");
    }
    if !busybox {
        args.push("busybox-static");
    }
    run(slash, "apt-get", &args)
}

fn busybox_static_installed() -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "busybox-static"])
        .output()
        .is_ok_and(|out| out.stdout.ends_with(b"installed"))
        && Path::new("/usr/bin/busybox").is_file()
}

/// Adds bookworm-backports in a file of its own, unless a source names it already. The
/// main sources are left as they are.
fn add_backports() -> Result<()> {
    let mut sources = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        sources.extend(dir.flatten().map(|e| e.path()));
    }
    let named = sources.iter().any(|path| {
        std::fs::read_to_string(path).is_ok_and(|text| {
            text.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("bookworm-backports"))
        })
    });
    if !named {
        std::fs::write(
            "/etc/apt/sources.list.d/aecl-backports.list",
            "deb http://deb.debian.org/debian bookworm-backports main\n",
        )
        .context("writing /etc/apt/sources.list.d/aecl-backports.list")?;
    }
    Ok(())
}

/// `apt-get download` of the metapackage's kernel package, unpacked with `dpkg-deb -x`;
/// its `boot/vmlinuz-*` becomes `kernel`.
fn fetch_kernel(kernel: &Path) -> Result<()> {
    if !which("apt-get") || !which("dpkg-deb") {
        bail!(
            "the microVM tests need a kernel at `{}`: copy a bzImage with the 8250 serial \
             driver built in there (Debian's {KERNEL_METAPACKAGE} has one)",
            kernel.display()
        );
    }
    let package = match kernel_package() {
        Ok(package) => package,
        Err(_) => {
            // Package lists may be empty on a fresh machine.
            run(Path::new("/"), "apt-get", &["update", "-q"])?;
            kernel_package()?
        }
    };
    let dir = kernel.parent().context("the kernel path has no directory")?;
    let download = dir.join("download");
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download)
        .with_context(|| format!("creating {}", download.display()))?;
    run(&download, "apt-get", &["download", "-q", &package])?;
    let deb = std::fs::read_dir(&download)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .with_context(|| format!("`apt-get download {package}` left no .deb"))?;
    let unpacked = download.join("unpacked");
    let deb = deb.to_str().context("a non-UTF-8 path")?;
    let to = unpacked.to_str().context("a non-UTF-8 path")?;
    run(&download, "dpkg-deb", &["-x", deb, to])?;
    let vmlinuz = std::fs::read_dir(unpacked.join("boot"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
        .with_context(|| format!("{package} holds no boot/vmlinuz-*"))?;
    let partial = dir.join("vmlinuz.partial");
    std::fs::copy(&vmlinuz, &partial)?;
    std::fs::rename(&partial, kernel)?;
    std::fs::remove_dir_all(&download)?;
    Ok(())
}

/// `linux-image-<version>-cloud-amd64`, the metapackage's dependency.
fn kernel_package() -> Result<String> {
    let out = std::process::Command::new("apt-cache")
        .args(["depends", KERNEL_METAPACKAGE])
        .output()
        .context("starting apt-cache")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_owned)
        .with_context(|| format!("`apt-cache depends {KERNEL_METAPACKAGE}` names no kernel"))
}
