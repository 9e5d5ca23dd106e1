//! What crosses between the services: the shapes every one of them agrees on.
//!
//! # Layout
//!
//! - [`money`]: exact decimal amounts, serialised as JSON numbers without floating point.
//! - [`order`]: the order snapshot carried by events, and its status state machine.
//! - [`event`]: the versioned, CloudEvents-shaped envelope.
//! - [`outcome`]: what a consumer did with an event, reported back for the delivery timeline.
//! - [`page_cursor`]: opaque cursors for paginated lists.
//! - [`shard`]: which shard of a consumer service an order's events belong to.
//! - `schema` (feature `schema`): the JSON Schemas of the event and the outcome, as the AsyncAPI
//!   document gives them.

pub mod event;
pub mod money;
pub mod order;
pub mod outcome;
pub mod page_cursor;
#[cfg(feature = "schema")]
pub mod schema;
pub mod shard;
