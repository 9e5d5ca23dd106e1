//! Folding the journal into a new snapshot in the background, without stopping writes.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use shared_events::storage::atomic_file::sync_dir;

use crate::store::Shared;
use crate::store::files::StoreFiles;
use crate::store::snapshot::write_snapshot;
use crate::store::state::StoreState;

/// A background compaction, if one was started.
#[derive(Debug, Default)]
pub(crate) struct Compaction {
    pub(crate) handle: Option<JoinHandle<()>>,
}

/// Writes `state` (everything in the segments before `next_segment`) as the snapshot, then
/// removes those segments. A crash at any point leaves a snapshot and journal that agree.
pub(crate) fn start(
    files: StoreFiles,
    state: StoreState,
    next_segment: u64,
    shared: Arc<Shared>,
) -> Compaction {
    let spawned = thread::Builder::new().name("order-compactor".to_owned()).spawn(move || {
        let started = Instant::now();
        let bytes = match write_snapshot(&files.snapshot(), &state, next_segment) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(error = %error, "compaction failed; the journal keeps everything and it will be tried again");
                return;
            }
        };
        shared.snapshot_bytes.store(bytes, Ordering::Relaxed);
        match files.segments() {
            Ok(segments) => {
                for old in segments.into_iter().filter(|number| *number < next_segment) {
                    if let Err(error) = fs::remove_file(files.segment(old)) {
                        tracing::warn!(error = %error, segment = old, "cannot remove a compacted journal segment");
                    }
                }
                if let Err(error) = sync_dir(files.dir()) {
                    tracing::warn!(error = %error, "cannot sync the data directory after compaction");
                }
            }
            Err(error) => tracing::warn!(error = %error, "cannot list journal segments after compaction"),
        }
        shared.journal_metrics.compacted();
        tracing::info!(
            orders = state.orders.len(),
            bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compacted the journal into a new snapshot"
        );
    });
    match spawned {
        Ok(handle) => Compaction {
            handle: Some(handle),
        },
        Err(error) => {
            tracing::error!(error = %error, "cannot start the compaction thread");
            Compaction::default()
        }
    }
}
