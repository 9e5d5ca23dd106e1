//! actix's HTTP/1 dispatcher logs at ERROR how a connection ended when a client sent a request
//! it could not parse (answered 400), a request head over the limit (431), sent it too slowly
//! (408) or went away: the client's mistakes or choices, not the service's. This filter keeps
//! those lines out of the log unless the log is at debug level, where they help find a client.

use tracing::Level;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Filter};

/// The target of the lines this filter is about.
const DISPATCHER: &str = "actix_http::h1::dispatcher";

/// How the dispatcher's line about a connection ended by an error begins.
const STREAM_ERROR: &str = "stream error";

/// Drops the dispatcher's "stream error" lines unless `show` (the log is at debug level).
pub(super) struct ClientConnectionErrors {
    pub(super) show: bool,
}

impl<S> Filter<S> for ClientConnectionErrors {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _: &Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if self.show || metadata.target() != DISPATCHER || *metadata.level() != Level::ERROR {
            return true;
        }
        let mut message = MessageStart::default();
        event.record(&mut message);
        !message.is_stream_error
    }
}

/// Whether an event's message begins with [`STREAM_ERROR`].
#[derive(Default)]
struct MessageStart {
    is_stream_error: bool,
}

impl Visit for MessageStart {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.is_stream_error = format!("{value:?}").starts_with(STREAM_ERROR);
        }
    }
}
