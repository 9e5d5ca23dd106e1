//! `order-platform data check | repair`: the files of all four services, each in its folder.

use shared_events::app::cli::run_data_command;
use shared_events::app::consumer::{Consumer, ServiceSettings};
use shared_events::app::data_command::{DataCommand, FailureLogFile, ShardLedgerFiles};

use crate::settings::PlatformSettings;

/// Runs `command` over every service's files, the order service's first.
pub fn run(command: &DataCommand, settings: &PlatformSettings) -> anyhow::Result<()> {
    let (store, deliveries, order_failures) =
        order_service::data_files::order_service_files(&settings.order.data_dir);
    let (stock, stock_failures) =
        consumer_files::<inventory_service::Inventory>(&settings.inventory);
    let (invoices, invoice_failures) =
        consumer_files::<billing_service::Billing>(&settings.billing);
    let (emails, email_failures) =
        consumer_files::<notification_service::Notification>(&settings.notification);
    let root = settings
        .order
        .data_dir
        .parent()
        .unwrap_or(&settings.order.data_dir);
    run_data_command(
        command,
        root,
        &[
            &store,
            &deliveries,
            &order_failures,
            &stock,
            &stock_failures,
            &invoices,
            &invoice_failures,
            &emails,
            &email_failures,
        ],
    )
}

/// A consumer's ledgers and its `failure.json`.
fn consumer_files<C: Consumer>(
    settings: &impl ServiceSettings,
) -> (ShardLedgerFiles, FailureLogFile) {
    (
        ShardLedgerFiles {
            dir: settings.data_dir().to_owned(),
            name: C::LEDGER,
        },
        FailureLogFile(settings.failure_log_path()),
    )
}
