//! The order service's side of the outcomes: consumes `NS.order-outcomes` (each message a
//! consumer's batch of outcomes) into its delivery timeline, acking each message once its
//! outcomes are recorded.

use std::sync::Arc;
use std::time::Duration;

use shared_events::runtime::amqp::Connection;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use shared_events::app::settings::AmqpSettings;
use shared_events::contract::outcome::DeliveryOutcome;
use shared_events::runtime::amqp::subscription::{Next, Subscription};
use shared_events::runtime::amqp::supervisor::{Session, SessionError, set_up, supervise};
use shared_events::runtime::amqp::topology::Topology;
use shared_events::runtime::amqp::{AmqpError, BrokerLink};

/// Where the order service keeps the outcomes it receives over the broker.
pub trait OutcomeStore: Send + Sync + 'static {
    /// Records `outcomes`; `Ok` once they are durable.
    fn record(
        &self,
        outcomes: Vec<DeliveryOutcome>,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// Outcomes recorded in one write, at most: what arrived together is stored together.
const BATCH: usize = 256;

/// Consumes the outcomes queue into `store` until `shutdown`, reconnecting after failures.
/// An outcome that does not decode is logged and dropped: the timeline is a view, and the
/// consumers' ledgers stay the truth.
pub async fn run_outcome_listener<S: OutcomeStore>(
    settings: AmqpSettings,
    store: Arc<S>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut session = ListenerSession {
        topology: Topology::new(&settings.namespace),
        settings: settings.clone(),
        store,
        shutdown: shutdown.clone(),
    };
    let link = BrokerLink::of("order");
    let result = supervise(&settings, "order-outcomes", &link, &shutdown, &mut session).await;
    tracing::info!("outcome listener stopped");
    result
}

struct ListenerSession<S> {
    topology: Topology,
    settings: AmqpSettings,
    store: Arc<S>,
    shutdown: CancellationToken,
}

impl<S: OutcomeStore> Session for ListenerSession<S> {
    async fn run(&mut self, connection: &Connection) -> Result<(), SessionError> {
        let queue = self.topology.outcomes_queue();
        let work = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(AmqpError::channel("opening a channel to declare on"))?;
            self.topology.declare_outcomes(&channel).await?;
            let _ = channel.close(200, "OK".into()).await;
            let subscription =
                Subscription::start(connection, &queue, "order-service", self.settings.prefetch)
                    .await?;
            Ok::<_, SessionError>(subscription)
        };
        let Some(mut subscription) =
            set_up("setting up the outcome listener", &self.shutdown, work).await?
        else {
            return Ok(());
        };
        tracing::info!(queue, "listening for delivery outcomes");
        let ack_timeout = Duration::from_millis(self.settings.publish_timeout_ms);
        while let Next::Delivery(first) = subscription.next(&self.shutdown).await? {
            let mut deliveries = vec![first];
            while deliveries.len() < BATCH {
                match subscription.next_prefetched(Instant::now()).await {
                    Some(delivery) => deliveries.push(Box::new(delivery)),
                    None => break,
                }
            }
            let outcomes: Vec<DeliveryOutcome> = deliveries
                .iter()
                .flat_map(|delivery| decode(&delivery.data))
                .collect();
            if let Err(error) = self.store.record(outcomes).await {
                // Unacked, they come back after the reconnect.
                tracing::error!(%error, "cannot record delivery outcomes");
                return Err(SessionError::Store(error));
            }
            for delivery in &deliveries {
                subscription.ack(delivery, ack_timeout).await?;
            }
        }
        subscription.close().await;
        Ok(())
    }
}

/// A message's outcomes: a consumer sends a batch's as one JSON array (a single object is read
/// too). What does not decode is logged and dropped.
fn decode(body: &[u8]) -> Vec<DeliveryOutcome> {
    serde_json::from_slice::<Vec<DeliveryOutcome>>(body)
        .or_else(|_| serde_json::from_slice::<DeliveryOutcome>(body).map(|outcome| vec![outcome]))
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "dropping outcomes that do not decode");
            Vec::new()
        })
}
