//! `GET /ui/orders`: the orders, newest first, a page at a time, filtered by status and
//! customer, with the store's own paging and filters.

use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;
use shared_events::OrderStatus;
use uuid::Uuid;

use crate::store::{ListQuery, ListText, OrderStore, Page};
use crate::web::error::WebError;
use crate::web::{layout, list_path, order_path};

/// Orders on a page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 25;

/// The list's query. Unlike the API, unknown parameters are ignored: people follow links that
/// carry other things.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    status: Option<String>,
    customer: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    /// The order just deleted, to say so.
    deleted: Option<String>,
}

/// `GET /ui/orders`.
pub(crate) async fn list(
    params: web::Query<ListParams>,
    store: web::Data<OrderStore>,
) -> Result<Markup, WebError> {
    let params = params.into_inner();
    let query = list_query(&params)?;
    let page = store.list(&query);
    let deleted = params
        .deleted
        .as_deref()
        .and_then(|id| id.parse::<Uuid>().ok());
    let content = html! {
        div.page-heading {
            h1 { "Orders" }
            a.button #new-order href={ (list_path()) "/new" } { "New order" }
        }
        @if let Some(id) = deleted {
            p.notice #deleted-notice role="status" { "Order " code { (id) } " was deleted." }
        }
        (filters(&query))
        (table(&page))
        (pager(&query, &page, params.cursor.is_some()))
    };
    Ok(layout::page("Orders", content))
}

fn list_query(params: &ListParams) -> Result<ListQuery, WebError> {
    let text = ListText {
        // A blank limit (an emptied field) is the default, not a mistake.
        limit: params.limit.as_deref().filter(|text| !text.is_empty()),
        cursor: params.cursor.as_deref(),
        status: params.status.as_deref(),
        customer: params.customer.as_deref(),
    };
    ListQuery::parse(text, DEFAULT_LIMIT)
        .map_err(|error| WebError::Unprocessable(format!("{error}.")))
}

/// The filter form: a GET form, so a filtered list is a link that can be shared.
fn filters(query: &ListQuery) -> Markup {
    html! {
        form.filters #filters method="get" action=(list_path()) role="search" {
            div.field {
                label for="filter-status" { "Status" }
                select #filter-status name="status" {
                    option value="" selected[query.status.is_none()] { "Any status" }
                    @for status in OrderStatus::ALL {
                        option value=(status) selected[query.status == Some(status)] { (status) }
                    }
                }
            }
            div.field {
                label for="filter-customer" { "Customer name or email contains" }
                input #filter-customer name="customer" type="search"
                    value=(query.customer.as_deref().unwrap_or(""));
            }
            @if query.limit != DEFAULT_LIMIT {
                input type="hidden" name="limit" value=(query.limit);
            }
            div.actions {
                button.button #filter type="submit" { "Filter" }
                @if query.status.is_some() || query.customer.is_some() {
                    a.button.secondary #clear-filters href=(list_path()) { "Clear" }
                }
            }
        }
    }
}

fn table(page: &Page) -> Markup {
    if page.orders.is_empty() {
        return html! { p #no-orders { "No orders match." } };
    }
    html! {
        div.table-wrap {
            table.responsive #orders {
                caption.visually-hidden { "Orders, newest first" }
                thead {
                    tr {
                        th scope="col" { "Order" }
                        th scope="col" { "Customer" }
                        th scope="col" { "Status" }
                        th scope="col" class="number" { "Items" }
                        th scope="col" class="number" { "Total" }
                        th scope="col" { "Created" }
                    }
                }
                tbody {
                    @for order in &page.orders {
                        tr data-order-id=(order.order_id) {
                            td data-label="Order" {
                                a href=(order_path(order.order_id, "")) { code.id { (order.order_id) } }
                            }
                            td data-label="Customer" {
                                // One box, so that on a phone (where a cell is a flex row) the
                                // name and the email stack and wrap beside the label.
                                span.value {
                                    (order.customer_name)
                                    @if let Some(email) = &order.customer_email {
                                        br; span.muted { (email) }
                                    }
                                }
                            }
                            td data-label="Status" { (layout::status_badge(order.status)) }
                            td.number data-label="Items" { (order.items.len()) }
                            td.number data-label="Total" { (order.total_amount) }
                            td data-label="Created" { (layout::time(order.order_date)) }
                        }
                    }
                }
            }
        }
    }
}

/// Links to the first and the next page, keeping the filters.
fn pager(query: &ListQuery, page: &Page, paged: bool) -> Markup {
    let link = |cursor: Option<String>| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(status) = query.status {
            pairs.push(("status", status.to_string()));
        }
        if let Some(customer) = &query.customer {
            pairs.push(("customer", customer.clone()));
        }
        if query.limit != DEFAULT_LIMIT {
            pairs.push(("limit", query.limit.to_string()));
        }
        pairs.extend(cursor.map(|cursor| ("cursor", cursor)));
        with_query(&list_path(), &pairs)
    };
    html! {
        nav.pager aria-label="Pages" {
            @if paged { a #first-page href=(link(None)) { "First page" } }
            @if let Some(cursor) = page.next_cursor() {
                a #next-page rel="next" href=(link(Some(cursor))) { "Next page" }
            }
        }
    }
}

/// `path?key=value&...`, percent-encoded.
fn with_query(path: &str, pairs: &[(&str, String)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        let pairs = [
            ("customer", "Ada & Bob=1/ü".to_owned()),
            ("status", "shipped".to_owned()),
        ];
        assert_eq!(
            with_query("/ui/orders", &pairs),
            "/ui/orders?customer=Ada%20%26%20Bob%3D1%2F%C3%BC&status=shipped"
        );
        assert_eq!(with_query("/ui/orders", &[]), "/ui/orders");
    }
}
