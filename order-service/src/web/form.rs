//! The order form, for a new order and for a change: every input with its label, an error
//! beside the field it concerns, and item rows that the script can add and remove.
//!
//! Ids: an input's `id` and `name` are the field's JSON path (`customer_email`,
//! `items[1].quantity`), and its error's `id` is `error-` and that path. HTML allows any
//! character but whitespace in an id, and paths have none, so a [`FieldError`] from the
//! domain finds its input without any translation. (In CSS selectors the brackets and dots need
//! escaping: `[id="items[1].quantity"]` or `CSS.escape`.)

use maud::{Markup, html};
use shared_events::Order;
use uuid::Uuid;

use crate::domain::FieldError;
use crate::web::csrf::CsrfField;
use crate::web::form_data::{ItemRow, OrderForm, item_field};
use crate::web::{layout, list_path, order_path};

/// Rows the form shows at least, and blank rows it always offers, so that without the script
/// (which adds rows) there is room for new items.
const MIN_ROWS: usize = 3;

/// Which form.
pub(crate) enum FormKind<'a> {
    /// A new order: `POST /ui/orders`.
    Create,
    /// A change to this order, as it is now: `POST /ui/orders/{id}`.
    Edit(&'a Order),
}

/// Why the last submission was not saved.
pub(crate) enum Problem {
    /// A field breaks a rule: shown beside it.
    Field(FieldError),
    /// The order's state refuses the change: shown above the form.
    Refused(String),
    /// Someone changed the order after the form was made from it.
    Stale {
        /// The order.
        order_id: Uuid,
        /// Its current version.
        current: u64,
    },
}

/// The whole form page: `form` as typed (or as stored), and what was wrong with it.
pub(crate) fn form_page(
    kind: &FormKind<'_>,
    form: &OrderForm,
    problem: Option<&Problem>,
    csrf: &CsrfField,
) -> Markup {
    let (title, action) = match kind {
        FormKind::Create => ("New order", list_path()),
        FormKind::Edit(order) => ("Edit order", order_path(order.order_id, "")),
    };
    let content = html! {
        h1 { (title) }
        @if let Some(problem) = problem { (summary(problem)) }
        // The server is the one judge of validity, so that every rule's message appears beside
        // its field in the same way; the browser's own checks would pre-empt some of them.
        form #order-form method="post" action=(action) novalidate {
            (csrf)
            (customer_fields(form, problem))
            @match kind {
                FormKind::Create => (item_rows(form, problem)),
                FormKind::Edit(order) if order.status.allows_item_changes() => (item_rows(form, problem)),
                FormKind::Edit(order) => (fixed_items(order)),
            }
            @if let FormKind::Edit(order) = kind {
                (status_field(order, form, problem))
                input type="hidden" name="version" value=(form.version.unwrap_or(order.version));
            }
            div.actions {
                button.button #save type="submit" { "Save" }
                // Where the form posts is also where cancelling goes back to: the list or the order.
                a.button.secondary #cancel href=(action) { "Cancel" }
            }
        }
    };
    layout::page(title, content)
}

/// The page shown instead of a form for an order that can no longer change.
pub(crate) fn final_page(order: &Order) -> Markup {
    let content = html! {
        h1 { "Edit order" }
        p #final-notice {
            "This order is " (layout::status_badge(order.status))
            ", which is final: it can no longer change."
        }
        p { a href=(order_path(order.order_id, "")) { "Back to the order" } }
    };
    layout::page("Edit order", content)
}

/// The message above the form; a field error links to its field.
fn summary(problem: &Problem) -> Markup {
    html! {
        div.error-summary #form-error role="alert" {
            p { strong { "The order was not saved." } }
            @match problem {
                Problem::Field(error) => p {
                    a href={ "#" (error.field) } { (describe(&error.field)) } ": " (error.message)
                },
                Problem::Refused(reason) => p { (reason) },
                Problem::Stale { order_id, current } => p {
                    "Someone else changed this order while you were editing it (it is now at "
                    "version " (current) "), so your changes were not applied. "
                    a #reload-form href=(order_path(*order_id, "/edit")) {
                        "Start again from the current order"
                    }
                    "; your entries are still below to copy from."
                },
            }
        }
    }
}

fn customer_fields(form: &OrderForm, problem: Option<&Problem>) -> Markup {
    html! {
        (input(&Input {
            name: "customer_name",
            label: "Customer name",
            kind: "text",
            value: &form.customer_name,
            autocomplete: Some("name"),
            inputmode: None,
        }, problem))
        (input(&Input {
            name: "customer_email",
            label: "Email (optional)",
            kind: "email",
            value: &form.customer_email,
            autocomplete: Some("email"),
            inputmode: None,
        }, problem))
    }
}

/// The editable items: the rows typed so far, blank rows, and a template the script copies.
fn item_rows(form: &OrderForm, problem: Option<&Problem>) -> Markup {
    let error = message_for(problem, "items");
    let mut rows = form.items.clone();
    let blanks = (MIN_ROWS.saturating_sub(rows.len())).max(1);
    rows.extend(std::iter::repeat_n(ItemRow::default(), blanks));
    html! {
        fieldset.items #items aria-describedby=[error.map(|_| "error-items")] {
            legend { "Items" }
            p.hint { "Rows left blank are ignored." }
            @if let Some(message) = error { p.field-error #error-items { (message) } }
            div #item-rows {
                @for (index, row) in rows.iter().enumerate() { (item_row(index, row, problem)) }
            }
            // Hidden until the script, which makes them work, shows them.
            button.button.secondary #add-item type="button" hidden { "Add item" }
            template #item-template { (item_row(0, &ItemRow::default(), None)) }
        }
    }
}

fn item_row(index: usize, row: &ItemRow, problem: Option<&Problem>) -> Markup {
    let path = |field: &str| format!("items[{index}].{field}");
    html! {
        fieldset.item-row {
            legend { "Item " (index + 1) }
            (input(&Input {
                name: &path("product"),
                label: "Product",
                kind: "text",
                value: &row.product,
                autocomplete: Some("off"),
                inputmode: None,
            }, problem))
            (input(&Input {
                name: &path("quantity"),
                label: "Quantity",
                // Text, not `number`: a browser empties a number input holding what is not a
                // number, and a refused form must show what was typed.
                kind: "text",
                value: &row.quantity,
                autocomplete: Some("off"),
                inputmode: Some("numeric"),
            }, problem))
            (input(&Input {
                name: &path("amount"),
                label: "Unit price",
                kind: "text",
                value: &row.amount,
                autocomplete: Some("off"),
                inputmode: Some("decimal"),
            }, problem))
            button.button.secondary.remove-item type="button" hidden { "Remove item" }
        }
    }
}

/// The items of an order whose items can no longer change, shown but not editable.
fn fixed_items(order: &Order) -> Markup {
    html! {
        section.items aria-labelledby="items-heading" {
            h2 #items-heading { "Items" }
            p.hint #items-fixed {
                "Items can change only while an order is pending or confirmed; this one is "
                (order.status) "."
            }
            ul {
                @for line in &order.items {
                    li { (line.quantity) " × " (line.product) " at " (line.amount) }
                }
            }
        }
    }
}

/// The status select offers the current status and the ones it may legally move to, no others.
fn status_field(order: &Order, form: &OrderForm, problem: Option<&Problem>) -> Markup {
    let chosen = form.status.as_deref().unwrap_or(order.status.as_str());
    let error = message_for(problem, "status");
    html! {
        div.field {
            label for="status" { "Status" }
            select #status name="status" aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| "error-status")] {
                option value=(order.status) selected[chosen == order.status.as_str()] {
                    (order.status) " (unchanged)"
                }
                @for next in order.status.next_statuses() {
                    option value=(next) selected[chosen == next.as_str()] { (next) }
                }
            }
            @if let Some(message) = error { p.field-error #error-status { (message) } }
        }
    }
}

/// One input: `name` is also its id (the field's JSON path).
struct Input<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    value: &'a str,
    autocomplete: Option<&'a str>,
    inputmode: Option<&'a str>,
}

fn input(spec: &Input<'_>, problem: Option<&Problem>) -> Markup {
    let error = message_for(problem, spec.name);
    let error_id = format!("error-{}", spec.name);
    html! {
        div.field {
            label for=(spec.name) { (spec.label) }
            input id=(spec.name) name=(spec.name) type=(spec.kind) value=(spec.value)
                autocomplete=[spec.autocomplete] inputmode=[spec.inputmode]
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(message) = error { p.field-error id=(error_id) { (message) } }
        }
    }
}

/// The message of the problem if it concerns `field`.
fn message_for<'a>(problem: Option<&'a Problem>, field: &str) -> Option<&'a str> {
    match problem {
        Some(Problem::Field(error)) if error.field == field => Some(&error.message),
        _ => None,
    }
}

/// A field's path in words: `items[1].amount` is "Item 2, unit price".
fn describe(field: &str) -> String {
    match (field, item_field(field)) {
        (_, Some((index, name))) => {
            let name = if name == "amount" { "unit price" } else { name };
            format!("Item {}, {name}", index + 1)
        }
        ("customer_name", _) => "Customer name".to_owned(),
        ("customer_email", _) => "Email".to_owned(),
        ("items", _) => "Items".to_owned(),
        ("status", _) => "Status".to_owned(),
        (other, _) => other.to_owned(),
    }
}
