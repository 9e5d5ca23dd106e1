//! A broker namespace per test, so that tests run side by side on the shared RabbitMQ, and its
//! removal afterwards: quorum queues are heavy, and a few hundred left behind stop the broker.

use std::future::Future;

use shared_events::app::settings::AmqpSettings;
use shared_events::runtime::amqp::teardown;
use uuid::Uuid;

/// Every consuming service, for namespaces the whole platform used.
pub const ALL_SERVICES: [&str; 3] = ["inventory", "billing", "notification"];

/// A namespace no other test uses, `test-<uuid>`.
pub fn unique() -> String {
    format!("test-{}", Uuid::new_v4())
}

/// Deletes the queues of `services` and the exchanges of `amqp`'s namespace. Best effort: a
/// failure is printed, so that a test that failed already reports its own failure.
pub async fn delete(amqp: &AmqpSettings, services: &[&str]) {
    if let Err(error) = teardown::delete_namespace(amqp, services).await {
        eprintln!("could not delete namespace {}: {error}", amqp.namespace);
    }
}

/// [`delete`] from a `Drop`: on a thread with a runtime of its own, as there is no async
/// context to borrow there.
pub fn delete_blocking(amqp: &AmqpSettings, services: &[&'static str]) {
    let (amqp, services) = (amqp.clone(), services.to_vec());
    block_on_own_thread(async move { delete(&amqp, &services).await });
}

/// Runs `cleanup` to its end on a thread with a runtime of its own, for a `Drop` (which may run
/// while a test panics, outside any async context); a runtime that cannot start skips it.
pub fn block_on_own_thread(cleanup: impl Future<Output = ()> + Send + 'static) {
    let cleaner = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(cleanup);
    });
    let _ = cleaner.join();
}
