//! Lock: one run at a time per output, so overlapping runs (a slow run and the next cron start)
//! never interleave their writes.
//!
//! The lock is an advisory lock (`flock` on Unix, `LockFileEx` on Windows) on a lock file beside
//! the output: `.NAME.prom.lock` next to `--output NAME.prom`, `.xml2prom.lock` inside
//! `--output-dir`. The name is hidden and does not end in `.prom`, since node_exporter's textfile
//! collector reads every `*.prom` file of its directory, hidden ones included. The file is never
//! deleted: removing a lock file while another process waits on it would let a third process
//! lock a new file of the same name. The kernel releases the lock when the process ends, however
//! it ends, so a crashed run never leaves a stale lock behind.
//!
//! Whoever may write the output's directory could plant something at the lock's path, so the
//! lock file is opened with `O_NOFOLLOW` (a symbolic link is refused, never followed: issue 10),
//! `O_NONBLOCK` (a FIFO planted there cannot make the run wait) and close-on-exec, and created
//! with mode 0600: `flock` needs only a descriptor opened for reading, so a lock file others can
//! read is one any local user can hold, blocking every run. Only two users may hold the lock: the
//! effective user of the run, and root. An existing lock path that is not a regular file, or a
//! lock file that belongs to another user (unless root), is refused with an error; a lock file
//! of ours that others may read (from an earlier version) is made 0600.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::duration::Friendly;

/// How often a waiting run tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

/// The lock file of `--output FILE`: `.FILE.lock` in the same directory.
///
/// ```
/// # use std::path::Path;
/// # use xml2prom::commands::lock::lock_file_for_output;
/// assert_eq!(lock_file_for_output(Path::new("/srv/textfile/store.prom")),
///            Path::new("/srv/textfile/.store.prom.lock"));
/// assert_eq!(lock_file_for_output(Path::new("store.prom")), Path::new(".store.prom.lock"));
/// ```
pub fn lock_file_for_output(output: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(output.file_name().unwrap_or(output.as_os_str()));
    name.push(".lock");
    output.with_file_name(name)
}

/// The lock file of `--output-dir DIR`: `DIR/.xml2prom.lock`.
pub fn lock_file_for_directory(dir: &Path) -> PathBuf {
    dir.join(".xml2prom.lock")
}

/// The lock could not be taken; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be opened or created.
    #[error(
        "cannot open the lock file {}: {}; nothing was written{}",
        path.display(), crate::output::describe(source), crate::output::advice(path, source)
    )]
    Open {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The lock path is a symbolic link, or something else that is not a regular file.
    #[error(
        "the lock file {} is {what}, not a regular file; xml2prom never follows or replaces it, \
         and nothing was written. Remove it (xml2prom creates its lock file itself)",
        path.display()
    )]
    NotRegular {
        /// The lock file.
        path: PathBuf,
        /// What is there instead: `a symbolic link`.
        what: &'static str,
    },
    /// The lock file belongs to another user than the one running (and not to root), who could
    /// hold it and stop every run.
    #[error(
        "the lock file {} belongs to the user with uid {owner}, not to this user (uid {user}) or \
         root; that user could hold it and stop every run, so nothing was written. Remove it, \
         or run xml2prom as its owner",
        path.display()
    )]
    Owner {
        /// The lock file.
        path: PathBuf,
        /// The uid of its owner.
        owner: u32,
        /// The effective uid of this run.
        user: u32,
    },
    /// Another run held the lock for the whole timeout.
    #[error(
        "another xml2prom run held the lock {} for all of --lock-timeout ({}); nothing was \
         written. That run is still going or hangs: find it with `fuser {}`, or give it more \
         time with --lock-timeout",
        path.display(), Friendly(*timeout), path.display()
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long this run waited: the timeout it was given.
        timeout: Duration,
    },
    /// Locking itself failed (a filesystem without locks, for example).
    #[error("cannot lock {}: {source}; nothing was written", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
}

/// Takes the lock on `path` (creating the file if needed), waiting up to `timeout` for another
/// run to release it.
pub fn acquire(path: &Path, timeout: Duration) -> Result<OutputLock, LockError> {
    let file = open(path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(OutputLock { _file: file }),
            Err(TryLockError::WouldBlock) => {
                let waited = start.elapsed();
                if waited >= timeout {
                    return Err(LockError::Timeout {
                        path: path.to_owned(),
                        timeout,
                    });
                }
                std::thread::sleep(RETRY.min(timeout - waited));
            }
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Lock {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

/// Opens (or creates) the lock file, refusing whatever is not a regular file of ours.
#[cfg(unix)]
fn open(path: &Path) -> Result<File, LockError> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let not_regular = |what| LockError::NotRegular {
        path: path.to_owned(),
        what,
    };
    // Looked at first, so that a device is refused without being opened.
    if let Ok(metadata) = std::fs::symlink_metadata(path)
        && !metadata.is_file()
    {
        return Err(not_regular(kind_of(&metadata.file_type())));
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(|source| {
            // Replaced by a symbolic link since it was looked at: O_NOFOLLOW says ELOOP.
            if source.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                not_regular("a symbolic link")
            } else {
                LockError::Open {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
    let open_error = |source| LockError::Open {
        path: path.to_owned(),
        source,
    };
    let metadata = file.metadata().map_err(open_error)?;
    if !metadata.is_file() {
        return Err(not_regular(kind_of(&metadata.file_type())));
    }
    let user = rustix::process::geteuid().as_raw();
    let owner = metadata.uid();
    if owner != user && owner != 0 {
        return Err(LockError::Owner {
            path: path.to_owned(),
            owner,
            user,
        });
    }
    if owner == user && metadata.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(open_error)?;
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_owned(),
            source,
        })
}

/// What a file that is not a regular file is, in words.
#[cfg(unix)]
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else {
        "something else"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_names_are_hidden_and_not_prom() {
        let file = lock_file_for_output(Path::new("out/store.prom"));
        assert_eq!(file, Path::new("out/.store.prom.lock"));
        let dir = lock_file_for_directory(Path::new("out"));
        assert_eq!(dir, Path::new("out/.xml2prom.lock"));
        for path in [file, dir] {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(name.starts_with('.') && !name.ends_with(".prom"), "{name}");
        }
    }

    #[test]
    fn a_second_lock_waits_then_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".store.prom.lock");
        let held = acquire(&path, Duration::ZERO).expect("free lock");
        let start = Instant::now();
        let err = acquire(&path, Duration::from_millis(200)).expect_err("held elsewhere");
        assert!(start.elapsed() >= Duration::from_millis(200));
        let message = err.to_string();
        assert!(
            message.contains("held the lock") && message.contains("(200ms)"),
            "{message}"
        );
        assert!(message.contains("--lock-timeout"), "{message}");
        drop(held);
        acquire(&path, Duration::ZERO).expect("released on drop");
    }

    #[test]
    fn a_waiting_lock_is_taken_when_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".xml2prom.lock");
        let held = acquire(&path, Duration::ZERO).expect("free lock");
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            drop(held);
        });
        acquire(&path, Duration::from_secs(30)).expect("taken once released");
        releaser.join().expect("releaser");
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing").join(".xml2prom.lock");
        let message = acquire(&path, Duration::ZERO)
            .expect_err("no directory")
            .to_string();
        assert!(
            message.contains("the directory does not exist"),
            "{message}"
        );
        assert!(message.contains("create"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_is_private_and_a_symlink_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".store.prom.lock");
        drop(acquire(&path, Duration::ZERO).expect("free lock"));
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let planted = dir.path().join(".other.prom.lock");
        std::os::unix::fs::symlink("target", &planted).expect("symlink");
        let err = acquire(&planted, Duration::ZERO).expect_err("a symlink");
        assert!(
            matches!(
                err,
                LockError::NotRegular {
                    what: "a symbolic link",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!dir.path().join("target").exists());

        let directory = dir.path().join(".dir.prom.lock");
        std::fs::create_dir(&directory).expect("dir");
        let err = acquire(&directory, Duration::ZERO).expect_err("a directory");
        assert!(
            err.to_string()
                .contains("is a directory, not a regular file"),
            "{err}"
        );
    }
}
