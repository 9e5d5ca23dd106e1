//! Replacing a whole file so that a crash leaves either the old or the new content.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// Writes `path` anew through `write`: a temporary file beside it, fsync, rename over `path`,
/// fsync of the directory. Readers and crashes see the old file or the new one, never a mix.
///
/// If anything fails before the rename, the temporary file is removed: a snapshot that failed
/// for lack of space must not keep the space it took.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let temporary = temporary_path(path);
    let written = (|| {
        let mut writer = BufWriter::with_capacity(1 << 20, File::create(&temporary)?);
        write(&mut writer)?;
        let file = writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        if let Err(removal) = fs::remove_file(&temporary)
            && removal.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(file = %temporary.display(), error = %removal, "cannot remove a temporary file");
        }
        return Err(error);
    }
    sync_parent(path)
}

/// The temporary file [`write_atomically`] uses for `path`; left over only by a crash.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes the creation, renaming or removal of entries in `path`'s directory durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// fsyncs a directory, so that the entries it lists survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.json");
        write_atomically(&path, |w| w.write_all(b"[1]")).expect("first write");
        write_atomically(&path, |w| w.write_all(b"[1,2]")).expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"[1,2]");
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn a_failed_write_keeps_the_old_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.json");
        write_atomically(&path, |w| w.write_all(b"old")).expect("first write");
        let failed = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk on fire"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(&path).expect("read"), b"old");
        assert!(
            !temporary_path(&path).exists(),
            "the temporary file is removed"
        );
    }
}
