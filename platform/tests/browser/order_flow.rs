//! One order through the web page, as a clerk would handle it: a refused form, a saved order
//! with two items, the list, its deliveries followed live, a status change watched from a
//! second window, and its deletion.
//!
//! The steps run in one browser session, each starting where the last one left off.

use serde_json::{Value, json};

use crate::browser::{Browser, DESKTOP, poll};
use crate::helpers::TestPlatform;

/// The three consumers, each having applied an event, in the order [`deliveries`] sorts them.
const APPLIED_EVERYWHERE: [(&str, &str); 3] = [
    ("billing", "applied"),
    ("inventory", "applied"),
    ("notification", "applied"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_goes_from_the_form_through_live_deliveries_to_deletion() {
    // Arrange
    let platform = TestPlatform::start().await;
    let browser = Browser::launch(&platform.url, DESKTOP).await;

    // Act and assert: each step checks its own outcome.
    browser
        .run("order-flow", async |browser| {
            an_invalid_email_is_refused_beside_its_field(browser).await;
            let order_id = an_order_with_two_items_is_saved(browser).await;
            the_list_shows_the_order(browser, &order_id).await;
            version_1_reaches_every_service_without_a_reload(browser).await;
            a_status_change_is_followed_live(browser, &order_id).await;
            deleting_the_order_removes_it(browser, &platform, &order_id).await;
        })
        .await;

    platform.stop().await;
}

/// Step 1: `/` leads to the new-order form, which refuses a bad email beside the email field
/// and keeps everything typed.
async fn an_invalid_email_is_refused_beside_its_field(browser: &Browser) {
    // Arrange
    browser.goto("/").await;
    assert_eq!(
        browser.path().await,
        "/ui/orders",
        "/ redirects to the list"
    );
    browser.click("#new-order").await;
    browser
        .wait_for_path("the new-order form", |path| path == "/ui/orders/new")
        .await;
    let add_item_shown = browser.by_id("add-item").await.is_displayed().await;
    assert!(
        add_item_shown.expect("add-item's visibility"),
        "the page's script runs and shows the add-item button"
    );
    browser.screenshot("01-new-order-form").await;
    let typed = [
        ("customer_name", "Ada Lovelace"),
        ("customer_email", "ada.example.com"),
        ("items[0].product", "widget"),
        ("items[0].quantity", "2"),
        ("items[0].amount", "9.99"),
    ];

    // Act
    for (id, text) in typed {
        browser.fill(id, text).await;
    }
    browser.click("#save").await;

    // Assert
    browser.find("#form-error").await;
    let email = browser.by_id("customer_email").await;
    let described_by = email.attr("aria-describedby").await.expect("an attribute");
    assert_eq!(
        described_by.as_deref(),
        Some("error-customer_email"),
        "the email input is described by its error"
    );
    assert_eq!(
        email
            .attr("aria-invalid")
            .await
            .expect("an attribute")
            .as_deref(),
        Some("true"),
        "the email input is marked invalid"
    );
    let message = browser.text("#error-customer_email").await;
    assert!(
        !message.trim().is_empty(),
        "the error beside the email says what is wrong"
    );
    let beside = browser
        .script(
            "const input = document.getElementById('customer_email');
             const error = document.getElementById(input.getAttribute('aria-describedby'));
             return error !== null && error.closest('.field') === input.closest('.field');",
            vec![],
        )
        .await;
    assert_eq!(
        beside,
        json!(true),
        "the error is in the email's own field, beside the input"
    );
    let errors = browser.find_all(".field-error").await.len();
    assert_eq!(errors, 1, "only the email is in error");
    for (id, text) in typed {
        assert_eq!(browser.value(id).await, text, "{id} keeps what was typed");
    }
    browser.screenshot("02-invalid-email-refused").await;
}

/// Step 2: with the email corrected and a second row from the add-item button, the order is
/// saved and its page shows both items and the total. Returns the order's id.
async fn an_order_with_two_items_is_saved(browser: &Browser) -> String {
    // Arrange: the refused form comes back with blank rows besides the typed one; remove them,
    // so that the second row is the one the add-item button adds.
    browser.fill("customer_email", "ada@example.com").await;
    let mut rows = item_rows(browser).await;
    while rows > 1 {
        browser
            .click("#item-rows .item-row:last-child .remove-item")
            .await;
        let left = item_rows(browser).await;
        assert_eq!(left, rows - 1, "remove-item removes its row");
        rows = left;
    }
    browser.click("#add-item").await;
    assert_eq!(item_rows(browser).await, 2, "add-item adds a row");
    for (id, text) in [
        ("items[1].product", "gadget"),
        ("items[1].quantity", "1"),
        ("items[1].amount", "0.10"),
    ] {
        browser.fill(id, text).await;
    }
    browser.screenshot("03-two-items-filled-in").await;

    // Act
    browser.click("#save").await;
    let path = browser
        .wait_for_path("the new order's page", |path| order_id_of(path).is_some())
        .await;

    // Assert
    let order_id = order_id_of(&path).expect("an order page");
    let lines = browser
        .script(
            "return Array.from(document.querySelectorAll('#items tbody tr.item'))
                 .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()));",
            vec![],
        )
        .await;
    assert_eq!(
        lines,
        json!([
            ["widget", "2", "9.99", "19.98"],
            ["gadget", "1", "0.10", "0.10"]
        ]),
        "the page shows both items: product, quantity, unit price, line total"
    );
    assert_text(browser, "#order-total", "20.08", "the total").await;
    assert_text(
        browser,
        "#order-status",
        "pending",
        "a new order is pending",
    )
    .await;
    assert_text(browser, "#customer-name", "Ada Lovelace", "the customer").await;
    browser.screenshot("04-order-saved").await;
    order_id
}

/// Step 3: the list has a row for the order, which opens it.
async fn the_list_shows_the_order(browser: &Browser, order_id: &str) {
    // Act
    browser.click(".breadcrumb a").await;
    browser
        .wait_for_path("the order list", |path| path == "/ui/orders")
        .await;

    // Assert
    let row = format!("#orders tbody tr[data-order-id=\"{order_id}\"]");
    let text = browser.text(&row).await;
    assert!(
        text.contains("Ada Lovelace") && text.contains("20.08"),
        "the order's row shows its customer and total: {text:?}"
    );
    browser.screenshot("05-order-in-the-list").await;

    // Act
    browser.click(&format!("{row} a")).await;

    // Assert
    let page = format!("/ui/orders/{order_id}");
    browser
        .wait_for_path("the order's page, from the list", |path| path == page)
        .await;
}

/// Step 4: the order page shows the first version applied by all three services, without
/// being reloaded.
async fn version_1_reaches_every_service_without_a_reload(browser: &Browser) {
    // Arrange: a reload would lose this.
    browser.script("window.__noReload = true;", vec![]).await;

    // Act
    let statuses = applied_everywhere(browser, 1, "version 1 applied by every service").await;

    // Assert
    assert_eq!(
        statuses,
        expected(APPLIED_EVERYWHERE),
        "version 1 delivered"
    );
    assert_eq!(
        browser
            .script("return window.__noReload === true;", vec![])
            .await,
        json!(true),
        "the page was not reloaded"
    );
    show_timeline(browser).await;
    browser.screenshot("06-version-1-applied").await;
}

/// Step 5: the status is changed on the edit page in a second window; that window shows the new
/// status, and the first one, never reloaded, sees version 2 delivered everywhere.
async fn a_status_change_is_followed_live(browser: &Browser, order_id: &str) {
    // Arrange
    let client = browser.client();
    let watching = client.window().await.expect("the watching window");
    assert_eq!(
        deliveries(browser, 2).await,
        expected([]),
        "no version 2 before the change"
    );
    let editing = client.new_window(false).await.expect("a second window");
    client
        .switch_to_window(editing.handle)
        .await
        .expect("to the second window");
    let page = format!("/ui/orders/{order_id}");
    browser.goto(&page).await;

    // Act
    browser.click("#edit").await;
    browser
        .wait_for_path("the edit page", |path| path == format!("{page}/edit"))
        .await;
    browser
        .find("#status")
        .await
        .select_by_value("confirmed")
        .await
        .expect("confirmed is offered");
    browser.screenshot("07-edit-status").await;
    browser.click("#save").await;
    browser
        .wait_for_path("the order's page after saving", |path| path == page)
        .await;

    // Assert: the window that saved.
    assert_text(browser, "#order-status", "confirmed", "the new status").await;
    assert_text(browser, "#order-version", "2", "the change is version 2").await;
    browser.screenshot("08-status-confirmed").await;
    client
        .close_window()
        .await
        .expect("the second window closes");
    client
        .switch_to_window(watching)
        .await
        .expect("back to the watching window");

    // Assert: the window that watched.
    let statuses = applied_everywhere(browser, 2, "version 2 applied by every service, live").await;
    assert_eq!(
        statuses,
        expected(APPLIED_EVERYWHERE),
        "version 2 delivered"
    );
    assert_eq!(
        deliveries(browser, 1).await,
        expected(APPLIED_EVERYWHERE),
        "version 1 is still shown as delivered"
    );
    assert_eq!(
        browser
            .script("return window.__noReload === true;", vec![])
            .await,
        json!(true),
        "the watching page was not reloaded"
    );
    let notice = browser.by_id("changed-notice").await.is_displayed().await;
    assert!(
        notice.expect("the notice's visibility"),
        "the watching page says the order changed since it was loaded"
    );
    show_timeline(browser).await;
    browser.screenshot("09-version-2-applied-live").await;
}

/// Step 6: deleting, once confirmed, takes the order off the list and out of the API.
async fn deleting_the_order_removes_it(browser: &Browser, platform: &TestPlatform, order_id: &str) {
    // Arrange
    browser.click("#delete").await;
    browser
        .wait_for_path("the delete confirmation", |path| {
            path == format!("/ui/orders/{order_id}/delete")
        })
        .await;
    browser.screenshot("10-delete-confirmation").await;

    // Act
    browser.click("#confirm-delete").await;
    browser
        .wait_for_path("the list after deleting", |path| path == "/ui/orders")
        .await;

    // Assert
    let notice = browser.text("#deleted-notice").await;
    assert!(
        notice.contains(order_id),
        "the list says which order was deleted: {notice:?}"
    );
    let rows = browser
        .find_all(&format!("tr[data-order-id=\"{order_id}\"]"))
        .await;
    assert!(rows.is_empty(), "the list no longer shows the order");
    browser.screenshot("11-order-deleted").await;
    assert_eq!(
        platform.order_status(order_id).await,
        404,
        "the API no longer has the order"
    );
}

/// How many item rows the form has.
/// Asserts the text of the element at `selector`; `what` names the check.
async fn assert_text(browser: &Browser, selector: &str, expected: &str, what: &str) {
    assert_eq!(browser.text(selector).await, expected, "{what}");
}

/// Waits until the page shows version `sequence` applied by every service; `what` names the wait.
async fn applied_everywhere(browser: &Browser, sequence: u64, what: &str) -> Vec<(String, String)> {
    let done = |statuses: &Vec<(String, String)>| statuses == &expected(APPLIED_EVERYWHERE);
    poll(what, || deliveries(browser, sequence), done).await
}

async fn item_rows(browser: &Browser) -> usize {
    browser.find_all("#item-rows .item-row").await.len()
}

/// The order id in an order page's path, `/ui/orders/{id}`.
fn order_id_of(path: &str) -> Option<String> {
    let id = path.strip_prefix("/ui/orders/")?;
    uuid::Uuid::parse_str(id).ok().map(|id| id.to_string())
}

/// What the page's timeline shows for the order's event of version `sequence`: (service,
/// status) for each service, sorted by service.
async fn deliveries(browser: &Browser, sequence: u64) -> Vec<(String, String)> {
    let found = browser
        .script(
            "return Array.from(document.querySelectorAll(
                     `#timeline [data-service][data-sequence=\"${arguments[0]}\"]`))
                 .map((entry) => [entry.dataset.service, entry.dataset.status])
                 .sort();",
            vec![json!(sequence)],
        )
        .await;
    serde_json::from_value(found.clone())
        .unwrap_or_else(|error| panic!("the deliveries are pairs of text: {error}: {found}"))
}

/// `pairs` as [`deliveries`] returns them.
fn expected<const N: usize>(pairs: [(&str, &str); N]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(service, status)| ((*service).to_owned(), (*status).to_owned()))
        .collect()
}

/// Scrolls the timeline into the window, for the screenshot.
async fn show_timeline(browser: &Browser) {
    let shown: Value = browser
        .script(
            "const timeline = document.getElementById('timeline');
             timeline.scrollIntoView();
             return true;",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(true), "the timeline is on the page");
}
