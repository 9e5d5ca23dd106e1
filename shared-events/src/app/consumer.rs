//! The one consumer application: a service that consumes order events with its handler, keeps
//! its ledger, and serves its routes. Inventory, billing and notification are each this
//! application with their own [`Consumer`] parts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};
use anyhow::Context;
use config::builder::DefaultState;
use config::{ConfigBuilder, ConfigError};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::app::auth::Permission;
use crate::app::auth::authentication::Authentication;
use crate::app::replica_health::ReplicaHealth;
use crate::app::request_guard::RequestGuard;
use crate::app::routes::Liveness;
use crate::app::server::{self, BoundServer};
use crate::app::settings::{
    AmqpSettings, AuthSettings, ConsumerSettings, HttpSettings, LogSettings,
};
use crate::app::{metrics, request_trace, routes};
use crate::contract::shard::{Shard, ShardCount};
use crate::runtime::amqp::BrokerLink;
use crate::runtime::consumer_service::{ConsumerParts, Transport, spawn_consumer};
use crate::runtime::disk_health::{DiskHealth, is_disk_failure};
use crate::runtime::embedded::EmbeddedLink;
use crate::runtime::handler::EventHandler;
use crate::runtime::shards::layout::settle_shard_count;
use crate::runtime::shards::{Membership, OwnedShards, ReplicaId, ShardLedgers, ShardOpener};
use crate::runtime::tasks::Tasks;
use crate::storage::durable_state::{DurableState, StateMachine};
use crate::storage::failure_log::FailureLog;

/// What makes a consumer service itself: its handler, its ledger, its routes and settings.
pub trait Consumer: Send + Sync + 'static {
    /// Applies each event to one shard's ledger.
    type Handler: EventHandler;
    /// One shard's ledger; the routes get every shard's as
    /// `web::Data<ShardLedgers<Self::Ledger>>`.
    type Ledger: StateMachine;
    /// What the handlers of every shard share (a mailer, counters, the stock on hand); the
    /// routes get it as `web::Data<Self::Shared>`.
    type Shared: Send + Sync + 'static;
    /// Everything the service is configured with.
    type Settings: ServiceSettings;

    /// The name of a shard's ledger files (`stock` for `shards/<k>/stock.json`).
    const LEDGER: &'static str;
    /// Where the HTTP server listens unless configured otherwise.
    const DEFAULT_ADDR: &'static str;
    /// One line on what the service does, for `--help`.
    const ABOUT: &'static str;
    /// What a token's role must allow for a change (POST, PUT, PATCH, DELETE) here; a service
    /// whose routes only read leaves it to administrators.
    const CHANGES: Permission = Permission::Administer;

    /// The service's name (`inventory`): its queue, its outcomes, its data folder.
    fn name() -> &'static str {
        <Self::Handler as EventHandler>::SERVICE
    }

    /// The built-in defaults of [`Consumer::Settings`].
    fn defaults(
        builder: ConfigBuilder<DefaultState>,
    ) -> Result<ConfigBuilder<DefaultState>, ConfigError> {
        ConsumerSettings::defaults(Self::name(), Self::DEFAULT_ADDR, builder)
    }

    /// What the shards' handlers share, made once at start.
    fn shared(settings: &Self::Settings) -> anyhow::Result<Self::Shared>;

    /// The handler of one shard, over its opened ledger.
    fn handler(ledger: DurableState<Self::Ledger>, shared: Arc<Self::Shared>) -> Self::Handler;

    /// Registers the service's routes (the probes come from [`routes::probes`]).
    fn routes(config: &mut web::ServiceConfig);
}

/// What the consumer application reads from a service's settings.
pub trait ServiceSettings: DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static {
    /// The HTTP server.
    fn http(&self) -> &HttpSettings;
    /// The folder for the service's files.
    fn data_dir(&self) -> &Path;
    /// Logging.
    fn log(&self) -> &LogSettings;
    /// The broker.
    fn amqp(&self) -> &AmqpSettings;
    /// Who may call it.
    fn auth(&self) -> &AuthSettings;
    /// How many shards the service's work is split into (`ORDERS__SHARDS`).
    fn shards(&self) -> ShardCount;
    /// This replica's name (`ORDERS__REPLICA_ID`; unset: host name and process id).
    fn replica_id(&self) -> Option<&str>;

    /// The failure log: `<data_dir>/failure.json`.
    fn failure_log_path(&self) -> PathBuf {
        self.data_dir().join("failure.json")
    }
}

/// Implements [`ServiceSettings`] for a settings struct with the fields `http`, `data_dir`, `log`,
/// `amqp`, `auth`, `shards` and `replica_id`.
#[macro_export]
macro_rules! service_settings {
    ($settings:ty) => {
        impl $crate::app::consumer::ServiceSettings for $settings {
            fn http(&self) -> &$crate::app::settings::HttpSettings {
                &self.http
            }
            fn data_dir(&self) -> &::std::path::Path {
                &self.data_dir
            }
            fn log(&self) -> &$crate::app::settings::LogSettings {
                &self.log
            }
            fn amqp(&self) -> &$crate::app::settings::AmqpSettings {
                &self.amqp
            }
            fn auth(&self) -> &$crate::app::settings::AuthSettings {
                &self.auth
            }
            fn shards(&self) -> $crate::contract::shard::ShardCount {
                self.shards
            }
            fn replica_id(&self) -> Option<&str> {
                self.replica_id.as_deref()
            }
        }
    };
}

crate::service_settings!(ConsumerSettings);

/// A bound, ready-to-run consumer service.
pub struct ConsumerApplication<C: Consumer> {
    server: BoundServer,
    shards: Arc<ConsumerShards<C>>,
    workers: Workers,
    health: ReplicaHealth,
}

/// What the service's workers are made of, beside its shards.
struct Workers {
    transport: Transport,
    data_dir: DataDir,
    /// The data directory's parts, once in place: at build, unless the disk failed then.
    prepared: Option<Prepared>,
    owned: OwnedShards,
    broker: BrokerLink,
    disk: DiskHealth,
}

/// A consumer's data directory, and what must be in place there before anything is consumed.
#[derive(Clone)]
struct DataDir {
    path: PathBuf,
    ledger: &'static str,
    service: &'static str,
    shards: ShardCount,
    replica: ReplicaId,
    failure_log: PathBuf,
}

/// The data directory's parts in place: its shard count settled, this replica among the
/// members, the failure log open.
struct Prepared {
    membership: Membership,
    failure_log: FailureLog,
}

/// Opens a consumer service's shards: each one's ledger, and a handler over it.
struct ConsumerShards<C: Consumer> {
    ledgers: Arc<ShardLedgers<C::Ledger>>,
    shared: Arc<C::Shared>,
}

impl<C: Consumer> ShardOpener for ConsumerShards<C> {
    type Handler = C::Handler;

    fn open(&self, shard: Shard) -> anyhow::Result<Option<Arc<C::Handler>>> {
        let ledger = self.ledgers.open(shard).with_context(|| {
            format!(
                "failed to open the {} ledger in {}",
                C::LEDGER,
                self.ledgers.dir_of(shard).display()
            )
        })?;
        Ok(ledger.map(|ledger| Arc::new(C::handler(ledger, Arc::clone(&self.shared)))))
    }

    fn close(&self, shard: Shard) {
        self.ledgers.close(shard);
    }

    fn is_healthy(&self, shard: Shard) -> bool {
        self.ledgers.is_writable_shard(shard)
    }
}

/// This replica and the shards it owns: what `GET /shards` shows.
#[derive(Debug, Clone)]
pub struct ReplicaShards {
    /// The replica's name.
    pub replica: ReplicaId,
    /// The service's shard count.
    pub shards: ShardCount,
    /// The shards it owns now.
    pub owned: OwnedShards,
}

impl<C: Consumer> ConsumerApplication<C> {
    /// Checks the data directory's shard count, joins the service's replicas, opens the
    /// failure log and binds the HTTP listener (port 0 picks one). No shard is taken and
    /// nothing consumed until [`ConsumerApplication::run`].
    pub async fn build(settings: C::Settings) -> anyhow::Result<ConsumerApplication<C>> {
        // Before the failure log and the ledgers report: what is recorded before the recorder
        // is installed is lost.
        metrics::install();
        // First: a damaged tokens file stops the service before it touches anything else.
        let authentication = Authentication::new(settings.auth(), C::CHANGES)
            .context("failed to read the tokens file")?;
        let shards = settings.shards();
        let replica = settings
            .replica_id()
            .map_or_else(ReplicaId::of_this_process, ReplicaId::new);
        let data_dir = DataDir {
            path: settings.data_dir().to_owned(),
            ledger: C::LEDGER,
            service: C::name(),
            shards,
            replica: replica.clone(),
            failure_log: settings.failure_log_path(),
        };
        let disk = DiskHealth::of(C::name());
        // A configuration the data directory refuses stops the service here; a disk that
        // fails does not: the service starts, not ready, and tries again (see `Workers`).
        let prepared = match data_dir.prepare().await {
            Ok(prepared) => Some(prepared),
            Err(error) if is_disk_failure(&error) => {
                disk.failed(&error);
                None
            }
            Err(error) => return Err(error),
        };
        let ledgers = Arc::new(ShardLedgers::new(
            settings.data_dir(),
            C::name(),
            C::LEDGER,
            shards,
        ));
        let shared = Arc::new(C::shared(&settings)?);
        let owned = OwnedShards::of(<C::Handler as EventHandler>::SERVICE);
        let broker = BrokerLink::of(<C::Handler as EventHandler>::SERVICE);
        let health = ReplicaHealth::new(broker.clone(), owned.clone(), disk.clone());
        let replica = ReplicaShards {
            replica,
            shards,
            owned: owned.clone(),
        };
        let written = Arc::clone(&ledgers);
        let liveness = Liveness::new(move || {
            (!written.is_writable()).then(|| {
                format!(
                    "a {} ledger failed a write; a restart recovers it from its files",
                    C::LEDGER
                )
            })
        });

        let ledgers_data = web::Data::from(Arc::clone(&ledgers));
        let shared_data = web::Data::from(Arc::clone(&shared));
        let replica_data = web::Data::new(replica);
        let health_data = web::Data::new(health.clone());
        let liveness_data = web::Data::new(liveness);
        let body_limit = settings.http().max_body_bytes;
        let service = <C::Handler as EventHandler>::SERVICE;
        ::metrics::gauge!("consumer_shards_configured", "service" => service)
            .set(f64::from(shards.get()));
        let guard = RequestGuard::new(settings.http());
        let server = server::bind(settings.http(), move || {
            let guard = guard.clone();
            let authentication = authentication.clone();
            App::new()
                // Innermost: what they refuse is still counted and traced; the request's host
                // and origin are checked before its token.
                .wrap(from_fn(move |request, next| {
                    authentication.clone().check(request, next)
                }))
                .wrap(from_fn(move |request, next| {
                    guard.clone().check(request, next)
                }))
                .wrap(from_fn(move |request, next| {
                    request_trace::trace_requests(service, request, next)
                }))
                .wrap(from_fn(move |request, next| {
                    metrics::record_requests(service, request, next)
                }))
                .app_data(ledgers_data.clone())
                .app_data(shared_data.clone())
                .app_data(replica_data.clone())
                .app_data(health_data.clone())
                .app_data(liveness_data.clone())
                .app_data(web::Data::new(metrics::ExposedService(service)))
                .app_data(routes::json_config(body_limit))
                .app_data(web::PayloadConfig::new(body_limit))
                .route("/shards", web::get().to(shards_owned))
                .configure(C::routes)
                .default_service(web::to(routes::not_found))
        })?;
        let workers = Workers {
            transport: Transport::Amqp(settings.amqp().clone()),
            data_dir,
            prepared,
            owned,
            broker,
            disk,
        };
        Ok(ConsumerApplication {
            server,
            shards: Arc::new(ConsumerShards { ledgers, shared }),
            workers,
            health,
        })
    }

    /// Takes order events from the embedded transport (the all-in-one platform) instead of
    /// RabbitMQ.
    pub fn use_embedded(&mut self, link: EmbeddedLink) {
        self.workers.transport = Transport::Embedded(link);
        self.health.use_embedded();
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The base URL, such as `http://127.0.0.1:8081`.
    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// What the shards' handlers share.
    pub fn shared(&self) -> Arc<C::Shared> {
        Arc::clone(&self.shards.shared)
    }

    /// Serves HTTP, takes its share of the shards and consumes their events, and records what
    /// it gives up on in `failure.json`, until `shutdown` is cancelled or one of them stops on
    /// its own (an error). Then stops the others gracefully: the events in hand are finished
    /// and acknowledged, the shards handed over, in-flight requests answered. A data directory
    /// that did not take writes at build is tried again until it does, the service serving
    /// HTTP (not ready) meanwhile.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ConsumerApplication {
            server,
            shards,
            workers,
            health: _,
        } = self;
        let mut tasks = Tasks::default();
        let server_handle = server.serve_in(&mut tasks);
        workers.spawn(&mut tasks, Arc::clone(&shards), &shutdown);
        let result = tasks
            .run_until_stopped(shutdown, || server_handle.stop(true))
            .await;
        // Releases every shard even if a clone of a ledger outlives the service.
        shards.ledgers.close_all();
        result
    }
}

impl Workers {
    /// Starts the workers in `tasks`, or, while the data directory's parts are not in place,
    /// a task that puts them in place once the disk takes writes and then runs the workers.
    fn spawn<O: ShardOpener>(
        mut self,
        tasks: &mut Tasks,
        opener: Arc<O>,
        shutdown: &CancellationToken,
    ) {
        match self.prepared.take() {
            Some(prepared) => spawn_consumer(tasks, opener, self.into_parts(prepared), shutdown),
            None => {
                let shutdown = shutdown.clone();
                tasks.spawn("consumer", async move {
                    let Some(prepared) = self
                        .data_dir
                        .prepare_when_writable(&self.disk, &shutdown)
                        .await?
                    else {
                        return Ok(());
                    };
                    let mut workers = Tasks::default();
                    spawn_consumer(&mut workers, opener, self.into_parts(prepared), &shutdown);
                    workers.run_until_stopped(shutdown, || async {}).await
                });
            }
        }
    }

    fn into_parts(self, prepared: Prepared) -> ConsumerParts {
        ConsumerParts {
            transport: self.transport,
            data_dir: self.data_dir.path,
            failure_log: Arc::new(prepared.failure_log),
            shards: self.data_dir.shards,
            membership: prepared.membership,
            owned: self.owned,
            broker: self.broker,
            disk: self.disk,
        }
    }
}

impl DataDir {
    /// Settles the shard count, joins the service's replicas and opens the failure log, on a
    /// blocking thread.
    async fn prepare(&self) -> anyhow::Result<Prepared> {
        let dir = self.clone();
        tokio::task::spawn_blocking(move || dir.prepare_blocking())
            .await
            .context("opening the data directory panicked")?
    }

    /// [`DataDir::prepare`] on the caller's thread. Blocks on file I/O.
    fn prepare_blocking(self) -> anyhow::Result<Prepared> {
        settle_shard_count(&self.path, self.ledger, self.shards)?;
        let membership = Membership::join(&self.path, self.replica)?;
        let failure_log = FailureLog::open_reporting(&self.failure_log, self.service)
            .with_context(|| {
                format!(
                    "failed to open the failure log {}",
                    self.failure_log.display()
                )
            })?;
        Ok(Prepared {
            membership,
            failure_log,
        })
    }

    /// [`DataDir::prepare`] after each pause of `disk`, until it succeeds (`disk` is then
    /// recovered), fails other than for the disk's sake (`Err`), or `shutdown` (`None`).
    async fn prepare_when_writable(
        &self,
        disk: &DiskHealth,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Prepared>> {
        while disk.pause(shutdown).await {
            match self.prepare().await {
                Ok(prepared) => {
                    disk.recovered();
                    return Ok(Some(prepared));
                }
                Err(error) if is_disk_failure(&error) => disk.failed(&error),
                Err(error) => return Err(error),
            }
        }
        Ok(None)
    }
}

/// The answer of `GET /shards`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct ShardsAnswer<'a> {
    /// This replica's name (`ORDERS__REPLICA_ID`).
    #[schema(value_type = String)]
    replica: &'a ReplicaId,
    /// The service's shard count.
    #[schema(value_type = u16, minimum = 1, maximum = 64)]
    shards: ShardCount,
    /// The shards this replica owns now, each from 0 to `shards - 1`.
    #[schema(value_type = Vec<u16>)]
    owned: Vec<Shard>,
}

/// `GET /shards`: this replica, the service's shard count, and the shards it owns now.
#[utoipa::path(
    get,
    path = "/shards",
    tag = "replicas",
    responses((status = 200, description = "This replica and the shards it owns now.", body = ShardsAnswer))
)]
async fn shards_owned(replica: web::Data<ReplicaShards>) -> HttpResponse {
    HttpResponse::Ok().json(ShardsAnswer {
        replica: &replica.replica,
        shards: replica.shards,
        owned: replica.owned.list(),
    })
}

/// What every consumer's API has beside its own routes: `GET /shards`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(shards_owned),
    tags((name = "replicas", description = "Which replica of the service owns which shards."))
)]
pub struct ConsumerApi;
