//! A service's long-running parts under one shutdown: whichever ends first, expected or not,
//! stops the rest, and the first failure is the service's result.

use std::collections::HashMap;
use std::future::Future;

use anyhow::anyhow;
use tokio::task::{self, JoinSet};
use tokio_util::sync::CancellationToken;

/// A service's long-running parts, by name, so that whichever ends can be named.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<anyhow::Result<()>>,
    names: HashMap<task::Id, &'static str>,
}

impl Tasks {
    /// Starts `task` under `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let id = self.set.spawn(task).id();
        self.names.insert(id, name);
    }

    /// Runs until `shutdown` is cancelled or one task ends on its own (which is a failure even
    /// when it returns `Ok`: nothing here is meant to end by itself). Then cancels `shutdown`,
    /// awaits `stop` (which stops what does not follow the token, such as an HTTP server,
    /// gracefully), and waits for every task to end. The first failure is the result.
    pub async fn run_until_stopped<Stop>(
        mut self,
        shutdown: CancellationToken,
        stop: impl FnOnce() -> Stop,
    ) -> anyhow::Result<()>
    where
        Stop: Future<Output = ()>,
    {
        let mut outcome = Ok(());
        tokio::select! {
            () = shutdown.cancelled() => tracing::info!("stopping"),
            Some((task, result)) = self.next() => match result {
                // Asked to stop, it was merely quicker than this select to notice.
                Ok(()) if shutdown.is_cancelled() => tracing::info!(task, "stopped"),
                result => {
                    let error = result.err().unwrap_or_else(|| anyhow!("it stopped without being asked"));
                    tracing::error!(task, error = format!("{error:#}"), "stopped first; stopping the rest");
                    outcome = Err(error.context(format!("the {task} stopped")));
                }
            }
        }
        shutdown.cancel();
        stop().await;
        while let Some((task, result)) = self.next().await {
            match result {
                Ok(()) => tracing::info!(task, "stopped"),
                Err(error) => {
                    tracing::error!(task, error = format!("{error:#}"), "failed while stopping");
                    if outcome.is_ok() {
                        outcome = Err(error.context(format!("the {task} failed while stopping")));
                    }
                }
            }
        }
        outcome
    }

    /// The next task to end, by name, with its result (a panic as an error).
    async fn next(&mut self) -> Option<(&'static str, anyhow::Result<()>)> {
        let (id, result) = match self.set.join_next_with_id().await? {
            Ok((id, result)) => (id, result),
            Err(error) => (error.id(), Err(anyhow!("it panicked: {error}"))),
        };
        Some((self.names.get(&id).copied().unwrap_or("task"), result))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_on_its_own_stops_the_rest_and_is_named() {
        let shutdown = CancellationToken::new();
        let mut tasks = Tasks::default();
        let token = shutdown.clone();
        tasks.spawn("waiter", async move {
            token.cancelled().await;
            Ok(())
        });
        tasks.spawn("quitter", async { Ok(()) });
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            tasks.run_until_stopped(shutdown.clone(), || async {}),
        )
        .await
        .expect("stops promptly");
        let error = result.expect_err("an unexpected end is a failure");
        assert!(
            format!("{error:#}").contains("the quitter stopped"),
            "{error:#}"
        );
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn cancelling_stops_everything_and_calls_stop() {
        let shutdown = CancellationToken::new();
        let mut tasks = Tasks::default();
        let token = shutdown.clone();
        tasks.spawn("waiter", async move {
            token.cancelled().await;
            Ok(())
        });
        let stopped = CancellationToken::new();
        shutdown.cancel();
        let flag = stopped.clone();
        tasks
            .run_until_stopped(shutdown, || async move { flag.cancel() })
            .await
            .expect("a requested stop is a success");
        assert!(stopped.is_cancelled());
    }
}
