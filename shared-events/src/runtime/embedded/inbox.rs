//! Replayed failures waiting to be handled again: one file per replay in `replay-inbox/`.
//!
//! `failures replay` writes the failed event there (atomically) whether or not the platform
//! runs; the consumer picks files up within a second, or at its next start, and removes each
//! once the event's fate is final. A crash in between hands it over again: at-least-once.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::contract::event::OrderEvent;
use crate::storage::atomic_file::write_atomically;

/// The inbox directory of a consumer.
#[derive(Debug, Clone)]
pub struct Inbox {
    dir: PathBuf,
}

/// A replayed event found in the inbox.
#[derive(Debug)]
pub struct InboxEntry {
    /// Its file, removed once handled.
    pub path: PathBuf,
    /// The event, or why the file is not one.
    pub event: Result<OrderEvent, String>,
}

impl Inbox {
    /// The inbox in a consumer's data directory.
    pub fn in_dir(data_dir: &Path) -> Inbox {
        Inbox {
            dir: data_dir.join("replay-inbox"),
        }
    }

    /// Puts `payload` (an event's JSON) in the inbox under `name` (the failure's id).
    pub fn put(&self, name: &str, payload: &[u8]) -> io::Result<()> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        std::fs::create_dir_all(&self.dir)?;
        write_atomically(&self.dir.join(format!("{safe}.json")), |file| {
            file.write_all(payload)
        })
    }

    /// The entries waiting, oldest name first (failure ids are UUID v7, so by time).
    pub fn entries(&self) -> io::Result<Vec<InboxEntry>> {
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut paths = Vec::new();
        for entry in listing {
            let path = entry?.path();
            // Temporary files of a put in progress end in `.tmp`.
            if path
                .extension()
                .is_some_and(|extension| extension == "json")
            {
                paths.push(path);
            }
        }
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path)?;
                let event = OrderEvent::decode(&bytes).map_err(|error| error.to_string());
                Ok(InboxEntry { path, event })
            })
            .collect()
    }
}
