//! The `failures` subcommand: list, list --json, replay, and clear errors.

use shared_events::runtime::failures::run_to;

use crate::helpers::{SERVICE, Script, ScriptedHandler, TestBroker, wait_for_records, wait_until};

fn args(words: &str) -> Vec<String> {
    words.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test]
async fn list_and_replay_through_the_cli() {
    let broker = TestBroker::new().await;
    let handler = ScriptedHandler::new(Script::Permanent);
    let consumer = broker.spawn_consumer(handler.clone());
    let (log, drain) = broker.spawn_drain();
    let event = broker.publish_events(1).await.remove(0);
    let record = wait_for_records(&log, 1).await.remove(0);
    let path = broker.failure_log_path.clone();

    let mut table = Vec::new();
    run_to(
        &args("failures list"),
        &broker.settings,
        &path,
        SERVICE,
        &mut table,
    )
    .await
    .expect("list");
    let table = String::from_utf8(table).expect("text");
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&record.id), "{table}");
    assert!(
        table.contains(&event.subject.to_string()),
        "the order id: {table}"
    );
    assert!(table.contains("permanent failure"), "{table}");

    let mut json = Vec::new();
    run_to(
        &args("list --json"),
        &broker.settings,
        &path,
        SERVICE,
        &mut json,
    )
    .await
    .expect("list --json");
    let listed: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], record.id.as_str());

    handler.fix();
    let mut out = Vec::new();
    run_to(
        &args(&format!("failures replay {}", record.id)),
        &broker.settings,
        &path,
        SERVICE,
        &mut out,
    )
    .await
    .expect("replay");
    wait_until("the replayed event is applied", || {
        handler.applied().contains(&event.id)
    })
    .await;

    let mut table = Vec::new();
    run_to(&args("list"), &broker.settings, &path, SERVICE, &mut table)
        .await
        .expect("list");
    assert!(String::from_utf8_lossy(&table).contains("1 (last published)"));

    consumer.stop().await;
    drain.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn bad_arguments_and_unknown_ids_are_clear_errors() {
    let broker = TestBroker::new().await;
    let path = broker.failure_log_path.clone();
    let cases = [
        ("failures frobnicate", "unknown arguments"),
        ("list --yaml", "unknown arguments"),
        ("replay", "unknown arguments"),
        ("replay a b", "unknown arguments"),
        ("replay --some", "unknown arguments"),
        ("replay nope", "does not exist"),
    ];
    for (words, expected) in cases {
        let mut out = Vec::new();
        let error = run_to(&args(words), &broker.settings, &path, SERVICE, &mut out)
            .await
            .expect_err(words);
        assert!(
            format!("{error:#}").contains(expected),
            "{words}: {error:#}"
        );
    }

    shared_events::storage::failure_log::FailureLog::open(&path).expect("an empty log");
    let mut out = Vec::new();
    let error = run_to(
        &args("replay nope"),
        &broker.settings,
        &path,
        SERVICE,
        &mut out,
    )
    .await
    .expect_err("unknown id");
    assert!(
        error.to_string().contains("no failure with id nope"),
        "{error:#}"
    );

    let mut out = Vec::new();
    run_to(&args("list"), &broker.settings, &path, SERVICE, &mut out)
        .await
        .expect("empty list");
    assert!(String::from_utf8_lossy(&out).contains("no failures recorded"));
    let mut out = Vec::new();
    run_to(&args("--help"), &broker.settings, &path, SERVICE, &mut out)
        .await
        .expect("help");
    assert!(String::from_utf8_lossy(&out).contains("usage"));
    broker.cleanup().await;
}
