//! Which shard of a consumer service an order's events belong to.
//!
//! An order id hashes to one of [`BUCKETS`] buckets, the same on every machine and in every
//! release (FNV-1a over the id's 16 bytes); a service with `n` shards gives shard `b mod n` the
//! bucket `b`. The order service publishes each event with its bucket as the routing key, and
//! each consumer service binds bucket keys to its shard queues, so an order's events always
//! reach the same shard, in order, over RabbitMQ's core exchanges; the embedded transport
//! computes the same shard, so the data on disk is laid out alike whichever carried the events.

use std::fmt;
use std::num::NonZeroU16;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How many buckets order ids hash to: the most shards a service can have.
pub const BUCKETS: u16 = 64;

/// How many shards a consumer service has: from 1 to [`BUCKETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct ShardCount(NonZeroU16);

/// One shard of a service: its number, from 0 to the count less one.
pub type Shard = u16;

/// A shard count outside 1 to [`BUCKETS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a service has from 1 to {BUCKETS} shards, not {0}")]
pub struct InvalidShardCount(pub u16);

impl ShardCount {
    /// The shard count a service has unless configured otherwise.
    pub const DEFAULT: ShardCount = ShardCount(NonZeroU16::new(8).expect("8 is not zero"));

    /// `count` shards, if from 1 to [`BUCKETS`].
    pub const fn new(count: u16) -> Option<ShardCount> {
        match NonZeroU16::new(count) {
            Some(count) if count.get() <= BUCKETS => Some(ShardCount(count)),
            _ => None,
        }
    }

    /// Two shards: what tests start with unless they need more, so that each test's broker
    /// namespace stays small while every code path still sees more than one shard.
    pub fn for_tests() -> ShardCount {
        ShardCount::new(2).expect("2 is a valid count")
    }

    /// The number of shards.
    pub fn get(self) -> u16 {
        self.0.get()
    }

    /// Every shard, from 0 up.
    pub fn all(self) -> impl Iterator<Item = Shard> {
        0..self.get()
    }

    /// The shard that holds `order_id`'s events.
    pub fn shard_of(self, order_id: Uuid) -> Shard {
        bucket_of(order_id) % self.get()
    }

    /// The buckets that `shard` takes: the routing keys its queue is bound with.
    pub fn buckets_of(self, shard: Shard) -> impl Iterator<Item = u16> {
        (0..BUCKETS).filter(move |bucket| bucket % self.get() == shard)
    }
}

impl TryFrom<u16> for ShardCount {
    type Error = InvalidShardCount;

    fn try_from(count: u16) -> Result<ShardCount, InvalidShardCount> {
        ShardCount::new(count).ok_or(InvalidShardCount(count))
    }
}

impl From<ShardCount> for u16 {
    fn from(count: ShardCount) -> u16 {
        count.get()
    }
}

impl fmt::Display for ShardCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A consumer service and its shard count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceShards {
    /// The service's name.
    pub service: String,
    /// Its shards.
    pub shards: ShardCount,
}

/// A consumer service as the order service is told it (`ORDERS__OUTBOX__CONSUMERS`):
/// `inventory` (the order service's `ORDERS__SHARDS`) or `billing:4`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ConsumerEntry {
    /// The service's name.
    pub service: String,
    /// Its shards, if given.
    pub shards: Option<ShardCount>,
}

impl ConsumerEntry {
    /// The service with its shard count, `default` unless the entry gave one.
    pub fn with_default(&self, default: ShardCount) -> ServiceShards {
        ServiceShards {
            service: self.service.clone(),
            shards: self.shards.unwrap_or(default),
        }
    }
}

/// A consumer entry that is not `name` or `name:shards`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not a consumer name, or a name and its shard count (`billing:4`): {reason}")]
pub struct InvalidServiceShards {
    entry: String,
    reason: String,
}

impl TryFrom<String> for ConsumerEntry {
    type Error = InvalidServiceShards;

    fn try_from(entry: String) -> Result<ConsumerEntry, InvalidServiceShards> {
        let invalid = |reason: String| InvalidServiceShards {
            entry: entry.clone(),
            reason,
        };
        let (service, shards) = match entry.split_once(':') {
            None => (entry.trim(), None),
            Some((service, count)) => {
                let count: u16 = count
                    .trim()
                    .parse()
                    .map_err(|error: std::num::ParseIntError| invalid(error.to_string()))?;
                let shards =
                    ShardCount::try_from(count).map_err(|error| invalid(error.to_string()))?;
                (service.trim(), Some(shards))
            }
        };
        let valid_name = !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(invalid("a name is letters, digits, `-` and `_`".to_owned()));
        }
        Ok(ConsumerEntry {
            service: service.to_owned(),
            shards,
        })
    }
}

/// The bucket of `order_id`: FNV-1a (32 bits) over its 16 bytes, modulo [`BUCKETS`]. It must
/// never change: it decides which shard's ledger holds an order.
pub fn bucket_of(order_id: Uuid) -> u16 {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let hash = order_id.as_bytes().iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(PRIME)
    });
    (hash % u32::from(BUCKETS)) as u16
}

/// The routing key an event of `order_id` is published with: its bucket, in decimal.
pub fn routing_key(order_id: Uuid) -> String {
    bucket_of(order_id).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_of_an_id_never_changes() {
        // Fixed values: a change here would move orders to other shards' ledgers.
        // FNV-1a of sixteen zero bytes is 0x69691905.
        assert_eq!(bucket_of(Uuid::nil()), 5);
        let id: Uuid = "0190f1e2-7a4b-7c3d-8e5f-0123456789ab"
            .parse()
            .expect("uuid");
        assert_eq!(bucket_of(id), bucket_of(id));
        assert_eq!(routing_key(Uuid::nil()), "5");
    }

    #[test]
    fn every_bucket_belongs_to_exactly_one_shard() {
        for count in [1, 3, 8, 64] {
            let shards = ShardCount::try_from(count).expect("valid count");
            let mut seen = vec![0; usize::from(BUCKETS)];
            for shard in shards.all() {
                for bucket in shards.buckets_of(shard) {
                    seen[usize::from(bucket)] += 1;
                }
            }
            assert!(
                seen.iter().all(|times| *times == 1),
                "{count} shards: {seen:?}"
            );
        }
    }

    #[test]
    fn orders_spread_over_the_shards() {
        let shards = ShardCount::DEFAULT;
        let mut per_shard = [0u32; 8];
        for _ in 0..8_000 {
            per_shard[usize::from(shards.shard_of(Uuid::now_v7()))] += 1;
        }
        assert!(
            per_shard.iter().all(|count| (700..1300).contains(count)),
            "{per_shard:?}"
        );
    }

    #[test]
    fn a_consumer_entry_is_a_name_and_perhaps_its_shards() {
        let entry = |text: &str| ConsumerEntry::try_from(text.to_owned());
        assert_eq!(
            entry("billing:4").map(|entry| entry.with_default(ShardCount::DEFAULT)),
            Ok(ServiceShards {
                service: "billing".to_owned(),
                shards: ShardCount::new(4).expect("4 shards"),
            })
        );
        assert_eq!(
            entry("inventory").map(|entry| entry.with_default(ShardCount::for_tests()).shards),
            Ok(ShardCount::for_tests())
        );
        for bad in ["", "billing:0", "billing:x", "a b", "billing:65"] {
            assert!(entry(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn counts_outside_one_to_the_buckets_are_refused() {
        assert_eq!(ShardCount::try_from(0), Err(InvalidShardCount(0)));
        assert_eq!(ShardCount::try_from(65), Err(InvalidShardCount(65)));
        assert_eq!(ShardCount::try_from(64).map(u16::from), Ok(64));
        let parsed: Result<ShardCount, _> = serde_json::from_str("0");
        assert!(parsed.is_err());
    }
}
