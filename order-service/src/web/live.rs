//! `GET /ui/orders/{id}/live`: server-sent events that carry the order's timeline fragment, on
//! connect and again whenever the timeline changes, so the page follows deliveries without a
//! reload.
//!
//! Each message is `event: timeline` with the fragment as its data, plus a comment line every
//! 15 seconds, which keeps proxies from closing an idle connection and lets the server notice
//! a client that went away: the write fails, actix drops the stream and with it the
//! subscription.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::deliveries::Deliveries;
use crate::store::{OrderStore, WriteError};
use crate::web::error::{WebError, order_id};
use crate::web::timeline;

/// The live streams' signal that the service is stopping: they end, so that a graceful stop
/// does not wait for them.
pub struct Stopping(pub CancellationToken);

/// How often an idle stream sends a comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /ui/orders/{id}/live`. An order that is gone but has a timeline still streams it, as
/// `GET /orders/{id}/deliveries` still shows it.
pub(crate) async fn stream(
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    deliveries: web::Data<Deliveries>,
    stopping: web::Data<Stopping>,
) -> Result<HttpResponse, WebError> {
    let id = order_id(&id)?;
    if store.get(id).is_none() && deliveries.timeline(id).is_none() {
        return Err(WriteError::NotFound(id).into());
    }
    // Subscribed before the first fragment is rendered, so no change falls in between.
    let changes = deliveries.subscribe();
    let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let live = Live {
        order_id: id,
        deliveries: deliveries.get_ref().clone(),
        changes,
        keep_alive,
        started: false,
        stopping: stopping.0.clone(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Proxies such as nginx would otherwise hold the events back in their buffers.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream::unfold(live, Live::next_message)))
}

/// One client's stream.
struct Live {
    order_id: Uuid,
    deliveries: Deliveries,
    changes: broadcast::Receiver<Uuid>,
    keep_alive: Interval,
    started: bool,
    /// Cancelled when the service stops: the stream ends (the browser reconnects to the next
    /// server) rather than holding the graceful stop.
    stopping: CancellationToken,
}

/// What woke the stream.
enum Wake {
    Changed(Result<Uuid, RecvError>),
    KeepAlive,
}

impl Live {
    /// The next message, or `None` to end the stream.
    async fn next_message(mut self) -> Option<(Result<Bytes, Infallible>, Live)> {
        if !self.started {
            self.started = true;
            let message = self.timeline_message();
            return Some((Ok(message), self));
        }
        loop {
            let wake = tokio::select! {
                () = self.stopping.cancelled() => return None,
                changed = self.changes.recv() => Wake::Changed(changed),
                _ = self.keep_alive.tick() => Wake::KeepAlive,
            };
            let message = match wake {
                Wake::Changed(Ok(order)) if order != self.order_id => continue,
                // Lagged: some announcements were lost, so this order may have changed.
                Wake::Changed(Ok(_) | Err(RecvError::Lagged(_))) => self.timeline_message(),
                // No announcements can come any more (this stream holds a sender, so this is
                // not expected); the browser reconnects and starts afresh.
                Wake::Changed(Err(RecvError::Closed)) => return None,
                Wake::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
            };
            return Some((Ok(message), self));
        }
    }

    fn timeline_message(&self) -> Bytes {
        let timeline = self.deliveries.timeline(self.order_id);
        let html = timeline::fragment(timeline.as_ref()).into_string();
        Bytes::from(event("timeline", &html))
    }
}

/// One server-sent event. A line break would end the `data` field, so every line of `data`
/// gets a `data:` field of its own; the browser joins them with line breaks again.
fn event(name: &str, data: &str) -> String {
    let mut message = format!("event: {name}\n");
    for line in data.split("\r\n").flat_map(|line| line.split(['\r', '\n'])) {
        message.push_str("data: ");
        message.push_str(line);
        message.push('\n');
    }
    message.push('\n');
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_data_has_its_own_field() {
        assert_eq!(
            event("timeline", "<p>a</p>"),
            "event: timeline\ndata: <p>a</p>\n\n"
        );
        assert_eq!(
            event("timeline", "<p>one\r\ntwo\rthree\nfour</p>"),
            "event: timeline\ndata: <p>one\ndata: two\ndata: three\ndata: four</p>\n\n"
        );
    }
}
