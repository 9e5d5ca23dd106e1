//! A submitted order form: its fields as typed, and their conversion into the domain's
//! [`NewOrder`] and [`OrderPatch`] through the same body types as the JSON API.

use std::collections::BTreeMap;

use actix_web::error::UrlencodedError;
use actix_web::{HttpRequest, dev::UrlEncoded, web};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use shared_events::Order;
use shared_events::app::request_guard;

use crate::domain::{
    BodyLimit, CreateOrderBody, FieldError, NewOrder, OrderPatch, PatchOrderBody, Quantity,
};
use crate::web::error::WebError;

/// The fields of the order form, as text exactly as typed, so that a refused form comes back
/// as it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OrderForm {
    /// `customer_name`.
    pub(crate) customer_name: String,
    /// `customer_email`; blank means none.
    pub(crate) customer_email: String,
    /// `items[N].product`, `items[N].quantity`, `items[N].amount`, without blank rows.
    pub(crate) items: Vec<ItemRow>,
    /// `status` (the edit form only).
    pub(crate) status: Option<String>,
    /// `version`: the order's version the edit form was made from (the edit form only).
    pub(crate) version: Option<u64>,
}

/// One item row of the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ItemRow {
    /// The product's name or SKU.
    pub(crate) product: String,
    /// How many units, as typed.
    pub(crate) quantity: String,
    /// The unit price, as typed.
    pub(crate) amount: String,
}

/// Reads an `application/x-www-form-urlencoded` body into `T`, within the service's body limit.
pub(crate) async fn read_form<T: DeserializeOwned + 'static>(
    request: &HttpRequest,
    payload: web::Payload,
    limit: BodyLimit,
) -> Result<T, WebError> {
    let mut payload = payload.into_inner();
    UrlEncoded::<T>::new(request, &mut payload)
        .limit(limit.0)
        .await
        .map_err(|error| match error {
            UrlencodedError::Overflow { limit, .. } => WebError::PayloadTooLarge(limit),
            UrlencodedError::Payload(error) if request_guard::is_timeout(&error) => {
                WebError::RequestTimeout(error.to_string())
            }
            other => WebError::BadRequest(format!("The form could not be read: {other}")),
        })
}

impl OrderForm {
    /// The form of an existing order.
    pub(crate) fn of(order: &Order) -> OrderForm {
        OrderForm {
            customer_name: order.customer_name.clone(),
            customer_email: order.customer_email.clone().unwrap_or_default(),
            items: order
                .items
                .iter()
                .map(|line| ItemRow {
                    product: line.product.clone(),
                    quantity: line.quantity.to_string(),
                    amount: line.amount.to_string(),
                })
                .collect(),
            status: Some(order.status.to_string()),
            version: Some(order.version),
        }
    }

    /// Reads the submitted fields. Item rows are kept in the order of their `N` and numbered
    /// again from 0, skipping blank rows, so rows removed or left empty in the browser leave no
    /// gaps, and an error's path (`items[1].quantity`) names the row as the form shows it again.
    /// Unknown fields are ignored.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> OrderForm {
        let mut form = OrderForm::default();
        let mut rows = BTreeMap::<usize, ItemRow>::new();
        for (key, value) in pairs {
            match key.as_str() {
                "customer_name" => form.customer_name = value,
                "customer_email" => form.customer_email = value,
                "status" => form.status = Some(value),
                "version" => form.version = value.trim().parse().ok(),
                _ => {
                    if let Some((index, field)) = item_field(&key) {
                        let row = rows.entry(index).or_default();
                        match field {
                            "product" => row.product = value,
                            "quantity" => row.quantity = value,
                            "amount" => row.amount = value,
                            _ => {}
                        }
                    }
                }
            }
        }
        form.items = rows.into_values().filter(|row| !row.is_blank()).collect();
        form
    }

    /// The order this form creates, checked exactly as `POST /orders` checks its body.
    pub(crate) fn new_order(&self) -> Result<NewOrder, FieldError> {
        let mut body = self.customer();
        body.insert("items".to_owned(), self.items_json()?);
        NewOrder::try_from(from_json::<CreateOrderBody>(body)?)
    }

    /// The change this form asks for, checked exactly as `PATCH /orders/{id}` checks its body.
    /// The items are part of it only `with_items`, when the order's items may still change
    /// (otherwise the form does not show them).
    pub(crate) fn patch(&self, with_items: bool) -> Result<OrderPatch, FieldError> {
        let mut body = self.customer();
        if with_items {
            body.insert("items".to_owned(), self.items_json()?);
        }
        if let Some(status) = &self.status {
            body.insert("status".to_owned(), Value::from(status.as_str()));
        }
        OrderPatch::try_from(from_json::<PatchOrderBody>(body)?)
    }

    fn customer(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert(
            "customer_name".to_owned(),
            Value::from(self.customer_name.as_str()),
        );
        // Blank means "none", as in the API.
        body.insert(
            "customer_email".to_owned(),
            Value::from(self.customer_email.as_str()),
        );
        body
    }

    /// The rows as the API's `items` array. A form has only text, so a quantity that is not a
    /// whole number is refused here, in the domain's words; prices go on as decimal text, which
    /// the API accepts too.
    fn items_json(&self) -> Result<Value, FieldError> {
        let items = self
            .items
            .iter()
            .enumerate()
            .map(|(index, row)| {
                let quantity = row.quantity.trim().parse::<u32>().map_err(|_| {
                    FieldError::new(
                        format!("items[{index}].quantity"),
                        format!("must be a whole number from 1 to {}", Quantity::MAX),
                    )
                })?;
                let amount = row.amount.trim();
                if amount.is_empty() {
                    return Err(FieldError::new(
                        format!("items[{index}].amount"),
                        "must not be blank",
                    ));
                }
                let mut item = Map::new();
                item.insert("product".to_owned(), Value::from(row.product.as_str()));
                item.insert("quantity".to_owned(), Value::from(quantity));
                item.insert("amount".to_owned(), Value::from(amount));
                Ok(Value::Object(item))
            })
            .collect::<Result<Vec<_>, FieldError>>()?;
        Ok(Value::Array(items))
    }
}

impl ItemRow {
    fn is_blank(&self) -> bool {
        [&self.product, &self.quantity, &self.amount]
            .iter()
            .all(|text| text.trim().is_empty())
    }
}

/// `items[3].quantity` as `(3, "quantity")`.
pub(crate) fn item_field(key: &str) -> Option<(usize, &str)> {
    let (index, field) = key.strip_prefix("items[")?.split_once("].")?;
    Some((index.parse().ok()?, field))
}

/// Deserialises a body the way the API does, naming the field at fault by its JSON path.
fn from_json<T: DeserializeOwned>(body: Map<String, Value>) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Value::Object(body)).map_err(|error| {
        let field = error.path().to_string();
        FieldError::new(field, error.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn filled(list: &[(&str, &str)]) -> OrderForm {
        let mut all = vec![
            ("customer_name", "Ada"),
            ("customer_email", "ada@example.com"),
        ];
        all.extend_from_slice(list);
        OrderForm::from_pairs(pairs(&all))
    }

    #[test]
    fn rows_are_renumbered_without_gaps_or_blank_rows() {
        let form = filled(&[
            ("items[7].product", "gadget"),
            ("items[7].quantity", "1"),
            ("items[7].amount", "0.10"),
            ("items[2].product", "widget"),
            ("items[2].quantity", "2"),
            ("items[2].amount", "9.99"),
            ("items[3].product", " "),
            ("items[3].quantity", ""),
            ("items[3].amount", ""),
            ("items[x].product", "ignored"),
        ]);
        let products: Vec<&str> = form.items.iter().map(|row| row.product.as_str()).collect();
        assert_eq!(products, ["widget", "gadget"]);
        let order = form.new_order().expect("valid");
        assert_eq!(order.lines.total().to_string(), "20.08");
    }

    #[test]
    fn errors_name_the_field_as_the_form_shows_it() {
        let cases = [
            (
                vec![
                    ("items[0].product", "w"),
                    ("items[0].quantity", "0"),
                    ("items[0].amount", "1"),
                ],
                "items[0].quantity",
                "zero units",
            ),
            (
                vec![
                    ("items[0].product", "w"),
                    ("items[0].quantity", "two"),
                    ("items[0].amount", "1"),
                ],
                "items[0].quantity",
                "not a number",
            ),
            (
                vec![
                    ("items[4].product", "w"),
                    ("items[4].quantity", "1"),
                    ("items[4].amount", "1.001"),
                ],
                "items[0].amount",
                "too precise",
            ),
            (
                vec![
                    ("items[0].product", "w"),
                    ("items[0].quantity", "1"),
                    ("items[0].amount", ""),
                ],
                "items[0].amount",
                "blank price",
            ),
            (
                vec![
                    ("items[0].product", ""),
                    ("items[0].quantity", "1"),
                    ("items[0].amount", "1"),
                ],
                "items[0].product",
                "blank product",
            ),
            (vec![], "items", "no items"),
        ];
        for (rows, field, message) in cases {
            let error = filled(&rows).new_order().expect_err(message);
            assert_eq!(error.field, field, "{message}: {error}");
        }
        let bad_email = OrderForm {
            customer_email: "ada@".to_owned(),
            ..filled(&[
                ("items[0].product", "w"),
                ("items[0].quantity", "1"),
                ("items[0].amount", "1"),
            ])
        };
        assert_eq!(
            bad_email.new_order().expect_err("email").field,
            "customer_email"
        );
    }

    #[test]
    fn a_patch_carries_items_only_when_asked_and_checks_the_status() {
        let form = filled(&[("status", "confirmed")]);
        let patch = form.patch(false).expect("valid without items");
        assert_eq!(patch.lines, None);
        assert_eq!(patch.status, Some(shared_events::OrderStatus::Confirmed));
        assert_eq!(form.patch(true).expect_err("no items").field, "items");
        let unknown = filled(&[("status", "lost")]);
        assert_eq!(unknown.patch(false).expect_err("unknown").field, "status");
        let no_email = OrderForm {
            customer_email: " ".to_owned(),
            ..form
        };
        assert_eq!(
            no_email.patch(false).expect("valid").customer_email,
            Some(None)
        );
    }
}
