//! `simnet`: run a scenario, print where every byte was copied, pinned or
//! DMA'd, and write pcapng captures of the wire.
//!
//! The report goes to stdout in one explicit write whose errors are
//! handled: a reader that closed the pipe ends the run quietly with status
//! 141 (as if SIGPIPE had killed it), any other failure (a full disk) is
//! an error naming the cause, and a stdout closed before the run even
//! started is refused up front. SIGINT, SIGTERM and SIGHUP are handled
//! from the start of `main` ([`simnet::signals`]): a simulated run ends
//! with 128 + the signal's number and no temporary capture left, a TAP run
//! stops cleanly; its device is up before any capture folder is made.
//! README.md, "Exit status and signals", is the user's side of this.

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use simnet::bundled::{self, Source};
use simnet::capture::Captures;
use simnet::outfile::OutFile;
use simnet::progress::Watch;
use simnet::recorder::Recorder;
use simnet::scenario::overrides::{self, Set};
use simnet::tap::{self, KernelLink, Tap};
use simnet::timeline::Timeline;
use simnet::trace::{Tee, Trace};
use simnet::{brief, explain, html, output, scenario, signals};
use simnet_sim::config::{FramingKind, PoolKind, Scenario};
use simnet_sim::event::{NoObserver, Observer};
use simnet_sim::report::{Outcome, RunReport};
use simnet_sim::world::World;

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
    /// Run a scenario and report the journey of its bytes.
    Run {
        /// A bundled scenario's name (`simnet scenarios` lists them) or a
        /// scenario file: a path with a `/` or ending in `.toml`.
        scenario: String,
        /// Print the JSON summary instead of the report.
        #[arg(long, conflicts_with = "full")]
        json: bool,
        /// Print the complete table: every figure, one row per host and
        /// step, each row on one line, however wide.
        #[arg(long)]
        full: bool,
        /// Folder for captures [default: captures/<scenario name>].
        #[arg(long, value_name = "DIR", conflicts_with = "no_pcap")]
        pcap: Option<PathBuf>,
        /// Write no captures.
        #[arg(long)]
        no_pcap: bool,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Set a scenario key, checked as the file is:
        /// `--set 'flow[0].write_size=4KiB'` (any number of times; the key as
        /// errors print it, the value TOML or else a string).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Set::parse)]
        sets: Vec<Set>,
        /// Also write the run as a Chrome trace-event file (JSON) for
        /// Perfetto (ui.perfetto.dev) or chrome://tracing.
        #[arg(long, value_name = "OUT.json")]
        timeline: Option<PathBuf>,
        /// Also write a self-contained HTML report with plots over time.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// No progress bar (one shows on stderr, when it is a terminal,
        /// once a run has taken a second).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Follow one application buffer from the send call to the peer's read:
    /// every step, ring slot and capture frame that carried its bytes.
    Trace {
        /// A bundled scenario's name or a scenario file, as for `run`.
        scenario: String,
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
        #[arg(long, value_name = "DIR", conflicts_with = "no_pcap")]
        pcap: Option<PathBuf>,
        /// Write no captures (frame numbers are still those a capture of
        /// the same run has).
        #[arg(long)]
        no_pcap: bool,
        /// Print the journey as JSON (its shape: docs/scenario.md, "The
        /// trace JSON").
        #[arg(long)]
        json: bool,
        /// Set a scenario key, as `run --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Set::parse)]
        sets: Vec<Set>,
        /// No progress bar, as for `run`.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run two scenarios (or one twice, the second with --set-b) and show
    /// their figures side by side with the ratio B/A, the largest
    /// differences first.
    Compare {
        /// Scenario A: a bundled name or a file, as for `run`.
        a: String,
        /// Scenario B [default: A again, with A's --set-a and then --set-b].
        b: Option<String>,
        /// Set a key of run A (and of B when B is A again).
        #[arg(long = "set-a", value_name = "KEY=VALUE", value_parser = Set::parse)]
        set_a: Vec<Set>,
        /// Set a key of run B only.
        #[arg(long = "set-b", value_name = "KEY=VALUE", value_parser = Set::parse)]
        set_b: Vec<Set>,
        /// Print the comparison as JSON: both runs' records and every
        /// figure.
        #[arg(long)]
        json: bool,
    },
    /// List the bundled scenarios, each with its lesson.
    Scenarios,
    /// Print a bundled scenario's file (`simnet show zero_copy >
    /// mine.toml` to start from it).
    Show {
        /// The bundled scenario's name.
        name: String,
    },
    /// Run a scenario at every point of a grid of values, in parallel,
    /// and write a CSV of each point's figures and a plot (README,
    /// "Sweeps"; the columns: docs/scenario.md, "Sweep CSV").
    Sweep {
        /// A bundled scenario's name or a scenario file, as for `run`.
        #[arg(required_unless_present = "merge")]
        file: Option<String>,
        /// A key and its values: KEY=V1,V2,... or a range
        /// KEY=START..END*FACTOR (1KiB..1MiB*2 doubles) or START..END+STEP.
        /// Several make a grid.
        #[arg(long, value_name = "KEY=VALUES", required_unless_present = "merge")]
        vary: Vec<String>,
        /// Set a key at every point, as `run --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Set::parse)]
        sets: Vec<Set>,
        /// What to plot: x=COLUMN,y=COLUMN or y=COLUMN/COLUMN [default: x
        /// the first varied key with numeric values, y the first flow's
        /// sender's cpu_busy_ns per byte received].
        #[arg(long, value_name = "x=COL,y=COL")]
        plot: Option<String>,
        /// Folder for sweep.csv and sweep.svg [default: sweeps/<scenario
        /// name>].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write one `simnet run` command per point to this file (and the
        /// plan for --merge to the output folder) instead of running.
        #[arg(long, value_name = "FILE", conflicts_with = "merge")]
        jobs_file: Option<PathBuf>,
        /// Gather the summaries a jobs file's commands wrote in DIR into
        /// its CSV and plot.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["file", "vary", "sets", "out"])]
        merge: Option<PathBuf>,
        /// Points run at once [default: the number of cores].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), conflicts_with = "merge")]
        jobs: Option<u16>,
        /// No progress bar.
        #[arg(long, short, conflicts_with = "merge")]
        quiet: bool,
    },
    /// Say what a row of the report means: its kind (`desc_writeback`),
    /// its step (`copybreak`), its stage (`nic tx`) or the kernel function
    /// it names (`tcp_clean_rtx_queue`); `costs` and `fidelity` print
    /// where the costs come from and how far simnet follows Linux.
    Explain {
        /// The word to explain (several words are read as one: `nic tx`).
        #[arg(required_unless_present = "markdown")]
        word: Vec<String>,
        /// Print the whole glossary as Markdown (docs/glossary.md is this).
        #[arg(long, conflicts_with = "word")]
        markdown: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before anything is written: a signal then removes what a run leaves
    // half-done (see simnet::signals).
    if let Err(e) = signals::install() {
        note(&format!("cannot handle SIGINT, SIGTERM and SIGHUP: {e}"));
        return ExitCode::from(1);
    }
    let result = match cli.command {
        Command::Run {
            scenario: file,
            json,
            full,
            pcap,
            no_pcap,
            seed,
            sets,
            timeline,
            html,
            quiet,
        } => {
            let form = match (json, full) {
                (true, _) => Form::Json,
                (false, true) => Form::Full,
                (false, false) => Form::Brief,
            };
            let out = Outputs {
                pcap,
                no_pcap,
                timeline,
                html,
            };
            run(file, &sets, form, out, (seed, quiet))
        }
        Command::Trace {
            scenario: file,
            buffer,
            flow,
            use_index,
            all,
            pcap,
            no_pcap,
            json,
            sets,
            quiet,
        } => {
            let what = Traced {
                buffer,
                flow,
                use_index: (!all).then_some(use_index),
            };
            trace(file, &sets, what, (pcap, no_pcap), (json, quiet))
        }
        Command::Explain { word, markdown } => explain(&word.join(" "), markdown),
        Command::Scenarios => list_scenarios(),
        Command::Compare {
            a,
            b,
            set_a,
            set_b,
            json,
        } => compare(&a, b.as_deref(), &set_a, &set_b, json),
        Command::Show { name } => show(&name),
        Command::Sweep {
            file,
            vary,
            sets,
            plot,
            out,
            jobs_file,
            merge,
            jobs,
            quiet,
        } => {
            let how = SweepHow {
                jobs_file,
                merge,
                jobs,
                quiet,
            };
            sweep(file, (vary, sets), plot, out, how)
        }
    };
    match result {
        Ok(code) => code,
        Err(Fail { code, message }) => {
            if let Some(message) = message {
                note(&message);
            }
            ExitCode::from(code)
        }
    }
}

/// Why a command stopped: the message for the user (none for a reader
/// that went away) and the exit code (2 for a bad scenario or argument,
/// 141 for a closed pipe, 1 otherwise).
struct Fail {
    code: u8,
    message: Option<String>,
}

fn bad_input(message: String) -> Fail {
    Fail {
        code: 2,
        message: Some(message),
    }
}

fn failed(message: String) -> Fail {
    Fail {
        code: 1,
        message: Some(message),
    }
}

/// `simnet: <message>` on stderr. Never panics: with stderr gone too there
/// is no one left to tell.
fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "simnet: {message}");
}

/// The exit status of a run whose reader closed the pipe: 128 + SIGPIPE,
/// what a shell shows for a tool SIGPIPE killed.
const BROKEN_PIPE: u8 = 141;

/// Writes the report to stdout: all of it, or a [`Fail`] that says why not.
fn emit(text: &str) -> Result<(), Fail> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Fail {
            code: BROKEN_PIPE,
            message: None,
        }),
        Err(e) => Err(failed(format!(
            "cannot write the report to standard output: {e}"
        ))),
    }
}

/// Whether standard output was closed when simnet started (`>&-`). Rust's
/// runtime then opens /dev/null on it, read-write, before `main` runs
/// (`sanitize_standard_fds`), and a report would vanish without an error.
/// A shell's `> /dev/null` opens it write-only, so a read-write /dev/null
/// on descriptor 1 is taken for a closed one (a deliberate `1<> /dev/null`
/// is refused too; redirect with `>` to discard the report).
fn stdout_was_closed() -> bool {
    let Ok(flags) = fcntl(io::stdout(), FcntlArg::F_GETFL) else {
        return false;
    };
    let mode = OFlag::from_bits_truncate(flags) & OFlag::O_ACCMODE;
    mode == OFlag::O_RDWR
        && std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == Path::new("/dev/null"))
}

/// Refuses to run when the report would have nowhere to go.
fn check_stdout() -> Result<(), Fail> {
    if stdout_was_closed() {
        return Err(failed(
            "standard output is closed: the report has nowhere to go \
             (redirect it to /dev/null to discard it)"
                .into(),
        ));
    }
    Ok(())
}

/// The scenario an argument names (see [`bundled::open`]), with
/// `sets` applied and checked, and where it came from.
fn load(arg: &str, sets: &[Set]) -> Result<(Scenario, Source), Fail> {
    let (source, bytes) = bundled::open(arg, note).map_err(bad_input)?;
    let sc =
        overrides::apply(&bytes, &source.origin(), sets).map_err(|e| bad_input(e.to_string()))?;
    Ok((sc, source))
}

/// One run of `compare`: no captures, no recorder.
fn run_quiet(arg: &str, sets: &[Set]) -> Result<(RunReport, output::RunJson), Fail> {
    let (sc, source) = load(arg, sets)?;
    if sc.tap.is_some() {
        return Err(bad_input(format!(
            "{}: a [tap] scenario follows the wall clock; compare runs simulated ones only",
            source.origin()
        )));
    }
    let file = PathBuf::from(source.origin());
    let report = simulate(&sc, &file, None, &mut NoObserver, None)?;
    let record = output::RunJson::new(&report, &source, sets);
    Ok((report, record))
}

/// `simnet compare A [B]`.
fn compare(
    a: &str,
    b: Option<&str>,
    set_a: &[Set],
    set_b: &[Set],
    json: bool,
) -> Result<ExitCode, Fail> {
    check_stdout()?;
    let sets_b: Vec<Set> = match b {
        Some(_) => set_b.to_vec(),
        None if set_b.is_empty() => {
            return Err(bad_input(
                "compare needs a second scenario, or --set-b to change the first for run B".into(),
            ))
        }
        None => set_a.iter().chain(set_b).cloned().collect(),
    };
    let (ra, ja) = run_quiet(a, set_a)?;
    let (rb, jb) = run_quiet(b.unwrap_or(a), &sets_b)?;
    let c = simnet::compare::compare(&ra, &rb, ja, jb);
    let text = if json {
        let mut t = serde_json::to_string_pretty(&c)
            .map_err(|e| failed(format!("cannot encode the comparison: {e}")))?;
        t.push('\n');
        t
    } else {
        simnet::compare::render(&c)
    };
    emit(&text)?;
    let bad: Vec<&str> = [c.a_outcome, c.b_outcome]
        .into_iter()
        .filter(|o| *o != "ok")
        .collect();
    if bad.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        note(&format!("outcome A {}, B {}", c.a_outcome, c.b_outcome));
        Ok(ExitCode::from(1))
    }
}

/// `simnet scenarios`: every bundled scenario and its lesson, wrapped to
/// 100 columns.
fn list_scenarios() -> Result<ExitCode, Fail> {
    let width = bundled::names().map(str::len).max().unwrap_or(0);
    let mut text = String::new();
    for name in bundled::names() {
        let lesson = match bundled::get(name).map(|t| scenario::parse(t.as_bytes(), name)) {
            Some(Ok(sc)) => bundled::lesson(&sc.description),
            _ => String::new(),
        };
        let mut line = format!("{name:width$}  ");
        let indent = line.len();
        for word in lesson.split(' ') {
            if line.len() + word.len() + 1 > 100 && line.len() > indent {
                text.push_str(line.trim_end());
                text.push('\n');
                line = " ".repeat(indent);
            }
            line.push_str(word);
            line.push(' ');
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push_str("run one: simnet run NAME; its file: simnet show NAME\n");
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `simnet show NAME`: the bundled scenario's file, as it is.
fn show(name: &str) -> Result<ExitCode, Fail> {
    let key = name.strip_prefix("bundled:").unwrap_or(name);
    let Some(text) = bundled::get(key) else {
        return Err(bad_input(bundled::unknown(key)));
    };
    emit(text)?;
    Ok(ExitCode::SUCCESS)
}

/// Captures go to `pcap`, or `captures/<scenario name>`.
fn open_captures(sc: &Scenario, pcap: Option<PathBuf>) -> Result<(Captures, PathBuf), Fail> {
    let dir = pcap.unwrap_or_else(|| PathBuf::from("captures").join(&sc.name));
    // The kernel's side of a TAP run has no simulated port to capture.
    let kernel = sc.tap_hosts().map(|t| t.1);
    let hosts: Vec<Option<&str>> = (sc.hosts.iter().enumerate())
        .map(|(i, h)| (Some(i) != kernel).then_some(h.name.as_str()))
        .collect();
    let cap = Captures::create_some(&dir, &hosts, sc.link.mtu)
        .map_err(|e| failed(format!("cannot create captures in {}: {e}", dir.display())))?;
    Ok((cap, dir))
}

fn finish_captures(cap: Captures, dir: &Path) -> Result<Vec<String>, Fail> {
    let paths = cap
        .finish()
        .map_err(|e| failed(format!("writing captures in {} failed: {e}", dir.display())))?;
    Ok(paths.iter().map(|p| p.display().to_string()).collect())
}

/// The TAP device of a `[tap]` scenario, up and configured, or `None`
/// without one. Made before any capture folder or file, so a device that
/// cannot be made leaves nothing behind.
fn bring_up(sc: &Scenario) -> Result<Option<Tap>, Fail> {
    let (Some(t), Some((sim, kernel))) = (&sc.tap, sc.tap_hosts()) else {
        return Ok(None);
    };
    let k = &sc.hosts[kernel];
    let kernel = KernelLink {
        address: k.address,
        prefix_len: k.prefix_len,
        mtu: sc.link.mtu,
    };
    let port =
        Tap::create(&t.device, kernel, tap::stop_flag()).map_err(|e| failed(e.to_string()))?;
    let me = &sc.hosts[sim];
    note(&format!(
        "{} is up; the kernel is {} there, simnet's host {:?} is {} (Ctrl-C stops)",
        port.name(),
        k.address,
        me.name,
        me.address
    ));
    Ok(Some(port))
}

/// Writes the timeline and the HTML report the recorder followed the run
/// for.
fn write_outputs(
    rec: Recorder,
    (timeline_file, html_file): (Option<OutFile>, Option<OutFile>),
    report: &RunReport,
    sc: &Scenario,
    captures: &[String],
) -> Result<(), Fail> {
    let Recorder { series, timeline } = rec;
    if let (Some(f), Some(t)) = (timeline_file, timeline) {
        let (name, seed, end) = (&report.scenario, report.seed, report.simulated_ns);
        f.write_with(|w| t.write(w, &series, end, name, seed))
            .map_err(|e| failed(e.to_string()))?;
    }
    if let Some(f) = html_file {
        let page = html::page(report, &sc.description, &series, captures);
        f.write_with(|w| w.write_all(page.as_bytes()))
            .map_err(|e| failed(e.to_string()))?;
    }
    Ok(())
}

/// The progress bar's name (`simnet run`) when a run of `sc` should
/// have one: not with `--quiet`, nor when stderr is not a terminal, nor
/// for a `[tap]` run (simnet::progress).
fn bar_for(what: &'static str, sc: &Scenario, quiet: bool) -> Option<&'static str> {
    (!quiet && sc.tap.is_none() && io::stderr().is_terminal()).then_some(what)
}

/// Runs the scenario: simulated (with a progress bar named `bar`, if any),
/// or on the wall clock through `port`.
fn simulate<O: Observer>(
    sc: &Scenario,
    file: &Path,
    port: Option<Tap>,
    obs: &mut O,
    bar: Option<&str>,
) -> Result<RunReport, Fail> {
    let bad = |e: simnet_sim::RunError| bad_input(format!("{}: {e}", file.display()));
    let Some(mut port) = port else {
        let report = match bar {
            // The bar is cleared as its Watch drops, before any report.
            Some(what) => simnet_sim::run(sc, &mut Watch::new(obs, sc, what)),
            None => simnet_sim::run(sc, obs),
        };
        return report.map_err(bad);
    };
    let mut world = World::new(sc, obs).map_err(bad)?;
    let report = world.run_external(&mut port);
    if let Some(e) = world.port_error() {
        note(&format!("the TAP device failed: {e}"));
    }
    // Closing the descriptor removes the device.
    drop(port);
    Ok(report)
}

/// What `trace` follows: a buffer of a flow, one use of it or all.
struct Traced {
    buffer: u32,
    flow: u16,
    use_index: Option<usize>,
}

fn trace(
    arg: String,
    sets: &[Set],
    what: Traced,
    (pcap, no_pcap): (Option<PathBuf>, bool),
    (json, quiet): (bool, bool),
) -> Result<ExitCode, Fail> {
    let Traced {
        buffer,
        flow,
        use_index,
    } = what;
    check_stdout()?;
    let (sc, source) = load(&arg, sets)?;
    let file = PathBuf::from(source.origin());
    traceable(&sc, flow, buffer, use_index)
        .map_err(|why| bad_input(format!("{}: {why}", file.display())))?;
    let fc = &sc.flows[flow as usize];
    let hosts: Vec<String> = sc.hosts.iter().map(|h| h.name.clone()).collect();
    let ends = (
        sc.host_index(&fc.from).unwrap_or(0),
        sc.host_index(&fc.to).unwrap_or(0),
    );
    let mut t = Trace::new(flow, buffer, use_index, hosts, ends, fc.port);
    let port = bring_up(&sc)?;
    let bar = bar_for("simnet trace", &sc, quiet);
    let (report, captures) = if no_pcap {
        (simulate(&sc, &file, port, &mut t, bar)?, Vec::new())
    } else {
        let (mut cap, dir) = open_captures(&sc, pcap)?;
        let mut both = Tee {
            a: &mut t,
            b: &mut cap,
        };
        let report = simulate(&sc, &file, port, &mut both, bar)?;
        (report, finish_captures(cap, &dir)?)
    };
    let outcome = report.outcome.name();
    let uses = t.uses();
    let missing = match use_index {
        _ if uses == 0 => Some(format!(
            "buffer {buffer} of flow {flow} was never used: none of the flow's {} send \
             calls took it ({} pool)",
            report.flows[flow as usize].writes,
            fc.buffer.pool.name()
        )),
        Some(k) if k >= uses => Some(format!(
            "buffer {buffer} of flow {flow} was used {uses} time{}: there is no use {k} \
             (uses count from 0)",
            if uses == 1 { "" } else { "s" }
        )),
        _ => None,
    };
    if missing.is_none() {
        let text = if json {
            let data = t.json(&report.scenario, outcome, &captures);
            let mut text = serde_json::to_string_pretty(&data)
                .map_err(|e| failed(format!("cannot encode the trace: {e}")))?;
            text.push('\n');
            text
        } else {
            let mut text = t.render(&captures, no_pcap);
            text.push_str(&format!("outcome {outcome}\n"));
            text
        };
        emit(&text)?;
    }
    if report.outcome != Outcome::Ok {
        note(&format!("outcome {outcome}"));
    }
    match missing {
        Some(why) => Err(failed(why)),
        None if report.outcome == Outcome::Ok => Ok(ExitCode::SUCCESS),
        None => Ok(ExitCode::from(1)),
    }
}

/// How `sweep` works: in this process, as a jobs file, or merging one's
/// results.
struct SweepHow {
    jobs_file: Option<PathBuf>,
    merge: Option<PathBuf>,
    jobs: Option<u16>,
    quiet: bool,
}

/// `simnet sweep` (src/sweep/).
fn sweep(
    file: Option<String>,
    (vary, sets): (Vec<String>, Vec<Set>),
    plot: Option<String>,
    out: Option<PathBuf>,
    how: SweepHow,
) -> Result<ExitCode, Fail> {
    use simnet::sweep::{self, SweepError};
    check_stdout()?;
    let done = if let Some(dir) = &how.merge {
        sweep::merge(dir, plot.as_deref())
    } else {
        let vary = (vary.iter().map(|v| sweep::grid::Vary::parse(v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad_input)?;
        // The note a file shadowing a bundled name gets, as for `run`.
        let (source, bytes) =
            bundled::open(file.as_deref().unwrap_or_default(), note).map_err(bad_input)?;
        let req = sweep::Request {
            source,
            bytes,
            vary,
            sets,
            plot,
            out,
            jobs: how.jobs.map(usize::from),
            quiet: how.quiet,
        };
        match &how.jobs_file {
            Some(f) => sweep::jobs_file(req, f),
            None => sweep::run(req),
        }
    };
    let done = done.map_err(|e| match e {
        SweepError::Input(m) => bad_input(m),
        SweepError::Failed(m) => failed(m),
    })?;
    let mut text = String::new();
    for f in &done.files {
        text.push_str(&format!("wrote {}\n", f.display()));
    }
    if let (Some(jobs), Some(plan)) = (&how.jobs_file, done.files.get(1)) {
        let dir = plan.parent().unwrap_or(Path::new("."));
        // As many at once as --jobs says, else as the in-process sweep would.
        let at_once = how.jobs.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        text.push_str(&format!(
            "{} commands; run them, e.g. xargs -d '\\n' -P {at_once} -I{{}} sh -c {{}} < {}, \
             then simnet sweep --merge {}\n",
            done.points,
            jobs.display(),
            dir.display()
        ));
    } else {
        text.push_str(&format!("{} points\n", done.points));
    }
    emit(&text)?;
    if done.not_ok.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for p in &done.not_ok {
        note(&format!("point {p}"));
    }
    note(&format!(
        "{} of {} points did not end with outcome ok",
        done.not_ok.len(),
        done.points
    ));
    Ok(ExitCode::from(1))
}

/// `simnet explain WORD`, or the glossary with `markdown`.
fn explain(word: &str, markdown: bool) -> Result<ExitCode, Fail> {
    let text = if markdown {
        explain::glossary()
    } else if let Some(doc) = explain::document(word) {
        doc.to_string()
    } else {
        let entries = explain::lookup(word).map_err(bad_input)?;
        explain::render(&entries)
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether `trace` can follow buffer `buffer` of flow `flow` (and its use
/// `use_index`) at all, before running: the flow sends from application
/// buffers, and the buffer number and use fit what the flow can take; or
/// why not.
fn traceable(
    sc: &Scenario,
    flow: u16,
    buffer: u32,
    use_index: Option<usize>,
) -> Result<(), String> {
    let Some(fc) = sc.flows.get(flow as usize) else {
        return Err(format!(
            "there is no flow {flow} (the scenario has {})",
            sc.flows.len()
        ));
    };
    if let Some((_, kernel)) = sc.tap_hosts() {
        if sc.hosts[kernel].name == fc.from {
            return Err(format!(
                "flow {flow} is sent by the Linux kernel through [tap]: simnet has no send \
                 buffers of it to follow"
            ));
        }
    }
    if fc.send.from_file() {
        return Err(format!(
            "flow {flow} sends with {:?}: its bytes go from the page cache to the socket \
             without any application buffer, so there is no buffer to follow",
            fc.send.name()
        ));
    }
    // One buffer per send call, each call one whole message.
    let message = match &fc.framing {
        Some(f) if f.kind != FramingKind::Delimited => f.parts(fc.write_size as u64).iter().sum(),
        _ => fc.write_size as u64,
    };
    let writes = fc.bytes.div_ceil(message.max(1));
    let pool = fc.buffer.pool;
    let size = fc.buffer.pool_size;
    match pool {
        PoolKind::Fixed if buffer >= size => {
            return Err(format!(
                "flow {flow} has buffers 0..{size} (pool_size {size}), not {buffer}"
            ))
        }
        PoolKind::Recycling if buffer >= size => {
            return Err(format!(
                "flow {flow}'s recycling pool holds at most buffers 0..{size} (pool_size \
                 {size}), not {buffer}"
            ))
        }
        _ => {}
    }
    // A pool numbers its buffers from 0 and takes at most one new one per
    // send call.
    if u64::from(buffer) >= writes {
        return Err(format!(
            "flow {flow} makes {writes} send call{} ({} bytes, {message} per call), so its \
             pool ({:?}) has at most buffers 0..{writes}, not {buffer}",
            if writes == 1 { "" } else { "s" },
            fc.bytes,
            pool.name()
        ));
    }
    if let Some(k) = use_index {
        if k as u64 >= writes {
            return Err(format!(
                "flow {flow} makes {writes} send call{}: no buffer has a use {k} (uses count \
                 from 0)",
                if writes == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(())
}

/// What `run` prints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The report a student reads (simnet::brief).
    Brief,
    /// The complete table (`--full`).
    Full,
    /// The JSON summary (`--json`).
    Json,
}

/// What `run` writes besides the report.
struct Outputs {
    pcap: Option<PathBuf>,
    no_pcap: bool,
    timeline: Option<PathBuf>,
    html: Option<PathBuf>,
}

/// The timeline and HTML files asked for, made (as temporary files) before
/// the run, so that a path that cannot be written is refused up front.
fn open_outputs(o: &Outputs) -> Result<(Option<OutFile>, Option<OutFile>), Fail> {
    let make = |path: &Option<PathBuf>, what: &str| {
        (path.as_deref())
            .map(|p| OutFile::create(p, what).map_err(|e| failed(e.to_string())))
            .transpose()
    };
    Ok((
        make(&o.timeline, "the timeline")?,
        make(&o.html, "the HTML report")?,
    ))
}

fn run(
    arg: String,
    sets: &[Set],
    form: Form,
    out: Outputs,
    (seed, quiet): (Option<u64>, bool),
) -> Result<ExitCode, Fail> {
    check_stdout()?;
    let (mut sc, source) = load(&arg, sets)?;
    let file = PathBuf::from(source.origin());
    if let Some(seed) = seed {
        sc.seed = seed;
    }
    let (timeline_file, html_file) = open_outputs(&out)?;
    // One recorder for both: the HTML's plots and the timeline's counters
    // come from the same samples.
    let mut recorder = (timeline_file.is_some() || html_file.is_some()).then(|| {
        let timeline = timeline_file.is_some().then(|| Timeline::new(&sc));
        Recorder::new(sc.hosts.len(), sc.flows.len(), timeline)
    });
    let port = bring_up(&sc)?;
    let bar = bar_for("simnet run", &sc, quiet);
    let (report, captures) = match (&mut recorder, out.no_pcap) {
        (None, true) => (
            simulate(&sc, &file, port, &mut NoObserver, bar)?,
            Vec::new(),
        ),
        (Some(rec), true) => (simulate(&sc, &file, port, rec, bar)?, Vec::new()),
        (rec, false) => {
            let (mut cap, dir) = open_captures(&sc, out.pcap)?;
            let report = match rec {
                Some(rec) => simulate(
                    &sc,
                    &file,
                    port,
                    &mut Tee {
                        a: rec,
                        b: &mut cap,
                    },
                    bar,
                )?,
                None => simulate(&sc, &file, port, &mut cap, bar)?,
            };
            (report, finish_captures(cap, &dir)?)
        }
    };
    if let Some(rec) = recorder {
        write_outputs(rec, (timeline_file, html_file), &report, &sc, &captures)?;
    }
    let text = match form {
        Form::Json => {
            let s = output::run_summary(&report, &captures, &source, sets);
            let mut text = serde_json::to_string_pretty(&s)
                .map_err(|e| failed(format!("cannot encode the summary: {e}")))?;
            text.push('\n');
            text
        }
        Form::Full => output::table(&report, &sc.description, &captures),
        Form::Brief => brief::report(&report, &sc.description, &captures),
    };
    emit(&text)?;
    if report.outcome == Outcome::Ok {
        Ok(ExitCode::SUCCESS)
    } else {
        note(&format!("outcome {}", report.outcome.name()));
        Ok(ExitCode::from(1))
    }
}
