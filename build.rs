//! Bundles `scenarios/*.toml` into the binary: writes `$OUT_DIR/bundled.rs`,
//! one `(name, include_str!(path))` per file, sorted by name, so that every
//! scenario file is bundled (none can be forgotten) and `simnet run
//! zero_copy` works from any folder. `src/bundled.rs` reads the list.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("scenarios/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            Some((name, p))
        })
        .collect();
    names.sort();
    let mut out =
        String::from("/// Every bundled scenario: its name and its file's text, by name.\n");
    out.push_str("pub const BUNDLED: &[(&str, &str)] = &[\n");
    for (name, path) in &names {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("bundled.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
