//! The sandbox helper executable: started by the launcher once per command, never by
//! hand (its input is a spec line on stdin; see `aecl_sandbox::helper`).

fn main() {
    std::process::exit(aecl_sandbox::helper::main());
}
