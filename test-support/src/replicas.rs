//! Several replicas of one consumer service, separate processes on one data directory, taken
//! through kills, joins and graceful leaves while order events stream in; and the checks that
//! their shards stay owned by one replica each and balanced.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared_events::OrderEvent;
use shared_events::OrderStatus;
use shared_events::contract::shard::ShardCount;
use tempfile::TempDir;
use tokio::process::Child;
use tokio::task::JoinHandle;

use crate::broker::{TestBroker, publish_events};
use crate::http::get_json;
use crate::orders::TestOrder;
use crate::process::{Interruption, interrupt, service_command, spawn_listening};

/// How long the replicas may take to own every shard again after one joins or leaves.
pub const REBALANCE: Duration = Duration::from_secs(10);

/// The products the orders of a stream are made of.
pub const PRODUCTS: [&str; 4] = ["anvil", "bolt", "cog", "drill"];

/// Running replicas of one service on one data directory.
pub struct ReplicaSet {
    program: PathBuf,
    data_dir: TempDir,
    broker: TestBroker,
    shards: ShardCount,
    env: Vec<(String, String)>,
    running: BTreeMap<String, Child>,
    urls: Arc<Mutex<BTreeMap<String, String>>>,
    started: usize,
}

/// One order of a stream: its events in version order, and the order as the last one left it.
#[derive(Debug, Clone)]
pub struct StreamedOrder {
    /// Every event of the order, version 1 first.
    pub events: Vec<OrderEvent>,
    /// The order after its last event.
    pub last: TestOrder,
    /// Whether its last event deleted it.
    pub deleted: bool,
}

/// Watches which replica owns which shard, every 100 ms, until stopped.
pub struct OwnershipWatch {
    task: JoinHandle<Vec<String>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl ReplicaSet {
    /// No replica yet of `program` (a consumer's binary) with `shards`, on a fresh data
    /// directory and broker namespace with `service`'s queues declared; `env` is added to every
    /// replica's environment.
    pub async fn new(
        program: &str,
        service: &'static str,
        shards: ShardCount,
        env: &[(&str, String)],
    ) -> ReplicaSet {
        ReplicaSet {
            program: PathBuf::from(program),
            data_dir: tempfile::tempdir().expect("temp dir"),
            broker: TestBroker::with_shards(service, shards).await,
            shards,
            env: env
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
            running: BTreeMap::new(),
            urls: Arc::new(Mutex::new(BTreeMap::new())),
            started: 0,
        }
    }

    /// Starts one more replica, `r<n>`; returns its id.
    pub async fn start(&mut self) -> String {
        self.started += 1;
        let id = format!("r{}", self.started);
        let mut command = service_command(
            &self.program.to_string_lossy(),
            self.data_dir.path(),
            &self.broker.settings,
        );
        command
            .env("ORDERS__SHARDS", self.shards.to_string())
            .env("ORDERS__REPLICA_ID", &id);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let (child, url) = spawn_listening(command).await;
        self.running.insert(id.clone(), child);
        self.urls().insert(id.clone(), url);
        id
    }

    /// Stops replica `id` as `how` says (SIGKILL, or SIGTERM ending cleanly).
    pub async fn stop(&mut self, id: &str, how: Interruption) {
        self.urls().remove(id);
        let mut child = self.running.remove(id).expect("a running replica");
        interrupt(&mut child, how).await;
    }

    /// The ids of the running replicas.
    pub fn ids(&self) -> Vec<String> {
        self.running.keys().cloned().collect()
    }

    /// The URL of a running replica.
    pub fn any_url(&self) -> String {
        self.urls()
            .values()
            .next()
            .cloned()
            .expect("a running replica")
    }

    /// Publishes `orders`' events on a task of their own, a few orders at a time with
    /// `pause` between batches, each order's events in version order; the task ends once the
    /// broker confirmed them all.
    pub fn stream(&self, orders: &[StreamedOrder], pause: Duration) -> JoinHandle<()> {
        let (publisher, topology) = self.broker.publisher();
        let orders = orders.to_vec();
        tokio::spawn(async move {
            for group in orders.chunks(8) {
                let versions = group
                    .iter()
                    .map(|order| order.events.len())
                    .max()
                    .unwrap_or(0);
                for version in 0..versions {
                    let batch: Vec<OrderEvent> = group
                        .iter()
                        .filter_map(|order| order.events.get(version).cloned())
                        .collect();
                    publish_events(&publisher, &topology, &batch).await;
                    tokio::time::sleep(pause).await;
                }
            }
        })
    }

    /// Waits until the running replicas own every shard between them, one owner each, every
    /// replica at least one (when there are no more replicas than shards) and none more than
    /// its fair share.
    pub async fn wait_balanced(&self) {
        let replicas = self.running.len();
        let shards = usize::from(self.shards.get());
        let most = shards.div_ceil(replicas.max(1));
        let urls = self.urls().clone();
        let deadline = tokio::time::Instant::now() + REBALANCE;
        let mut last = None;
        loop {
            let owned = ownership(&urls).await;
            if owned
                .as_ref()
                .is_some_and(|owned| is_balanced(owned, shards, most))
            {
                return;
            }
            last = owned.or(last);
            // The last ownership seen says which replica did not let go or take over.
            assert!(
                tokio::time::Instant::now() < deadline,
                "{replicas} replicas did not own all {shards} shards fairly within \
                 {REBALANCE:?}; last seen: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts watching ownership: every 100 ms, every running replica's `GET /shards`.
    pub fn watch_ownership(&self) -> OwnershipWatch {
        let urls = Arc::clone(&self.urls);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut violations = Vec::new();
            let mut previous: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                let current_urls = urls.lock().expect("urls").clone();
                if let Some(owned) = ownership(&current_urls).await {
                    let mut owners: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
                    for (replica, shards) in owned {
                        for shard in shards {
                            owners.entry(shard).or_default().insert(replica.clone());
                        }
                    }
                    // A handover between two requests of one round can list a shard twice
                    // once; the same two owners twice running cannot be a handover.
                    for (shard, holders) in &owners {
                        if holders.len() > 1 && previous.get(shard) == Some(holders) {
                            violations.push(format!("shard {shard} owned by {holders:?}"));
                        }
                    }
                    previous = owners;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            violations
        });
        OwnershipWatch { task, stop }
    }

    fn urls(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.urls.lock().expect("urls")
    }
}

impl OwnershipWatch {
    /// Stops watching; the shards that two replicas were seen owning at once.
    pub async fn violations(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.expect("the watch ran")
    }
}

/// `count` orders, each created, changed, and then (some of them) cancelled or deleted:
/// `PRODUCTS` spread over them, two lines each.
pub fn order_stream(count: usize) -> Vec<StreamedOrder> {
    (0..count)
        .map(|n| {
            let first = PRODUCTS[n % PRODUCTS.len()];
            let second = PRODUCTS[(n + 1) % PRODUCTS.len()];
            let mut order = TestOrder::new(
                &format!("customer {n}"),
                &[(first, 1, "2.50"), (second, 2, "1.25")],
            );
            let mut events = vec![order.created()];
            events.push(order.with_lines(&[(first, 3, "2.50"), (second, 1, "1.25")]));
            let mut deleted = false;
            match n % 4 {
                1 => events.push(order.with_status(OrderStatus::Cancelled)),
                2 => {
                    events.push(order.delete());
                    deleted = true;
                }
                3 => events.push(order.with_lines(&[(second, 4, "1.25")])),
                _ => {}
            }
            StreamedOrder {
                events,
                last: order,
                deleted,
            }
        })
        .collect()
}

/// Units reserved per product once every order of `orders` took effect exactly once.
pub fn expected_reservations(orders: &[StreamedOrder]) -> BTreeMap<String, u64> {
    let mut reserved: BTreeMap<String, u64> = PRODUCTS
        .iter()
        .map(|product| ((*product).to_owned(), 0))
        .collect();
    for streamed in orders {
        let order = &streamed.last.order;
        if streamed.deleted || order.status.is_cancelled() {
            continue;
        }
        for line in &order.items {
            *reserved.entry(line.product.clone()).or_default() += u64::from(line.quantity);
        }
    }
    reserved
}

/// Whether every one of `shards` is owned by exactly one replica, each owning at least one
/// (when there are no more replicas than shards) and at most `most`.
fn is_balanced(owned: &BTreeMap<String, Vec<u16>>, shards: usize, most: usize) -> bool {
    let replicas = owned.len();
    let mut all = BTreeSet::new();
    for shards_of_one in owned.values() {
        if shards_of_one.len() > most || (replicas <= shards && shards_of_one.is_empty()) {
            return false;
        }
        if !shards_of_one.iter().all(|shard| all.insert(*shard)) {
            return false;
        }
    }
    all.len() == shards
}

/// Every running replica's `GET /shards`: its owned shards, by replica id; `None` if one did
/// not answer.
async fn ownership(urls: &BTreeMap<String, String>) -> Option<BTreeMap<String, Vec<u16>>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a client");
    let requests = urls.iter().map(|(id, url)| {
        let client = client.clone();
        async move {
            let body = get_json(&client, &format!("{url}/shards")).await?;
            let owned = body["owned"]
                .as_array()?
                .iter()
                .filter_map(|shard| shard.as_u64().and_then(|shard| u16::try_from(shard).ok()))
                .collect();
            Some((id.clone(), owned))
        }
    });
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .collect()
}

/// Starts three replicas and streams `orders` into them while: one replica is killed and a
/// fresh one started, twice; then the replicas are scaled 3 → 1 → 3 → 1 by graceful stops and
/// starts. After every join or leave the shards must be owned fairly again within
/// [`REBALANCE`]. Returns once every event is published, with the shards that were seen with
/// two owners at once (none, if all is well); one replica is left running.
pub async fn kill_join_and_scale(set: &mut ReplicaSet, orders: &[StreamedOrder]) -> Vec<String> {
    for _ in 0..3 {
        set.start().await;
    }
    set.wait_balanced().await;
    let watch = set.watch_ownership();
    let stream = set.stream(orders, Duration::from_millis(150));
    for _ in 0..2 {
        let victim = set.ids()[0].clone();
        set.stop(&victim, Interruption::Kill).await;
        set.wait_balanced().await;
        set.start().await;
        set.wait_balanced().await;
    }
    scale_down_to_one(set).await;
    for _ in 0..2 {
        set.start().await;
        set.wait_balanced().await;
    }
    scale_down_to_one(set).await;
    stream.await.expect("every event is published");
    watch.violations().await
}

async fn scale_down_to_one(set: &mut ReplicaSet) {
    while set.ids().len() > 1 {
        let leaving = set.ids()[0].clone();
        set.stop(&leaving, Interruption::Terminate).await;
        set.wait_balanced().await;
    }
}
