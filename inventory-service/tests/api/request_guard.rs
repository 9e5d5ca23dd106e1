//! A consumer service checks requests as the order service does: a stock count sent by a page
//! of another origin, to a host name it does not answer, or too slowly, changes nothing.

use std::time::Duration;

use inventory_service::Application;
use serde_json::json;
use shared_events::app::settings::ConsumerSettings;
use test_support::service::RunningService;

#[tokio::test]
async fn forged_misdirected_and_trickled_counts_change_nothing() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = ConsumerSettings::for_tests(dir.path(), &test_support::namespace::unique());
    settings.http.body_timeout_ms = 300;
    let amqp = settings.amqp.clone();
    let application = Application::build(settings)
        .await
        .expect("the service starts");
    let url = application.url();
    let running = RunningService::spawn(|shutdown| application.run(shutdown));
    let client = reqwest::Client::new();
    let count = || {
        client
            .put(format!("{url}/stock/widget"))
            .json(&json!({"on_hand": 7}))
    };

    // Act
    let forged = count()
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("an answer");
    let misdirected = count()
        .header("host", "rebound.evil.example")
        .send()
        .await
        .expect("an answer");
    let trickled = test_support::http::trickle_body(
        "PUT",
        &format!("{url}/stock/widget"),
        "application/json",
        100,
        b"{\"on_",
        Duration::from_secs(10),
    )
    .await;
    let unknown = client
        .get(format!("{url}/stock/widget"))
        .send()
        .await
        .expect("an answer");
    let counted = count().send().await.expect("an answer");

    // Assert
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(misdirected.status().as_u16(), 400);
    assert_eq!(trickled, Some(408));
    assert_eq!(
        unknown.status().as_u16(),
        404,
        "no refused count went through"
    );
    assert_eq!(counted.status().as_u16(), 200, "a program's count does");
    assert_eq!(counted.headers()["referrer-policy"], "same-origin");
    running.stop().await;
    test_support::namespace::delete(&amqp, &["inventory"]).await;
}
