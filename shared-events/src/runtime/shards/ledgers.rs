//! A service's ledgers, one per shard, under `<data_dir>/shards/<k>/`: the shards this replica
//! owns are open for writing; the others are read from the files their owners write, so any
//! replica answers for the whole service.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use uuid::Uuid;

use crate::contract::shard::{Shard, ShardCount};
use crate::storage::data_dir::DataDirError;
use crate::storage::durable_state::{DurableState, DurableStateError, StateMachine};
use crate::storage::journal_metrics::JournalMetrics;
use crate::storage::state_follower::{FollowError, StateFollower};

/// Every shard's ledger of a service, owned or followed.
pub struct ShardLedgers<L: StateMachine> {
    dir: PathBuf,
    /// The service whose metrics the owned ledgers report to.
    service: &'static str,
    name: &'static str,
    shards: ShardCount,
    slots: Vec<Slot<L>>,
}

struct Slot<L: StateMachine> {
    owned: RwLock<Option<DurableState<L>>>,
    follower: StateFollower<L>,
}

impl<L: StateMachine> ShardLedgers<L> {
    /// `service`'s ledgers `name` of `shards` shards under `data_dir`; none is open yet.
    pub fn new(
        data_dir: &Path,
        service: &'static str,
        name: &'static str,
        shards: ShardCount,
    ) -> ShardLedgers<L> {
        let dir = data_dir.join("shards");
        let slots = shards
            .all()
            .map(|shard| Slot {
                owned: RwLock::new(None),
                follower: StateFollower::new(&shard_dir(&dir, shard), name),
            })
            .collect();
        ShardLedgers {
            dir,
            service,
            name,
            shards,
            slots,
        }
    }

    /// The shard count.
    pub fn shards(&self) -> ShardCount {
        self.shards
    }

    /// `<data_dir>/shards/<shard>`: the shard's ledger and its lock.
    pub fn dir_of(&self, shard: Shard) -> PathBuf {
        shard_dir(&self.dir, shard)
    }

    /// Opens `shard`'s ledger for writing, locking its directory; `None` while another process
    /// holds it. Blocks on file I/O.
    pub fn open(&self, shard: Shard) -> Result<Option<DurableState<L>>, DurableStateError> {
        let slot = self.slot(shard);
        let metrics = JournalMetrics::of_shard(self.service, self.name, shard);
        match DurableState::open_reporting(&self.dir_of(shard), self.name, metrics) {
            Ok(ledger) => {
                *slot
                    .owned
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(ledger.clone());
                Ok(Some(ledger))
            }
            Err(DurableStateError::DataDir(DataDirError::InUse(_))) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Closes `shard`'s ledger, releasing its directory; reads follow its files from now on.
    pub fn close(&self, shard: Shard) {
        let owned = self
            .slot(shard)
            .owned
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(ledger) = owned {
            ledger.close();
        }
    }

    /// Closes every open ledger.
    pub fn close_all(&self) {
        for shard in self.shards.all() {
            self.close(shard);
        }
    }

    /// Reads `shard`'s ledger: in memory if owned, else from its files as they are now.
    pub fn read<R>(&self, shard: Shard, read: impl FnOnce(&L) -> R) -> Result<R, FollowError> {
        let slot = self.slot(shard);
        if let Some(ledger) = slot
            .owned
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
        {
            return Ok(ledger.read(read));
        }
        slot.follower.read(read)
    }

    /// Reads the ledger of the shard that holds `order_id`.
    pub fn read_order<R>(
        &self,
        order_id: Uuid,
        read: impl FnOnce(&L) -> R,
    ) -> Result<R, FollowError> {
        self.read(self.shards.shard_of(order_id), read)
    }

    /// Reads every shard's ledger, in shard order.
    pub fn read_each<R>(&self, mut read: impl FnMut(&L) -> R) -> Result<Vec<R>, FollowError> {
        self.shards
            .all()
            .map(|shard| self.read(shard, &mut read))
            .collect()
    }

    /// False once `shard`'s ledger, if owned, has failed a write.
    pub fn is_writable_shard(&self, shard: Shard) -> bool {
        self.slot(shard)
            .owned
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_none_or(DurableState::is_writable)
    }

    /// False once an owned ledger has failed a write.
    pub fn is_writable(&self) -> bool {
        self.shards.all().all(|shard| self.is_writable_shard(shard))
    }

    fn slot(&self, shard: Shard) -> &Slot<L> {
        &self.slots[usize::from(shard)]
    }
}

fn shard_dir(dir: &Path, shard: Shard) -> PathBuf {
    dir.join(shard.to_string())
}
