//! What the platform emits, checked against the AsyncAPI document (`docs/asyncapi.yaml`): each
//! message's payload against its payload schema, its headers against its headers schema, and
//! its AMQP properties against what the document says of them.
//!
//! [`Emitted`] captures the messages where each transport carries them. Over RabbitMQ, a queue
//! of the test's own, bound to the namespace's events exchange and to its outcomes exchange,
//! receives a copy of every message as the broker routes it. The embedded transport has no
//! wire: the order journal is its log, and its records hold the events as serialised; the
//! outcomes go to the delivery timeline as values, never serialised, so they are checked over
//! RabbitMQ only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use jsonschema::{Draft, Validator};
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use order_platform::{PlatformSettings, TransportKind};
use serde_json::{Value, json};
use shared_events::runtime::amqp::connection::connect;
use shared_events::runtime::amqp::headers;
use shared_events::runtime::amqp::topology::Topology;

use crate::helpers::journal_events;

/// The document's name for an order event.
const ORDER_EVENT: &str = "orderEvent";
/// The document's name for a consumer's batch of outcomes.
const DELIVERY_OUTCOMES: &str = "deliveryOutcomes";

static DOCUMENT: LazyLock<AsyncApi> = LazyLock::new(AsyncApi::load);

/// The messages a running platform emits, captured from where its transport carries them.
pub(crate) enum Emitted {
    /// The embedded transport: the events are read from the order journal at the end.
    Journal {
        /// The order service's data directory.
        order_dir: PathBuf,
    },
    /// RabbitMQ: a queue of the test's own receives a copy of every event and outcome message.
    Broker(Box<BrokerCopies>),
}

/// A queue of the test's own, bound to the events exchange and to the outcomes exchange.
pub(crate) struct BrokerCopies {
    connection: Connection,
    channel: Channel,
    queue: ShortString,
    /// The exchange outcomes are published to; events go to the other.
    outcomes_exchange: String,
}

/// One message as the platform emitted it.
struct Message {
    /// The document's message it must be.
    kind: &'static str,
    /// Where it was found, for a failure's message.
    origin: String,
    body: Vec<u8>,
    /// The AMQP properties, for a message taken from the broker.
    properties: Option<BasicProperties>,
}

/// One message of the document, ready to check messages against.
struct MessageSpec {
    payload: Validator,
    headers: Option<Validator>,
    content_type: String,
    /// The AMQP binding's `x-properties`: `message_id` (a runtime expression such as
    /// `$message.payload#/id`, or words) and `delivery_mode`.
    properties: Value,
    /// The message's examples: each a payload and perhaps headers.
    examples: Vec<Value>,
}

/// The document's messages, by name.
struct AsyncApi {
    order_event: MessageSpec,
    delivery_outcomes: MessageSpec,
}

impl Emitted {
    /// Starts capturing what the platform of `settings` will emit; call it before the platform
    /// starts, so that nothing passes by.
    pub(crate) async fn capture(settings: &PlatformSettings) -> Emitted {
        if settings.transport == TransportKind::Embedded {
            return Emitted::Journal {
                order_dir: settings.order.data_dir.clone(),
            };
        }
        let amqp = &settings.order.amqp;
        let topology = Topology::new(&amqp.namespace);
        let connection = connect(amqp, "asyncapi-capture")
            .await
            .expect("the broker answers (scripts/ensure-rabbitmq)");
        let channel = connection.create_channel().await.expect("a channel");
        topology
            .declare_exchange(&channel)
            .await
            .expect("the events exchange");
        topology
            .declare_outcomes(&channel)
            .await
            .expect("the outcomes exchange");
        // Server-named, exclusive: the broker removes it with this connection.
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        let queue = channel
            .queue_declare("".into(), options, FieldTable::default())
            .await
            .expect("the capture queue")
            .name()
            .clone();
        for exchange in [topology.exchange(), topology.outcomes_exchange()] {
            channel
                .queue_bind(
                    queue.clone(),
                    exchange.into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("the capture queue's binding");
        }
        Emitted::Broker(Box::new(BrokerCopies {
            connection,
            channel,
            queue,
            outcomes_exchange: topology.outcomes_exchange(),
        }))
    }

    /// Checks every message captured so far against docs/asyncapi.yaml; panics naming each
    /// that does not match, and why. Call it once the platform has stopped, so that every
    /// message it emitted is there to read.
    pub(crate) async fn assert_match_the_asyncapi_document(self) {
        let messages = self.take().await;
        let count = |kind: &str| messages.iter().filter(|m| m.kind == kind).count();
        assert!(count(ORDER_EVENT) > 0, "no order event was captured");
        if matches!(self, Emitted::Broker(_)) {
            assert!(count(DELIVERY_OUTCOMES) > 0, "no outcome was captured");
        }
        let failures: Vec<String> = messages.iter().filter_map(Message::mismatch).collect();
        self.close().await;
        assert!(
            failures.is_empty(),
            "{} of the {} messages the platform emitted do not match docs/asyncapi.yaml:\n{}",
            failures.len(),
            messages.len(),
            failures.join("\n")
        );
    }

    /// The messages captured so far.
    async fn take(&self) -> Vec<Message> {
        match self {
            Emitted::Journal { order_dir } => journal_messages(order_dir),
            Emitted::Broker(copies) => {
                let mut messages = Vec::new();
                while let Some(message) = copies
                    .channel
                    .basic_get(copies.queue.clone(), BasicGetOptions { no_ack: true })
                    .await
                    .expect("basic.get on the capture queue")
                {
                    let delivery = message.delivery;
                    let exchange = delivery.exchange.to_string();
                    let kind = if exchange == copies.outcomes_exchange {
                        DELIVERY_OUTCOMES
                    } else {
                        ORDER_EVENT
                    };
                    messages.push(Message {
                        kind,
                        origin: format!("published to {exchange}"),
                        body: delivery.data,
                        properties: Some(delivery.properties),
                    });
                }
                messages
            }
        }
    }

    async fn close(self) {
        if let Emitted::Broker(copies) = self {
            let _ = copies.channel.close(200, "OK".into()).await;
            let _ = copies.connection.close(200, "OK".into()).await;
        }
    }
}

/// Every event in the order journal under `order_dir`, as messages to check.
fn journal_messages(order_dir: &Path) -> Vec<Message> {
    journal_events(order_dir)
        .into_iter()
        .map(|(origin, event)| Message {
            kind: ORDER_EVENT,
            origin,
            body: serde_json::to_vec(&event).expect("JSON"),
            properties: None,
        })
        .collect()
}

impl Message {
    /// Why the message does not match its message in the document, naming it; `None` if it
    /// does.
    fn mismatch(&self) -> Option<String> {
        let spec = DOCUMENT.message(self.kind);
        let payload: Value = match serde_json::from_slice(&self.body) {
            Ok(payload) => payload,
            Err(error) => return Some(format!("- a message {}: not JSON: {error}", self.origin)),
        };
        let mut errors = schema_errors(&spec.payload, &payload, "payload");
        if let Some(properties) = &self.properties {
            errors.extend(spec.property_errors(properties, &payload));
        }
        if errors.is_empty() {
            return None;
        }
        Some(format!(
            "- {}, {}, is not the document's `{}`:\n    {}",
            name(self.kind, &payload, self.properties.as_ref()),
            self.origin,
            self.kind,
            errors.join("\n    ")
        ))
    }
}

/// How a failure names a message: an event by its id, type, order and version; a batch of
/// outcomes by its message id and size.
fn name(kind: &str, payload: &Value, properties: Option<&BasicProperties>) -> String {
    let text = |value: &Value| value.as_str().unwrap_or("?").to_owned();
    if kind == ORDER_EVENT {
        format!(
            "event {} ({} of order {}, version {})",
            text(&payload["id"]),
            text(&payload["type"]),
            text(&payload["subject"]),
            payload["sequence"]
        )
    } else {
        let message_id = properties
            .and_then(|properties| properties.message_id().as_ref())
            .map_or_else(|| "?".to_owned(), ToString::to_string);
        let outcomes = payload.as_array().map_or(0, Vec::len);
        format!("outcomes message {message_id} ({outcomes} outcomes)")
    }
}

/// Each way `instance` breaks `validator`'s schema, at its place in `what`.
fn schema_errors(validator: &Validator, instance: &Value, what: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| {
            let mut text = what.to_owned();
            let at = error.instance_path().to_string();
            if !at.is_empty() {
                let _ = write!(text, " at {at}");
            }
            let _ = write!(text, ": {error}");
            text
        })
        .collect()
}

impl AsyncApi {
    fn load() -> AsyncApi {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/asyncapi.yaml");
        let text = std::fs::read_to_string(&path).expect("docs/asyncapi.yaml");
        let document: Value = serde_norway::from_str(&text).expect("docs/asyncapi.yaml is YAML");
        AsyncApi {
            order_event: MessageSpec::of(&document, ORDER_EVENT),
            delivery_outcomes: MessageSpec::of(&document, DELIVERY_OUTCOMES),
        }
    }

    fn message(&self, name: &str) -> &MessageSpec {
        match name {
            ORDER_EVENT => &self.order_event,
            DELIVERY_OUTCOMES => &self.delivery_outcomes,
            other => panic!("no message {other} in docs/asyncapi.yaml"),
        }
    }
}

impl MessageSpec {
    /// `components.messages.<name>` of `document`.
    fn of(document: &Value, name: &str) -> MessageSpec {
        let message = document
            .pointer(&format!("/components/messages/{name}"))
            .unwrap_or_else(|| panic!("docs/asyncapi.yaml has no message {name}"));
        let schemas = document
            .pointer("/components/schemas")
            .expect("docs/asyncapi.yaml has components.schemas");
        MessageSpec {
            payload: validator(&message["payload"], schemas),
            headers: message
                .get("headers")
                .map(|schema| validator(schema, schemas)),
            content_type: message["contentType"]
                .as_str()
                .expect("the message's contentType")
                .to_owned(),
            properties: message["bindings"]["amqp"]["x-properties"].clone(),
            examples: message["examples"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// Where `properties` (and the headers among them) disagree with the document.
    fn property_errors(&self, properties: &BasicProperties, payload: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let content_type = properties.content_type().as_ref().map(ShortString::as_str);
        if content_type != Some(self.content_type.as_str()) {
            errors.push(format!(
                "content_type {content_type:?}, not {:?}",
                self.content_type
            ));
        }
        let delivery_mode = (*properties.delivery_mode()).map_or(Value::Null, Value::from);
        if let Some(expected) = self.properties.get("delivery_mode")
            && delivery_mode != *expected
        {
            errors.push(format!("delivery_mode {delivery_mode}, not {expected}"));
        }
        let message_id = properties.message_id().as_ref().map(ShortString::as_str);
        let from_payload = self.properties["message_id"]
            .as_str()
            .and_then(|expression| expression.strip_prefix("$message.payload#"))
            .map(|pointer| payload.pointer(pointer).and_then(Value::as_str));
        match (message_id, from_payload) {
            (None, _) => errors.push("no message_id".to_owned()),
            (Some(id), Some(expected)) if Some(id) != expected => {
                errors.push(format!("message_id {id:?}, not {expected:?}"));
            }
            _ => {}
        }
        let headers = properties.headers().as_ref().map_or_else(
            || json!({}),
            |table| headers::to_json(&AMQPValue::FieldTable(table.clone())),
        );
        match &self.headers {
            Some(validator) => errors.extend(schema_errors(validator, &headers, "headers")),
            None if headers != json!({}) => {
                errors.push(format!("headers {headers}, and the document names none"));
            }
            None => {}
        }
        errors
    }
}

/// A validator for `schema`, whose `$ref`s point into the document's `components.schemas`:
/// those are carried along, at the same place, so that the references resolve as written.
fn validator(schema: &Value, schemas: &Value) -> Validator {
    let root = json!({
        "allOf": [schema],
        "components": {"schemas": schemas},
    });
    jsonschema::options()
        // AsyncAPI's default schema format is a superset of JSON Schema draft 7.
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|error| panic!("docs/asyncapi.yaml has an invalid schema: {error}"))
}

#[test]
fn the_asyncapi_examples_are_valid_messages() {
    for (name, spec) in [
        (ORDER_EVENT, &DOCUMENT.order_event),
        (DELIVERY_OUTCOMES, &DOCUMENT.delivery_outcomes),
    ] {
        assert!(!spec.examples.is_empty(), "{name} has no example");
        for example in &spec.examples {
            let mut errors = schema_errors(&spec.payload, &example["payload"], "payload");
            if let (Some(validator), Some(headers)) = (&spec.headers, example.get("headers")) {
                errors.extend(schema_errors(validator, headers, "headers"));
            }
            assert!(
                errors.is_empty(),
                "example {} of {name}: {}",
                example["name"],
                errors.join("; ")
            );
        }
    }
}

#[test]
fn the_asyncapi_schemas_refuse_what_the_platform_never_emits() {
    // Arrange: the document's own example, then broken in ways a consumer would notice.
    let example = DOCUMENT.order_event.examples[0]["payload"].clone();
    let mut cases = Vec::new();
    let mut broken = example.clone();
    broken["data"]["order"]["total_amount"] = json!("7.50");
    cases.push(("an amount as a string", broken));
    let mut broken = example.clone();
    broken["data"]["order"]["items"][0]["amount"] = json!(1.505);
    cases.push(("an amount with three decimals", broken));
    let mut broken = example.clone();
    broken["type"] = json!("order.renamed");
    cases.push(("an unknown type", broken));
    let mut broken = example.clone();
    broken["data"]["previous"] = Value::Null;
    cases.push(("a null previous", broken));
    let mut broken = example.clone();
    broken["time"] = json!("yesterday");
    cases.push(("a time that is not one", broken));
    let mut broken = example;
    broken.as_object_mut().expect("an object").remove("subject");
    cases.push(("no subject", broken));

    // Act and assert
    for (what, payload) in cases {
        assert!(
            !DOCUMENT.order_event.payload.is_valid(&payload),
            "{what} was accepted"
        );
    }
}
