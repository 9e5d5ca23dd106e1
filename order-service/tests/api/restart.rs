//! Everything survives a graceful restart.

use serde_json::{Value, json};

use crate::helpers::{order_body, spawn_app};

#[tokio::test]
async fn creates_updates_and_deletes_survive_a_restart() {
    // Arrange
    let app = spawn_app().await;
    let kept = app.create_order(&order_body("Kept")).await;
    let changed = app.create_order(&order_body("Changed")).await;
    let deleted = app.create_order(&order_body("Deleted")).await;
    let id = |order: &Value| order["order_id"].as_str().expect("id").to_owned();
    let patch = json!({"status": "confirmed", "customer_email": null, "items": [{"product": "x", "quantity": 3, "amount": 0.10}]});
    let response = app.patch_order(&id(&changed), &patch, Some("\"1\"")).await;
    assert_eq!(response.status().as_u16(), 200);
    let changed: Value = response.json().await.expect("json");
    assert_eq!(app.delete_order(&id(&deleted)).await.status().as_u16(), 200);
    let before = app.list_all_orders(10).await;

    // Act
    let app = app.restart().await;

    // Assert
    for order in [&kept, &changed] {
        let response = app.get_order(&id(order)).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "{} after restart",
            order["customer_name"]
        );
        assert_eq!(&response.json::<Value>().await.expect("json"), order);
    }
    assert_eq!(
        app.get_order(&id(&deleted)).await.status().as_u16(),
        404,
        "deleted stays deleted"
    );
    assert_eq!(app.list_all_orders(10).await, before);
    assert_eq!(changed["total_amount"].to_string(), "0.30");

    // And the restarted store takes writes that again survive.
    let later = app.create_order(&order_body("Later")).await;
    let app = app.restart().await;
    assert_eq!(app.get_order(&id(&later)).await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_data_directory() {
    let app = spawn_app().await;
    let settings = order_service::settings::Settings::for_tests(app.data_dir.path());
    let second = order_service::startup::Application::build(settings).await;
    let error = second.err().expect("the data directory is locked");
    assert!(format!("{error:#}").contains("in use"), "{error:#}");
}
