//! The rules of an order, as types: once a value of these exists, it is valid. A change that
//! passes them is turned here into the event that announces it.
//!
//! # Layout
//!
//! - `customer`: who an order is for ([`CustomerName`], [`CustomerEmail`]).
//! - `order_line`: what is ordered ([`ProductName`], [`Quantity`], [`UnitPrice`], [`OrderLines`]).
//! - `new_order`: [`NewOrder`], a valid request to create an order.
//! - `order_patch`: [`OrderPatch`], a valid change, and whether the order's state allows it.
//! - `order_event`: [`ChangeStamp`], which turns a decided change into its event.
//! - `field_error`: [`FieldError`], a client's input that breaks a rule.

mod customer;
mod field_error;
mod new_order;
mod order_event;
mod order_line;
mod order_patch;

pub use customer::{CustomerEmail, CustomerName};
pub use field_error::FieldError;
pub use new_order::NewOrder;
pub use order_event::{ChangeStamp, EVENT_SOURCE};
pub use order_line::{NewOrderLine, OrderLines, ProductName, Quantity, UnitPrice};
pub use order_patch::{OrderPatch, PatchRejected};
