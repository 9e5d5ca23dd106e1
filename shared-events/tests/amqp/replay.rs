//! Replaying a recorded failure once its cause is fixed.

use shared_events::runtime::amqp::replay::{ReplayTarget, replay};
use shared_events::runtime::replay_log::ReplaySelection;
use shared_events::storage::failure_log::{FailureLog, ReplayOutcome};

use crate::helpers::{SERVICE, Script, TestBroker, wait_for_records, wait_until};

#[tokio::test]
async fn a_replayed_failure_is_delivered_once_and_the_record_shows_it() {
    let broker = TestBroker::new().await;
    let (handler, consumer, log, drain) = broker.spawn_pipeline(Script::Permanent);
    let (event, record) = broker.one_failure(&log).await;
    assert!(handler.applied().is_empty());

    handler.fix();
    let replayed = replay_to_work_queue(&broker, &log, ReplaySelection::One(record.id.clone()))
        .await
        .expect("replays");

    assert_eq!(replayed, 1);
    wait_until("the replayed event is applied", || {
        handler.applied().contains(&event.id)
    })
    .await;
    let records = log.records().expect("records");
    assert_eq!(records.len(), 1, "the replay succeeded, so no new failure");
    assert_eq!(records[0].replays.len(), 1);
    assert_eq!(records[0].replays[0].outcome, ReplayOutcome::Published);
    assert!(records[0].is_replayed());
    assert_eq!(
        handler.calls()[&event.id].len(),
        2,
        "one failure, then the replay, once"
    );

    // Replaying everything skips what was replayed already.
    let again = replay_to_work_queue(&broker, &log, ReplaySelection::All)
        .await
        .expect("replays all");
    assert_eq!(again, 0);

    consumer.stop().await;
    drain.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn replaying_an_unknown_id_is_a_clear_error() {
    let broker = TestBroker::new().await;
    let log = FailureLog::open(&broker.failure_log_path).expect("opens");

    let error = replay_to_work_queue(&broker, &log, ReplaySelection::One("nope".to_owned()))
        .await
        .expect_err("unknown id");

    assert!(
        error.to_string().contains("no failure with id nope"),
        "{error}"
    );
    broker.cleanup().await;
}

#[tokio::test]
async fn replaying_all_sends_every_open_failure() {
    let broker = TestBroker::new().await;
    let (handler, consumer, log, drain) = broker.spawn_pipeline(Script::Permanent);
    let events = broker.publish_events(3).await;
    wait_for_records(&log, 3).await;

    handler.fix();
    let replayed = replay_to_work_queue(&broker, &log, ReplaySelection::All)
        .await
        .expect("replays");

    assert_eq!(replayed, 3);
    wait_until("all three are applied", || handler.applied().len() == 3).await;
    for event in &events {
        assert!(handler.applied().contains(&event.id));
    }
    assert!(
        log.records()
            .expect("records")
            .iter()
            .all(|record| record.is_replayed())
    );
    consumer.stop().await;
    drain.stop().await;
    broker.cleanup().await;
}

/// Replays `selection` of `log` into the work queue of [`SERVICE`]; how many were published.
async fn replay_to_work_queue(
    broker: &TestBroker,
    log: &FailureLog,
    selection: ReplaySelection,
) -> anyhow::Result<usize> {
    let target = ReplayTarget::Service(SERVICE.to_owned());
    replay(&broker.settings, &target, "replay-tests", log, selection).await
}
