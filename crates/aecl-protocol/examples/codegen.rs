//! Writes the JSON Schemas of the wire protocol to `docs/schema/api/`; run by
//! `cargo xtask codegen`.

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema/api");
    fs::create_dir_all(&dir)?;
    for (name, text) in aecl_protocol::schema::generated() {
        fs::write(dir.join(name), text)?;
    }
    Ok(())
}
