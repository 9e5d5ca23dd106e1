//! The page on a phone: every page a clerk uses fits the screen's width, so nothing needs
//! scrolling sideways.

use serde_json::{Value, json};

use crate::browser::{Browser, PHONE};
use crate::helpers::TestPlatform;

/// The page's width and the screen's, and every box on the page that scrolls sideways because
/// what it holds is wider than it is: the page itself may fit while a table in it is cut off.
const WIDTHS: &str = "
    const name = (element) => element.tagName.toLowerCase()
        + (element.id ? `#${element.id}` : '')
        + Array.from(element.classList, (class_) => `.${class_}`).join('');
    const boxes = Array.from(document.body.querySelectorAll('*'))
        .filter((element) => ['auto', 'scroll'].includes(getComputedStyle(element).overflowX)
            && element.scrollWidth > element.clientWidth)
        .map((element) =>
            `${name(element)}: ${element.scrollWidth}px of content in ${element.clientWidth}px`);
    return {page: [document.documentElement.scrollWidth, window.innerWidth], boxes};
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_the_forms_and_an_order_fit_a_phone_screen() {
    // Arrange: an order, so that the list has a row and the order page a timeline.
    let platform = TestPlatform::start().await;
    let order = platform
        .create(&json!({
            "customer_name": "Grace Brewster Murray Hopper",
            "customer_email": "grace.hopper@navy.example.com",
            "items": [
                {"product": "compiler manual, second edition", "quantity": 3, "amount": "1249.99"},
                {"product": "widget", "quantity": 10000, "amount": "0.10"},
            ],
        }))
        .await;
    let order_id = order["order_id"].as_str().expect("an order id").to_owned();
    let pages = [
        ("/ui/orders".to_owned(), "#orders", "phone-01-order-list"),
        (
            "/ui/orders/new".to_owned(),
            "#order-form",
            "phone-02-new-order-form",
        ),
        (
            format!("/ui/orders/{order_id}"),
            "#timeline",
            "phone-03-order-page",
        ),
        (
            format!("/ui/orders/{order_id}/edit"),
            "#status",
            "phone-04-edit-form",
        ),
    ];
    let browser = Browser::launch(&platform.url, PHONE).await;

    browser
        .run("phone", async |browser| {
            let width = browser.script("return window.innerWidth;", vec![]).await;
            assert_eq!(
                width,
                json!(PHONE.0),
                "the window is as wide as the phone's screen"
            );
            for (path, landmark, screenshot) in &pages {
                // Act
                browser.goto(path).await;
                browser.find(landmark).await;
                let widths = browser.script(WIDTHS, vec![]).await;
                browser.screenshot(screenshot).await;

                // Assert
                let (content, screen) = pair(&widths["page"]);
                assert!(
                    content <= screen,
                    "{path} fits a {screen}px-wide screen, but its content is {content}px wide"
                );
                assert_eq!(
                    widths["boxes"],
                    json!([]),
                    "on {path}, no box needs scrolling sideways to show all it holds"
                );
            }
        })
        .await;

    platform.stop().await;
}

/// The two numbers of a `[a, b]` the page returned.
fn pair(value: &Value) -> (u64, u64) {
    let number = |index: usize| {
        value[index]
            .as_u64()
            .unwrap_or_else(|| panic!("a pair of whole numbers: {value}"))
    };
    (number(0), number(1))
}
