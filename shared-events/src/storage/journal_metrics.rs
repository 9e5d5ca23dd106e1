//! What a journal tells Prometheus: how many records each commit made durable (the group
//! commit's batch), how long its fsync took, how large the journal is, and its compactions.
//! Each series has the labels `service` and `journal` (the journal's name: `orders`, `stock`),
//! and a shard's ledger also `shard`.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Label};

use crate::contract::shard::Shard;

/// A journal's series, registered once so that recording costs no lookup.
#[derive(Debug, Clone)]
pub struct JournalMetrics {
    commit_records: Histogram,
    fsync_duration: Histogram,
    size: Gauge,
    compactions: Counter,
}

impl JournalMetrics {
    /// The series of `service`'s journal `journal`.
    pub fn of(service: &'static str, journal: &'static str) -> JournalMetrics {
        JournalMetrics::labelled(vec![
            Label::from_static_parts("service", service),
            Label::from_static_parts("journal", journal),
        ])
    }

    /// The series of `service`'s journal `journal` of `shard` (a label of its own, so that the
    /// shards' sizes do not overwrite each other).
    pub fn of_shard(service: &'static str, journal: &'static str, shard: Shard) -> JournalMetrics {
        JournalMetrics::labelled(vec![
            Label::from_static_parts("service", service),
            Label::from_static_parts("journal", journal),
            Label::new("shard", shard.to_string()),
        ])
    }

    fn labelled(labels: Vec<Label>) -> JournalMetrics {
        JournalMetrics {
            commit_records: metrics::histogram!("journal_commit_records", labels.clone()),
            fsync_duration: metrics::histogram!("journal_fsync_duration_seconds", labels.clone()),
            size: metrics::gauge!("journal_size_bytes", labels.clone()),
            compactions: metrics::counter!("journal_compactions_total", labels),
        }
    }

    /// Records nothing: a journal that no service reports (tests, tools).
    pub fn unreported() -> JournalMetrics {
        JournalMetrics {
            commit_records: Histogram::noop(),
            fsync_duration: Histogram::noop(),
            size: Gauge::noop(),
            compactions: Counter::noop(),
        }
    }

    /// One commit: `records` made durable by one fsync that took `fsync`.
    pub fn committed(&self, records: u64, fsync: Duration) {
        self.commit_records.record(records as f64);
        self.fsync_duration.record(fsync.as_secs_f64());
    }

    /// The journal is `bytes` long now.
    pub fn sized(&self, bytes: u64) {
        self.size.set(bytes as f64);
    }

    /// A compaction finished.
    pub fn compacted(&self) {
        self.compactions.increment(1);
    }
}
