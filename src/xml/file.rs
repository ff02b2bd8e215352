//! Stage 3's way into an input file, for [`crate::xml`]: a path in, an open file out, with what
//! it takes to read it without waiting forever and to tell whether it changed while it was read.
//!
//! Every input is opened with `O_NONBLOCK`, so that opening a FIFO nobody writes to returns at
//! once instead of blocking the run (and the output's lock it holds) until a writer comes. A
//! regular file then gets its blocking reads back, and a [`Stamp`] of what `fstat` said at
//! open: size, modification and change time, inode and device. Anything else (a FIFO, a pipe,
//! a character device) is read through [`Patient`], which waits with `poll` at most the read
//! timeout for each piece and then fails with [`Stalled`].
//!
//! Reads of a regular file have no timeout: a thread blocked in a read of a stalled network
//! file system cannot be stopped, and while it waits the process (and its lock) stays anyway.
//! Mount such file systems `soft`, or give the service a timeout of its own
//! (`TimeoutStartSec=` in systemd).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

/// Opens `path` for reading without blocking on a FIFO that has no writer, and returns the file
/// with what `fstat` says of it. A regular file is switched back to blocking reads; anything
/// else stays non-blocking, to be read through [`Patient`].
pub(super) fn open(path: &Path) -> io::Result<(File, Metadata)> {
    let file = open_nonblocking(path)?;
    let metadata = file.metadata()?;
    if metadata.is_file() {
        set_blocking(&file)?;
    }
    Ok((file, metadata))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NONBLOCK.bits();
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags).unwrap_or(0))
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn set_blocking(file: &File) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    rustix::fs::fcntl_setfl(file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

#[cfg(not(unix))]
fn set_blocking(_file: &File) -> io::Result<()> {
    Ok(())
}

/// What `fstat` says of a regular file that changes whenever the file is written: a writer that
/// rewrites the file in place (`pwrite`, `dd conv=notrunc`) moves the modification and change
/// times even when the size stays. Linux (6.13 on) gives a file written after it was looked at
/// fine-grained times, so two writes within one clock tick still differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
    inode: u64,
    device: u64,
}

impl Stamp {
    /// The stamp of a file from its metadata.
    #[cfg(unix)]
    pub(super) fn of(metadata: &Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }

    /// The stamp of a file from its metadata.
    #[cfg(not(unix))]
    pub(super) fn of(metadata: &Metadata) -> Stamp {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or((0, 0), |since| {
                (
                    i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
                    i64::from(since.subsec_nanos()),
                )
            });
        Stamp {
            size: metadata.len(),
            modified,
            changed: modified,
            inode: 0,
            device: 0,
        }
    }

    /// The size the file had.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// Whether `file` is no longer as this stamp found it (or cannot be looked at).
    pub(super) fn changed(&self, file: &File) -> bool {
        file.metadata()
            .map_or(true, |metadata| Stamp::of(&metadata) != *self)
    }
}

/// Reads a stream (a FIFO, a pipe, a device opened by [`open`]), waiting at most `timeout` for
/// each read to bring something; then the read fails with [`Stalled`] as its error. The end of
/// the stream is a read of 0 bytes once a writer has come and gone.
pub(super) struct Patient {
    file: File,
    timeout: Duration,
}

impl Patient {
    /// Reads `file`, waiting at most `timeout` per read.
    pub(super) fn new(file: File, timeout: Duration) -> Self {
        Self { file, timeout }
    }
}

impl Read for Patient {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let started = Instant::now();
        loop {
            let left = self.timeout.saturating_sub(started.elapsed());
            // Waiting comes first: a FIFO that no writer has opened yet reads as its end.
            if !wait_until_readable(&self.file, left)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    Stalled(self.timeout),
                ));
            }
            match self.file.read(buffer) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// Waits until `file` has something to read, has lost its writer or failed; false if `timeout`
/// passed first.
#[cfg(unix)]
fn wait_until_readable(file: &File, timeout: Duration) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let started = Instant::now();
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let left = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(file, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&left)) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(not(unix))]
fn wait_until_readable(_file: &File, _timeout: Duration) -> io::Result<bool> {
    Ok(true)
}

/// The error of a read that got nothing within the read timeout (`--read-timeout`).
///
/// ```text
/// nothing arrived for 30s; check that a program writes to it (a FIFO needs a writer), or raise --read-timeout
/// ```
#[derive(Debug)]
pub(super) struct Stalled(pub(super) Duration);

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nothing arrived for {}; check that a program writes to it (a FIFO needs a \
             writer), or raise --read-timeout",
            // The form `model::duration::Friendly` prints, which `--read-timeout` reads;
            // xml/ imports nothing from the crate, so it asks jiff itself.
            jiff::fmt::friendly::SpanPrinter::new().unsigned_duration_to_string(&self.0)
        )
    }
}

impl std::error::Error for Stalled {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    fn fifo_in(directory: &Path) -> Option<std::path::PathBuf> {
        let fifo = directory.join("input.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        made.is_ok_and(|status| status.success()).then_some(fifo)
    }

    #[test]
    fn a_fifo_without_a_writer_opens_at_once_and_its_read_times_out() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let Some(fifo) = fifo_in(directory.path()) else {
            eprintln!("mkfifo is not available; skipping");
            return;
        };
        let started = Instant::now();
        let (file, metadata) = open(&fifo).expect("opens without a writer");
        assert!(!metadata.is_file());
        let mut patient = Patient::new(file, Duration::from_millis(200));
        let error = patient.read(&mut [0; 16]).expect_err("nothing to read");
        let waited = started.elapsed();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error.to_string().starts_with("nothing arrived for 200ms;"),
            "{error}"
        );
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[test]
    fn a_fifo_is_read_to_its_end_once_its_writer_is_gone() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let Some(fifo) = fifo_in(directory.path()) else {
            eprintln!("mkfifo is not available; skipping");
            return;
        };
        let (file, _) = open(&fifo).expect("opens without a writer");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let mut pipe = File::options().write(true).open(fifo).expect("open");
            pipe.write_all(b"<r/>").expect("write");
        });
        let mut read = Vec::new();
        Patient::new(file, Duration::from_secs(10))
            .read_to_end(&mut read)
            .expect("read");
        writer.join().expect("the writer");
        assert_eq!(read, b"<r/>");
    }

    #[test]
    fn a_regular_file_reads_blocking_and_its_stamp_sees_an_in_place_rewrite() {
        let mut written = tempfile::NamedTempFile::new().expect("temporary file");
        written.write_all(b"<r>1</r>").expect("write");
        let (mut file, metadata) = open(written.path()).expect("open");
        assert!(metadata.is_file());
        let flags = rustix::fs::fcntl_getfl(&file).expect("flags");
        assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK));
        let stamp = Stamp::of(&metadata);
        assert_eq!(stamp.size(), 8);
        let mut text = String::new();
        file.read_to_string(&mut text).expect("read");
        assert!(!stamp.changed(&file));
        // Same size, same inode: only the times tell.
        let rewrite = File::options()
            .write(true)
            .open(written.path())
            .expect("open for writing");
        std::os::unix::fs::FileExt::write_at(&rewrite, b"2", 3).expect("pwrite");
        assert!(stamp.changed(&file));
    }
}
