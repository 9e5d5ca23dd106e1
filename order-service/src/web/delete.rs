//! Deleting an order: `GET /ui/orders/{id}/delete` asks for confirmation on a page of its own
//! (a real form, so it works from the keyboard, without script and from WebDriver), and
//! `POST /ui/orders/{id}/delete` deletes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use shared_events::Order;

use crate::domain::{BodyLimit, ChangeOrigin};
use crate::store::{IfMatch, OrderStore, WriteError};
use crate::web::csrf::CsrfField;
use crate::web::error::{WebError, order_id};
use crate::web::form_data::read_form;
use crate::web::{layout, list_path, order_path, see_other};

/// The confirmation form: the version the person saw, so that they delete only what they saw.
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteForm {
    version: Option<u64>,
}

/// `GET /ui/orders/{id}/delete`: what is about to go, and the button that does it.
pub(crate) async fn confirm(
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    csrf: CsrfField,
) -> Result<Markup, WebError> {
    let id = order_id(&id)?;
    let order = store.get(id).ok_or(WriteError::NotFound(id))?;
    Ok(confirmation(&order, false, &csrf))
}

/// `POST /ui/orders/{id}/delete`: deletes, then shows the list.
pub(crate) async fn delete(
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    origin: ChangeOrigin,
    csrf: CsrfField,
) -> Result<HttpResponse, WebError> {
    let id = order_id(&id)?;
    let form = read_form::<DeleteForm>(&request, payload, **limit).await?;
    let condition = form.version.map(|version| IfMatch::Versions(vec![version]));
    match store.delete(id, condition, origin).await {
        Ok(_) => Ok(see_other(&format!("{}?deleted={id}", list_path()))),
        Err(WriteError::PreconditionFailed { .. }) => {
            let order = store.get(id).ok_or(WriteError::NotFound(id))?;
            let page = confirmation(&order, true, &csrf);
            Ok(layout::html_response(StatusCode::PRECONDITION_FAILED, page))
        }
        Err(other) => Err(other.into()),
    }
}

/// The confirmation page; `changed` when the order changed after the last one was shown.
fn confirmation(order: &Order, changed: bool, csrf: &CsrfField) -> Markup {
    let content = html! {
        h1 { "Delete this order?" }
        @if changed {
            div.error-summary #form-error role="alert" {
                p {
                    strong { "The order was not deleted: " }
                    "someone changed it meanwhile. Here it is as it is now; delete it anyway?"
                }
            }
        }
        dl.summary {
            dt { "Order" } dd { code { (order.order_id) } }
            dt { "Customer" } dd { (order.customer_name) }
            dt { "Status" } dd { (layout::status_badge(order.status)) }
            dt { "Items" } dd { (order.items.len()) }
            dt { "Total" } dd { (order.total_amount) }
        }
        p { "Deleting cannot be undone: its stock is released and its invoice voided." }
        form #delete-form method="post" action=(order_path(order.order_id, "/delete")) {
            (csrf)
            input type="hidden" name="version" value=(order.version);
            div.actions {
                button.button.danger #confirm-delete type="submit" { "Delete the order" }
                a.button.secondary #cancel-delete href=(order_path(order.order_id, "")) { "Keep it" }
            }
        }
    };
    layout::page("Delete order", content)
}
