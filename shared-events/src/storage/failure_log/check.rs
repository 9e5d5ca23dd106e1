//! `data check` and `data repair` for a `failure.json`: the strict reading of every open
//! ([`array::scan`]) to decide, the lenient one ([`array::sift`]) to list every damaged piece
//! and keep every intact record around them.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use anyhow::Context;

use super::array::{self, Piece};
use super::{FailureLog, lock_path, rewrite};
use crate::storage::data_check::{Dropped, Problem};

impl FailureLog {
    /// Every problem that keeps `path` from opening, changing nothing. An append that never
    /// finished is none: opening repairs it.
    pub fn check(path: &Path) -> Vec<Problem> {
        let content = match fs::read(path) {
            Ok(content) => content,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Vec::new(),
            Err(error) => return vec![Problem::whole(path, format!("cannot be read: {error}"))],
        };
        let Err(damage) = array::scan(&content, false) else {
            return Vec::new();
        };
        let problems: Vec<Problem> = array::sift(&content)
            .pieces
            .iter()
            .filter(|piece| !piece.unfinished)
            .map(|piece| Problem::at(path, piece.start as u64, piece.reason.clone()))
            .collect();
        if problems.is_empty() {
            vec![Problem::at(path, damage.offset as u64, damage.reason)]
        } else {
            problems
        }
    }

    /// Keeps every intact record of `path`, drops every damaged piece, rewrites the file
    /// atomically (every record sealed), and says exactly what it dropped. Takes the log's lock,
    /// so it waits for an append under way. The caller has made a backup copy.
    pub fn repair(path: &Path) -> anyhow::Result<Vec<Dropped>> {
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .with_context(|| format!("failed to open the lock of {}", path.display()))?;
        lock_file
            .lock()
            .with_context(|| format!("failed to lock {}", path.display()))?;
        let content = match fs::read(path) {
            Ok(content) => content,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(error).with_context(|| format!("failed to read {}", path.display()));
            }
        };
        if array::scan(&content, false).is_ok_and(|scan| !scan.torn) {
            return Ok(Vec::new());
        }
        let sifted = array::sift(&content);
        rewrite(path, &sifted.records)
            .with_context(|| format!("failed to rewrite {}", path.display()))?;
        Ok(sifted
            .pieces
            .iter()
            .map(|piece| Dropped {
                file: path.to_owned(),
                what: describe(&content, piece),
            })
            .collect())
    }
}

/// Says which bytes, and which record where its id can be read, a piece is.
fn describe(content: &[u8], piece: &Piece) -> String {
    let bytes = piece.end - piece.start;
    let start = piece.start;
    let reason = &piece.reason;
    if content.iter().all(u8::is_ascii_whitespace) {
        return format!(
            "nothing: the file was empty ({} bytes), and is an empty array now",
            content.len()
        );
    }
    if piece.unfinished {
        return format!(
            "{bytes} bytes from byte {start}: an append that never finished (never acknowledged)"
        );
    }
    if let Some(id) = &piece.record_id {
        return format!("record {id} ({bytes} bytes from byte {start}): {reason}");
    }
    match array::readable_id(&content[piece.start..piece.end]) {
        Some(id) => {
            format!("{bytes} bytes from byte {start}, the record whose id reads {id}: {reason}")
        }
        None => format!("{bytes} bytes from byte {start}: {reason}"),
    }
}
