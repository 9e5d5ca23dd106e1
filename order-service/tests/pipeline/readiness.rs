//! Readiness tells the truth about the broker: each consumer answers 503 while the broker is
//! cut off and 200 again once it is back. The order service stays ready meanwhile (its outbox
//! takes orders while the broker is away, which is what it is for) and its readiness shows the
//! relay failing.

use std::time::Duration;

use test_support::proxy::TcpProxy;
use test_support::wait::until_within;

use crate::helpers::{Platform, Service, Wiring, order, send};

/// How long a probe may take to follow the broker: the cut is seen at once, a reconnection
/// within about two seconds.
const FOLLOWS: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_are_unready_while_the_broker_is_cut_off_and_ready_once_it_is_back() {
    // Arrange: every service reaches the broker through a proxy the test controls.
    let proxy = TcpProxy::to_broker().await;
    let platform = Platform::start(Wiring::through(&proxy)).await;
    let consumers = [
        &platform.inventory,
        &platform.billing,
        &platform.notification,
    ];
    for consumer in consumers {
        assert_eq!(
            readiness(&platform, consumer).await.0,
            200,
            "{}",
            consumer.url
        );
    }

    // Act: the broker goes away.
    proxy.take_down();

    // Assert: every consumer says so, the order service still takes orders.
    for consumer in consumers {
        until_within("the consumer to answer 503", FOLLOWS, || async {
            let (status, body) = readiness(&platform, consumer).await;
            (status == 503).then_some(body)
        })
        .await;
    }
    let (_, body) = readiness(&platform, &platform.inventory).await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("broker"), "the 503 says why: {body}");
    let created = platform
        .create(&order("Ada", None, &[("widget", 1, "2.50")]))
        .await;
    until_within("the relay to report the failure", FOLLOWS, || async {
        let readiness = platform.order_readiness().await;
        (readiness["outbox"]["relay"]["failed_attempts"].as_u64() > Some(0)).then_some(())
    })
    .await;
    assert_eq!(
        readiness(&platform, &platform.orders).await.0,
        200,
        "the order service stays ready: its outbox holds the events"
    );

    // Act: the broker comes back.
    proxy.bring_up();

    // Assert: ready again, and the order made meanwhile arrives.
    for consumer in consumers {
        until_within("the consumer to be ready again", FOLLOWS, || async {
            (readiness(&platform, consumer).await.0 == 200).then_some(())
        })
        .await;
    }
    let path = format!("/invoices/{}", created["order_id"].as_str().expect("an id"));
    until_within(
        "the invoice of the order made meanwhile",
        FOLLOWS,
        || async { platform.read(&platform.billing, &path).await },
    )
    .await;
    platform.stop().await;
}

/// `GET /health/ready` of `service`: its status and JSON body.
async fn readiness(platform: &Platform, service: &Service) -> (u16, serde_json::Value) {
    let response = send(platform.client.get(format!("{}/health/ready", service.url))).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}
