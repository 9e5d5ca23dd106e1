//! `trace_id` and `span_id` on every log line written in an exported span, so that a line leads
//! to its trace and a trace to its lines.

use std::fmt;

use opentelemetry::TraceId;
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OtelData;
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// An event format that adds the ids of the span an event is written in: first in a JSON
/// object, last on a text line.
#[derive(Debug)]
pub(crate) struct WithTraceIds<F> {
    inner: F,
}

impl<F> WithTraceIds<F> {
    pub(crate) fn new(inner: F) -> WithTraceIds<F> {
        WithTraceIds { inner }
    }
}

/// Where the ids go in what a format writes.
trait Placement {
    /// Writes `line` (one formatted event, with its line break) with the ids in it.
    fn place(line: &str, trace_id: &str, span_id: &str, writer: &mut Writer<'_>) -> fmt::Result;
}

impl<T> Placement for Format<Full, T> {
    fn place(line: &str, trace_id: &str, span_id: &str, writer: &mut Writer<'_>) -> fmt::Result {
        let body = line.strip_suffix('\n').unwrap_or(line);
        writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}")
    }
}

impl<T> Placement for Format<Json, T> {
    fn place(line: &str, trace_id: &str, span_id: &str, writer: &mut Writer<'_>) -> fmt::Result {
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            None => writer.write_str(line),
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N> + Placement,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = ids(ctx) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        F::place(&line, &trace_id, &span_id, &mut writer)
    }
}

/// The ids of the innermost exported span the event is written in.
fn ids<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<(String, String)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let span = ctx.parent_span()?;
    span.scope().find_map(|span| {
        let extensions = span.extensions();
        let data = extensions.get::<OtelData>()?;
        let trace_id = data.trace_id().filter(|id| *id != TraceId::INVALID)?;
        Some((trace_id.to_string(), data.span_id()?.to_string()))
    })
}
