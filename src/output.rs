//! Output: the exposition text to a `.prom` file, atomically, or to stdout.
//!
//! node_exporter's textfile collector may read the output directory at any moment, so a file
//! is never written in place: the text goes to a temporary file in the same directory (same
//! filesystem, so the rename is atomic), is synced to disk, given mode 0644 and renamed over the
//! target. The temporary name starts with `.` and ends in `.tmp`: the collector reads every
//! `*.prom`, hidden ones included, so it must never end in `.prom`. On any error the previous
//! file is left untouched and the temporary file is removed.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where the exposition goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output (`--output -`).
    Stdout,
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Destination {
    /// `-` means stdout; anything else is a file path.
    pub fn from_arg(arg: &Path) -> Destination {
        if arg == Path::new("-") {
            Destination::Stdout
        } else {
            Destination::File(arg.to_owned())
        }
    }
}

/// The output could not be written. The previous file, if any, is unchanged.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {}; the previous file is unchanged{}", path.display(), describe(source), advice(path, source))]
pub struct WriteError {
    /// The target file (or `-` for stdout).
    pub path: PathBuf,
    /// The I/O error.
    pub source: io::Error,
}

/// The I/O error in words a user knows: `permission denied`, `the directory does not exist`.
pub(crate) fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::NotFound => "the directory does not exist".to_owned(),
        _ => err.to_string(),
    }
}

/// What to do about an I/O error on `path`, starting with `; `, or nothing.
pub(crate) fn advice(path: &Path, err: &io::Error) -> String {
    let dir = directory_of(path);
    match err.kind() {
        io::ErrorKind::PermissionDenied => {
            format!("; run as a user who may create files in {}", dir.display())
        }
        io::ErrorKind::NotFound => format!("; create {} first", dir.display()),
        _ => String::new(),
    }
}

/// Whether two paths name the same file, whether or not it exists yet: the same file name in
/// the same directory (`out.prom`, `./out.prom` and `/abs/out.prom` are one file).
pub fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    let canonical_dir = |path: &Path| directory_of(path).canonicalize().ok();
    a.file_name() == b.file_name()
        && canonical_dir(a).is_some_and(|dir| Some(dir) == canonical_dir(b))
}

/// The directory a file lives in; `.` for a bare file name.
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes the text to its destination.
pub fn write(destination: &Destination, text: &str) -> Result<(), WriteError> {
    match destination {
        Destination::Stdout => write_stdout(text),
        Destination::File(path) => write_atomically(path, text.as_bytes()),
    }
}

fn write_stdout(text: &str) -> Result<(), WriteError> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`xml2prom run ... -o - | head`) is the reader's choice, not an error.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(WriteError {
            path: PathBuf::from("-"),
            source,
        }),
        Ok(()) => Ok(()),
    }
}

/// Replaces `path` with `bytes` atomically: temporary file, sync, mode 0644, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let dir = directory_of(path);
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(error)?;
    temporary.write_all(bytes).map_err(error)?;
    set_readable_mode(temporary.as_file()).map_err(error)?;
    temporary.as_file().sync_all().map_err(error)?;
    temporary
        .persist(path)
        .map_err(|persist| error(persist.error))?;
    // Make the rename itself durable. Some filesystems cannot sync a directory; the file is in
    // place either way, so that is not an error.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// tempfile creates files with mode 0600; node_exporter often runs as another user.
#[cfg(unix)]
fn set_readable_mode(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable_mode(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("readable dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("store.prom");
        std::fs::write(&target, "old\n").expect("seed");
        write_atomically(&target, b"new\n").expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new\n");
        assert_eq!(entries(dir.path()), ["store.prom"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("store.prom");
        write_atomically(&target, b"x 1\n").expect("write");
        let mode = std::fs::metadata(&target)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("nope").join("store.prom");
        let err = write_atomically(&target, b"x 1\n").expect_err("no such directory");
        let message = err.to_string();
        assert!(
            message.contains("the previous file is unchanged"),
            "{message}"
        );
        assert!(message.contains("create"), "{message}");
    }

    #[test]
    fn a_directory_in_the_way_keeps_everything_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("store.prom");
        std::fs::create_dir(&target).expect("a directory where the file should go");
        std::fs::write(target.join("keep"), "x").expect("seed");
        assert!(write_atomically(&target, b"x 1\n").is_err());
        assert_eq!(entries(dir.path()), ["store.prom"]);
        assert_eq!(entries(&target), ["keep"]);
    }

    #[test]
    fn same_file_sees_through_relative_and_absolute_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let absolute = dir.path().join("out.prom");
        let dotted = dir.path().join(".").join("out.prom");
        assert!(same_file(&absolute, &dotted));
        assert!(same_file(Path::new("a.prom"), Path::new("a.prom")));
        assert!(!same_file(&absolute, &dir.path().join("other.prom")));
        assert!(!same_file(
            &absolute,
            Path::new("/nonexistent-dir/out.prom")
        ));
    }

    #[test]
    fn dash_means_stdout() {
        assert_eq!(Destination::from_arg(Path::new("-")), Destination::Stdout);
        assert_eq!(
            Destination::from_arg(Path::new("a.prom")),
            Destination::File(PathBuf::from("a.prom"))
        );
    }
}
