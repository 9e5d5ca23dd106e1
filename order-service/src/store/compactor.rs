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
                // write_atomically removed its temporary file; the segments stay until a later
                // compaction (once the journal has grown again) holds them in its snapshot.
                shared.failed_compactions.fetch_add(1, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use std::fs;

    use shared_events::storage::atomic_file::temporary_path;

    use crate::domain::ChangeOrigin;
    use crate::store::OrderStore;
    use crate::store::files::segment_name;
    use crate::store::fixtures::{new_order, open_contents, options};

    async fn create_until_segment(store: &OrderStore, dir: &std::path::Path, segment: u64) {
        let mut n = 0;
        while !dir.join(segment_name(segment)).exists() {
            n += 1;
            assert!(n < 10_000, "segment {segment} never started");
            store
                .create(
                    new_order(&format!("Customer {n}")),
                    None,
                    ChangeOrigin::default(),
                )
                .await
                .expect("the journal takes writes");
        }
        store.finish_compaction().await;
    }

    #[tokio::test]
    async fn a_failed_snapshot_write_leaves_no_temporary_file_and_the_journal_keeps_everything() {
        // Arrange: the snapshot cannot be renamed into place (a directory is in the way).
        let dir = tempfile::tempdir().expect("temp dir");
        let snapshot = dir.path().join("orders.json");
        let store = OrderStore::open(dir.path(), options()).expect("opens");
        fs::create_dir(&snapshot).expect("a directory in the way");

        // Act
        create_until_segment(&store, dir.path(), 2).await;

        // Assert: nothing of the failed write is left, every segment is kept, writes go on.
        assert_eq!(store.failed_compactions(), 1);
        assert!(
            !temporary_path(&snapshot).exists(),
            "no temporary file left"
        );
        assert!(dir.path().join(segment_name(1)).exists());
        store
            .create(
                new_order("After the failure"),
                None,
                ChangeOrigin::default(),
            )
            .await
            .expect("writes go on");

        // And the next compaction, with room again, holds everything.
        fs::remove_dir(&snapshot).expect("the way is free");
        create_until_segment(&store, dir.path(), 3).await;
        assert_eq!(store.failed_compactions(), 1);
        assert!(snapshot.is_file(), "compacted");
        assert!(!dir.path().join(segment_name(1)).exists());
        assert!(!dir.path().join(segment_name(2)).exists());
        let expected = store.contents();
        store.shutdown().await;
        assert_eq!(open_contents(dir.path()), Ok(expected));
    }
}
