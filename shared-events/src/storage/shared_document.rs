//! A small JSON document that several processes read and change: settings every replica of a
//! service shares (the units on hand per product, the shard layout of a data directory).
//!
//! A change takes the document's lock file (waiting for it), reads the file as it is now,
//! changes it and replaces it atomically before letting go, so no process overwrites another's
//! change. A read takes no lock: the file is always whole, and is parsed again only when it was
//! replaced. Changes cost O(document): for things changed by hand, not per event.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::storage::atomic_file::write_atomically;

/// A JSON document at a path, shared between processes.
pub struct SharedDocument<T> {
    path: PathBuf,
    /// The version last read, and the file it was read from, kept open: once a change replaces
    /// the file, the old one has no name left (no link), which no clock or size can miss.
    cache: Mutex<Option<(File, Arc<T>)>>,
}

/// Why the document cannot be read or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The file or its lock cannot be used.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file does not hold the document.
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl<T: Serialize + DeserializeOwned + Default + Clone> SharedDocument<T> {
    /// The document at `path`; a missing file is the default document.
    pub fn new(path: &Path) -> SharedDocument<T> {
        SharedDocument {
            path: path.to_owned(),
            cache: Mutex::new(None),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document as the file holds it now.
    pub fn read(&self) -> Result<T, DocumentError> {
        Ok(self
            .read_if_exists()?
            .map(|document| T::clone(&document))
            .unwrap_or_default())
    }

    /// The document as the file holds it now, or `None` if there is no file. Shared with the
    /// cache, so that readers on every request copy nothing.
    pub fn read_if_exists(&self) -> Result<Option<Arc<T>>, DocumentError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((file, document)) = cache.as_ref() {
            let metadata = file.metadata().map_err(|source| self.io_error(source))?;
            if metadata.nlink() > 0 {
                return Ok(Some(Arc::clone(document)));
            }
        }
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                *cache = None;
                return Ok(None);
            }
            Err(source) => return Err(self.io_error(source)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|source| self.io_error(source))?;
        let document = Arc::new(self.parse(&bytes)?);
        *cache = Some((file, Arc::clone(&document)));
        Ok(Some(document))
    }

    /// Changes the document with `change`, which sees it as it is now, under the lock that
    /// keeps other processes' changes out until it is durably replaced. A change that returns
    /// `Err` leaves the file as it was. Blocks: call it on a blocking thread.
    pub fn update<R, E: From<DocumentError>>(
        &self,
        change: impl FnOnce(&mut T) -> Result<R, E>,
    ) -> Result<R, E> {
        let lock = self.lock()?;
        let mut document = self.load()?;
        let result = change(&mut document)?;
        write_atomically(&self.path, |out| {
            serde_json::to_writer_pretty(&mut *out, &document)?;
            out.write_all(b"\n")
        })
        .map_err(|source| self.io_error(source))?;
        drop(lock);
        Ok(result)
    }

    fn lock(&self) -> Result<File, DocumentError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = self.path.with_file_name(name);
        if let Some(dir) = lock_path.parent() {
            fs::create_dir_all(dir).map_err(|source| self.io_error(source))?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| self.io_error(source))?;
        // Released when the file is closed, or when the process dies.
        file.lock().map_err(|source| self.io_error(source))?;
        Ok(file)
    }

    fn load(&self) -> Result<T, DocumentError> {
        match fs::read(&self.path) {
            Ok(bytes) => self.parse(&bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(T::default()),
            Err(source) => Err(self.io_error(source)),
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<T, DocumentError> {
        serde_json::from_slice(bytes).map_err(|error| DocumentError::Damaged {
            path: self.path.clone(),
            reason: describe(&error),
        })
    }

    fn io_error(&self, source: io::Error) -> DocumentError {
        DocumentError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// What is wrong with a document, by kind and place only: serde's own message can quote the
/// file (`invalid type: string "..."`), and a document such as the tokens file must not have
/// what someone wrote into it printed in a log.
fn describe(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Io => "it cannot be read",
        Category::Syntax => "it is not valid JSON",
        Category::Eof => "it ends in the middle of the JSON",
        Category::Data => {
            "it holds a value that is not what belongs there, or a name it should not"
        }
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;

    type Counts = BTreeMap<String, u64>;

    #[test]
    fn concurrent_changes_from_separate_handles_are_all_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("counts.json");
        // Each thread has its own handle, hence its own lock file descriptor, as processes do.
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let document = SharedDocument::<Counts>::new(&path);
                    for _ in 0..25 {
                        document
                            .update(|counts| {
                                *counts.entry(format!("t{thread}")).or_default() += 1;
                                *counts.entry("all".to_owned()).or_default() += 1;
                                Ok::<_, DocumentError>(())
                            })
                            .expect("update");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let counts = SharedDocument::<Counts>::new(&path).read().expect("read");
        assert_eq!(counts.get("all"), Some(&100), "{counts:?}");
    }

    #[test]
    fn a_reader_sees_another_handles_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("counts.json");
        let reader = Arc::new(SharedDocument::<Counts>::new(&path));
        assert_eq!(reader.read().expect("missing is empty"), Counts::new());
        SharedDocument::<Counts>::new(&path)
            .update(|counts| {
                counts.insert("widget".to_owned(), 3);
                Ok::<_, DocumentError>(())
            })
            .expect("update");
        assert_eq!(reader.read().expect("read").get("widget"), Some(&3));
    }

    #[test]
    fn a_refused_change_leaves_the_file_alone_and_damage_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("counts.json");
        let document = SharedDocument::<Counts>::new(&path);
        let refused: Result<(), DocumentError> = document.update(|counts| {
            counts.insert("x".to_owned(), 1);
            Err(DocumentError::Damaged {
                path: PathBuf::from("x"),
                reason: "refused".to_owned(),
            })
        });
        assert!(refused.is_err());
        assert!(!path.exists());
        fs::write(&path, b"[1,").expect("write");
        let error = document.read().expect_err("damaged");
        assert!(error.to_string().contains("counts.json"), "{error}");
    }
}
