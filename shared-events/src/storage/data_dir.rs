//! A service's data directory, held by one process at a time.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// An exclusive hold on a data directory, released when dropped (or when the process dies).
///
/// Two writers appending to one journal would interleave records; the lock turns that mistake
/// into a clear error at start-up.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    dir: PathBuf,
}

/// Why a data directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// Another process holds the directory.
    #[error("data directory {0} is in use by another process")]
    InUse(PathBuf),
    /// The directory or its lock file cannot be created or opened.
    #[error("cannot use data directory {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl DataDirLock {
    /// Creates `dir` if needed and locks it for this process.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, DataDirError> {
        let io_error = |source| DataDirError::Io {
            dir: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_error)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock {
                _file: file,
                dir: dir.to_owned(),
            }),
            Err(TryLockError::WouldBlock) => Err(DataDirError::InUse(dir.to_owned())),
            Err(TryLockError::Error(source)) => Err(io_error(source)),
        }
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DataDirLock::acquire(dir.path()).expect("first lock");
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(DataDirError::InUse(_))
        ));
        drop(first);
        DataDirLock::acquire(dir.path()).expect("lock after release");
    }
}
