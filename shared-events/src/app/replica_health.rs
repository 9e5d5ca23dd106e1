//! Whether a consumer replica can do its job, beyond its ledgers taking writes: what every
//! consumer service's `/health/ready` checks first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::app::api_error::ApiError;
use crate::runtime::amqp::BrokerLink;
use crate::runtime::disk_health::DiskHealth;
use crate::runtime::shards::OwnedShards;

/// A replica's data directory, broker connections and shards. It is ready only while its data
/// directory takes writes (a full disk stops it consuming until it has room again); over
/// RabbitMQ, also only while every one of its sessions is connected and it owns at least one
/// shard (a replica without a shard consumes nothing: the service has more replicas than
/// shards, or it has not taken its share yet). In one process (`order-platform`), events come
/// from the journal and it owns every shard.
#[derive(Debug, Clone)]
pub struct ReplicaHealth {
    broker: BrokerLink,
    owned: OwnedShards,
    disk: DiskHealth,
    over_broker: Arc<AtomicBool>,
}

impl ReplicaHealth {
    /// The replica whose sessions report to `broker`, whose shards are `owned` and whose data
    /// directory's writes `disk` follows, over RabbitMQ until [`ReplicaHealth::use_embedded`].
    pub fn new(broker: BrokerLink, owned: OwnedShards, disk: DiskHealth) -> ReplicaHealth {
        ReplicaHealth {
            broker,
            owned,
            disk,
            over_broker: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Events come from the journal in the same process: no broker to wait for.
    pub fn use_embedded(&self) {
        self.over_broker.store(false, Ordering::SeqCst);
    }

    /// `Ok` while the replica can consume; otherwise the 503 that says why.
    pub fn ready(&self) -> Result<(), ApiError> {
        if let Some(reason) = self.disk.failure() {
            return Err(ApiError::Unavailable(format!(
                "the data directory does not take writes, so no event is consumed until it does (tried again every few seconds): {reason}"
            )));
        }
        if !self.over_broker.load(Ordering::SeqCst) {
            return Ok(());
        }
        if !self.broker.is_connected() {
            return Err(ApiError::Unavailable(
                "not connected to the broker: no event can be consumed".to_owned(),
            ));
        }
        if self.owned.list().is_empty() {
            return Err(ApiError::Unavailable(
                "this replica owns no shard: it consumes nothing".to_owned(),
            ));
        }
        Ok(())
    }
}
