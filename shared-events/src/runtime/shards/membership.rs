//! Which replicas of a service are alive, told by file locks on the storage they share.
//!
//! Each replica holds an exclusive lock on `<data_dir>/replicas/<id>.lock` while it runs. The
//! kernel releases the lock the moment the process dies, however it dies, so a replica that
//! finds another's file unlocked knows it is gone (and removes the file). No clock, heartbeat or
//! broker is involved: the storage the replicas already share must provide working locks.

use std::fs::{self, File, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A replica's name: letters, digits, `.`, `_` and `-` (anything else becomes `-`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ReplicaId(String);

/// This replica's hold on its membership file, released when dropped or when the process dies.
#[derive(Debug)]
pub struct Membership {
    dir: PathBuf,
    id: ReplicaId,
    _file: File,
}

/// Why a replica cannot join.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// A live replica already has this id.
    #[error(
        "replica id `{0}` is in use by another running replica: set ORDERS__REPLICA_ID to a name of its own"
    )]
    InUse(String),
    /// The membership folder cannot be used.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl ReplicaId {
    /// `name`, with every character outside letters, digits, `.`, `_` and `-` made a `-`.
    pub fn new(name: &str) -> ReplicaId {
        let clean: String = name
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        ReplicaId(if clean.is_empty() {
            "replica".to_owned()
        } else {
            clean
        })
    }

    /// `<host name>-<process id>`: unique among processes on one machine and, in Kubernetes,
    /// among pods (each has its own host name).
    pub fn of_this_process() -> ReplicaId {
        let host = fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let host = host.trim();
        let host = if host.is_empty() { "replica" } else { host };
        ReplicaId::new(&format!("{host}-{}", std::process::id()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Membership {
    /// Joins the replicas of the service whose data directory is `data_dir`, as `id`. Blocks on
    /// file I/O.
    pub fn join(data_dir: &Path, id: ReplicaId) -> Result<Membership, MembershipError> {
        let dir = data_dir.join("replicas");
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| MembershipError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let path = dir.join(format!("{id}.lock"));
        let file = loop {
            match File::options().write(true).open(&path) {
                // A file of that name: a live replica's (refuse), or a dead one's (take it over).
                Ok(file) => match file.try_lock() {
                    // Another replica may have found it unlocked and removed it meanwhile: the
                    // file is ours only if it is still the one at the path.
                    Ok(()) if same_file(&file, &path) => break file,
                    Ok(()) => continue,
                    Err(TryLockError::WouldBlock) => {
                        return Err(MembershipError::InUse(id.0));
                    }
                    Err(TryLockError::Error(source)) => return Err(io_error(&path)(source)),
                },
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    // Locked before it gets its name, so nobody sees it unlocked and removes it.
                    let joining = dir.join(format!("{id}.joining-{}", uuid::Uuid::new_v4()));
                    let file = File::create(&joining).map_err(io_error(&joining))?;
                    file.lock().map_err(io_error(&joining))?;
                    fs::rename(&joining, &path).map_err(io_error(&path))?;
                    break file;
                }
                Err(source) => return Err(io_error(&path)(source)),
            }
        };
        Ok(Membership {
            dir,
            id,
            _file: file,
        })
    }

    /// This replica's id.
    pub fn id(&self) -> &ReplicaId {
        &self.id
    }

    /// The replicas alive now, this one included, sorted. Removes the files of dead ones.
    /// Blocks on file I/O.
    pub fn live(&self) -> Result<Vec<ReplicaId>, MembershipError> {
        let io_error = |source| MembershipError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut live = vec![self.id.clone()];
        for entry in fs::read_dir(&self.dir).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            let Some(id) = name.strip_suffix(".lock") else {
                continue;
            };
            if id == self.id.as_str() {
                continue;
            }
            if is_held(&path) {
                live.push(ReplicaId(id.to_owned()));
            }
        }
        live.sort();
        Ok(live)
    }

    /// Leaves: removes the membership file, then lets go of its lock.
    pub fn leave(self) {
        let path = self.dir.join(format!("{}.lock", self.id));
        if let Err(error) = fs::remove_file(&path) {
            tracing::warn!(%error, path = %path.display(), "cannot remove the replica's membership file");
        }
    }
}

/// Whether `file` is the file at `path` now.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
        _ => false,
    }
}

/// Whether a live process holds the lock on `path`; an unlocked file is a dead replica's, and
/// is removed while locked so that no one mistakes it for a live one meanwhile.
fn is_held(path: &Path) -> bool {
    let Ok(file) = File::options().read(true).open(path) else {
        // Removed meanwhile: its replica left.
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            if let Err(error) = fs::remove_file(path) {
                tracing::debug!(%error, path = %path.display(), "cannot remove a dead replica's file");
            }
            false
        }
        Err(TryLockError::WouldBlock) => true,
        // A lock that cannot be tested: count the replica, which only lowers our share.
        Err(TryLockError::Error(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_see_each_other_until_one_leaves_or_dies() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = Membership::join(dir.path(), ReplicaId::new("a")).expect("a joins");
        let b = Membership::join(dir.path(), ReplicaId::new("b")).expect("b joins");
        let names = |membership: &Membership| {
            membership
                .live()
                .expect("live")
                .iter()
                .map(|id| id.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), ["a", "b"]);
        assert!(matches!(
            Membership::join(dir.path(), ReplicaId::new("b")),
            Err(MembershipError::InUse(_))
        ));
        b.leave();
        assert_eq!(names(&a), ["a"]);
        // Dropping without leaving is what a crash looks like: the lock goes, the file stays.
        let c = Membership::join(dir.path(), ReplicaId::new("c")).expect("c joins");
        drop(c);
        assert!(dir.path().join("replicas/c.lock").exists());
        assert_eq!(names(&a), ["a"]);
        assert!(!dir.path().join("replicas/c.lock").exists());
        // A replica that comes back under a dead one's name takes its place.
        let _again = Membership::join(dir.path(), ReplicaId::new("c")).expect("c again");
        assert_eq!(names(&a), ["a", "c"]);
    }

    #[test]
    fn ids_are_safe_file_names() {
        assert_eq!(ReplicaId::new("pod/1 x").as_str(), "pod-1-x");
        assert_eq!(ReplicaId::new("  ").as_str(), "replica");
        assert!(
            ReplicaId::of_this_process()
                .as_str()
                .ends_with(&std::process::id().to_string())
        );
    }
}
