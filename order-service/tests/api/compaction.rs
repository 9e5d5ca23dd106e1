//! Compaction folds the journal into `orders.json` while writes go on, and loses nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
