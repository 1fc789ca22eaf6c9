//! The sandbox helper executable: started by the launcher once per command, never by
//! hand (its input is a spec line on stdin; see `aecl_sandbox::helper`). The `aecl` binary
//! holds the same helper and is started as it when this file is not installed beside it.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // Inside a `gvisor` container, bound in to start the command there.
    if args.first().is_some_and(|a| a == "gvisor-init") {
        std::process::exit(aecl_sandbox::helper::gvisor_init(&args[1..]));
    }
    std::process::exit(aecl_sandbox::helper::main());
}
