//! An order's history and delivery timeline as an HTML fragment: one entry per version (event),
//! and for each, its publication and what every consuming service did with it.
//!
//! The order page embeds the fragment and the live stream sends it again whenever the timeline
//! changes, both from [`fragment`], so the two cannot drift apart. Each (event, service) is one
//! element with `data-service`, `data-status` and `data-sequence`, for people's styles and
//! for browser tests alike.

use maud::{Markup, html};

use crate::deliveries::{EventTimeline, OrderTimeline, ServiceDelivery};
use crate::web::layout;

/// The fragment for `timeline` (`None`: nothing known yet). Its root carries
/// `data-latest-sequence`, the newest version it knows, so the page can tell that the order
/// changed since it was loaded.
pub(crate) fn fragment(timeline: Option<&OrderTimeline>) -> Markup {
    let events = timeline.map_or(&[][..], |timeline| timeline.events.as_slice());
    let latest = events.iter().map(|event| event.sequence).max().unwrap_or(0);
    html! {
        div.timeline-body data-latest-sequence=(latest) {
            @if events.is_empty() {
                p #no-events { "No events recorded for this order yet." }
            } @else {
                ol.timeline {
                    @for event in events { (event_entry(event)) }
                }
            }
        }
    }
}

fn event_entry(event: &EventTimeline) -> Markup {
    html! {
        li.event data-sequence=(event.sequence) data-event-type=(event.event_type.as_str()) {
            h3 { "Version " (event.sequence) ": " (event.event_type.as_str()) }
            p.meta {
                "Changed " (layout::time(event.event_time))
                @if let Some(name) = &event.changed_by {
                    " by " span.changed-by { (name) }
                }
                ". "
                @match event.published_at {
                    Some(at) => span.publication data-published="true" {
                        "Published " (layout::time(at)) "."
                    },
                    None => span.publication data-published="false" { "Not published yet." },
                }
            }
            ul.deliveries {
                @for delivery in &event.services { (delivery_entry(event.sequence, delivery)) }
            }
        }
    }
}

fn delivery_entry(sequence: u64, delivery: &ServiceDelivery) -> Markup {
    html! {
        li.delivery data-service=(delivery.service) data-status=(delivery.status)
            data-sequence=(sequence) {
            span.service { (delivery.service) }
            " "
            span class={ "badge status-" (delivery.status) } { (delivery.status) }
            @if let Some(at) = delivery.at { " " (layout::time(at)) }
            @if delivery.attempts > 1 { " after " (delivery.attempts) " attempts" }
            @if let Some(detail) = &delivery.detail { p.detail { (detail) } }
            @if delivery.history.len() > 1 {
                details {
                    summary { "Every report (" (delivery.history.len()) ")" }
                    ol {
                        @for attempt in &delivery.history {
                            li {
                                (attempt.status.as_str()) " " (layout::time(attempt.at))
                                ", attempt " (attempt.attempts)
                                @if let Some(detail) = &attempt.detail { ": " (detail) }
                            }
                        }
                    }
                }
            }
        }
    }
}
