//! Output: the exposition text to a `.prom` file, atomically, or to stdout.
//!
//! node_exporter's textfile collector may read the output directory at any moment, so a file
//! is never written in place: the text goes to a temporary file in the same directory (same
//! filesystem, so the rename is atomic), is synced to disk, given mode 0644 and renamed over the
//! target. The temporary name starts with `.` and ends in `.tmp`: the collector reads every
//! `*.prom`, hidden ones included, so it must never end in `.prom`. On any error the previous
//! file is left untouched and the temporary file is removed.
//!
//! An existing target that is not a regular file (a character or block device such as
//! `/dev/null`, a FIFO, a socket, or a symbolic link to one of them) is not ours to replace: it
//! is opened and written in place, never renamed over (issue 10). A FIFO without a reader is an
//! error at once, not a wait.

use std::fs::{File, OpenOptions};
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

/// An existing file that is not a regular file, which an output is written into in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialFile {
    /// A character device (`/dev/null`, a terminal).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A FIFO (named pipe).
    Fifo,
    /// A Unix domain socket.
    Socket,
}

impl SpecialFile {
    /// What the file is, in words: `a FIFO`.
    pub fn describe(self) -> &'static str {
        match self {
            SpecialFile::CharDevice => "a character device",
            SpecialFile::BlockDevice => "a block device",
            SpecialFile::Fifo => "a FIFO",
            SpecialFile::Socket => "a socket",
        }
    }
}

/// What kind of special file `path` names, following symbolic links; `None` for a regular
/// file, a directory, or nothing at all (those are replaced atomically, or fail doing so).
#[cfg(unix)]
pub fn special_file(path: &Path) -> Option<SpecialFile> {
    let metadata = std::fs::metadata(path).ok()?;
    special_kind(&metadata.file_type())
}

#[cfg(unix)]
fn special_kind(file_type: &std::fs::FileType) -> Option<SpecialFile> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_char_device() {
        Some(SpecialFile::CharDevice)
    } else if file_type.is_block_device() {
        Some(SpecialFile::BlockDevice)
    } else if file_type.is_fifo() {
        Some(SpecialFile::Fifo)
    } else if file_type.is_socket() {
        Some(SpecialFile::Socket)
    } else {
        None
    }
}

/// Without Unix file types every target is replaced atomically.
#[cfg(not(unix))]
pub fn special_file(_path: &Path) -> Option<SpecialFile> {
    None
}

/// The output could not be written. The previous file, if any, is unchanged.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {}", path.display(), self.explain())]
pub struct WriteError {
    /// The target file (or `-` for stdout).
    pub path: PathBuf,
    /// The I/O error.
    pub source: io::Error,
    /// What the target is when it is written in place; `None` for a file replaced atomically.
    pub special: Option<SpecialFile>,
    /// The number of bytes that were to be written.
    pub size: usize,
}

impl WriteError {
    /// What went wrong, what became of the previous file, and what to do.
    fn explain(&self) -> String {
        let (path, err) = (&self.path, &self.source);
        let what = match self.special {
            Some(SpecialFile::Fifo) if is_no_reader(err) => {
                "it is a FIFO that no process reads".to_owned()
            }
            _ => describe(err),
        };
        let unchanged = match self.special {
            None => "; the previous file is unchanged",
            Some(_) => "",
        };
        let advice = match (err.kind(), self.special) {
            (io::ErrorKind::FileTooLarge, _) => format!(
                "; raise the limit above {} bytes or write fewer series",
                self.size
            ),
            (_, Some(SpecialFile::Fifo)) if is_no_reader(err) => {
                "; start its reader first (xml2prom does not wait for one)".to_owned()
            }
            (io::ErrorKind::BrokenPipe, Some(SpecialFile::Fifo)) => {
                "; the reader closed the FIFO before it read everything".to_owned()
            }
            (io::ErrorKind::ConnectionRefused, Some(SpecialFile::Socket)) => {
                format!("; no process listens on the socket {}", path.display())
            }
            (io::ErrorKind::PermissionDenied, Some(kind)) => format!(
                "; {} is {}, written in place: run as a user who may write to it",
                path.display(),
                kind.describe()
            ),
            (_, Some(_)) => String::new(),
            _ => advice(path, err),
        };
        format!("{what}{unchanged}{advice}")
    }
}

/// The I/O error in words a user knows: `permission denied`, `the directory does not exist`.
pub(crate) fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::NotFound => "the directory does not exist".to_owned(),
        io::ErrorKind::FileTooLarge => {
            "the file-size limit (ulimit -f / LimitFSIZE=) is smaller than the file".to_owned()
        }
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

/// `ENXIO`: a FIFO opened for writing without blocking has no reader.
fn is_no_reader(err: &io::Error) -> bool {
    #[cfg(unix)]
    {
        err.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
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
    write_with(destination, &Bytes(text.as_bytes()))
}

/// Bytes to write, produced into a writer as they are written, so that a large output never
/// has to be held whole in memory.
pub trait Content {
    /// Writes the whole content into `writer` (from the start, each time it is called).
    fn write_to(&self, writer: &mut dyn Write) -> io::Result<()>;

    /// The number of bytes [`Content::write_to`] writes, for messages.
    fn size(&self) -> usize {
        let mut counter = Counter(0);
        let _ = self.write_to(&mut counter);
        counter.0
    }
}

/// Content already in memory.
struct Bytes<'a>(&'a [u8]);

impl Content for Bytes<'_> {
    fn write_to(&self, writer: &mut dyn Write) -> io::Result<()> {
        writer.write_all(self.0)
    }

    fn size(&self) -> usize {
        self.0.len()
    }
}

/// A writer that only counts the bytes it is given.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes content produced on the fly to its destination, as [`write`] writes a text: a file
/// atomically (or in place, for a special file), standard output as it comes.
pub fn write_with(destination: &Destination, content: &dyn Content) -> Result<(), WriteError> {
    match destination {
        Destination::Stdout => write_stdout(content),
        Destination::File(path) => write_file_with(path, content),
    }
}

fn write_stdout(content: &dyn Content) -> Result<(), WriteError> {
    let mut stdout = io::stdout().lock();
    let written = {
        let mut buffered = io::BufWriter::with_capacity(1 << 16, &mut stdout);
        content
            .write_to(&mut buffered)
            .and_then(|()| buffered.flush())
    };
    match written.and_then(|()| stdout.flush()) {
        // A closed pipe (`xml2prom run ... -o - | head`) is the reader's choice, not an error.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(WriteError {
            path: PathBuf::from("-"),
            source,
            special: None,
            size: content.size(),
        }),
        Ok(()) => Ok(()),
    }
}

/// Writes a file output: in place into an existing device, FIFO or socket (or a symbolic link
/// to one, see [`special_file`]), atomically ([`write_atomically`]) otherwise.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_file_with(path, &Bytes(bytes))
}

/// [`write_file`] for content produced on the fly.
fn write_file_with(path: &Path, content: &dyn Content) -> Result<(), WriteError> {
    match special_file(path) {
        Some(kind) => write_in_place(path, kind, content),
        None => write_atomically_with(path, content),
    }
}

/// Writes `bytes` into the special file at `path`, which stays what it is: opened without
/// `O_CREAT` or `O_TRUNC`, a FIFO without waiting for a reader, a socket by connecting to it.
#[cfg(unix)]
fn write_in_place(path: &Path, kind: SpecialFile, content: &dyn Content) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_owned(),
        source,
        special: Some(kind),
        size: content.size(),
    };
    if kind == SpecialFile::Socket {
        let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(error)?;
        write_buffered(&mut stream, content).map_err(error)?;
        return stream.shutdown(std::net::Shutdown::Write).map_err(error);
    }
    let mut file = open_in_place(path, kind).map_err(error)?;
    write_buffered(&mut file, content)
        .and_then(|()| file.flush())
        .map_err(error)
}

#[cfg(not(unix))]
fn write_in_place(
    path: &Path,
    _kind: SpecialFile,
    content: &dyn Content,
) -> Result<(), WriteError> {
    write_atomically_with(path, content)
}

/// Writes the content through a buffer, so that a writer gets large writes whatever pieces
/// the content comes in.
fn write_buffered(writer: &mut dyn Write, content: &dyn Content) -> io::Result<()> {
    let mut buffered = io::BufWriter::with_capacity(1 << 16, writer);
    content.write_to(&mut buffered)?;
    buffered.flush()
}

/// Opens a device or FIFO for writing as it is. `O_NONBLOCK` makes a FIFO without a reader
/// fail with `ENXIO` instead of waiting for one forever; it is cleared once the file is open, so
/// a slow reader slows the write down instead of failing it. `O_NOCTTY`: a terminal never
/// becomes the controlling terminal.
#[cfg(unix)]
fn open_in_place(path: &Path, kind: SpecialFile) -> io::Result<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(flags.bits() as i32)
        .open(path)?;
    // The path was looked at before it was opened: if it became a regular file meanwhile, it
    // must not be written in place (without O_TRUNC its old tail would stay).
    if special_kind(&file.metadata()?.file_type()) != Some(kind) {
        return Err(io::Error::other(format!(
            "it is no longer {} (it changed while it was opened); try again",
            kind.describe()
        )));
    }
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)?;
    Ok(file)
}

/// The length of the random part of a temporary name (tempfile's default, made explicit so
/// that [`is_temporary_of`] knows it).
const RANDOM_CHARS: usize = 6;

/// Replaces `path` with `bytes` atomically: temporary file, sync, mode 0644, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically_with(path, &Bytes(bytes))
}

/// [`write_atomically`] for content produced on the fly.
fn write_atomically_with(path: &Path, content: &dyn Content) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_owned(),
        source,
        special: None,
        size: content.size(),
    };
    let dir = directory_of(path);
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let mut temporary = temporary_in(&dir, &stem).map_err(error)?;
    write_buffered(temporary.as_file_mut(), content).map_err(error)?;
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

/// A new temporary file for the output named `stem` in `dir`: `.STEM.`, six random letters or
/// digits, then `.tmp`.
fn temporary_in(dir: &Path, stem: &str) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .rand_bytes(RANDOM_CHARS)
        .tempfile_in(dir)
}

/// Whether `name` is a temporary file of [`write_atomically`] for the output named `output`:
/// exactly `.OUTPUT.`, six letters or digits, `.tmp`.
///
/// ```
/// # use std::ffi::OsStr;
/// # use xml2prom::output::is_temporary_of;
/// assert!(is_temporary_of(OsStr::new(".store.prom.a1B2c3.tmp"), OsStr::new("store.prom")));
/// assert!(!is_temporary_of(OsStr::new(".store.prom.a1B2c.tmp"), OsStr::new("store.prom")));
/// assert!(!is_temporary_of(OsStr::new(".other.prom.a1B2c3.tmp"), OsStr::new("store.prom")));
/// ```
pub fn is_temporary_of(name: &std::ffi::OsStr, output: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    let output = output.as_encoded_bytes();
    let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|rest| rest.strip_prefix(output))
        .and_then(|rest| rest.strip_prefix(b"."))
        .and_then(|rest| rest.strip_suffix(b".tmp"))
    else {
        return false;
    };
    rest.len() == RANDOM_CHARS && rest.iter().all(u8::is_ascii_alphanumeric)
}

/// Removes the temporary files that earlier writes of the output `path` left behind when they
/// were killed before their rename (`kill -9`, a power cut). Only call this while holding the
/// output's lock: every writer of `path` holds it, so no such file belongs to a live writer.
/// Only regular files whose name matches [`is_temporary_of`] are removed; a symbolic link is
/// never followed (nor removed). Returns the files removed.
pub fn remove_stale_temporaries(path: &Path) -> Vec<PathBuf> {
    let Some(output) = path.file_name() else {
        return Vec::new();
    };
    let dir = directory_of(path);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        // `file_type` does not follow symbolic links.
        if !is_temporary_of(&name, output) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let stale = path.with_file_name(&name);
        if std::fs::remove_file(&stale).is_ok() {
            removed.push(stale);
        }
    }
    removed
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
    fn only_exact_temporary_names_of_the_output_are_stale() {
        let output = std::ffi::OsStr::new("store.prom");
        let is = |name: &str| is_temporary_of(std::ffi::OsStr::new(name), output);
        assert!(is(".store.prom.aB3dE9.tmp"));
        for name in [
            ".store.prom.aB3dE.tmp",
            ".store.prom.aB3dE90.tmp",
            ".store.prom.aB-dE9.tmp",
            "store.prom.aB3dE9.tmp",
            ".store.prom.aB3dE9.tmp.x",
            ".store.prom.lock",
            ".xstore.prom.aB3dE9.tmp",
            "store.prom",
        ] {
            assert!(!is(name), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("store.prom");
        std::fs::write(dir.path().join(".store.prom.aB3dE9.tmp"), "stale").expect("seed");
        std::fs::write(dir.path().join("victim"), "keep").expect("seed");
        std::os::unix::fs::symlink("victim", dir.path().join(".store.prom.LiNkED.tmp"))
            .expect("symlink");
        std::fs::write(dir.path().join(".other.prom.aB3dE9.tmp"), "keep").expect("seed");
        let removed = remove_stale_temporaries(&target);
        assert_eq!(removed, [dir.path().join(".store.prom.aB3dE9.tmp")]);
        assert_eq!(
            entries(dir.path()),
            [".other.prom.aB3dE9.tmp", ".store.prom.LiNkED.tmp", "victim"]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("victim")).expect("read"),
            "keep"
        );
    }

    #[test]
    fn a_temporary_name_matches_what_write_atomically_creates() {
        let dir = tempfile::tempdir().expect("tempdir");
        for _ in 0..20 {
            let temporary = temporary_in(dir.path(), "store.prom").expect("temporary");
            let name = temporary.path().file_name().expect("a name").to_owned();
            assert!(
                is_temporary_of(&name, std::ffi::OsStr::new("store.prom")),
                "{name:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_reader_is_an_error_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("out.prom");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        assert_eq!(special_file(&fifo), Some(SpecialFile::Fifo));
        let message = write_file(&fifo, b"x 1\n")
            .expect_err("no reader")
            .to_string();
        assert!(
            message.contains("it is a FIFO that no process reads; start its reader first"),
            "{message}"
        );
        assert!(!message.contains("previous file"), "{message}");
        assert_eq!(special_file(&fifo), Some(SpecialFile::Fifo));
    }

    #[test]
    fn a_file_size_limit_names_the_limit_and_the_size() {
        let error = WriteError {
            path: PathBuf::from("out.prom"),
            source: io::Error::from(io::ErrorKind::FileTooLarge),
            special: None,
            size: 123_456,
        };
        assert_eq!(
            error.to_string(),
            "cannot write out.prom: the file-size limit (ulimit -f / LimitFSIZE=) is smaller \
             than the file; the previous file is unchanged; raise the limit above 123456 bytes \
             or write fewer series"
        );
    }

    #[test]
    fn content_is_written_as_it_is_produced_and_sized_for_messages() {
        struct Lines(usize);
        impl Content for Lines {
            fn write_to(&self, writer: &mut dyn Write) -> io::Result<()> {
                for i in 0..self.0 {
                    writeln!(writer, "x{{i=\"{i}\"}} 1")?;
                }
                Ok(())
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("store.prom");
        let lines = Lines(20_000);
        write_with(&Destination::File(target.clone()), &lines).expect("write");
        let text = std::fs::read_to_string(&target).expect("read");
        assert_eq!(text.lines().count(), 20_000);
        assert_eq!(lines.size(), text.len());
        assert_eq!(entries(dir.path()), ["store.prom"]);
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
