//! `simnet sweep`: one scenario run at every point of a grid of `--vary`
//! values, in parallel, gathered into a CSV and an SVG plot.
//!
//! Owns the sweep as a whole: reading every point's scenario up front (a
//! bad key or value is refused before anything runs), running the points
//! on a `rayon` pool (each an independent deterministic run, no capture,
//! timed on the wall clock), the progress bar (`indicatif`, on stderr when
//! it is a terminal), the output folder and its files (`sweep.csv`,
//! `sweep.svg`, written whole through [`crate::outfile`]); and the other
//! way to run a big sweep: a jobs file of one `simnet run ... --json`
//! command per point, plus `sweep-plan.json` in the output folder, which
//! `--merge` reads back with the points' summaries.
//!
//! Does not own what a point's value means ([`crate::scenario::overrides`]
//! applies it as a `--set`), the figures (the JSON summary,
//! [`crate::output::run_summary`]), the grid's values ([`grid`]), the table
//! ([`table`]) or the chart ([`plot`]).

pub mod grid;
pub mod plot;
pub mod table;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use simnet_sim::config::Scenario;
use simnet_sim::event::NoObserver;

use crate::bundled::Source;
use crate::outfile::OutFile;
use crate::output;
use crate::scenario::overrides::{self, Set};
use grid::Vary;
use plot::PlotSpec;
use table::{Row, Table};

/// Why a sweep stopped: a bad argument or scenario (exit status 2), or a
/// failure to do its work (1). Bad input is mostly found before anything
/// runs or is written, but not all: a point the model refuses as it
/// starts (`simnet_sim::RunError`) stops the sweep with other points run
/// and the output folder made, and a `--plot` column the table lacks is
/// known only once every point has run, when the CSV is then written
/// (the message says so).
#[derive(Debug)]
pub enum SweepError {
    Input(String),
    Failed(String),
}

/// What to sweep.
pub struct Request {
    /// The scenario: where it comes from and its bytes (as `run` opens
    /// it, [`crate::bundled::open`]).
    pub source: Source,
    pub bytes: Vec<u8>,
    pub vary: Vec<Vary>,
    /// `--set`s applied at every point.
    pub sets: Vec<Set>,
    pub plot: Option<String>,
    /// The output folder [default: sweeps/<scenario name>].
    pub out: Option<PathBuf>,
    /// Points run at once [default: the cores].
    pub jobs: Option<usize>,
    /// No progress bar.
    pub quiet: bool,
}

/// What a sweep wrote: the files, the points, and those whose outcome
/// was not `ok`.
pub struct Done {
    pub files: Vec<PathBuf>,
    pub points: usize,
    pub not_ok: Vec<String>,
}

/// The file names a sweep writes in its folder.
pub const CSV: &str = "sweep.csv";
pub const SVG: &str = "sweep.svg";
pub const PLAN: &str = "sweep-plan.json";

/// One point ready to run.
struct Point {
    values: Vec<String>,
    sets: Vec<Set>,
    scenario: Scenario,
}

/// The sweep's points, each read and checked, or the first refusal.
struct Prepared {
    source: Source,
    points: Vec<Point>,
    vary: Vec<Vary>,
    common: Vec<Set>,
}

/// Reads every point's scenario: the file with the common `--set`s and
/// the point's values applied. A refusal names the `--vary` and value.
fn prepare(
    (source, bytes): (Source, Vec<u8>),
    vary: Vec<Vary>,
    common: Vec<Set>,
) -> Result<Prepared, SweepError> {
    let input = SweepError::Input;
    if vary.is_empty() {
        return Err(input(
            "a sweep needs at least one --vary KEY=V1,V2,...".into(),
        ));
    }
    for (i, v) in vary.iter().enumerate() {
        if vary[..i].iter().any(|w| w.key == v.key) {
            return Err(input(format!("--vary {}: the key is varied twice", v.key)));
        }
        if common.iter().any(|s| s.key == v.key) {
            return Err(input(format!(
                "--vary {}: the key is also given to --set; keep one",
                v.key
            )));
        }
    }
    let origin = source.origin();
    let grid = grid::grid(&vary).map_err(input)?;
    let mut points = Vec::with_capacity(grid.len());
    for idx in grid {
        let sets = grid::point_sets(&common, &vary, &idx).map_err(input)?;
        let scenario = overrides::apply(&bytes, &origin, &sets).map_err(|mut r| {
            // An error of a varied value (after the common --sets) names
            // the --vary it came from.
            let varied = r.set.filter(|&i| i >= common.len());
            if let Some(s) = varied.and_then(|i| sets.get(i)) {
                r.error.file = format!("--vary {} (value {})", s.key, s.value);
            }
            input(r.to_string())
        })?;
        if scenario.tap.is_some() {
            return Err(input(format!(
                "{origin}: a [tap] scenario runs on the wall clock against the Linux kernel; \
                 it cannot be swept"
            )));
        }
        let values = vary
            .iter()
            .zip(&idx)
            .map(|(v, &i)| v.values.get(i).cloned().unwrap_or_default())
            .collect();
        points.push(Point {
            values,
            sets,
            scenario,
        });
    }
    Ok(Prepared {
        source,
        points,
        vary,
        common,
    })
}

/// The folder a sweep writes to, made if it is not there.
fn out_dir(out: Option<PathBuf>, first: &Scenario) -> Result<PathBuf, SweepError> {
    let dir = out.unwrap_or_else(|| Path::new("sweeps").join(&first.name));
    std::fs::create_dir_all(&dir).map_err(|e| {
        SweepError::Failed(format!("cannot make the folder {}: {e}", dir.display()))
    })?;
    Ok(dir)
}

/// The plot asked for (checked for its form before anything runs), or
/// the default: x the first varied key with numeric values (else the
/// first), y the first flow's sender's CPU time per byte received.
fn plot_spec(arg: Option<&str>, vary: &[Vary], first: &Scenario) -> Result<PlotSpec, SweepError> {
    // The first key whose values are numbers (sizes, times, rates) makes
    // an axis; a list of words (send paths) makes lines.
    let numeric = |v: &&Vary| v.values.iter().all(|x| grid::numeric(x).is_some());
    let key = (vary.iter().find(numeric).or(vary.first())).map_or("", |v| v.key.as_str());
    let sender = first.flows.first().map_or("", |f| f.from.as_str());
    let default = PlotSpec::default_for(key, sender);
    match arg {
        Some(a) => PlotSpec::parse(a, &default).map_err(SweepError::Input),
        None => Ok(default),
    }
}

/// What running a sweep and writing its jobs file both start from: the
/// points read and checked (at least one), the plot, the output folder.
fn ready(req: Request) -> Result<(Prepared, PlotSpec, PathBuf), SweepError> {
    let p = prepare((req.source, req.bytes), req.vary, req.sets)?;
    let Some(first) = p.points.first().map(|pt| &pt.scenario) else {
        return Err(SweepError::Input("the sweep has no points".into()));
    };
    let spec = plot_spec(req.plot.as_deref(), &p.vary, first)?;
    let dir = out_dir(req.out, first)?;
    Ok((p, spec, dir))
}

/// Runs the sweep in this process and writes its CSV and plot.
pub fn run(req: Request) -> Result<Done, SweepError> {
    let (jobs, quiet) = (req.jobs, req.quiet);
    let (p, spec, dir) = ready(req)?;
    let first = &p.points[0].scenario;
    let failed = |e: crate::outfile::OutError| SweepError::Failed(e.to_string());
    let csv_file = OutFile::create(&dir.join(CSV), "the sweep's CSV").map_err(failed)?;
    let svg_file = OutFile::create(&dir.join(SVG), "the sweep's plot").map_err(failed)?;
    let threads =
        jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| SweepError::Failed(format!("cannot start {threads} threads: {e}")))?;
    let bar = progress(p.points.len(), quiet);
    let origin = p.source.origin();
    let rows: Result<Vec<Row>, SweepError> = pool.install(|| {
        p.points
            .par_iter()
            .map(|pt| {
                let start = Instant::now();
                let report = simnet_sim::run(&pt.scenario, &mut NoObserver)
                    .map_err(|e| SweepError::Input(format!("{origin}: {e}")))?;
                // What `simnet run --set ... --json` prints for the point.
                let summary = output::run_summary(&report, &[], &p.source, &pt.sets);
                let summary = serde_json::to_value(summary)
                    .map_err(|e| SweepError::Failed(format!("cannot encode a summary: {e}")))?;
                let wall_ms = start.elapsed().as_secs_f64() * 1e3;
                bar.inc(1);
                Ok(row(pt.values.clone(), &summary, Some(wall_ms)))
            })
            .collect()
    });
    bar.finish_and_clear();
    crate::signals::progress_shown(false);
    write_outputs(rows?, (csv_file, svg_file), &p.vary, &spec, &first.name)
}

/// A point's row from its summary.
fn row(values: Vec<String>, summary: &Value, wall_ms: Option<f64>) -> Row {
    Row {
        values,
        outcome: summary
            .get("outcome")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        figures: table::flatten(summary),
        wall_ms,
    }
}

/// Writes the CSV of the rows of a sweep of `vary` over the scenario
/// `name`, then the plot; a plot that cannot be drawn (a column the table
/// lacks) leaves the CSV written and says why.
fn write_outputs(
    rows: Vec<Row>,
    (csv_file, svg_file): (OutFile, OutFile),
    vary: &[Vary],
    spec: &PlotSpec,
    name: &str,
) -> Result<Done, SweepError> {
    let t = Table::new(vary.iter().map(|v| v.key.clone()).collect(), rows);
    // x a multiplicative range: its axis is logarithmic.
    let log_x = vary.iter().any(|v| v.key == spec.x && v.geometric);
    let title = format!("simnet sweep: {name}");
    let failed = |e: crate::outfile::OutError| SweepError::Failed(e.to_string());
    let csv = t.csv().map_err(SweepError::Failed)?;
    let mut files = vec![csv_file.write_with(|w| w.write_all(&csv)).map_err(failed)?];
    let svg = plot::svg(&t, spec, log_x, &title)
        .map_err(|why| SweepError::Input(format!("{why}; {} is written", files[0].display())))?;
    files.push(
        svg_file
            .write_with(|w| w.write_all(svg.as_bytes()))
            .map_err(failed)?,
    );
    let not_ok = (t.rows.iter())
        .filter(|r| r.outcome != "ok")
        .map(|r| format!("{} (outcome {})", r.values.join(", "), r.outcome))
        .collect();
    Ok(Done {
        files,
        points: t.rows.len(),
        not_ok,
    })
}

/// A progress bar on stderr, or a hidden one (not a terminal, `--quiet`).
fn progress(points: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(points as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "simnet sweep [{bar:40}] {pos}/{len} points, {elapsed} (about {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    // A signal that ends the sweep erases the bar before saying so.
    crate::signals::progress_shown(true);
    bar
}

/// What `--jobs-file` leaves in the output folder for `--merge`: the
/// sweep as asked, and each point's values and summary file.
#[derive(Serialize, Deserialize)]
struct Plan {
    /// The scenario file the commands run.
    scenario: String,
    /// Its name (the plot's title).
    name: String,
    vary: Vec<Vary>,
    /// The `--set`s of every point.
    sets: Vec<String>,
    plot: PlotSpec,
    points: Vec<PlanPoint>,
}

#[derive(Serialize, Deserialize)]
struct PlanPoint {
    file: String,
    values: Vec<String>,
}

/// The summary file of point `i` of `n`: `point-007.json`, wider when
/// there are more than 1,000 points.
fn point_file(i: usize, n: usize) -> String {
    let width = n.saturating_sub(1).to_string().len().max(3);
    format!("point-{i:0width$}.json")
}

/// `s` quoted for a POSIX shell when it needs to be.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Writes the jobs file (one `simnet run` command per point) and the
/// plan `--merge` reads, instead of running the sweep.
pub fn jobs_file(req: Request, jobs: &Path) -> Result<Done, SweepError> {
    let (p, spec, dir) = ready(req)?;
    let first = &p.points[0].scenario;
    let failed = |e: crate::outfile::OutError| SweepError::Failed(e.to_string());
    let jobs_out = OutFile::create(jobs, "the jobs file").map_err(failed)?;
    let plan_out = OutFile::create(&dir.join(PLAN), "the sweep's plan").map_err(failed)?;
    // Absolute paths: the commands run from anywhere.
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let exe = std::env::current_exe()
        .map_err(|e| SweepError::Failed(format!("cannot find simnet's own path: {e}")))?;
    // A bundled scenario is in the binary: `bundled:NAME` runs it.
    let file = match &p.source {
        Source::File(f) => abs(f).display().to_string(),
        Source::Bundled(_) => p.source.origin(),
    };
    let dir_abs = abs(&dir);
    let n = p.points.len();
    let mut text = String::new();
    let mut points = Vec::with_capacity(n);
    for (i, pt) in p.points.iter().enumerate() {
        let name = point_file(i, n);
        let mut words = vec![
            shell_quote(&exe.display().to_string()),
            "run".into(),
            shell_quote(&file),
        ];
        for s in &pt.sets {
            words.push("--set".into());
            // As given: the point's summary records it as an in-process
            // sweep's point does (output::RunJson::new).
            words.push(shell_quote(&s.arg));
        }
        // --quiet: points run side by side on one terminal draw no bars.
        words.extend([
            "--json".into(),
            "--no-pcap".into(),
            "--quiet".into(),
            ">".into(),
        ]);
        words.push(shell_quote(&dir_abs.join(&name).display().to_string()));
        text.push_str(&words.join(" "));
        text.push('\n');
        points.push(PlanPoint {
            file: name,
            values: pt.values.clone(),
        });
    }
    let plan = Plan {
        scenario: file,
        name: first.name.clone(),
        vary: p.vary,
        sets: p.common.iter().map(|s| s.arg.clone()).collect(),
        plot: spec,
        points,
    };
    let plan_text = serde_json::to_string_pretty(&plan)
        .map_err(|e| SweepError::Failed(format!("cannot encode the plan: {e}")))?;
    let files = vec![
        jobs_out
            .write_with(|w| w.write_all(text.as_bytes()))
            .map_err(failed)?,
        plan_out
            .write_with(|w| writeln!(w, "{plan_text}"))
            .map_err(failed)?,
    ];
    Ok(Done {
        files,
        points: n,
        not_ok: Vec::new(),
    })
}

/// Gathers the summaries a jobs file's commands wrote in `dir` into the
/// CSV and plot an in-process sweep writes (with `wall_ms` empty).
pub fn merge(dir: &Path, plot_arg: Option<&str>) -> Result<Done, SweepError> {
    let plan_path = dir.join(PLAN);
    let text = std::fs::read_to_string(&plan_path).map_err(|e| {
        SweepError::Input(format!(
            "{}: cannot read: {e} (--merge takes the folder a --jobs-file sweep wrote its plan to)",
            plan_path.display()
        ))
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        SweepError::Input(format!("{}: not a sweep plan: {e}", plan_path.display()))
    })?;
    let mut rows = Vec::with_capacity(plan.points.len());
    let mut missing = Vec::new();
    for pt in &plan.points {
        let path = dir.join(&pt.file);
        let summary: Value = match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                SweepError::Failed(format!(
                    "{}: not a JSON summary (did its command fail?): {e}",
                    path.display()
                ))
            })?,
            Err(_) => {
                missing.push(pt.file.clone());
                continue;
            }
        };
        check_sets(&summary, &plan, pt, &path)?;
        rows.push(row(pt.values.clone(), &summary, None));
    }
    if !missing.is_empty() {
        return Err(SweepError::Failed(format!(
            "{} of {} points have no summary in {} yet ({}{}); run their commands first",
            missing.len(),
            plan.points.len(),
            dir.display(),
            missing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if missing.len() > 3 { ", ..." } else { "" }
        )));
    }
    let spec = match plot_arg {
        Some(a) => PlotSpec::parse(a, &plan.plot).map_err(SweepError::Input)?,
        None => plan.plot.clone(),
    };
    let failed = |e: crate::outfile::OutError| SweepError::Failed(e.to_string());
    let csv_file = OutFile::create(&dir.join(CSV), "the sweep's CSV").map_err(failed)?;
    let svg_file = OutFile::create(&dir.join(SVG), "the sweep's plot").map_err(failed)?;
    write_outputs(rows, (csv_file, svg_file), &plan.vary, &spec, &plan.name)
}

/// A summary records the `--set`s it ran with (`run.sets`): they must
/// hold the point's values, so a summary in the wrong file is refused.
fn check_sets(summary: &Value, plan: &Plan, pt: &PlanPoint, path: &Path) -> Result<(), SweepError> {
    let sets = summary.get("run").and_then(|r| r.get("sets"));
    let Some(recorded) = sets.and_then(Value::as_array) else {
        return Ok(());
    };
    let recorded: Vec<String> = recorded
        .iter()
        .filter_map(|s| s.as_str().map(String::from))
        .collect();
    for (v, value) in plan.vary.iter().zip(&pt.values) {
        let want = format!("{}={value}", v.key);
        if !recorded.contains(&want) {
            return Err(SweepError::Failed(format!(
                "{}: this summary was not run with --set {want}, as the plan's point is \
                 (it records {})",
                path.display(),
                recorded.join(" ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_what_a_shell_would_read_otherwise() {
        assert_eq!(shell_quote("flow[0].send=write"), "'flow[0].send=write'");
        assert_eq!(shell_quote("run"), "run");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(point_file(7, 22), "point-007.json");
        assert_eq!(point_file(7, 20_000), "point-00007.json");
    }
}
