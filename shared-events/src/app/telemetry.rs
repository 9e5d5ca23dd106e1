//! Logs through `tracing`: human-readable by default, JSON for collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::app::settings::{LogFormat, LogSettings};

/// lapin logs every channel the broker closes at ERROR, a passive declaration's expected "no
/// such queue" included (the shard-count check makes one at every start), and every channel
/// still closing when its connection goes. The services report the broker's errors that matter
/// themselves, with what they were doing.
const QUIET_LAPIN: &str = "lapin::channel=off,lapin::channels=off";

/// Installs the global subscriber; `RUST_LOG`, when set, overrides the configured level.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},{QUIET_LAPIN}", settings.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(std::io::stdout().is_terminal());
    // A second call (tests start several services) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
