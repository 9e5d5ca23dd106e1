//! An order as a client sends it, in a JSON body or in the page's form made into one: plain
//! values, checked only as they become a [`NewOrder`] or an [`OrderPatch`], and how large a body
//! may be. The API and the page share these, so an order is checked the same way whichever way
//! it comes.

use serde::{Deserialize, Deserializer};
use shared_events::{Money, OrderStatus};

use crate::domain::{
    CustomerEmail, CustomerName, FieldError, NewOrder, NewOrderLine, OrderLines, OrderPatch,
    ProductName, Quantity, UnitPrice,
};

/// The largest request body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `POST /orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrderBody {
    customer_name: String,
    #[serde(default)]
    customer_email: Option<String>,
    items: Vec<OrderLineBody>,
}

/// One entry of `items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderLineBody {
    product: String,
    quantity: u32,
    amount: Money,
}

/// `PATCH /orders/{id}`, a JSON merge patch: absent fields stay, `null` removes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchOrderBody {
    #[serde(default, deserialize_with = "present")]
    customer_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    customer_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    items: Option<Option<Vec<OrderLineBody>>>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<OrderStatus>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

impl TryFrom<CreateOrderBody> for NewOrder {
    type Error = FieldError;

    fn try_from(body: CreateOrderBody) -> Result<NewOrder, FieldError> {
        Ok(NewOrder {
            customer_name: CustomerName::parse(&body.customer_name)?,
            customer_email: optional_email(body.customer_email.as_deref())?,
            lines: lines(body.items)?,
        })
    }
}

impl TryFrom<PatchOrderBody> for OrderPatch {
    type Error = FieldError;

    fn try_from(body: PatchOrderBody) -> Result<OrderPatch, FieldError> {
        let required = |field: &str| FieldError::new(field, "cannot be removed (null)");
        Ok(OrderPatch {
            customer_name: match body.customer_name {
                Some(Some(name)) => Some(CustomerName::parse(&name)?),
                Some(None) => return Err(required("customer_name")),
                None => None,
            },
            customer_email: match body.customer_email {
                Some(email) => Some(optional_email(email.as_deref())?),
                None => None,
            },
            lines: match body.items {
                Some(Some(items)) => Some(lines(items)?),
                Some(None) => return Err(required("items")),
                None => None,
            },
            status: match body.status {
                Some(Some(status)) => Some(status),
                Some(None) => return Err(required("status")),
                None => None,
            },
        })
    }
}

/// A blank address (an empty form field) means none.
fn optional_email(email: Option<&str>) -> Result<Option<CustomerEmail>, FieldError> {
    match email.map(str::trim) {
        None | Some("") => Ok(None),
        Some(address) => CustomerEmail::parse(address).map(Some),
    }
}

fn lines(items: Vec<OrderLineBody>) -> Result<OrderLines, FieldError> {
    if items.len() > OrderLines::MAX {
        return Err(FieldError::new(
            "items",
            format!("must hold at most {} items", OrderLines::MAX),
        ));
    }
    let lines = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            Ok(NewOrderLine {
                product: ProductName::parse(index, &item.product)?,
                quantity: Quantity::parse(index, item.quantity)?,
                amount: UnitPrice::parse(index, item.amount)?,
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    OrderLines::new(lines)
}
