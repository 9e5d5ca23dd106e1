//! W3C trace context: every change's event carries the `traceparent` of the request that made
//! it, so a consumer's work joins the request's trace.

use std::fmt::Write;

use uuid::Uuid;

/// A request's trace context, kept in its extensions by the request-id middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceContext {
    /// `00-<trace id>-<span id>-<flags>`.
    pub(crate) traceparent: String,
}

impl TraceContext {
    /// Continues the caller's trace from its `traceparent` header when that is well-formed,
    /// otherwise starts a new, sampled trace; either way with a span id of its own.
    pub(crate) fn continue_or_start(header: Option<&str>) -> TraceContext {
        let span_id = hex(&Uuid::new_v4().as_bytes()[..8]);
        let traceparent = match header.and_then(parse) {
            Some((trace_id, flags)) => format!("00-{trace_id}-{span_id}-{flags}"),
            None => format!("00-{}-{span_id}-01", hex(Uuid::new_v4().as_bytes())),
        };
        TraceContext { traceparent }
    }

    /// The trace id, for logs.
    pub(crate) fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }
}

/// The trace id and flags of a version-00 `traceparent`, if well-formed and not all zeros.
fn parse(header: &str) -> Option<(&str, &str)> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |text: &str, len: usize| {
        text.len() == len
            && text
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    };
    let well_formed = parts.next().is_none()
        && version == "00"
        && lower_hex(trace_id, 32)
        && lower_hex(parent_id, 16)
        && lower_hex(flags, 2)
        && trace_id.bytes().any(|byte| byte != b'0')
        && parent_id.bytes().any(|byte| byte != b'0');
    well_formed.then_some((trace_id, flags))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_header_keeps_its_trace_and_gets_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContext::continue_or_start(Some(incoming));
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(context.traceparent, incoming, "a span of its own");
        assert!(
            parse(&context.traceparent).is_some(),
            "{}",
            context.traceparent
        );
    }

    #[test]
    fn a_missing_or_malformed_header_starts_a_trace() {
        for header in [
            None,
            Some("garbage"),
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        ] {
            let context = TraceContext::continue_or_start(header);
            assert!(
                parse(&context.traceparent).is_some(),
                "{header:?}: {}",
                context.traceparent
            );
            assert_ne!(
                context.trace_id(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{header:?}"
            );
        }
    }
}
