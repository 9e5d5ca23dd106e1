//! Bounded waits: a test polls for what should happen and fails, naming it, when it does not.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long an effect may take to show before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(25);

/// Polls `probe` until it gives a value, failing the test naming `what` after [`DEADLINE`].
pub async fn until<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    until_within(what, DEADLINE, probe).await
}

/// Polls `probe` until it gives a value, failing the test naming `what` after `limit`.
pub async fn until_within<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `condition` until it holds, failing the test naming `what` after [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until(what, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await;
}
