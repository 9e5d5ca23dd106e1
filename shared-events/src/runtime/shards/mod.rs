//! Scaling a consumer service out: its work is split into shards, and the replicas that share
//! its data directory share the shards, one owner per shard at any moment.
//!
//! # Layout
//!
//! - [`membership`]: which replicas are alive: each holds a lock on a file of its own in
//!   `<data_dir>/replicas/`, which the kernel releases when the process dies.
//! - [`balance`]: how many shards each live replica should own.
//! - [`owner`]: the loop that takes and hands over shards to match, and runs a worker per owned
//!   shard.
//! - [`layout`]: the shard count a data directory was set up with, which it keeps.
//! - [`ledgers`]: a service's ledgers, one per shard: owned ones written, the others followed.
//! - [`router`]: one handler over every shard, for a transport that reads one stream.

pub mod balance;
pub mod layout;
pub mod ledgers;
pub mod membership;
pub mod owner;
pub mod router;

pub use ledgers::ShardLedgers;
pub use membership::{Membership, ReplicaId};
pub use owner::{OwnedShards, ShardOpener, run_shard_owner};
pub use router::ShardRouter;
