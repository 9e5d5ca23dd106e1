//! The embedded transport's own files, damaged: a replay-inbox file that is not an event is
//! set aside and the platform goes on; a damaged offset stops the platform with a clear error
//! rather than handing every event over again from the start.

use order_platform::{Platform, TransportKind};
use test_support::namespace;
use test_support::smtp::SmtpServer;
use test_support::wait::wait_until;

use crate::helpers::{TestPlatform, settings};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_file_that_is_not_an_event_is_set_aside() {
    // Arrange
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = settings(
        TransportKind::Embedded,
        dir.path(),
        &namespace::unique(),
        &smtp.url(),
    );
    let inbox = settings.notification.data_dir.join("replay-inbox");
    std::fs::create_dir_all(&inbox).expect("the inbox");
    std::fs::write(inbox.join("bad.json"), b"{not an event").expect("a bad file");

    // Act
    let platform = TestPlatform::start(settings).await;

    // Assert
    wait_until("the bad file to be set aside", || async {
        inbox.join("bad.json.rejected").exists() && !inbox.join("bad.json").exists()
    })
    .await;
    let order = platform.create("Ada", &[("pen", 1, "1.50")]).await;
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    platform.wait_applied(&order_id, 1).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_offset_stops_the_platform_with_a_clear_error() {
    // Arrange
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = settings(
        TransportKind::Embedded,
        dir.path(),
        &namespace::unique(),
        "smtp://127.0.0.1:1",
    );
    std::fs::create_dir_all(&settings.billing.data_dir).expect("the billing directory");
    let offset = settings.billing.data_dir.join("offset.json");
    std::fs::write(&offset, b"{\"through\": ").expect("a torn offset");

    // Act
    let platform = Platform::build(settings)
        .await
        .expect("the platform builds");
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        platform.run(CancellationToken::new()),
    )
    .await
    .expect("the platform stops by itself");

    // Assert
    let error = format!("{:#}", result.expect_err("a damaged offset is an error"));
    assert!(error.contains("offset.json is damaged"), "{error}");
    assert_eq!(
        std::fs::read(&offset).expect("the offset"),
        b"{\"through\": ",
        "the damaged file is left for an operator to look at"
    );
}
