//! The services' logs in the test output, only when asked for: `TEST_LOG=1 cargo test`.

/// Sends logs to the test output when `TEST_LOG` is set, filtered by its value (`info` for `1`).
pub fn init() {
    let Ok(filter) = std::env::var("TEST_LOG") else {
        return;
    };
    let filter = match filter.as_str() {
        "" | "1" => "info,lapin=warn".to_owned(),
        _ => filter,
    };
    // Every test calls this; only the first installs the subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_test_writer()
        .try_init();
}
