//! The four services composed in one process, and their shared lifecycle.

use anyhow::Context;
use shared_events::amqp::EventHandler;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::embedded::Retention;
use crate::settings::{PlatformSettings, TransportKind};

/// The order service's name among the platform's tasks.
const ORDER_SERVICE: &str = "order service";

/// The order service and the three consumers, bound and ready to run.
pub struct Platform {
    transport: TransportKind,
    order: order_service::startup::Application,
    inventory: inventory_service::startup::Application,
    billing: billing_service::startup::Application,
    notification: notification_service::startup::Application,
    retention: Option<Retention>,
    shutdown: CancellationToken,
}

impl Platform {
    /// Opens every service's files and binds every listener. With the embedded transport the
    /// consumers read the order store's journal; with RabbitMQ each service talks to the
    /// broker as it does on its own.
    pub async fn build(settings: PlatformSettings) -> anyhow::Result<Platform> {
        let retries = [
            settings.inventory.amqp.clone(),
            settings.billing.amqp.clone(),
            settings.notification.amqp.clone(),
        ];
        let order = order_service::startup::Application::build(settings.order.clone())
            .await
            .context("failed to start the order service")?;
        let mut inventory = inventory_service::startup::Application::build(settings.inventory)
            .await
            .context("failed to start the inventory service")?;
        let mut billing = billing_service::startup::Application::build(settings.billing)
            .await
            .context("failed to start the billing service")?;
        let mut notification =
            notification_service::startup::Application::build(settings.notification)
                .await
                .context("failed to start the notification service")?;
        let retention = match settings.transport {
            TransportKind::Amqp => None,
            TransportKind::Embedded => {
                let ([to_inventory, to_billing, to_notification], retention) = Retention::links(
                    order.store(),
                    order.deliveries(),
                    [&retries[0], &retries[1], &retries[2]],
                );
                inventory.use_embedded(to_inventory);
                billing.use_embedded(to_billing);
                notification.use_embedded(to_notification);
                Some(retention)
            }
        };
        Ok(Platform {
            transport: settings.transport,
            order,
            inventory,
            billing,
            notification,
            retention,
            shutdown: CancellationToken::new(),
        })
    }

    /// How events travel.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// The order service's URL: the API and the web page.
    pub fn url(&self) -> String {
        self.order.url()
    }

    /// The order service.
    pub fn order(&self) -> &order_service::startup::Application {
        &self.order
    }

    /// The inventory service.
    pub fn inventory(&self) -> &inventory_service::startup::Application {
        &self.inventory
    }

    /// The billing service.
    pub fn billing(&self) -> &billing_service::startup::Application {
        &self.billing
    }

    /// The notification service.
    pub fn notification(&self) -> &notification_service::startup::Application {
        &self.notification
    }

    /// The names of the consuming services, in the order the timeline shows them.
    pub fn consumers() -> [&'static str; 3] {
        [
            inventory_service::handler::StockHandler::SERVICE,
            billing_service::handler::InvoiceHandler::SERVICE,
            notification_service::handler::Notifier::SERVICE,
        ]
    }

    /// The token that stops the whole platform when cancelled, as SIGTERM and SIGINT do.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs every service until SIGTERM, SIGINT, the shutdown token, or one of them stopping
    /// on its own; then stops the others: the consumers first, each finishing the events in
    /// hand, then the order service.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Platform {
            order,
            inventory,
            billing,
            notification,
            retention,
            shutdown,
            ..
        } = self;
        let order_handle = order.handle();
        let consumer_tokens = [
            inventory.shutdown_token(),
            billing.shutdown_token(),
            notification.shutdown_token(),
        ];
        let mut tasks = JoinSet::new();
        tasks.spawn(named(ORDER_SERVICE, order.run_until_stopped()));
        tasks.spawn(named("inventory service", inventory.run_until_stopped()));
        tasks.spawn(named("billing service", billing.run_until_stopped()));
        tasks.spawn(named(
            "notification service",
            notification.run_until_stopped(),
        ));
        if let Some(retention) = retention {
            tasks.spawn(named(
                "embedded log retention",
                retention.run(shutdown.clone()),
            ));
        }

        let mut outcome = Ok(());
        let mut order_running = true;
        tokio::select! {
            () = shutdown.cancelled() => tracing::info!("stopping the platform"),
            Some(ended) = tasks.join_next() => {
                let (name, result) = ended.context("a service panicked")?;
                order_running = name != ORDER_SERVICE;
                match result {
                    Ok(()) => tracing::info!(service = name, "stopped; stopping the platform"),
                    Err(error) => {
                        tracing::error!(service = name, error = format!("{error:#}"), "failed; stopping the platform");
                        outcome = Err(error.context(format!("the {name} failed")));
                    }
                }
            }
        }
        // The consumers stop first, each finishing the events in hand, so that their outcomes
        // still reach the order service's timeline; the order service stops last.
        shutdown.cancel();
        for token in consumer_tokens {
            token.cancel();
        }
        loop {
            if order_running && tasks.len() == 1 {
                order_handle.stop(true).await;
            }
            let Some(ended) = tasks.join_next().await else {
                break;
            };
            match ended {
                Ok((name, result)) => {
                    if name == ORDER_SERVICE {
                        order_running = false;
                    }
                    if let Err(error) = result {
                        tracing::error!(
                            service = name,
                            error = format!("{error:#}"),
                            "failed while stopping"
                        );
                        if outcome.is_ok() {
                            outcome =
                                Err(error.context(format!("the {name} failed while stopping")));
                        }
                    }
                }
                Err(panic) => {
                    if outcome.is_ok() {
                        outcome = Err(anyhow::anyhow!("a service panicked: {panic}"));
                    }
                }
            }
        }
        outcome
    }
}

async fn named(
    name: &'static str,
    run: impl Future<Output = anyhow::Result<()>>,
) -> (&'static str, anyhow::Result<()>) {
    (name, run.await)
}
