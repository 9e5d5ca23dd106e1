//! Once tokens exist, the clerk signs in through a sign-in link in real Chromium; the clerk's
//! own forms work with the session (and its CSRF token), another origin's page posting the forms
//! changes nothing, and signing out leads back to the sign-in form.

use serde_json::json;

use crate::browser::{Browser, DESKTOP, poll};
use crate::cross_site::{
    attack_page, every_post_is_refused, nothing_changed, serve_attack_page,
    the_service_s_own_form_still_deletes,
};
use crate::helpers::TestPlatform;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_clerk_uses_the_forms_and_other_origins_still_cannot() {
    // Arrange: an order, then tokens, which close every service.
    let mut platform = TestPlatform::start().await;
    let order = platform
        .create(&json!({
            "customer_name": "Ada",
            "items": [{"product": "widget", "quantity": 1, "amount": "2.50"}]
        }))
        .await;
    let order_id = order["order_id"].as_str().expect("an order id").to_owned();
    let clerk = platform.require_tokens();
    let attacker = serve_attack_page(attack_page(&platform.url, &order_id)).await;
    let browser = Browser::launch(&platform.url, DESKTOP).await;

    browser
        .run("signed-in", async |browser| {
            // A page without a session leads to the sign-in form.
            browser.goto("/ui/orders").await;
            browser
                .wait_for_path("the sign-in form", |path| path == "/ui/sign-in")
                .await;
            browser.screenshot("signed-in-01-sign-in-form").await;

            // Act: the sign-in link signs in, and takes the token out of the address bar.
            browser.goto(&format!("/ui/sign-in#token={clerk}")).await;
            browser
                .wait_for_path("the list after signing in", |path| path == "/ui/orders")
                .await;
            let address = browser.script("return window.location.href", vec![]).await;
            assert!(
                !address.as_str().unwrap_or_default().contains(&clerk),
                "the token left the address bar: {address}"
            );

            // Assert: another origin's posts are refused, even with the clerk signed in.
            for origin in [
                format!("http://127.0.0.1:{attacker}"),
                format!("http://localhost:{attacker}"),
            ] {
                every_post_is_refused(browser, &origin).await;
            }
            nothing_changed(&platform, &order_id).await;

            // The clerk's own forms work: a new order, then deleting the first one.
            browser.goto("/ui/orders/new").await;
            for (id, text) in [
                ("customer_name", "Grace Hopper"),
                ("customer_email", "grace@example.com"),
                ("items[0].product", "gadget"),
                ("items[0].quantity", "3"),
                ("items[0].amount", "4.20"),
            ] {
                browser.fill(id, text).await;
            }
            browser.click("#save").await;
            let created = browser
                .wait_for_path("the new order's page", |path| {
                    path.starts_with("/ui/orders/") && path != "/ui/orders/new"
                })
                .await;
            // The order and its history say who made it.
            assert_eq!(browser.text("#changed-by").await, "clerk-ada");
            let first_version = "li.event[data-sequence='1'] .changed-by";
            assert_eq!(browser.text(first_version).await, "clerk-ada");
            browser.screenshot("signed-in-02-created").await;
            let created_id = created.trim_start_matches("/ui/orders/");
            let history = platform.deliveries(created_id).await;
            assert_eq!(history["events"][0]["changed_by"], "clerk-ada", "{history}");
            the_service_s_own_form_still_deletes(browser, &platform, &order_id).await;
            let history = poll(
                "the deletion in the order's history",
                || platform.deliveries(&order_id),
                |history| {
                    history["events"]
                        .as_array()
                        .is_some_and(|events| events.len() == 2)
                },
            )
            .await;
            let authors: Vec<_> = history["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|event| event.get("changed_by").cloned())
                .collect();
            assert_eq!(
                authors,
                [None, Some(json!("clerk-ada"))],
                "made while the service was open, deleted by the clerk: {history}"
            );

            // Signing out ends the session.
            browser.goto("/ui/sign-out").await;
            assert!(browser.text("#signed-in-as").await.contains("clerk-ada"));
            browser.click("#sign-out").await;
            browser
                .wait_for_path("the sign-in form after signing out", |path| {
                    path == "/ui/sign-in"
                })
                .await;
            browser.goto("/ui/orders").await;
            browser
                .wait_for_path("the sign-in form again", |path| path == "/ui/sign-in")
                .await;
        })
        .await;

    let orders = platform.orders().await;
    let names: Vec<_> = orders["orders"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|order| order["customer_name"].clone())
        .collect();
    assert_eq!(names, [json!("Grace Hopper")], "{orders}");
    platform.stop().await;
}
