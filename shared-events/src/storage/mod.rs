//! Crash-safe JSON files: every file of the platform survives a crash the same way.
//!
//! # Layout
//!
//! - [`checksum`]: the CRC32C that seals every record and snapshot inside its JSON object.
//! - [`journal`]: append-only JSON Lines files with torn-tail repair and explicit fsync.
//! - [`journal_metrics`]: what every journal reports: commit batches, fsync time, size.
//! - [`durable_state`]: a state as snapshot plus journal, changed by durable transactions.
//! - [`failure_log`]: `failure.json`, the messages a service gave up on, appended in O(1), crash-safe.
//! - [`atomic_file`]: whole-file replacement (temp file, fsync, rename, fsync directory).
//! - [`data_check`]: the problems `data check` reports and what `data repair` dropped.
//! - [`data_dir`]: the exclusive lock that keeps two processes out of one data directory.
//! - [`state_follower`]: a read-only view of a durable state another process writes.
//! - [`shared_document`]: a small JSON document several processes read and change under a lock.

pub mod atomic_file;
pub mod checksum;
pub mod data_check;
pub mod data_dir;
pub mod durable_state;
pub mod failure_log;
pub mod journal;
pub mod journal_metrics;
pub mod shared_document;
pub mod state_follower;
