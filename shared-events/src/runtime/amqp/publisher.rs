//! Publishing with broker confirms: a message counts as sent only when the broker acked it and
//! did not return it.
//!
//! Every message is `mandatory`: an exchange with no queue bound returns it instead of dropping
//! it silently. Batches are pipelined (up to [`CONFIRM_WINDOW`] confirms in flight). lapin
//! attaches a returned message to whichever confirm completes next, not necessarily its own, so
//! a return anywhere fails the whole batch and the caller sends it again: duplicates are fine
//! (consumers deduplicate by event id), losses are not.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, PublisherConfirm};
use tokio::sync::Mutex;

use crate::app::settings::AmqpSettings;
use crate::app::telemetry::context::TRACEPARENT;
use crate::contract::event::OrderEvent;
use crate::contract::shard::{self, ServiceShards};
use crate::runtime::amqp::connection::{self, connect};
use crate::runtime::amqp::error::AmqpError;
use crate::runtime::amqp::names::short;
use crate::runtime::amqp::topology::Topology;

/// Confirms a batch may have in flight before waiting for the oldest.
pub const CONFIRM_WINDOW: usize = 256;

/// A message to publish: persistent, `application/json`, with `message_id` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The exchange (`""` is the default exchange, which routes by queue name).
    pub exchange: String,
    /// The routing key (ignored by the fanout exchange).
    pub routing_key: String,
    /// The AMQP `message_id`: the event id, so consumers can recognise duplicates.
    pub message_id: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// Extra headers, as strings.
    pub headers: Vec<(String, String)>,
}

/// A publisher over its own connection and confirm channel; cheap to clone (clones share them).
///
/// It connects on first use and, after a failure that may have broken the channel (an error or
/// a timeout), drops the connection and connects anew on the next call.
#[derive(Clone)]
pub struct ConfirmedPublisher {
    inner: Arc<Inner>,
}

/// Why a publish did not certainly reach a queue; the caller sends again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// Connecting or opening the confirm channel failed.
    #[error("publisher cannot connect: {0}")]
    Connect(#[source] AmqpError),
    /// The message cannot be sent as it is (a name longer than 255 bytes).
    #[error("invalid message: {0}")]
    Invalid(#[source] AmqpError),
    /// The broker refused responsibility for a message (`basic.nack`).
    #[error("the broker nacked message {message_id}")]
    Nacked {
        /// The message's id.
        message_id: String,
    },
    /// A message could not be routed to any queue (`mandatory` publish returned).
    #[error("the broker returned message {message_id:?}: {reply_code} {reply_text}")]
    Returned {
        /// The returned message's id.
        message_id: Option<String>,
        /// The AMQP reply code (312 NO_ROUTE).
        reply_code: u16,
        /// The broker's explanation.
        reply_text: String,
    },
    /// Writing a message or waiting for its confirm took longer than `publish_timeout_ms`.
    #[error("no confirm from the broker within {0:?}")]
    Timeout(Duration),
    /// The channel or connection failed mid-publish; whether the broker has the message is
    /// unknown.
    #[error("publish channel failed: {0}")]
    Channel(#[source] lapin::Error),
    /// The channel is not in confirm mode, so nothing can be known about the message.
    #[error("the publish channel is not in confirm mode")]
    Unconfirmed,
}

struct Inner {
    settings: AmqpSettings,
    connection_name: String,
    session: Mutex<Option<Session>>,
    /// The namespace whose fanout exchange (and these consumers' queues) are declared on every
    /// new connection.
    declares: Option<(Topology, Vec<ServiceShards>)>,
}

/// One connection with one confirm channel: confirms are ordered per channel, so one channel
/// serves one batch at a time.
struct Session {
    connection: Connection,
    channel: Channel,
}

/// A message ready for the wire.
pub(crate) struct Envelope<'a> {
    pub(crate) exchange: ShortString,
    pub(crate) routing_key: ShortString,
    pub(crate) message_id: String,
    pub(crate) properties: BasicProperties,
    pub(crate) body: &'a [u8],
}

impl OutgoingMessage {
    /// `event` addressed to the fanout exchange of `topology`, with its trace context as the
    /// `traceparent` header.
    pub fn order_event(topology: &Topology, event: &OrderEvent) -> OutgoingMessage {
        OutgoingMessage {
            exchange: topology.exchange(),
            // The bucket: each consumer service's shard exchange routes by it.
            routing_key: shard::routing_key(event.subject),
            message_id: event.id.to_string(),
            body: event.encode(),
            headers: event
                .traceparent
                .iter()
                .map(|traceparent| (TRACEPARENT.to_owned(), traceparent.clone()))
                .collect(),
        }
    }

    pub(crate) fn envelope(&self) -> Result<Envelope<'_>, AmqpError> {
        let mut headers = FieldTable::default();
        for (key, value) in &self.headers {
            headers.insert(
                short(key)?,
                lapin::types::AMQPValue::LongString(LongString::from(value.as_str())),
            );
        }
        Ok(Envelope {
            exchange: short(&self.exchange)?,
            routing_key: short(&self.routing_key)?,
            message_id: self.message_id.clone(),
            properties: persistent_json(&self.message_id)?.with_headers(headers),
            body: &self.body,
        })
    }
}

/// Properties every message gets: persistent, JSON, its id, and the time it was sent.
pub(crate) fn persistent_json(message_id: &str) -> Result<BasicProperties, AmqpError> {
    let sent_at = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    Ok(BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(short(message_id)?)
        .with_timestamp(sent_at))
}

impl ConfirmedPublisher {
    /// A publisher that will connect as `connection_name` on first use.
    pub fn new(settings: AmqpSettings, connection_name: &str) -> ConfirmedPublisher {
        ConfirmedPublisher::with_declaration(settings, connection_name, None)
    }

    /// A publisher that declares the namespace's fanout exchange and the queues of `consumers`
    /// on every connection it opens. A fanout exchange delivers only to the queues bound at that
    /// moment: declaring the consumers' durable queues here means an event published before a
    /// consumer first starts waits for it instead of missing it.
    pub fn declaring(
        settings: AmqpSettings,
        connection_name: &str,
        consumers: &[ServiceShards],
    ) -> ConfirmedPublisher {
        let topology = Topology::new(&settings.namespace);
        ConfirmedPublisher::with_declaration(
            settings,
            connection_name,
            Some((topology, consumers.to_vec())),
        )
    }

    fn with_declaration(
        settings: AmqpSettings,
        connection_name: &str,
        declares: Option<(Topology, Vec<ServiceShards>)>,
    ) -> ConfirmedPublisher {
        ConfirmedPublisher {
            inner: Arc::new(Inner {
                settings,
                connection_name: connection_name.to_owned(),
                session: Mutex::new(None),
                declares,
            }),
        }
    }

    /// Publishes one message; `Ok` only on the broker's ack with no return.
    pub async fn publish(&self, message: &OutgoingMessage) -> Result<(), PublishError> {
        self.publish_batch(std::slice::from_ref(message)).await
    }

    /// Publishes all, pipelined (a window of confirms in flight); `Ok` only if every message was
    /// acked and none returned. A nack, a return, an error or a timeout (`publish_timeout_ms`
    /// for any one step) fails the batch: re-send all of it (at-least-once).
    pub async fn publish_batch(&self, messages: &[OutgoingMessage]) -> Result<(), PublishError> {
        let envelopes = messages
            .iter()
            .map(OutgoingMessage::envelope)
            .collect::<Result<Vec<_>, _>>()
            .map_err(PublishError::Invalid)?;
        self.publish_envelopes(&envelopes).await
    }

    /// Connects now unless connected already, so the first publish does not pay for it.
    pub async fn connect(&self) -> Result<(), PublishError> {
        let timeout = Duration::from_millis(self.inner.settings.publish_timeout_ms);
        let mut slot = self.inner.session.lock().await;
        if !slot.as_ref().is_some_and(Session::is_usable) {
            *slot = Some(self.open_session(timeout).await?);
        }
        Ok(())
    }

    /// Closes the connection cleanly; a later publish connects again.
    pub async fn close(&self) {
        if let Some(session) = self.inner.session.lock().await.take() {
            connection::close(&session.connection, &[&session.channel]).await;
        }
    }

    pub(crate) async fn publish_envelopes(
        &self,
        envelopes: &[Envelope<'_>],
    ) -> Result<(), PublishError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.inner.settings.publish_timeout_ms);
        let mut slot = self.inner.session.lock().await;
        let session = match slot.take() {
            Some(session) if session.is_usable() => session,
            // A dropped connection is closed by lapin in the background.
            _ => self.open_session(timeout).await?,
        };
        let result = publish_pipelined(&session.channel, envelopes, timeout).await;
        match &result {
            // The channel's state is unknown: late confirms or returns must not leak into the
            // next batch, so the next call starts afresh.
            Err(error) if error.breaks_channel() => {
                tracing::warn!(%error, connection = %self.inner.connection_name, "dropping the publisher's connection");
            }
            _ => *slot = Some(session),
        }
        result
    }

    async fn open_session(&self, timeout: Duration) -> Result<Session, PublishError> {
        let connection = connect(&self.inner.settings, &self.inner.connection_name)
            .await
            .map_err(PublishError::Connect)?;
        let open = async {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        };
        let channel = match tokio::time::timeout(timeout, open).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(error)) => {
                return Err(PublishError::Connect(AmqpError::channel(
                    "opening the confirm channel",
                )(error)));
            }
            Err(_) => return Err(PublishError::Timeout(timeout)),
        };
        if let Some((topology, consumers)) = &self.inner.declares {
            let declare = async {
                topology.declare_exchange(&channel).await?;
                for consumer in consumers {
                    topology
                        .check_shard_count(&connection, &consumer.service, consumer.shards)
                        .await?;
                    topology
                        .declare_consumer(
                            &channel,
                            &consumer.service,
                            consumer.shards,
                            &self.inner.settings,
                        )
                        .await?;
                }
                Ok::<_, AmqpError>(())
            };
            match tokio::time::timeout(timeout, declare).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(PublishError::Connect(error)),
                Err(_) => return Err(PublishError::Timeout(timeout)),
            }
        }
        Ok(Session {
            connection,
            channel,
        })
    }
}

impl fmt::Debug for ConfirmedPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmedPublisher")
            .field("connection_name", &self.inner.connection_name)
            .finish_non_exhaustive()
    }
}

impl PublishError {
    /// True when the channel may be in an unknown state and must not be reused.
    fn breaks_channel(&self) -> bool {
        matches!(
            self,
            PublishError::Connect(_)
                | PublishError::Timeout(_)
                | PublishError::Channel(_)
                | PublishError::Unconfirmed
        )
    }
}

impl Session {
    fn is_usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

/// Publishes `envelopes` with up to [`CONFIRM_WINDOW`] confirms in flight. Returns at once on a
/// channel failure; a nack or a return is remembered while the remaining confirms are awaited,
/// so the channel is left clean for the next batch.
async fn publish_pipelined(
    channel: &Channel,
    envelopes: &[Envelope<'_>],
    timeout: Duration,
) -> Result<(), PublishError> {
    let mut in_flight: VecDeque<(PublisherConfirm, &Envelope<'_>)> =
        VecDeque::with_capacity(CONFIRM_WINDOW);
    let mut refused = None;
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    for envelope in envelopes {
        if in_flight.len() == CONFIRM_WINDOW
            && let Some((confirm, sent)) = in_flight.pop_front()
        {
            settle(confirm, sent, timeout, &mut refused).await?;
        }
        let publish = channel.basic_publish(
            envelope.exchange.clone(),
            envelope.routing_key.clone(),
            options,
            envelope.body,
            envelope.properties.clone(),
        );
        // Resolves once the frames are handed to the socket; a blocked connection stalls here.
        let confirm = tokio::time::timeout(timeout, publish)
            .await
            .map_err(|_| PublishError::Timeout(timeout))?
            .map_err(PublishError::Channel)?;
        in_flight.push_back((confirm, envelope));
    }
    while let Some((confirm, sent)) = in_flight.pop_front() {
        settle(confirm, sent, timeout, &mut refused).await?;
    }
    refused.map_or(Ok(()), Err)
}

/// Waits for one confirm; a nack or return goes into `refused` (the first one wins).
async fn settle(
    confirm: PublisherConfirm,
    sent: &Envelope<'_>,
    timeout: Duration,
    refused: &mut Option<PublishError>,
) -> Result<(), PublishError> {
    let confirmation = tokio::time::timeout(timeout, confirm)
        .await
        .map_err(|_| PublishError::Timeout(timeout))?
        .map_err(PublishError::Channel)?;
    let failure = match confirmation {
        Confirmation::Ack(None) => None,
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
            Some(PublishError::Returned {
                // The returned message's own id: the confirm carrying it may belong to another.
                message_id: returned
                    .properties
                    .message_id()
                    .as_ref()
                    .map(ToString::to_string),
                reply_code: returned.reply_code,
                reply_text: returned.reply_text.to_string(),
            })
        }
        Confirmation::Nack(None) => Some(PublishError::Nacked {
            message_id: sent.message_id.clone(),
        }),
        Confirmation::NotRequested => return Err(PublishError::Unconfirmed),
    };
    if refused.is_none() {
        *refused = failure;
    }
    Ok(())
}
