//! Writes the `rx_frames` fuzz target's seed inputs (`harness::seeds`) into
//! a corpus directory, one `seed-NAME` file each:
//!
//! ```sh
//! cargo run --release -p simnet-sim --example fuzz_seeds -- fuzz/corpus/rx_frames
//! ```

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: fuzz_seeds DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    for (name, input) in simnet_sim::harness::seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), input)?;
    }
    Ok(())
}
