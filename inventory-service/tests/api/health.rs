//! Probes, and the JSON answers for routes and methods that do not exist.

use reqwest::Method;

use crate::helpers::spawn_app;

#[tokio::test]
async fn probes_answer_200_json() {
    // Arrange
    let app = spawn_app().await;

    // Act and assert
    app.assert_probes_answer().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    // Arrange
    let app = spawn_app().await;
    let cases = [
        (Method::GET, "/nope", 404, "not_found"),
        (Method::GET, "/stock/widget/extra", 404, "not_found"),
        (Method::POST, "/stock", 405, "method_not_allowed"),
        (Method::DELETE, "/stock/widget", 405, "method_not_allowed"),
    ];

    // Act and assert
    app.assert_json_errors(&cases).await;
}
