//! A consumer's saved position in the log: `offset.json`, replaced atomically.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::atomic_file::write_atomically;

/// The file holding a consumer's offset.
#[derive(Debug, Clone)]
pub struct OffsetFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    /// Every event up to this position is handled (applied, skipped or dead-lettered).
    through: u64,
}

impl OffsetFile {
    /// The offset file in `dir`.
    pub fn in_dir(dir: &Path) -> OffsetFile {
        OffsetFile {
            path: dir.join("offset.json"),
        }
    }

    /// The saved offset; 0 when none was saved. A damaged file is an error rather than a
    /// silent restart from 0, which would hand every event to the handler again.
    pub fn load(&self) -> io::Result<u64> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice::<Saved>(&bytes)
                .map(|saved| saved.through)
                .map_err(|error| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} is damaged: {error}", self.path.display()),
                    )
                }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(error) => Err(error),
        }
    }

    /// Writes the saved offset again, unchanged: a write into the consumer's data directory
    /// that costs little, to learn whether the directory takes writes again before its ledgers
    /// are opened.
    pub fn rewrite(&self) -> io::Result<()> {
        self.save(self.load()?)
    }

    /// Saves `through` durably (temporary file, fsync, rename, fsync of the directory).
    pub fn save(&self, through: u64) -> io::Result<()> {
        write_atomically(&self.path, |file| {
            serde_json::to_writer(&mut *file, &Saved { through })?;
            file.write_all(b"\n")
        })
    }
}
