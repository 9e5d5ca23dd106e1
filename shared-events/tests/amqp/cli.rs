//! The `failures` subcommand: list, list --json, replay, and clear errors.

use shared_events::runtime::failures::run_to;

use crate::helpers::{SERVICE, Script, TestBroker, wait_until};

fn args(words: &str) -> Vec<String> {
    words.split_whitespace().map(str::to_owned).collect()
}

/// Runs the command `words` on the test's namespace and failure log; what it printed.
async fn run(broker: &TestBroker, words: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let path = &broker.failure_log_path;
    run_to(&args(words), &broker.settings, path, SERVICE, &mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn list_and_replay_through_the_cli() {
    let broker = TestBroker::new().await;
    let (handler, consumer, log, drain) = broker.spawn_pipeline(Script::Permanent);
    let (event, record) = broker.one_failure(&log).await;

    let table = run(&broker, "failures list").await.expect("list");
    let table = String::from_utf8(table).expect("text");
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&record.id), "{table}");
    assert!(
        table.contains(&event.subject.to_string()),
        "the order id: {table}"
    );
    assert!(table.contains("permanent failure"), "{table}");

    let json = run(&broker, "list --json").await.expect("list --json");
    let listed: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], record.id.as_str());

    handler.fix();
    run(&broker, &format!("failures replay {}", record.id))
        .await
        .expect("replay");
    wait_until("the replayed event is applied", || {
        handler.applied().contains(&event.id)
    })
    .await;

    let table = run(&broker, "list").await.expect("list");
    assert!(String::from_utf8_lossy(&table).contains("1 (last published)"));

    consumer.stop().await;
    drain.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn bad_arguments_and_unknown_ids_are_clear_errors() {
    let broker = TestBroker::new().await;
    let cases = [
        ("failures frobnicate", "unknown arguments"),
        ("list --yaml", "unknown arguments"),
        ("replay", "unknown arguments"),
        ("replay a b", "unknown arguments"),
        ("replay --some", "unknown arguments"),
        ("replay nope", "does not exist"),
    ];
    for (words, expected) in cases {
        let error = run(&broker, words).await.expect_err(words);
        assert!(
            format!("{error:#}").contains(expected),
            "{words}: {error:#}"
        );
    }

    shared_events::storage::failure_log::FailureLog::open(&broker.failure_log_path)
        .expect("an empty log");
    let error = run(&broker, "replay nope").await.expect_err("unknown id");
    assert!(
        error.to_string().contains("no failure with id nope"),
        "{error:#}"
    );

    let out = run(&broker, "list").await.expect("empty list");
    assert!(String::from_utf8_lossy(&out).contains("no failures recorded"));
    let out = run(&broker, "--help").await.expect("help");
    assert!(String::from_utf8_lossy(&out).contains("usage"));
    broker.cleanup().await;
}
