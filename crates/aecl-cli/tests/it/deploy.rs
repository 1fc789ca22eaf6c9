//! `deploy/aecl.service` and its drop-in, checked by `systemd-analyze verify` as systemd
//! would load them (with `ExecStart` pointed at the `aecl` just built, since verify checks
//! that the program exists), and the flags the unit passes are ones `aecl` accepts.

use std::path::Path;
use std::process::Command;

use crate::{aecl, repo, temp_dir};

const INSTALLED: &str = "/usr/local/bin/aecl";

/// The unit with `ExecStart` pointing at the built binary, in `dir`.
fn unit_in(dir: &Path) -> String {
    let unit = std::fs::read_to_string(repo("deploy/aecl.service")).unwrap();
    assert!(unit.contains(&format!("ExecStart={INSTALLED} ")), "{unit}");
    let built = env!("CARGO_BIN_EXE_aecl");
    std::fs::write(dir.join("aecl.service"), unit.replace(INSTALLED, built)).unwrap();
    unit
}

/// `systemd-analyze verify` of `aecl.service` found in `dir` (drop-ins included): it must
/// pass and say nothing (unknown keys and bad values are warnings, not failures).
fn verify(dir: &Path) {
    let out = Command::new("systemd-analyze")
        .args(["verify", "aecl.service"])
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.display()))
        .current_dir(dir)
        .output()
        .expect("running systemd-analyze (cargo xtask ci installs Debian's `systemd`)");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.trim().is_empty(), "{:?}\n{said}", out.status);
}

#[test]
fn the_systemd_unit_and_its_drop_in_verify_cleanly() {
    let dir = temp_dir();
    let unit = unit_in(dir.path());
    verify(dir.path());
    // The stricter drop-in for deployments without a shell connector.
    let drop_ins = dir.path().join("aecl.service.d");
    std::fs::create_dir(&drop_ins).unwrap();
    std::fs::copy(repo("deploy/aecl.service.d/no-shell.conf"), drop_ins.join("no-shell.conf"))
        .unwrap();
    verify(dir.path());

    // What the sandbox needs is not taken away by the base unit.
    for forbidden in
        ["RestrictNamespaces=", "PrivateUsers=", "ProtectKernelTunables=", "SystemCallFilter="]
    {
        assert!(
            !unit.lines().any(|line| line.starts_with(forbidden)),
            "{forbidden} breaks the shell connector's sandbox"
        );
    }
    for required in ["NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/aecl"]
    {
        assert!(unit.lines().any(|line| line == required), "missing {required}");
    }
}

#[test]
fn a_unit_with_a_mistake_fails_verification() {
    // The check above can fail: a misspelt value is reported.
    let dir = temp_dir();
    let unit = unit_in(dir.path());
    let broken = unit.replace("ProtectSystem=strict", "ProtectSystem=strictly");
    std::fs::write(dir.path().join("aecl.service"), broken).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "aecl.service"])
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("strictly"), "{out:?}");
}

#[test]
fn the_units_command_line_is_one_aecl_accepts() {
    let unit = std::fs::read_to_string(repo("deploy/aecl.service")).unwrap();
    let start = unit.find("ExecStart=").unwrap();
    // The logical line: continued while a line ends with a backslash.
    let mut line = String::new();
    for part in unit[start..].lines() {
        let part = part.trim_end();
        line.push_str(part.trim_end_matches('\\'));
        line.push(' ');
        if !part.ends_with('\\') {
            break;
        }
    }
    let words: Vec<&str> = line.trim_start_matches("ExecStart=").split_whitespace().collect();
    assert_eq!(words.first(), Some(&INSTALLED), "{line}");
    // Every flag parses: `--help` after them exits 0 only when clap accepted the rest.
    let out = aecl().args(&words[1..]).arg("--help").output().unwrap();
    assert!(out.status.success(), "{line}\n{}", String::from_utf8_lossy(&out.stderr));
}
