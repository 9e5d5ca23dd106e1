//! The loop by which a replica owns its share of a service's shards.
//!
//! Four times a second it asks who is alive ([`Membership`]), works out its share
//! ([`share`]), hands over shards above it and tries to take free ones below it. Taking a shard
//! means locking its directory (opening its ledger): at no moment can two replicas hold one.
//! Handing one over means stopping its worker, which finishes and acknowledges the events in
//! hand, and only then letting go of the lock. A replica that dies loses its locks with its
//! process, so the others take its shards over at their next round.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::contract::shard::{Shard, ShardCount};
use crate::runtime::handler::EventHandler;
use crate::runtime::shards::balance::share;
use crate::runtime::shards::membership::{Membership, ReplicaId};

/// How often a replica looks at who is alive and rebalances.
const ROUND: Duration = Duration::from_millis(250);

/// How long a shard that failed to open (a damaged ledger, a disk error) is left alone before
/// this replica tries it again. The other shards go on meanwhile.
const FAILED_SHARD_PAUSE: Duration = Duration::from_secs(30);

/// Rounds in a row the membership folder may fail to list before the replica gives up.
const MEMBERSHIP_FAILURES: u32 = 20;

/// Opens and closes a service's shards: what the owner loop needs to know of a service.
pub trait ShardOpener: Send + Sync + 'static {
    /// What handles a shard's events.
    type Handler: EventHandler;

    /// Takes `shard`: locks and opens its ledger and returns a handler over it, or `None` while
    /// another replica holds it. Blocks on file I/O.
    fn open(&self, shard: Shard) -> anyhow::Result<Option<Arc<Self::Handler>>>;

    /// Lets go of `shard` (its worker has finished): closes its ledger, releasing the lock.
    fn close(&self, shard: Shard);

    /// False once `shard`'s ledger has failed a write: its content on disk is then unknown
    /// until it is opened again, from the files.
    fn is_healthy(&self, shard: Shard) -> bool;
}

/// The shards this replica owns now, for `GET /shards`, readiness and the
/// `consumer_shards_owned` gauge of its service.
#[derive(Debug, Clone, Default)]
pub struct OwnedShards {
    shards: Arc<Mutex<BTreeSet<Shard>>>,
    /// The service whose gauge follows the count; none without one.
    service: Option<&'static str>,
}

impl OwnedShards {
    /// No shard yet, of `service` (`inventory`), whose gauge follows.
    pub fn of(service: &'static str) -> OwnedShards {
        OwnedShards {
            shards: Arc::default(),
            service: Some(service),
        }
    }

    /// The owned shards, in order.
    pub fn list(&self) -> Vec<Shard> {
        self.lock().iter().copied().collect()
    }

    /// Records whether `shard` is owned.
    pub fn set(&self, shard: Shard, owned: bool) {
        let mut shards = self.lock();
        if owned {
            shards.insert(shard);
        } else {
            shards.remove(&shard);
        }
        if let Some(service) = self.service {
            metrics::gauge!("consumer_shards_owned", "service" => service).set(shards.len() as f64);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<Shard>> {
        self.shards
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Worker {
    stop: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

/// What a replica holds while it takes shards: their workers, and the shards it left alone.
struct Holdings<'a> {
    workers: &'a mut BTreeMap<Shard, Worker>,
    failed: &'a mut FailedShards,
}

/// Shards that failed to open, and until when they are left alone.
#[derive(Default)]
struct FailedShards(BTreeMap<Shard, tokio::time::Instant>);

impl FailedShards {
    fn pause(&mut self, shard: Shard) {
        self.0
            .insert(shard, tokio::time::Instant::now() + FAILED_SHARD_PAUSE);
    }

    fn is_paused(&self, shard: Shard) -> bool {
        self.0
            .get(&shard)
            .is_some_and(|until| tokio::time::Instant::now() < *until)
    }
}

/// Owns this replica's share of `shards` until `shutdown`, running `start(shard, handler,
/// stop)` for every shard it takes. Returns `Err` if a worker fails or stops on its own, or the
/// membership folder fails; then, as after `shutdown`, every worker is stopped and every shard
/// let go. `owned` always says what it holds.
pub async fn run_shard_owner<O, W, F>(
    opener: Arc<O>,
    membership: Membership,
    shards: ShardCount,
    owned: OwnedShards,
    start: W,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    O: ShardOpener,
    W: Fn(Shard, Arc<O::Handler>, CancellationToken) -> F,
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let membership = Arc::new(membership);
    let me = membership.id().clone();
    let mut workers = BTreeMap::new();
    let mut failed = FailedShards::default();
    let mut listing_failures = 0;
    let mut round = tokio::time::interval(ROUND);
    round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break Ok(()),
            _ = round.tick() => {}
        }
        if let Err(error) = check_workers(&mut workers).await {
            break Err(error);
        }
        // A shard whose ledger failed a write is handed over, to be opened again from its
        // files (here after a pause, or by another replica at once), rather than held while
        // every event of it fails.
        let failing: Vec<Shard> = workers
            .keys()
            .copied()
            .filter(|shard| !opener.is_healthy(*shard))
            .collect();
        for shard in failing {
            if let Some(worker) = workers.remove(&shard) {
                tracing::error!(
                    shard,
                    "the shard's ledger failed a write; handing the shard over to be opened again"
                );
                hand_over(&*opener, &owned, shard, worker).await;
                failed.pause(shard);
            }
        }
        let live = {
            let membership = Arc::clone(&membership);
            match tokio::task::spawn_blocking(move || membership.live()).await {
                Ok(Ok(live)) => {
                    listing_failures = 0;
                    live
                }
                Ok(Err(error)) => {
                    listing_failures += 1;
                    if listing_failures >= MEMBERSHIP_FAILURES {
                        break Err(anyhow::Error::new(error));
                    }
                    tracing::warn!(%error, "cannot list the replicas; trying again");
                    continue;
                }
                Err(panic) => break Err(anyhow::anyhow!("listing the replicas panicked: {panic}")),
            }
        };
        let target = share(&me, &live, shards);
        while workers.len() > target {
            let Some((shard, worker)) = workers.pop_last() else {
                break;
            };
            hand_over(&*opener, &owned, shard, worker).await;
        }
        if workers.len() < target
            && let Err(error) = take_free(
                &opener,
                &owned,
                &me,
                shards,
                target,
                &mut Holdings {
                    workers: &mut workers,
                    failed: &mut failed,
                },
                &start,
            )
            .await
        {
            break Err(error);
        }
    };
    // Leaving first lets the others count without this replica while it finishes its shards.
    match Arc::try_unwrap(membership) {
        Ok(membership) => membership.leave(),
        Err(_) => tracing::warn!("the membership is still in use; leaving it to the process's end"),
    }
    for worker in workers.values() {
        worker.stop.cancel();
    }
    for (shard, worker) in workers {
        hand_over(&*opener, &owned, shard, worker).await;
    }
    result
}

/// Fails if a worker ended without being asked: the service must not go on without it.
async fn check_workers(workers: &mut BTreeMap<Shard, Worker>) -> anyhow::Result<()> {
    let ended: Vec<Shard> = workers
        .iter()
        .filter(|(_, worker)| worker.handle.is_finished())
        .map(|(shard, _)| *shard)
        .collect();
    for shard in ended {
        if let Some(worker) = workers.remove(&shard) {
            let result = worker
                .handle
                .await
                .with_context(|| format!("the consumer of shard {shard} panicked"))?;
            result.with_context(|| format!("the consumer of shard {shard} failed"))?;
            anyhow::bail!("the consumer of shard {shard} stopped on its own");
        }
    }
    Ok(())
}

/// Tries the shards this replica does not own, starting at a place of its own so that replicas
/// joining together do not all queue for shard 0, until it owns `target`.
async fn take_free<O, W, F>(
    opener: &Arc<O>,
    owned: &OwnedShards,
    me: &ReplicaId,
    shards: ShardCount,
    target: usize,
    holdings: &mut Holdings<'_>,
    start: &W,
) -> anyhow::Result<()>
where
    O: ShardOpener,
    W: Fn(Shard, Arc<O::Handler>, CancellationToken) -> F,
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let count = shards.get();
    let offset = me
        .as_str()
        .bytes()
        .fold(0u16, |sum, byte| sum.wrapping_add(u16::from(byte)))
        % count;
    for step in 0..count {
        if holdings.workers.len() >= target {
            break;
        }
        let shard = (offset + step) % count;
        if holdings.workers.contains_key(&shard) || holdings.failed.is_paused(shard) {
            continue;
        }
        let opening = Arc::clone(opener);
        let opened = tokio::task::spawn_blocking(move || opening.open(shard))
            .await
            .with_context(|| format!("opening shard {shard} panicked"))?;
        let handler = match opened {
            Ok(Some(handler)) => handler,
            Ok(None) => continue,
            Err(error) => {
                // One damaged shard must not stop the others, here or in the replicas that
                // would try it next.
                tracing::error!(
                    shard,
                    error = format!("{error:#}"),
                    "cannot open the shard; leaving it for {FAILED_SHARD_PAUSE:?}"
                );
                holdings.failed.pause(shard);
                continue;
            }
        };
        let stop = CancellationToken::new();
        let handle = tokio::spawn(start(shard, handler, stop.clone()));
        holdings.workers.insert(shard, Worker { stop, handle });
        owned.set(shard, true);
        tracing::info!(shard, "took the shard");
    }
    Ok(())
}

/// Stops `shard`'s worker (it finishes the events in hand), then lets go of the shard.
async fn hand_over<O: ShardOpener>(opener: &O, owned: &OwnedShards, shard: Shard, worker: Worker) {
    worker.stop.cancel();
    match worker.handle.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(
            shard,
            error = format!("{error:#}"),
            "the shard's consumer failed while stopping"
        ),
        Err(panic) => tracing::warn!(shard, %panic, "the shard's consumer panicked while stopping"),
    }
    owned.set(shard, false);
    opener.close(shard);
    tracing::info!(shard, "handed the shard over");
}
