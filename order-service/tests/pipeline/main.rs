//! The whole event pipeline: the order service and the three consumers against the real broker.

mod helpers;

mod crash;
mod end_to_end;
mod outage;
mod readiness;
mod unroutable;
