//! `simnet`: run a scenario, print where every byte was copied, pinned or
//! DMA'd, and write pcapng captures of the wire.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use simnet::capture::Captures;
use simnet::trace::{Tee, Trace};
use simnet::{output, scenario};
use simnet_sim::event::NoObserver;
use simnet_sim::report::Outcome;

#[derive(Parser)]
#[command(
    name = "simnet",
    version,
    about = "A userspace TCP/IP stack simulator with a NIC DMA model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file and report the journey of its bytes.
    Run {
        /// The scenario (TOML); see docs/scenario.md.
        file: PathBuf,
        /// Print the JSON summary instead of the table.
        #[arg(long)]
        json: bool,
        /// Folder for captures [default: captures/<scenario name>].
        #[arg(long, value_name = "DIR", conflicts_with = "no_pcap")]
        pcap: Option<PathBuf>,
        /// Write no captures.
        #[arg(long)]
        no_pcap: bool,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Follow one application buffer from the send call to the peer's read:
    /// every step, ring slot and capture frame that carried its bytes.
    Trace {
        /// The scenario (TOML).
        file: PathBuf,
        /// The send buffer to follow (its number in the flow's pool).
        #[arg(long)]
        buffer: u32,
        /// The flow (from 0, in file order).
        #[arg(long, default_value_t = 0)]
        flow: u16,
        /// Which use of the buffer to show (its k-th send call, from 0).
        #[arg(long = "use", default_value_t = 0, conflicts_with = "all")]
        use_index: usize,
        /// Show every use of the buffer.
        #[arg(long)]
        all: bool,
        /// Folder for the captures the frame numbers refer to
        /// [default: captures/<scenario name>].
        #[arg(long, value_name = "DIR")]
        pcap: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            file,
            json,
            pcap,
            no_pcap,
            seed,
        } => run(file, json, pcap, no_pcap, seed),
        Command::Trace {
            file,
            buffer,
            flow,
            use_index,
            all,
            pcap,
        } => trace(file, buffer, flow, (!all).then_some(use_index), pcap),
    }
}

fn trace(
    file: PathBuf,
    buffer: u32,
    flow: u16,
    use_index: Option<usize>,
    pcap: Option<PathBuf>,
) -> ExitCode {
    let sc = match scenario::load(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("simnet: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(fc) = sc.flows.get(flow as usize) else {
        eprintln!(
            "simnet: {}: there is no flow {flow} (the scenario has {})",
            file.display(),
            sc.flows.len()
        );
        return ExitCode::from(2);
    };
    if fc.buffer.pool == simnet_sim::config::PoolKind::Fixed && buffer >= fc.buffer.pool_size {
        eprintln!(
            "simnet: {}: flow {flow} has buffers 0..{} (pool_size {}), not {buffer}",
            file.display(),
            fc.buffer.pool_size,
            fc.buffer.pool_size
        );
        return ExitCode::from(2);
    }
    let host_names: Vec<String> = sc.hosts.iter().map(|h| h.name.clone()).collect();
    let mut t = Trace::new(flow, buffer, use_index, host_names.clone(), fc.port);
    let dir = pcap.unwrap_or_else(|| PathBuf::from("captures").join(&sc.name));
    let mut cap = match Captures::create(&dir, &host_names, sc.link.mtu) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("simnet: cannot create captures in {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    let report = {
        let mut tee = Tee {
            a: &mut t,
            b: &mut cap,
        };
        match simnet_sim::run(&sc, &mut tee) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("simnet: {}: {e}", file.display());
                return ExitCode::from(2);
            }
        }
    };
    let captures = match cap.finish() {
        Ok(paths) => paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>(),
        Err(e) => {
            eprintln!("simnet: writing captures in {} failed: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    print!("{}", t.render(&captures));
    println!("outcome {}", report.outcome.name());
    ExitCode::SUCCESS
}

fn run(
    file: PathBuf,
    json: bool,
    pcap: Option<PathBuf>,
    no_pcap: bool,
    seed: Option<u64>,
) -> ExitCode {
    let mut sc = match scenario::load(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("simnet: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = seed {
        sc.seed = seed;
    }
    let host_names: Vec<String> = sc.hosts.iter().map(|h| h.name.clone()).collect();
    let (report, captures) = if no_pcap {
        match simnet_sim::run(&sc, &mut NoObserver) {
            Ok(r) => (r, Vec::new()),
            Err(e) => {
                eprintln!("simnet: {}: {e}", file.display());
                return ExitCode::from(2);
            }
        }
    } else {
        let dir = pcap.unwrap_or_else(|| PathBuf::from("captures").join(&sc.name));
        let mut cap = match Captures::create(&dir, &host_names, sc.link.mtu) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("simnet: cannot create captures in {}: {e}", dir.display());
                return ExitCode::from(1);
            }
        };
        let report = match simnet_sim::run(&sc, &mut cap) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("simnet: {}: {e}", file.display());
                return ExitCode::from(2);
            }
        };
        match cap.finish() {
            Ok(paths) => (
                report,
                paths.iter().map(|p| p.display().to_string()).collect(),
            ),
            Err(e) => {
                eprintln!("simnet: writing captures in {} failed: {e}", dir.display());
                return ExitCode::from(1);
            }
        }
    };
    if json {
        let s = output::summary(&report, &captures);
        match serde_json::to_string_pretty(&s) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("simnet: cannot encode the summary: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{}", output::table(&report, &sc.description, &captures));
    }
    if report.outcome == Outcome::Ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("simnet: outcome {}", report.outcome.name());
        ExitCode::from(1)
    }
}
