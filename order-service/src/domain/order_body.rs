//! An order as a client sends it, in a JSON body or in the page's form made into one: plain
//! values, checked only as they become a [`NewOrder`] or an [`OrderPatch`], and how large a body
//! may be. The API and the page share these, so an order is checked the same way whichever way
//! it comes.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use shared_events::{Money, OrderStatus};

use crate::domain::{
    CustomerEmail, CustomerName, FieldError, NewOrder, NewOrderLine, OrderLines, OrderPatch,
    ProductName, Quantity, UnitPrice,
};

/// The largest request body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A new order (`POST /orders`). The server sets everything else.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewOrder)]
pub(crate) struct CreateOrderBody {
    #[schema(schema_with = customer_name_schema)]
    customer_name: String,
    /// Optional: absent, `null` or `""` mean none; a plausible address of at most 254
    /// characters.
    #[serde(default)]
    #[schema(max_length = 254, example = "ada@example.com")]
    customer_email: Option<String>,
    /// 1 to 100 lines.
    #[schema(min_items = 1, max_items = 100, value_type = Vec<OrderLineBody>)]
    items: Vec<Object<OrderLineBody>>,
}

/// One entry of `items`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewOrderLine)]
pub(crate) struct OrderLineBody {
    #[schema(schema_with = product_schema)]
    product: String,
    /// How many units: 1 to 10,000.
    #[schema(minimum = 1, maximum = 10000, example = 2)]
    quantity: u32,
    /// The unit price.
    #[schema(schema_with = unit_price_schema)]
    amount: Money,
}

/// A change to an order (`PATCH /orders/{id}`), a JSON merge patch (RFC 7396): absent fields
/// stay, `null` removes the email; `items` replace the old ones as a whole.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderChange)]
pub(crate) struct PatchOrderBody {
    /// A new name (`null` is refused: an order has a customer).
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = customer_name_schema, required = false)]
    customer_name: Option<Option<String>>,
    /// A new address, or `null` (or `""`) to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false, max_length = 254)]
    customer_email: Option<Option<String>>,
    /// New items, replacing the old ones; only while the order is pending or confirmed.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<OrderLineBody>, required = false, min_items = 1, max_items = 100)]
    items: Option<Option<Vec<Object<OrderLineBody>>>>,
    /// A new status, one the order's status may move to.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = OrderStatus, required = false)]
    status: Option<Option<OrderStatus>>,
}

/// What a name or a product may be, as a regular expression: some character that is not white
/// space, and no control characters or direction controls (`bounded_text` checks the same).
const VISIBLE_TEXT: &str = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$";

/// A customer's name.
fn customer_name_schema() -> utoipa::openapi::schema::Object {
    visible_text(
        "The customer's name: 1 to 200 characters after trimming, without control characters \
         or Unicode direction controls.",
        "Ada Lovelace",
    )
}

/// A product's name.
fn product_schema() -> utoipa::openapi::schema::Object {
    visible_text(
        "The product's name or SKU: 1 to 200 characters, as a customer's name.",
        "widget",
    )
}

fn visible_text(description: &str, example: &str) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .min_length(Some(1))
        .max_length(Some(200))
        .pattern(Some(VISIBLE_TEXT))
        .examples([serde_json::json!(example)])
        .build()
}

/// A unit price: not negative, at most two decimals and 1,000,000,000; a JSON number (read
/// exactly from its text, an exponent allowed) or a decimal string.
fn unit_price_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0))
                .maximum(Some(1_000_000_000))
                .multiple_of(Some(0.01)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")),
        )
        .description(Some(
            "The unit price: not negative, at most 2 decimal places and 1000000000; a JSON \
             number, read exactly from its text, or a decimal string.",
        ))
        .examples([serde_json::json!(9.99)])
        .into()
}

/// A `T` read from a JSON object only. serde's derived structs also take an array of their
/// fields in order (`["Ada", null, [["widget", 2, "1.50"]]]`), which the API does not document
/// and a merge patch must not be (RFC 7396 makes an array patch replace the whole order).
#[derive(Debug)]
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Object<T>, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
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

fn lines(items: Vec<Object<OrderLineBody>>) -> Result<OrderLines, FieldError> {
    if items.len() > OrderLines::MAX {
        return Err(FieldError::new(
            "items",
            format!("must hold at most {} items", OrderLines::MAX),
        ));
    }
    let lines = items
        .into_iter()
        .enumerate()
        .map(|(index, Object(item))| {
            Ok(NewOrderLine {
                product: ProductName::parse(index, &item.product)?,
                quantity: Quantity::parse(index, item.quantity)?,
                amount: UnitPrice::parse(index, item.amount)?,
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    OrderLines::new(lines)
}
