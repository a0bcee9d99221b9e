//! What SIGINT (Ctrl-C), SIGTERM and SIGHUP do to a run.
//!
//! Owns the process's one handler for the three, a thread [`install`]
//! starts before anything is written, and the registry of temporary files a
//! signal must remove ([`temporaries`]). A signal does one of two things:
//!
//! - in a simulated run (the default) it ends the process: the simulation
//!   runs on the main thread to its end and cannot be asked to stop, so the
//!   handler removes every registered temporary file, says so on stderr
//!   (`simnet: interrupted; removed N temporary capture file(s)`) and exits
//!   with 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM, 129
//!   for SIGHUP. It holds the registry while it does, so no temporary file
//!   is created or renamed into place meanwhile; a file the capture writer
//!   thread still has open is unlinked, and its writes go to a nameless
//!   inode the kernel frees at exit: nothing is recreated.
//! - once [`stop_flag`] has been called (a TAP run, which follows the wall
//!   clock and stops when asked), it only sets that flag: the run ends with
//!   outcome `interrupted`, finishes its captures and prints its report.
//!
//! Does not know what a capture is: [`crate::capture`] registers its
//! temporary files here and takes them back when it renames or removes them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Temporary files to remove if a signal ends the process.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set by the first [`stop_flag`]: signals stop the run instead.
static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Whether the handler thread runs.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether a progress bar is on stderr's last line ([`progress_shown`]).
static BAR: AtomicBool = AtomicBool::new(false);

/// Starts the handler thread for SIGINT, SIGTERM and SIGHUP (once per
/// process; later calls do nothing).
pub fn install() -> io::Result<()> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let started = Signals::new([SIGINT, SIGTERM, SIGHUP]).and_then(|mut signals| {
        thread::Builder::new()
            .name("simnet-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    on_signal(signal);
                }
            })
    });
    if started.is_err() {
        INSTALLED.store(false, Ordering::SeqCst);
    }
    started.map(drop)
}

fn on_signal(signal: i32) {
    if let Some(stop) = STOP.get() {
        stop.store(true, Ordering::SeqCst);
        return;
    }
    // Held until the process is gone: nothing is registered, created or
    // renamed into place after this.
    let registry = temporaries();
    let removed = registry
        .0
        .iter()
        .filter(|p| fs::remove_file(p).is_ok())
        .count();
    let mut err = io::stderr().lock();
    if BAR.load(Ordering::SeqCst) {
        // Over the bar, not after it: back to the line's start, erase it.
        let _ = write!(err, "\r\x1b[2K");
    }
    let _ = writeln!(
        err,
        "simnet: interrupted; removed {removed} temporary capture file(s)"
    );
    std::process::exit(128 + signal);
}

/// A progress bar is now drawn on stderr's last line (`true`) or cleared
/// (`false`): a signal that ends the run erases the bar before saying so,
/// rather than writing after it on the same line.
pub fn progress_shown(on: bool) {
    BAR.store(on, Ordering::SeqCst);
}

/// A flag that turns true on SIGINT (Ctrl-C), SIGTERM or SIGHUP. From the
/// first call on, those signals only set it, and the run that polls it ends
/// cleanly: report printed, captures finished (a TAP run).
pub fn stop_flag() -> Arc<AtomicBool> {
    // The handler sets the flag; without one the signals would kill.
    let _ = install();
    STOP.get_or_init(Default::default).clone()
}

/// The registry of temporary files, locked: while the guard lives, a
/// signal neither removes a file nor ends the process, so a file is
/// registered as it is created and leaves the registry as it is renamed.
pub struct Temporaries(MutexGuard<'static, Vec<PathBuf>>);

/// Locks the registry of temporary files.
pub fn temporaries() -> Temporaries {
    Temporaries(TEMPORARIES.lock().unwrap_or_else(PoisonError::into_inner))
}

impl Temporaries {
    /// A signal that ends the process removes `path` first.
    pub fn add(&mut self, path: &Path) {
        self.0.push(path.to_path_buf());
    }

    /// `path` was renamed into place or removed: not a signal's business.
    pub fn remove(&mut self, path: &Path) {
        self.0.retain(|p| p != path);
    }
}
