//! Liveness and readiness probes, and JSON errors for unknown routes.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn live_and_ready_answer_200_with_what_was_handled() {
    let app = spawn_app(None).await;

    let live = app.get("/health/live").await;
    let ready = app.get("/health/ready").await;

    assert_eq!(live.status().as_u16(), 200);
    assert_eq!(ready.status().as_u16(), 200);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["notifications"], 0);
    assert_eq!(ready["events"]["sent"], 0);
    assert!(
        ready["mailer"]
            .as_str()
            .expect("mailer")
            .starts_with("outbox "),
        "{ready}"
    );
    app.finish().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = spawn_app(None).await;

    let missing = app.get("/nope").await;
    let wrong_method = reqwest::Client::new()
        .post(format!("{}/notifications", app.address))
        .send()
        .await
        .expect("request");

    assert_eq!(missing.status().as_u16(), 404);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(wrong_method.status().as_u16(), 405);
    let body: Value = wrong_method.json().await.expect("json");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    app.finish().await;
}
