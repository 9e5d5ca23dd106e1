//! Whether a consumer can write to its data directory: what its readiness probe tells while a
//! full or failing disk keeps it from consuming, and how long it waits before trying again.
//!
//! A consumer whose writes fail stops consuming (its events wait in the transport) rather than
//! stopping the process it shares with other services, and tries again after a pause that
//! doubles up to [`LONGEST_PAUSE`]. A try costs one small write until the disk takes writes
//! again, so the pause can stay short: the consumer resumes within seconds of the disk having
//! room.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The pause after the first failure of an episode.
const FIRST_PAUSE: Duration = Duration::from_millis(250);

/// The longest pause between two tries.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// Whether a consumer's data directory takes writes. The part that finds a write failing marks
/// it failed, the part that finds writes succeeding again marks it recovered; the readiness
/// probe reads it. Clones share it.
#[derive(Debug, Clone)]
pub struct DiskHealth {
    service: &'static str,
    failure: Arc<Mutex<Option<Failure>>>,
}

/// An episode of failed writes.
#[derive(Debug)]
struct Failure {
    /// The last failure's cause chain.
    reason: String,
    since: Instant,
    /// Failures in the episode so far.
    tries: u32,
}

impl DiskHealth {
    /// The data directory of `service` (`billing`), taking writes.
    pub fn of(service: &'static str) -> DiskHealth {
        DiskHealth {
            service,
            failure: Arc::default(),
        }
    }

    /// Why the consumer cannot write now (the last failure), or `None` while it can.
    pub fn failure(&self) -> Option<String> {
        self.lock().as_ref().map(|failure| failure.reason.clone())
    }

    /// True from a failed write until [`DiskHealth::recovered`].
    pub fn is_failed(&self) -> bool {
        self.lock().is_some()
    }

    /// Records that a write failed with `error`. The first failure of an episode is logged as
    /// an error, the later ones only at debug level: a disk that stays full does not flood the
    /// log.
    pub fn failed(&self, error: &anyhow::Error) {
        let reason = reason(error);
        let mut failure = self.lock();
        match failure.as_mut() {
            Some(failure) => {
                failure.tries = failure.tries.saturating_add(1);
                tracing::debug!(
                    service = self.service,
                    error = reason,
                    tries = failure.tries,
                    "writes still fail"
                );
                failure.reason = reason;
            }
            None => {
                tracing::error!(
                    service = self.service,
                    error = reason,
                    "cannot write to the data directory: consuming stops until writes succeed again, the other services go on"
                );
                *failure = Some(Failure {
                    reason,
                    since: Instant::now(),
                    tries: 1,
                });
            }
        }
    }

    /// Records that writes succeed again, and logs it if they did not before.
    pub fn recovered(&self) {
        if let Some(failure) = self.lock().take() {
            tracing::info!(
                service = self.service,
                after = ?failure.since.elapsed(),
                tries = failure.tries,
                "writes succeed again: consuming resumes"
            );
        }
    }

    /// Waits before the next try: [`FIRST_PAUSE`] after the first failure of an episode,
    /// twice as long after each later one, up to [`LONGEST_PAUSE`]. False if `shutdown` came
    /// first.
    pub async fn pause(&self, shutdown: &CancellationToken) -> bool {
        let tries = self.lock().as_ref().map_or(1, |failure| failure.tries);
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(pause_after(tries)) => true,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Failure>> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether `error` came from the disk: an I/O error (no space, a failed read or write), which
/// may pass, rather than from what the files say (a damaged file, a shard count that differs,
/// a replica id in use), which an operator has to change. A damaged file reads as
/// [`io::ErrorKind::InvalidData`] (the offset) or as an error of its own (the rest).
pub fn is_disk_failure(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() != io::ErrorKind::InvalidData)
    })
}

/// `error` and its causes, each left out when the one before already says it (as `cannot use
/// FILE: No space left on device` does of the `io::Error` it wraps).
fn reason(error: &anyhow::Error) -> String {
    let mut reason = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if reason.contains(&cause) {
            continue;
        }
        if !reason.is_empty() {
            reason.push_str(": ");
        }
        reason.push_str(&cause);
    }
    reason
}

/// The pause after the `tries`-th failure of an episode.
fn pause_after(tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(16);
    FIRST_PAUSE
        .saturating_mul(1 << doublings)
        .min(LONGEST_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_until_recovered_keeping_the_last_reason() {
        let disk = DiskHealth::of("billing");
        assert_eq!(disk.failure(), None);
        disk.failed(&anyhow::anyhow!("No space left on device"));
        disk.failed(&anyhow::anyhow!("still no space"));
        assert!(disk.is_failed());
        assert_eq!(disk.failure().as_deref(), Some("still no space"));
        disk.clone().recovered();
        assert!(!disk.is_failed(), "clones share the state");
    }

    #[test]
    fn a_cause_the_error_already_names_is_left_out() {
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let error = anyhow::Error::new(io).context(format!(
            "cannot use shards.json: {}",
            std::io::Error::from(std::io::ErrorKind::StorageFull)
        ));
        let error = error.context("failed to start");
        assert_eq!(
            reason(&error),
            "failed to start: cannot use shards.json: no storage space"
        );
    }

    #[test]
    fn io_errors_are_the_disks_and_damaged_files_are_not() {
        let full = anyhow::Error::new(io::Error::from(io::ErrorKind::StorageFull))
            .context("failed to save the offset");
        assert!(is_disk_failure(&full));
        let damaged = anyhow::Error::new(io::Error::new(
            io::ErrorKind::InvalidData,
            "offset.json is damaged",
        ));
        assert!(!is_disk_failure(&damaged));
        assert!(!is_disk_failure(&anyhow::anyhow!(
            "shard 3 is held by another process"
        )));
    }

    #[test]
    fn pauses_double_up_to_the_longest() {
        let pauses: Vec<u128> = (1..=8)
            .map(|tries| pause_after(tries).as_millis())
            .collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
        assert_eq!(pause_after(u32::MAX), LONGEST_PAUSE);
    }

    #[tokio::test]
    async fn shutdown_ends_a_pause() {
        let disk = DiskHealth::of("billing");
        disk.failed(&anyhow::anyhow!("full"));
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        assert!(!disk.pause(&shutdown).await);
    }
}
