//! `GET /ui/orders/{id}`: one order as the store has it now (customer, items, total, status)
//! and its history and delivery timeline, which the page follows live.

use actix_web::web;
use maud::{Markup, html};
use shared_events::Order;

use crate::deliveries::Deliveries;
use crate::store::{OrderStore, WriteError};
use crate::web::error::{WebError, order_id};
use crate::web::{layout, list_path, order_path, timeline};

/// `GET /ui/orders/{id}`.
pub(crate) async fn show(
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    deliveries: web::Data<Deliveries>,
) -> Result<Markup, WebError> {
    let id = order_id(&id)?;
    let order = store.get(id).ok_or(WriteError::NotFound(id))?;
    let timeline = deliveries.timeline(id);
    let content = html! {
        p.breadcrumb { a href=(list_path()) { "← All orders" } }
        h1 { "Order " code.id { (order.order_id) } }
        p.notice #changed-notice role="status" hidden {
            "This order has changed since this page was loaded. "
            a href=(order_path(id, "")) { "Reload" }
        }
        (summary(&order))
        (actions(&order))
        (items(&order))
        section aria-labelledby="timeline-heading" {
            h2 #timeline-heading { "History and delivery" }
            div #timeline data-live=(order_path(id, "/live")) data-version=(order.version) {
                (timeline::fragment(timeline.as_ref()))
            }
        }
    };
    Ok(layout::page("Order", content))
}

fn summary(order: &Order) -> Markup {
    html! {
        dl.summary {
            dt { "Status" } dd #order-status { (layout::status_badge(order.status)) }
            dt { "Customer" } dd #customer-name { (order.customer_name) }
            dt { "Email" } dd #customer-email {
                @match &order.customer_email {
                    Some(email) => (email),
                    None => span.muted { "none" },
                }
            }
            dt { "Created" } dd { (layout::time(order.order_date)) }
            dt { "Last changed" } dd { (layout::time(order.order_update)) }
            @if let Some(name) = &order.changed_by {
                dt { "Changed by" } dd #changed-by { (name) }
            }
            dt { "Version" } dd #order-version { (order.version) }
        }
    }
}

fn actions(order: &Order) -> Markup {
    html! {
        div.actions {
            // A final order cannot change, so it is not offered.
            @if !order.status.is_final() {
                a.button #edit href=(order_path(order.order_id, "/edit")) { "Edit" }
            }
            a.button.danger #delete href=(order_path(order.order_id, "/delete")) { "Delete…" }
        }
    }
}

fn items(order: &Order) -> Markup {
    html! {
        section aria-labelledby="items-heading" {
            h2 #items-heading { "Items" }
            div.table-wrap {
                table.responsive #items {
                    thead {
                        tr {
                            th scope="col" { "Product" }
                            th scope="col" class="number" { "Quantity" }
                            th scope="col" class="number" { "Unit price" }
                            th scope="col" class="number" { "Line total" }
                        }
                    }
                    tbody {
                        @for line in &order.items {
                            tr.item {
                                td data-label="Product" { (line.product) }
                                td.number data-label="Quantity" { (line.quantity) }
                                td.number data-label="Unit price" { (line.amount) }
                                td.number data-label="Line total" {
                                    // Bounded by the domain's limits, so it cannot overflow.
                                    @if let Some(total) = line.amount.checked_mul(line.quantity) { (total) }
                                }
                            }
                        }
                    }
                    tfoot {
                        tr {
                            th scope="row" colspan="3" { "Total" }
                            td.number #order-total data-label="Total" { (order.total_amount) }
                        }
                    }
                }
            }
        }
    }
}
