//! The rules of an order, as types: once a value of these exists, it is valid.

mod customer;
mod field_error;
mod new_order;
mod order_line;
mod order_patch;

pub use customer::{CustomerEmail, CustomerName};
pub use field_error::FieldError;
pub use new_order::NewOrder;
pub use order_line::{NewOrderLine, OrderLines, ProductName, Quantity, UnitPrice};
pub use order_patch::{OrderPatch, PatchRejected};
