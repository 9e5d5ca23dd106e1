//! The files the order service keeps, as `order-service data check | repair` sees them: the
//! order store, the delivery timelines and `failure.json`.

use std::path::{Path, PathBuf};

use shared_events::app::data_command::{DataFiles, FailureLogFile, StateFiles};
use shared_events::storage::data_check::{Dropped, Problem};

use crate::store;

/// The order store: `orders.json` and the journal segments.
pub struct OrderStoreFiles(pub PathBuf);

impl DataFiles for OrderStoreFiles {
    fn check(&self) -> Vec<Problem> {
        // No directory yet: nothing was ever stored.
        if self.0.exists() {
            store::check(&self.0)
        } else {
            Vec::new()
        }
    }

    fn repair(&self) -> anyhow::Result<Vec<Dropped>> {
        if self.0.exists() {
            store::repair(&self.0)
        } else {
            Ok(Vec::new())
        }
    }
}

/// Every file the order service keeps in `data_dir`, in the order they are checked.
pub fn order_service_files(data_dir: &Path) -> (OrderStoreFiles, StateFiles, FailureLogFile) {
    (
        OrderStoreFiles(data_dir.to_owned()),
        StateFiles {
            dir: data_dir.join(crate::deliveries::DIR),
            name: crate::deliveries::NAME,
        },
        FailureLogFile(data_dir.join("failure.json")),
    )
}
