//! `GET /ui/orders/{id}/edit` and `POST /ui/orders/{id}`: changing an order from the form.

use crate::helpers::{inner, see_other, spawn_app_with_order, tag, values_of};

/// The edit form's fields for a one-item order at `version`.
fn edit_fields<'a>(version: &'a str, status: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", version),
        ("customer_name", name),
        ("customer_email", "ada@example.com"),
        ("items[0].product", "widget"),
        ("items[0].quantity", "3"),
        ("items[0].amount", "9.99"),
        ("status", status),
    ]
}

#[tokio::test]
async fn the_status_select_offers_only_legal_transitions() {
    let (app, id) = spawn_app_with_order().await;
    let cases = [
        (None, vec!["pending", "confirmed", "cancelled"]),
        (Some("confirmed"), vec!["confirmed", "shipped", "cancelled"]),
        (Some("shipped"), vec!["shipped", "delivered"]),
    ];
    for (status, offered) in cases {
        if let Some(status) = status {
            app.set_status(&id, status).await;
        }

        let html = app.page(&format!("/ui/orders/{id}/edit"), 200).await;

        let select = inner(&html, "status", "select");
        assert_eq!(values_of(select, "value"), offered, "from {status:?}");
        assert!(html.contains(r#"<label for="status">"#));
    }
    app.stop().await;
}

#[tokio::test]
async fn items_are_editable_only_while_they_may_change() {
    let (app, id) = spawn_app_with_order().await;
    let edit = format!("/ui/orders/{id}/edit");

    let pending = app.page(&edit, 200).await;
    app.set_status(&id, "confirmed").await;
    app.set_status(&id, "shipped").await;
    let shipped = app.page(&edit, 200).await;
    app.set_status(&id, "delivered").await;
    let delivered = app.page(&edit, 200).await;

    let product = tag(&pending, "items[0].product").expect("an editable row");
    assert!(product.contains(r#"value="widget""#), "{product}");
    assert!(
        tag(&shipped, "items[0].product").is_none(),
        "no item inputs once shipped"
    );
    assert!(tag(&shipped, "items-fixed").is_some(), "says why");
    assert!(
        tag(&delivered, "final-notice").is_some(),
        "a final order has no form"
    );
    assert!(tag(&delivered, "status").is_none());
    let page = app.page(&format!("/ui/orders/{id}"), 200).await;
    assert!(
        tag(&page, "edit").is_none(),
        "no edit link for a final order"
    );
    app.stop().await;
}

#[tokio::test]
async fn saving_the_form_changes_the_order() {
    let (app, id) = spawn_app_with_order().await;

    let response = app
        .post_form(
            &format!("/ui/orders/{id}"),
            &edit_fields("1", "confirmed", "Ada King"),
        )
        .await;

    assert_eq!(see_other(&response), format!("/ui/orders/{id}"));
    let stored = app.store.get(id.parse().expect("id")).expect("stored");
    assert_eq!(stored.customer_name, "Ada King");
    assert_eq!(stored.status.as_str(), "confirmed");
    assert_eq!(stored.total_amount.to_string(), "29.97");
    assert_eq!(stored.version, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_change_comes_back_as_a_page_not_a_5xx() {
    let (app, id) = spawn_app_with_order().await;
    let path = format!("/ui/orders/{id}");
    let cases = [
        (
            edit_fields("1", "delivered", "Ada"),
            409,
            "an illegal status",
            None,
        ),
        (
            edit_fields("1", "pending", " "),
            422,
            "a blank name",
            Some("customer_name"),
        ),
        (
            edit_fields("1", "lost", "Ada"),
            422,
            "an unknown status",
            Some("status"),
        ),
    ];
    for (fields, status, message, field) in cases {
        let response = app.post_form(&path, &fields).await;

        assert_eq!(response.status().as_u16(), status, "{message}");
        let html = response.text().await.expect("body");
        assert!(tag(&html, "form-error").is_some(), "{message}: says why");
        if let Some(field) = field {
            assert!(
                tag(&html, &format!("error-{field}")).is_some(),
                "{message}: beside {field}"
            );
        }
        assert!(
            tag(&html, "items[0].quantity")
                .expect("row")
                .contains(r#"value="3""#),
            "{message}: kept"
        );
    }
    let stored = app.store.get(id.parse().expect("id")).expect("stored");
    assert_eq!(stored.version, 1, "nothing changed");
    app.stop().await;
}

#[tokio::test]
async fn a_stale_form_does_not_overwrite_a_newer_change() {
    let (app, id) = spawn_app_with_order().await;
    app.set_status(&id, "confirmed").await;

    let response = app
        .post_form(
            &format!("/ui/orders/{id}"),
            &edit_fields("1", "cancelled", "Stale Ada"),
        )
        .await;

    assert_eq!(response.status().as_u16(), 412);
    let html = response.text().await.expect("body");
    let reload = tag(&html, "reload-form").expect("a way to start again");
    assert!(
        reload.contains(&format!("/ui/orders/{id}/edit")),
        "{reload}"
    );
    let stored = app.store.get(id.parse().expect("id")).expect("stored");
    assert_eq!(
        (stored.customer_name.as_str(), stored.status.as_str()),
        ("Ada", "confirmed")
    );
    app.stop().await;
}
