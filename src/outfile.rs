//! Whole files written after a run (the timeline, the HTML report): made
//! in the target folder before the run, filled when it ends, renamed into
//! place only when complete.
//!
//! Owns [`OutFile`]: a temporary file created exclusively (`O_EXCL`, a
//! random name of its own run: `.<name>.XXXXXX.tmp`) next to the path asked
//! for, so that a path that cannot be written is refused before the run
//! starts, not after it, and a reader sees the previous file or the whole
//! new one (the rename is atomic). From its creation to its rename it is
//! registered with [`crate::signals`], so a signal that ends the run
//! removes it; dropped unrenamed (an error), it is removed too.
//!
//! Does not know what goes in the file. [`crate::capture`] keeps its own
//! temporaries, written by its writer thread while the run goes on.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::signals;

/// A file to be written whole at `path` once the run is over.
pub struct OutFile {
    path: PathBuf,
    file: Option<File>,
    tmp: Option<TempPath>,
}

/// Why an output file cannot be made or written: a sentence naming the
/// path (for the user, after `simnet: `).
#[derive(Debug)]
pub struct OutError(pub String);

impl std::fmt::Display for OutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl OutFile {
    /// The temporary file for `path`, made now; `what` names the output in
    /// errors ("the timeline"). Refuses a path that is a folder, whose
    /// folder does not exist, or where no file can be created.
    pub fn create(path: &Path, what: &str) -> Result<OutFile, OutError> {
        let fail =
            |why: String| OutError(format!("cannot write {what} to {}: {why}", path.display()));
        if path.as_os_str().is_empty() {
            return Err(OutError(format!("cannot write {what}: the path is empty")));
        }
        if path.is_dir() {
            return Err(fail("it is a folder".into()));
        }
        let name = path
            .file_name()
            .ok_or_else(|| fail("the path names no file".into()))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(fail(format!("there is no folder {}", dir.display())));
        }
        let mut registry = signals::temporaries();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".tmp")
            // As `File::create` would: what the umask allows.
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| fail(e.to_string()))?;
        registry.add(tmp.path());
        let (file, tmp) = tmp.into_parts();
        Ok(OutFile {
            path: path.to_path_buf(),
            file: Some(file),
            tmp: Some(tmp),
        })
    }

    /// Where the file goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes what `fill` writes into the temporary file, then renames it
    /// into place (replacing a file of that name). On any failure the
    /// temporary file is removed and nothing is left at `path` but what
    /// was there before.
    pub fn write_with(
        mut self,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<PathBuf, OutError> {
        let fail = |e: io::Error| OutError(format!("writing {} failed: {e}", self.path.display()));
        let file = self.file.take().expect("an OutFile is written once");
        let mut w = BufWriter::with_capacity(1 << 16, file);
        fill(&mut w).map_err(fail)?;
        let file = w.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_data().map_err(fail)?;
        drop(file);
        let tmp = self.tmp.take().expect("an OutFile is renamed once");
        let mut registry = signals::temporaries();
        registry.remove(&tmp);
        // A failed rename hands the path back; dropping it removes the file.
        tmp.persist(&self.path).map_err(|e| fail(e.error))?;
        Ok(self.path.clone())
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        self.file = None;
        if let Some(tmp) = self.tmp.take() {
            let mut registry = signals::temporaries();
            registry.remove(&tmp);
            drop(tmp); // removes the file
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let out = OutFile::create(&path, "the timeline").unwrap();
        assert!(!path.exists(), "nothing at the path during the run");
        let written = out.write_with(|w| w.write_all(b"{}")).unwrap();
        assert_eq!(written, path);
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the file itself");
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_bad_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.html");
        let out = OutFile::create(&path, "the report").unwrap();
        let err = out
            .write_with(|_| Err(io::Error::other("disk full")))
            .unwrap_err();
        assert!(err.0.contains("disk full"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        for (bad, says) in [
            (dir.path().to_path_buf(), "it is a folder"),
            (dir.path().join("no/such/x.json"), "there is no folder"),
            (PathBuf::new(), "the path is empty"),
        ] {
            let e = OutFile::create(&bad, "the timeline").err().unwrap();
            assert!(e.0.contains(says), "{}: {e}", bad.display());
        }
    }
}
