//! Retryable failures go through the delay tiers, waiting longer each time.

use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::helpers::{Running, SERVICE, Script, ScriptedHandler, TestBroker, wait_until};

/// Waits until `handler` has applied `id` ("the event is applied {after}"), stops `consumer`,
/// and returns when the handler was called for `id`.
async fn calls_once_applied(
    handler: &ScriptedHandler,
    consumer: Running,
    id: Uuid,
    after: &str,
) -> Vec<Instant> {
    wait_until(&format!("the event is applied {after}"), || {
        handler.applied().contains(&id)
    })
    .await;
    consumer.stop().await;
    handler.calls().remove(&id).expect("calls")
}

/// The time between each call and the next.
fn gaps(calls: &[Instant]) -> Vec<Duration> {
    calls.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

#[tokio::test]
async fn retryable_failures_walk_the_delay_tiers_with_growing_delays_then_apply() {
    // Four attempts allowed, three failures scripted; tiers far enough apart that a busy
    // machine's scheduling noise cannot reorder them.
    let broker = TestBroker::with_settings(|settings| {
        settings.retry_delays_ms = vec![100, 300, 900];
        settings.max_attempts = 4;
    })
    .await;
    let handler = ScriptedHandler::new(Script::FailRetryably(3));
    let consumer = broker.spawn_consumer(handler.clone());

    let events = broker.publish_events(1).await;
    let id = events[0].id;
    let calls = calls_once_applied(&handler, consumer, id, "after its retries").await;

    assert_eq!(calls.len(), 4, "three failures and one success: {calls:?}");
    let gaps = gaps(&calls);
    for (gap, tier) in gaps.iter().zip(&broker.settings.retry_delays_ms) {
        assert!(
            *gap >= Duration::from_millis(*tier),
            "a retry waits at least its tier ({tier} ms): gaps {gaps:?}"
        );
    }
    assert!(
        gaps.windows(2).all(|pair| pair[1] > pair[0]),
        "each retry waits longer than the one before: {gaps:?}"
    );
    for delay in &broker.settings.retry_delays_ms {
        assert_eq!(
            broker
                .ready(&broker.topology.retry_queue(SERVICE, *delay))
                .await,
            0
        );
    }
    assert_eq!(broker.dead_letters().await, 0, "not dead-lettered");
    broker.cleanup().await;
}

#[tokio::test]
async fn the_last_tier_repeats_when_attempts_outnumber_tiers() {
    let broker = TestBroker::with_settings(|settings| {
        settings.retry_delays_ms = vec![50, 150];
        settings.max_attempts = 5;
    })
    .await;
    let handler = ScriptedHandler::new(Script::FailRetryably(4));
    let consumer = broker.spawn_consumer(handler.clone());

    let id = broker.publish_events(1).await[0].id;
    let calls = calls_once_applied(&handler, consumer, id, "after four retries").await;

    assert_eq!(calls.len(), 5, "{calls:?}");
    let gaps = gaps(&calls);
    let expected_ms = [50, 150, 150, 150];
    for (gap, tier) in gaps.iter().zip(expected_ms) {
        assert!(
            *gap >= Duration::from_millis(tier),
            "gaps {gaps:?} against tiers {expected_ms:?}"
        );
    }
    broker.cleanup().await;
}
