//! A failing fsync for a real service binary: a small shared library, built here with the
//! system's C compiler and loaded with `LD_PRELOAD`, whose `fsync` and `fdatasync` fail with
//! `EIO` while a flag file exists, and otherwise call the C library's own. The binary is the
//! one users run; only the disk's answer is changed, as a failing disk would change it.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use tempfile::TempDir;
use tokio::process::Command;

/// The library's source: the flag's path comes from `FSYNC_FAULT_FLAG`.
const SOURCE: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int armed(void) {
    const char *flag = getenv("FSYNC_FAULT_FLAG");
    return flag != NULL && access(flag, F_OK) == 0;
}

int fsync(int fd) {
    static int (*real)(int);
    if (armed()) {
        errno = EIO;
        return -1;
    }
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (armed()) {
        errno = EIO;
        return -1;
    }
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    return real(fd);
}
"#;

/// A flag that makes the fsyncs of the processes [`FsyncFault::apply`] was given to fail.
pub struct FsyncFault {
    flag_dir: TempDir,
}

impl FsyncFault {
    /// A fault, not armed yet.
    pub fn new() -> FsyncFault {
        FsyncFault {
            flag_dir: tempfile::tempdir().expect("a folder for the fault's flag"),
        }
    }

    /// Loads the library into the process `command` starts, watching this fault's flag.
    pub fn apply(&self, command: &mut Command) {
        command
            .env("LD_PRELOAD", library())
            .env("FSYNC_FAULT_FLAG", self.flag());
    }

    /// From now on every fsync fails.
    pub fn arm(&self) {
        std::fs::write(self.flag(), b"").expect("the fault's flag is written");
    }

    /// From now on fsyncs reach the disk again.
    pub fn disarm(&self) {
        std::fs::remove_file(self.flag()).expect("the fault's flag is removed");
    }

    fn flag(&self) -> PathBuf {
        self.flag_dir.path().join("fail-fsync")
    }
}

impl Default for FsyncFault {
    fn default() -> FsyncFault {
        FsyncFault::new()
    }
}

/// The library, built once per test process.
fn library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let dir = tempfile::tempdir()
            .expect("a folder for the library")
            .keep();
        let source = dir.join("fsync_fault.c");
        let library = dir.join("libfsync_fault.so");
        std::fs::write(&source, SOURCE).expect("the library's source is written");
        let built = StdCommand::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&library)
            .arg(&source)
            .arg("-ldl")
            .output()
            .expect("a C compiler (cc) to build the fsync fault library");
        assert!(
            built.status.success(),
            "building the fsync fault library failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        library
    })
}
