//! The span of one group commit (one append and one fsync for a batch of changes), when traces
//! are exported. A batch serves several requests, each in a trace of its own: the span
//! continues the trace of the first change and links to the others'. A commit that carries no
//! request's change (the relay's marks alone) is not traced: it would be a trace of its own.

use shared_events::app::telemetry::{self, TraceContext, context};

use crate::SERVICE;
use crate::store::writer::Command;

/// At most this many other changes' traces are linked from one commit.
const MAX_LINKS: usize = 32;

/// The span of committing `batch`; its `records` are recorded once known. A disabled span
/// unless traces are exported.
pub(crate) fn commit_span(batch: &[Command]) -> tracing::Span {
    telemetry::when_exporting(|| {
        let mut traces = batch
            .iter()
            .filter_map(Command::traceparent)
            .map(|traceparent| TraceContext::from_traceparent(Some(traceparent)));
        let Some(first) = traces.next() else {
            return tracing::Span::none();
        };
        let span = tracing::info_span!(
            "journal commit",
            commands = batch.len(),
            records = tracing::field::Empty
        );
        context::continue_in(&span, SERVICE, &first);
        for other in traces.take(MAX_LINKS) {
            context::link(&span, &other);
        }
        span
    })
}

impl Command {
    /// The trace context of the request behind a change.
    fn traceparent(&self) -> Option<&str> {
        match self {
            Command::Create { origin, .. }
            | Command::Update { origin, .. }
            | Command::Delete { origin, .. } => origin.traceparent.as_deref(),
            Command::MarkPublished { .. }
            | Command::Shutdown { .. }
            | Command::FinishCompaction { .. } => None,
        }
    }
}
