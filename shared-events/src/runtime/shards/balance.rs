//! Fair shares: with `s` shards and `r` live replicas, each owns `floor(s / r)` shards and the
//! first `s mod r` of them (by id) one more, so no replica owns more than `ceil(s / r)` and all
//! of them together own every shard. Every replica computes the same shares from the same list
//! of members, without talking to the others.

use crate::contract::shard::ShardCount;
use crate::runtime::shards::membership::ReplicaId;

/// How many shards `me` should own among the `live` replicas (`me` among them).
pub fn share(me: &ReplicaId, live: &[ReplicaId], shards: ShardCount) -> usize {
    let mut sorted: Vec<&ReplicaId> = live.iter().collect();
    sorted.sort();
    sorted.dedup();
    let replicas = sorted.len().max(1);
    let index = sorted
        .iter()
        .position(|id| *id == me)
        .unwrap_or(replicas - 1);
    let shards = usize::from(shards.get());
    shards / replicas + usize::from(index < shards % replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<ReplicaId> {
        names.iter().map(|name| ReplicaId::new(name)).collect()
    }

    #[test]
    fn shares_add_up_to_every_shard_and_differ_by_one_at_most() {
        for shard_count in [1u16, 3, 8, 64] {
            let shards = ShardCount::try_from(shard_count).expect("count");
            for replicas in 1..=10 {
                let live = ids(&(0..replicas)
                    .map(|n| format!("r{n}"))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>());
                let shares: Vec<usize> = live.iter().map(|me| share(me, &live, shards)).collect();
                assert_eq!(shares.iter().sum::<usize>(), usize::from(shard_count));
                let most = usize::from(shard_count).div_ceil(replicas);
                assert!(shares.iter().all(|share| *share <= most), "{shares:?}");
                if replicas <= usize::from(shard_count) {
                    assert!(shares.iter().all(|share| *share >= 1), "{shares:?}");
                }
            }
        }
    }

    #[test]
    fn a_replica_not_yet_listed_counts_itself_last() {
        let live = ids(&["a", "b"]);
        assert_eq!(share(&ReplicaId::new("c"), &live, ShardCount::DEFAULT), 4);
    }
}
