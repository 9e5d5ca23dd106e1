//! Cross-site request forgery, tried for real: a page of another origin, opened in the clerk's
//! Chromium, posts the order forms (into hidden iframes and as the whole page) to create, change
//! and delete orders. It tries from another port of the same host (same site, another origin)
//! and from another host name (another site). Every post reaches the service and is refused;
//! nothing changes; the service's own forms, in the same browser, still work.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::browser::{Browser, DESKTOP, poll};
use crate::helpers::TestPlatform;

/// The code of the guard's refusal, which the refused posts' answers show.
const REFUSED: &str = "cross_site_request";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_other_origins_cannot_use_the_forms() {
    // Arrange
    let platform = TestPlatform::start().await;
    let order = platform
        .create(&json!({
            "customer_name": "Ada",
            "items": [{"product": "widget", "quantity": 1, "amount": "2.50"}]
        }))
        .await;
    let order_id = order["order_id"].as_str().expect("an order id").to_owned();
    let attacker = serve_attack_page(attack_page(&platform.url, &order_id)).await;
    let browser = Browser::launch(&platform.url, DESKTOP).await;

    // Act and assert
    browser
        .run("cross-site", async |browser| {
            for origin in [
                format!("http://127.0.0.1:{attacker}"),
                format!("http://localhost:{attacker}"),
            ] {
                every_post_is_refused(browser, &origin).await;
            }
            nothing_changed(&platform, &order_id).await;
            the_service_s_own_form_still_deletes(browser, &platform, &order_id).await;
        })
        .await;

    platform.stop().await;
}

/// Opens the attack page at `origin` and submits each of its forms; each answer, read inside
/// its hidden iframe or as the page itself, is the guard's refusal.
pub(crate) async fn every_post_is_refused(browser: &Browser, origin: &str) {
    let client = browser.client();
    client
        .goto(&format!("{origin}/"))
        .await
        .expect("the attack page opens");
    for form in ["create", "update", "delete"] {
        browser
            .script(
                "document.getElementById(arguments[0]).submit()",
                vec![json!(form)],
            )
            .await;
        let frame = format!("sink-{form}");
        poll(
            &format!("the answer to the {form} form posted from {origin}"),
            || frame_text(browser, &frame),
            |text| text.contains(REFUSED),
        )
        .await;
    }
    browser.script("document.getElementById('create').target = '_self'; document.getElementById('create').submit()", vec![]).await;
    browser
        .wait_for_path("the answer to the whole-page post", |path| {
            path == "/ui/orders"
        })
        .await;
    let shown = browser.text("body").await;
    assert!(
        shown.contains(REFUSED),
        "the whole-page post from {origin} is refused: {shown}"
    );
    browser
        .screenshot(&format!(
            "cross-site-refused-{}",
            if origin.contains("localhost") {
                "other-site"
            } else {
                "same-site"
            }
        ))
        .await;
}

/// The text of the iframe with the id `frame` (hidden, so read from the document rather than as
/// shown), or nothing while it has no body.
async fn frame_text(browser: &Browser, frame: &str) -> String {
    browser
        .by_id(frame)
        .await
        .enter_frame()
        .await
        .expect("the iframe can be entered");
    let text = browser
        .script(
            "return document.body ? document.body.textContent : ''",
            vec![],
        )
        .await;
    browser
        .client()
        .enter_parent_frame()
        .await
        .expect("back to the attack page");
    text.as_str().unwrap_or_default().to_owned()
}

/// The order is as created, and it is the only one.
pub(crate) async fn nothing_changed(platform: &TestPlatform, order_id: &str) {
    let list = platform.orders().await;
    let orders = list["orders"].as_array().expect("an order list");
    assert_eq!(orders.len(), 1, "no order was created: {list}");
    assert_eq!(orders[0]["order_id"], json!(order_id));
    assert_eq!(
        orders[0]["version"],
        json!(1),
        "the order was not changed: {list}"
    );
    assert_eq!(orders[0]["customer_name"], json!("Ada"));
}

/// The control: the same browser deletes the order through the service's own form.
pub(crate) async fn the_service_s_own_form_still_deletes(
    browser: &Browser,
    platform: &TestPlatform,
    order_id: &str,
) {
    browser.goto(&format!("/ui/orders/{order_id}/delete")).await;
    browser.click("#confirm-delete").await;
    browser
        .wait_for_path("the list after deleting", |path| path == "/ui/orders")
        .await;
    assert_eq!(
        platform.order_status(order_id).await,
        404,
        "the clerk's own form deleted the order"
    );
}

/// The attacker's page: forms aimed at the service at `target`, each posting into a hidden
/// iframe of its own, as a forged page would.
pub(crate) fn attack_page(target: &str, order_id: &str) -> String {
    let order_fields = r#"<input name="customer_name" value="Mallory">
<input name="customer_email" value="mallory@example.com">
<input name="items[0].product" value="gold"><input name="items[0].quantity" value="99">
<input name="items[0].amount" value="0.01">"#;
    format!(
        r#"<!doctype html><html><head><title>You have won</title></head><body>
<iframe name="sink-create" id="sink-create" hidden></iframe>
<iframe name="sink-update" id="sink-update" hidden></iframe>
<iframe name="sink-delete" id="sink-delete" hidden></iframe>
<form id="create" method="post" action="{target}/ui/orders" target="sink-create">{order_fields}</form>
<form id="update" method="post" action="{target}/ui/orders/{order_id}" target="sink-update">{order_fields}
<input name="status" value="cancelled"><input name="version" value="1"></form>
<form id="delete" method="post" action="{target}/ui/orders/{order_id}/delete" target="sink-delete">
<input name="version" value="1"></form>
</body></html>"#
    )
}

/// Serves `page` to every request on a free loopback port (any host name that resolves there);
/// the port.
pub(crate) async fn serve_attack_page(page: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the attack page");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        while let Ok((mut connection, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match connection.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = connection.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}
