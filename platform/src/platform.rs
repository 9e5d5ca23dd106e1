//! The four services composed in one process, and their shared lifecycle.

use anyhow::Context;
use shared_events::app::telemetry::ServiceNames;
use shared_events::runtime::{EventHandler, Tasks};
use tokio_util::sync::CancellationToken;

use crate::embedded::Retention;
use crate::settings::{PlatformSettings, TransportKind};

/// The order service and the three consumers, bound and ready to run.
pub struct Platform {
    order: order_service::startup::Application,
    inventory: inventory_service::Application,
    billing: billing_service::Application,
    notification: notification_service::Application,
    retention: Option<Retention>,
}

impl Platform {
    /// Whose spans the platform reports: each service's as its own (`order-service`,
    /// `inventory-service`, ...), anything else as `OTEL_SERVICE_NAME` or `order-platform`.
    pub const SERVICE_NAMES: ServiceNames = ServiceNames::Several {
        process: "order-platform",
        services: &[
            order_service::SERVICE,
            inventory_service::handler::StockHandler::SERVICE,
            billing_service::handler::InvoiceHandler::SERVICE,
            notification_service::handler::Notifier::SERVICE,
        ],
    };

    /// Opens every service's files and binds every listener. With the embedded transport the
    /// consumers read the order store's journal; with RabbitMQ each service talks to the
    /// broker as it does on its own.
    pub async fn build(settings: PlatformSettings) -> anyhow::Result<Platform> {
        let retries = [
            settings.inventory.amqp.retry_policy(),
            settings.billing.amqp.retry_policy(),
            settings.notification.amqp.retry_policy(),
        ];
        let order = order_service::startup::Application::build(settings.order.clone())
            .await
            .context("failed to start the order service")?;
        let mut inventory = inventory_service::Application::build(settings.inventory)
            .await
            .context("failed to start the inventory service")?;
        let mut billing = billing_service::Application::build(settings.billing)
            .await
            .context("failed to start the billing service")?;
        let mut notification = notification_service::Application::build(settings.notification)
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
            order,
            inventory,
            billing,
            notification,
            retention,
        })
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
    pub fn inventory(&self) -> &inventory_service::Application {
        &self.inventory
    }

    /// The billing service.
    pub fn billing(&self) -> &billing_service::Application {
        &self.billing
    }

    /// The notification service.
    pub fn notification(&self) -> &notification_service::Application {
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

    /// Runs every service until `shutdown` is cancelled or one of them stops on its own; then
    /// stops the rest in order: the consumers first, each finishing the events in hand, so that
    /// their last outcomes still reach the order service's timeline; the order service last.
    /// A consumer whose disk fails (full, say) does not stop: it stops consuming, says so in
    /// its readiness, and resumes once its writes succeed again, its events waiting in the
    /// order journal meanwhile ([`shared_events::runtime::DiskHealth`]).
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Platform {
            order,
            inventory,
            billing,
            notification,
            retention,
        } = self;
        let consumers_stop = CancellationToken::new();
        let mut consumers = Tasks::default();
        consumers.spawn("inventory service", inventory.run(consumers_stop.clone()));
        consumers.spawn("billing service", billing.run(consumers_stop.clone()));
        consumers.spawn(
            "notification service",
            notification.run(consumers_stop.clone()),
        );
        if let Some(retention) = retention {
            consumers.spawn(
                "embedded log retention",
                retention.run(consumers_stop.clone()),
            );
        }
        let order_stop = CancellationToken::new();
        let mut order_task = tokio::spawn(order.run(order_stop.clone()));

        // The consumers stop when the platform is asked to, when one of them ends, or when the
        // order service ends; the order service only once they have stopped.
        let consumers_done = consumers.run_until_stopped(consumers_stop.clone(), || async {});
        tokio::pin!(consumers_done);
        let (consumed, ordered) = tokio::select! {
            consumed = &mut consumers_done => (consumed, None),
            () = shutdown.cancelled() => {
                tracing::info!("stopping the platform: the consumers first");
                consumers_stop.cancel();
                (consumers_done.await, None)
            }
            ordered = &mut order_task => {
                consumers_stop.cancel();
                (consumers_done.await, Some(ordered))
            }
        };
        order_stop.cancel();
        let ordered = match ordered {
            Some(ordered) => ordered,
            None => order_task.await,
        };
        let ordered = ordered
            .context("the order service panicked")
            .and_then(|result| result.context("the order service failed"));
        match (consumed, ordered) {
            (Err(error), _) | (Ok(()), Err(error)) => Err(error),
            (Ok(()), Ok(())) if shutdown.is_cancelled() => Ok(()),
            (Ok(()), Ok(())) => Err(anyhow::anyhow!(
                "the order service stopped without being asked"
            )),
        }
    }
}
