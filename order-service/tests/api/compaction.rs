//! Compaction folds the journal into `orders.json` while writes go on, and loses nothing; a
//! compaction that fails for lack of space leaves nothing behind and is tried again later.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use order_service::domain::{
    ChangeOrigin, CustomerEmail, CustomerName, NewOrder, NewOrderLine, OrderLines, ProductName,
    Quantity, UnitPrice,
};
use order_service::store::{OrderStore, StoreOptions, WriteError};
use serde_json::{Value, json};
use shared_events::Money;
use tempfile::TempDir;
use uuid::Uuid;

use crate::helpers::{order_body, spawn_app_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_state_equals_the_state_before_restart() {
    // Arrange: compact as soon as the journal reaches 8 KiB.
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_in(dir, |settings| {
        settings.storage.compact_after_bytes = 8 * 1024
    })
    .await;

    // Act: enough changes for several compactions.
    let mut ids = Vec::new();
    for n in 0..120 {
        let order = app
            .create_order(&order_body(&format!("Customer {n}")))
            .await;
        let id = order["order_id"].as_str().expect("id").to_owned();
        if n % 3 == 0 {
            let response = app
                .patch_order(&id, &json!({"status": "confirmed"}), None)
                .await;
            assert_eq!(response.status().as_u16(), 200);
        }
        if n % 5 == 0 {
            assert_eq!(app.delete_order(&id).await.status().as_u16(), 200);
        }
        ids.push(id);
    }
    let before = app.list_all_orders(500).await;
    let snapshot = app.data_path().join("orders.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !snapshot.exists() {
        assert!(Instant::now() < deadline, "no snapshot was written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let app = app.restart().await;

    // Assert
    let segments = std::fs::read_dir(app.data_path())
        .expect("dir")
        .filter(|entry| {
            entry
                .as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with("orders-journal-")
        })
        .count();
    assert!(
        segments <= 2,
        "compacted segments are removed, found {segments}"
    );
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&snapshot).expect("read"))
        .expect("orders.json is JSON");
    assert!(snapshot["orders"].is_array());
    assert_eq!(app.list_all_orders(500).await, before);
    assert_eq!(before.len(), 120 - 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_a_compaction_cleanly_and_a_later_one_holds_everything() {
    let disk = match SmallDisk::mount("2m") {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: no small disk to fill, as a tmpfs cannot be mounted here ({why})");
            return;
        }
    };
    // Arrange: a store whose journal is close to its first compaction, and a disk with room
    // left for some records but not for a snapshot of them all.
    let dir = disk.path().join("data");
    let options = StoreOptions {
        compact_after_bytes: 64 * 1024,
        ..StoreOptions::default()
    };
    let store = OrderStore::open(&dir, options.clone()).expect("opens");
    let mut acknowledged = Vec::new();
    while segment_len(&dir, 1) < 48 * 1024 {
        acknowledged.push(
            create(&store, "Before")
                .await
                .expect("room for the journal"),
        );
    }
    let filler = dir.join("filler");
    fill_leaving(&filler, 32 * 1024);

    // Act: past the threshold, a new segment starts and the compaction finds no room.
    while !dir.join("orders-journal-000002.jsonl").exists() {
        acknowledged.push(create(&store, "Past").await.expect("room for the journal"));
    }
    store.finish_compaction().await;

    // Assert: nothing of the snapshot is left behind, the journal keeps everything, and
    // writes go on in the room the journal still has.
    assert_eq!(store.failed_compactions(), 1, "the compaction failed");
    assert!(!dir.join("orders.json.tmp").exists(), "no temporary file");
    assert!(!dir.join("orders.json").exists());
    assert!(
        dir.join("orders-journal-000001.jsonl").exists(),
        "the journal keeps everything"
    );
    for _ in 0..3 {
        acknowledged.push(create(&store, "During").await.expect("writes go on"));
    }
    assert!(store.is_writable());

    // Space returns: the next compaction holds every record, and nothing is lost.
    fs::remove_file(&filler).expect("filler removed");
    while !dir.join("orders-journal-000003.jsonl").exists() {
        acknowledged.push(create(&store, "After").await.expect("room again"));
    }
    store.finish_compaction().await;
    assert_eq!(
        store.failed_compactions(),
        1,
        "the later compaction succeeded"
    );
    assert!(dir.join("orders.json").is_file(), "compacted");
    assert!(!dir.join("orders-journal-000001.jsonl").exists());
    assert!(!dir.join("orders-journal-000002.jsonl").exists());
    store.shutdown().await;
    let reopened = OrderStore::open(&dir, options).expect("reopens");
    for id in &acknowledged {
        assert!(
            reopened.get(*id).is_some(),
            "order {id} was acknowledged but is gone"
        );
    }
    assert_eq!(reopened.len(), acknowledged.len());
    reopened.shutdown().await;
}

/// A tmpfs of a given size for one test, unmounted when dropped (lazily, so that a test that
/// failed with a file still open does not leave it mounted).
struct SmallDisk {
    mount_point: TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Result<SmallDisk, String> {
        let mount_point = tempfile::tempdir().map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount_point.path())
            .output()
            .map_err(|error| format!("mount: {error}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(SmallDisk { mount_point })
    }

    fn path(&self) -> PathBuf {
        self.mount_point.path().to_owned()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg("-l")
            .arg(self.mount_point.path())
            .status();
        if !unmounted.is_ok_and(|status| status.success()) {
            eprintln!("cannot unmount {}", self.mount_point.path().display());
        }
    }
}

/// Fills the disk with `path`, then gives `room` bytes back.
fn fill_leaving(path: &Path, room: u64) {
    let mut file = File::create(path).expect("filler");
    let chunk = vec![0x55u8; 64 * 1024];
    loop {
        match file.write_all(&chunk) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::StorageFull => break,
            Err(error) => panic!("filling the disk: {error}"),
        }
    }
    let len = file.metadata().expect("filler size").len();
    file.set_len(len.saturating_sub(room))
        .expect("room given back");
    file.sync_all().expect("filler synced");
}

fn segment_len(dir: &Path, number: u64) -> u64 {
    fs::metadata(dir.join(format!("orders-journal-{number:06}.jsonl"))).map_or(0, |m| m.len())
}

async fn create(store: &OrderStore, name: &str) -> Result<Uuid, WriteError> {
    let order = NewOrder {
        customer_name: CustomerName::parse(name).expect("name"),
        customer_email: Some(CustomerEmail::parse("ada@example.com").expect("email")),
        lines: OrderLines::new(vec![NewOrderLine {
            product: ProductName::parse(0, "widget").expect("product"),
            quantity: Quantity::parse(0, 2).expect("quantity"),
            amount: UnitPrice::parse(0, Money::from_cents(999)).expect("price"),
        }])
        .expect("lines"),
    };
    let created = store.create(order, None, ChangeOrigin::default()).await?;
    Ok(created.order.order_id)
}
