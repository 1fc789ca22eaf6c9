//! A private PostgreSQL cluster for the tests, shared by the store's, the server's and the
//! connectors' test binaries (each links this crate, so each binary starts its own cluster
//! once; `pg.rs` creates databases on it with sqlx, the connectors with their own driver).
//!
//! The cluster lives in a temporary directory, listens on a free port of 127.0.0.1 only,
//! and is started through a small `sh` watchdog that stops it and removes the directory
//! as soon as the test process is gone, however it ended (a panic, a kill). PostgreSQL
//! refuses to run as root: under root (CI) the server runs as the `postgres` system user
//! that the distribution's package creates. `AECL_TEST_POSTGRES_URL` names a server to use
//! instead.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The server the tests use: its admin URL (a superuser, on a database other than ours).
#[derive(Debug)]
pub struct Server {
    pub admin_url: String,
    /// The watchdog of a private cluster, kept so that it is not reaped as a zombie.
    _watchdog: Option<Child>,
}

/// Started once per test process; a failure is kept too, so that every test reports it
/// instead of trying again.
pub fn server() -> &'static Result<Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("AECL_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => {
            Ok(Server { admin_url: url.trim().to_owned(), _watchdog: None })
        }
        _ => start_cluster()
            .map_err(|e| format!("{e} (or set AECL_TEST_POSTGRES_URL to use a running server)")),
    })
}

/// `url` pointing at database `name` instead, keeping user, host, port and parameters.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{name}{query}")
}

/// Watches the test process (`$1`) and the server it starts (`$3...`, in directory `$2`):
/// writes the server's exit status to `$2/exited` if it stops by itself, and once the
/// test process has gone, stops the server (immediate shutdown: its data is thrown away) and
/// removes the directory.
/// It looks at `/proc` rather than `kill -0`, which fails for an unprivileged watcher of a
/// root process, and which a zombie passes.
const WATCHDOG: &str = r#"
test_pid=$1; dir=$2; shift 2
"$@" >"$dir/postgres.log" 2>&1 </dev/null &
pg=$!
alive() {
    state=Z
    read -r _ _ state _ 2>/dev/null <"/proc/$1/stat"
    [ "$state" != Z ]
}
while [ -d "/proc/$test_pid" ]; do
    if [ ! -e "$dir/exited" ] && ! alive "$pg"; then
        wait "$pg"
        echo "$?" >"$dir/exited"
    fi
    sleep 0.2
done
kill -QUIT "$pg" 2>/dev/null
wait "$pg"
rm -rf "$dir"
"#;

fn start_cluster() -> Result<Server, String> {
    let bin = server_binaries()?;
    let as_postgres = effective_uid()? == 0;
    let dir = tempfile::Builder::new()
        .prefix("aecl-pg-")
        .tempdir()
        .map_err(|e| format!("cannot create a directory for the test cluster: {e}"))?
        // The watchdog removes it: it must outlive every test of the process.
        .keep();
    if as_postgres {
        let (uid, gid) = (id_of("-u")?, id_of("-g")?);
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("cannot give {} to the postgres user: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let initdb = as_user(as_postgres, &bin.join("initdb"))
        .args([
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !initdb.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr)));
    }

    let port = free_port()?;
    let server = as_user(as_postgres, &bin.join("postgres"));
    let mut watchdog = Command::new("sh");
    watchdog
        .args(["-c", WATCHDOG, "aecl-pg-watchdog"])
        .arg(std::process::id().to_string())
        .arg(&dir)
        .arg(server.get_program())
        .args(server.get_args())
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "max_connections=200"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let watchdog =
        watchdog.spawn().map_err(|e| format!("cannot start the test PostgreSQL: {e}"))?;
    wait_until_ready(&bin, &dir, port)?;
    Ok(Server {
        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        _watchdog: Some(watchdog),
    })
}

/// The directory of `initdb` and `postgres`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout, where `pg_config` may be libpq's).
fn server_binaries() -> Result<PathBuf, String> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL server binaries not found (install the `postgresql` package)".to_owned()
    })
}

fn effective_uid() -> Result<u32, String> {
    let out =
        Command::new("id").arg("-u").output().map_err(|e| format!("cannot run `id -u`: {e}"))?;
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| format!("`id -u`: {e}"))
}

/// The `postgres` user's uid (`-u`) or gid (`-g`).
fn id_of(which: &str) -> Result<u32, String> {
    let out = Command::new("id")
        .args([which, "postgres"])
        .output()
        .map_err(|e| format!("cannot run `id {which} postgres`: {e}"))?;
    if !out.status.success() {
        return Err("running as root, and there is no `postgres` user to run the server as \
                    (install the `postgresql` package)"
            .to_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("`id {which} postgres`: {e}"))
}

/// `program`, run as the `postgres` user when `as_postgres` (setpriv execs it directly,
/// so the watchdog's `$!` is the server itself).
fn as_user(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A port that was free a moment ago (the kernel's pick, released at once).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no free port: {e}"))
}

/// Waits until the server accepts connections, or reports why it never will.
fn wait_until_ready(bin: &Path, dir: &Path, port: u16) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-t", "1", "-p"])
            .arg(port.to_string())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(());
        }
        let exited = dir.join("exited").exists();
        if exited || started.elapsed() > Duration::from_secs(60) {
            let mut message = if exited {
                "the test PostgreSQL stopped while starting".to_owned()
            } else {
                "the test PostgreSQL did not accept connections within 60 s".to_owned()
            };
            let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
            let _ = write!(message, "; its log:\n{log}");
            return Err(message);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
