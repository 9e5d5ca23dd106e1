//! The shard count a service's data directory was set up with. Orders are spread over the
//! shards by their id; another count would look for an order's ledger in the wrong shard, so a
//! change on existing data is refused, never re-routed silently.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::shard::ShardCount;
use crate::storage::shared_document::{DocumentError, SharedDocument};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layout {
    shards: Option<ShardCount>,
}

/// Why the data directory cannot be used with the configured shards.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The directory was set up with another count.
    #[error(
        "{path} says this service has {kept} shards, but ORDERS__SHARDS is {configured}: changing the shard count of existing data is refused (it would look for orders in the wrong shard); set it back to {kept}"
    )]
    CountChanged {
        /// `shards.json`.
        path: String,
        /// The count the data was set up with.
        kept: ShardCount,
        /// The count configured now.
        configured: ShardCount,
    },
    /// A ledger from before sharding sits in the directory itself.
    #[error(
        "{0} holds a ledger from before the service was sharded; this version keeps one ledger per shard under shards/: start from an empty data directory"
    )]
    Unsharded(String),
    /// `shards.json` cannot be read or written.
    #[error(transparent)]
    Document(#[from] DocumentError),
}

/// Records `shards` as the data directory's shard count on first use, and refuses a different
/// count later. `ledger` names the service's ledger files, which must not sit in the directory
/// itself. Blocks on file I/O.
pub fn settle_shard_count(
    data_dir: &Path,
    ledger: &str,
    shards: ShardCount,
) -> Result<(), LayoutError> {
    if data_dir.join(format!("{ledger}.json")).exists()
        || data_dir.join(format!("{ledger}-journal.jsonl")).exists()
    {
        return Err(LayoutError::Unsharded(data_dir.display().to_string()));
    }
    let document = SharedDocument::<Layout>::new(&data_dir.join("shards.json"));
    if document.read()?.shards == Some(shards) {
        return Ok(());
    }
    let path = document.path().display().to_string();
    document.update(|layout| match layout.shards {
        Some(kept) if kept != shards => Err(LayoutError::CountChanged {
            path,
            kept,
            configured: shards,
        }),
        _ => {
            layout.shards = Some(shards);
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_count_stays_and_another_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let four = ShardCount::try_from(4).expect("count");
        settle_shard_count(dir.path(), "stock", four).expect("first use");
        settle_shard_count(dir.path(), "stock", four).expect("same count");
        let error = settle_shard_count(dir.path(), "stock", ShardCount::DEFAULT)
            .expect_err("another count");
        let message = error.to_string();
        assert!(
            message.contains("4 shards") && message.contains("ORDERS__SHARDS is 8"),
            "{message}"
        );
    }

    #[test]
    fn a_ledger_from_before_sharding_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("stock.json"), "{}").expect("write");
        let error = settle_shard_count(dir.path(), "stock", ShardCount::DEFAULT).expect_err("old");
        assert!(matches!(error, LayoutError::Unsharded(_)), "{error}");
    }
}
