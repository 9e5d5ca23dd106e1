//! A small file system of its own for a test: a tmpfs of a given size that the test fills up
//! and frees again, to see what a service does with a full disk. Mounting needs root (or
//! `CAP_SYS_ADMIN`); where it is not possible, [`Tmpfs::mount`] says so on one line and the test
//! skips itself.
//!
//! ```no_run
//! # fn test() {
//! let Some(disk) = test_support::tmpfs::Tmpfs::mount(2 << 20) else {
//!     return;
//! };
//! // ... a service keeps its files in disk.path() ...
//! disk.fill();
//! // ... writes fail with ENOSPC ...
//! disk.free();
//! # }
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The name of the file that fills the file system.
const FILLER: &str = "filler";

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
#[derive(Debug)]
pub struct Tmpfs {
    mount_point: TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_bytes` (rounded up to whole pages) on a new temporary
    /// directory. `None` when that is not possible (not root, no `mount`), after one line on
    /// standard error naming the test, which should then return: it is skipped.
    pub fn mount(size_bytes: u64) -> Option<Tmpfs> {
        let mount_point = tempfile::tempdir().expect("a temporary directory to mount on");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_bytes}"), "tmpfs"])
            .arg(mount_point.path())
            .output();
        let why = match mounted {
            Ok(output) if output.status.success() => return Some(Tmpfs { mount_point }),
            Ok(output) => {
                // On one line, whatever `mount` wrote.
                let said = String::from_utf8_lossy(&output.stderr);
                let said: Vec<&str> = said.split_whitespace().collect();
                format!("{}: {}", output.status, said.join(" "))
            }
            Err(error) => format!("cannot run mount: {error}"),
        };
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("this test");
        eprintln!(
            "skipped {test}: cannot mount a tmpfs of {size_bytes} bytes ({why}); it needs root or CAP_SYS_ADMIN"
        );
        None
    }

    /// Where the file system is mounted.
    pub fn path(&self) -> &Path {
        self.mount_point.path()
    }

    /// Writes a filler file until the file system has no room left (`ENOSPC`): from now on a
    /// write that needs a new block fails. Filling again replaces the filler.
    pub fn fill(&self) {
        let path = self.filler();
        let mut filler = File::create(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        let chunk = vec![0xa5_u8; 64 << 10];
        loop {
            match filler.write_all(&chunk) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::StorageFull => return,
                Err(error) => panic!("cannot fill {}: {error}", path.display()),
            }
        }
    }

    /// Removes the filler: the room it took is free again.
    pub fn free(&self) {
        let path = self.filler();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => panic!("cannot remove {}: {error}", path.display()),
        }
    }

    fn filler(&self) -> PathBuf {
        self.path().join(FILLER)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.mount_point.path();
        let unmounted = |lazy: bool| {
            let mut umount = Command::new("umount");
            if lazy {
                umount.arg("-l");
            }
            umount
                .arg(path)
                .output()
                .is_ok_and(|output| output.status.success())
        };
        // A process that still has files open there (a service killed but not yet reaped)
        // makes the file system busy; a lazy unmount detaches it now and frees it once closed.
        if !unmounted(false) && !unmounted(true) {
            eprintln!("cannot unmount the tmpfs at {}", path.display());
        }
    }
}
