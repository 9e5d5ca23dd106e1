//! The envelope every order event travels in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::order::Order;

/// The CloudEvents version the envelope follows.
pub const SPEC_VERSION: &str = "1.0";
/// The version of the `data` schema; a consumer refuses versions it does not know.
pub const DATA_VERSION: u32 = 1;
/// The media type of `data`.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// What happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum EventType {
    /// A new order; `data.order` is version 1.
    #[serde(rename = "order.created")]
    Created,
    /// A change; `data.previous` holds the snapshot before it.
    #[serde(rename = "order.updated")]
    Updated,
    /// The order is gone; `data.order` is its last state, with the version of the deletion.
    #[serde(rename = "order.deleted")]
    Deleted,
}

impl EventType {
    /// The CloudEvents `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "order.created",
            EventType::Updated => "order.updated",
            EventType::Deleted => "order.deleted",
        }
    }
}

/// A CloudEvents-shaped order event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OrderEvent {
    /// Always [`SPEC_VERSION`].
    #[cfg_attr(
        feature = "schema",
        schemars(description = "The CloudEvents version: `1.0`.", extend("const" = SPEC_VERSION))
    )]
    pub specversion: String,
    /// Unique per event; also the AMQP `message_id`, so duplicates can be recognised.
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The service that emitted the event.
    pub source: String,
    /// When the change was accepted.
    pub time: DateTime<Utc>,
    /// The order's id.
    pub subject: Uuid,
    /// The order's version after the change: consumers apply only what is newer than they have.
    pub sequence: u64,
    /// Always [`DATA_CONTENT_TYPE`].
    #[cfg_attr(
        feature = "schema",
        schemars(description = "The media type of `data`.", extend("const" = DATA_CONTENT_TYPE))
    )]
    pub datacontenttype: String,
    /// The version of `data`'s schema, [`DATA_VERSION`].
    #[cfg_attr(
        feature = "schema",
        schemars(description = "The version of `data`'s schema.", extend("const" = DATA_VERSION))
    )]
    pub dataversion: u32,
    /// W3C trace context of the request that made the change, when it was traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Absent when `None`, never `null`; always written by OpenTelemetry's W3C propagator.
    #[cfg_attr(
        feature = "schema",
        schemars(
            with = "String",
            pattern(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
        )
    )]
    pub traceparent: Option<String>,
    /// The order after the change, and before it for an update.
    pub data: OrderEventData,
}

/// The payload of an [`OrderEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(description = "The `data` of an order event.")
)]
pub struct OrderEventData {
    /// The full order after the change (for a deletion: its last state).
    pub order: Order,
    /// The full order before the change, for updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Absent when `None`, never `null`.
    #[cfg_attr(feature = "schema", schemars(with = "Order"))]
    pub previous: Option<Order>,
}

/// Why bytes are not an order event this version understands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not JSON, or not the envelope's shape.
    #[error("not an order event: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The envelope or data version is one this build does not know.
    #[error("unsupported event version: specversion {specversion}, dataversion {dataversion}")]
    UnsupportedVersion {
        /// The `specversion` found.
        specversion: String,
        /// The `dataversion` found.
        dataversion: u32,
    },
    /// The envelope contradicts itself.
    #[error("inconsistent event: {0}")]
    Inconsistent(&'static str),
}

impl OrderEvent {
    /// A new event about `order` (its state after the change) from `source`.
    pub fn new(
        kind: EventType,
        source: &str,
        order: Order,
        previous: Option<Order>,
        time: DateTime<Utc>,
    ) -> OrderEvent {
        OrderEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: Uuid::now_v7(),
            kind,
            source: source.to_owned(),
            time,
            subject: order.order_id,
            sequence: order.version,
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            dataversion: DATA_VERSION,
            traceparent: None,
            data: OrderEventData { order, previous },
        }
    }

    /// Decodes and checks an event received from the wire.
    pub fn decode(bytes: &[u8]) -> Result<OrderEvent, DecodeError> {
        let event: OrderEvent = serde_json::from_slice(bytes)?;
        if event.specversion != SPEC_VERSION || event.dataversion != DATA_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                specversion: event.specversion,
                dataversion: event.dataversion,
            });
        }
        if event.subject != event.data.order.order_id {
            return Err(DecodeError::Inconsistent(
                "subject is not data.order.order_id",
            ));
        }
        if event.sequence != event.data.order.version {
            return Err(DecodeError::Inconsistent(
                "sequence is not data.order.version",
            ));
        }
        Ok(event)
    }

    /// The event as the JSON bytes that go on the wire.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an order event is plain data with string keys")
    }
}
