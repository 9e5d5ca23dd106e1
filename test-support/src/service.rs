//! A service application running on a task of the test's own runtime, stopped on demand or when
//! the test lets go of it.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A spawned application's task and the token that stops it; dropped, it cancels the token.
pub struct RunningService {
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    _stop_on_drop: DropGuard,
}

impl RunningService {
    /// Spawns `run` with a fresh shutdown token, as an application's `run(shutdown)` takes it.
    pub fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> RunningService
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(shutdown.clone()));
        RunningService {
            _stop_on_drop: shutdown.clone().drop_guard(),
            shutdown,
            task,
        }
    }

    /// Cancels the token and waits for the application, failing the test unless it stops
    /// cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let outcome = self.task.await.expect("the service task");
        outcome.expect("the service stops cleanly");
    }
}
