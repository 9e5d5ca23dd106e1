//! Deleting an order: the confirmation page, then the deletion.

use crate::helpers::{see_other, spawn_app_with_order, tag, values_of};

#[tokio::test]
async fn deleting_asks_for_confirmation_then_deletes() {
    let (app, id) = spawn_app_with_order().await;
    let page = app.page(&format!("/ui/orders/{id}"), 200).await;

    let delete = tag(&page, "delete").expect("a delete link");
    let confirmation = app.page(values_of(delete, "href")[0], 200).await;
    assert!(
        app.store.get(id.parse().expect("id")).is_some(),
        "asking deletes nothing"
    );
    let form = tag(&confirmation, "delete-form").expect("a form");
    assert!(form.contains(r#"method="post""#), "{form}");
    let button = tag(&confirmation, "confirm-delete").expect("a confirm button");
    assert!(
        button.starts_with("<button") && button.contains(r#"type="submit""#),
        "{button}"
    );
    let action = values_of(form, "action")[0];
    let response = app.post_form(action, &[("version", "1")]).await;

    let location = see_other(&response);
    assert!(app.store.get(id.parse().expect("id")).is_none(), "deleted");
    let list = app.page(&location, 200).await;
    assert!(tag(&list, "deleted-notice").is_some(), "the list says so");
    assert!(values_of(&list, "data-order-id").is_empty());
    app.page(&format!("/ui/orders/{id}"), 404).await;
    app.stop().await;
}

#[tokio::test]
async fn a_confirmation_of_an_older_version_deletes_nothing() {
    let (app, id) = spawn_app_with_order().await;
    app.set_status(&id, "confirmed").await;

    let response = app
        .post_form(&format!("/ui/orders/{id}/delete"), &[("version", "1")])
        .await;

    assert_eq!(response.status().as_u16(), 412);
    let html = response.text().await.expect("body");
    assert!(tag(&html, "form-error").is_some(), "says why");
    assert!(tag(&html, "confirm-delete").is_some(), "and asks again");
    assert!(
        app.store.get(id.parse().expect("id")).is_some(),
        "not deleted"
    );
    app.stop().await;
}
