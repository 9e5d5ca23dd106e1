//! The `order-bench` binary: parse the command line, run, print the table.

use std::io::Write;

use anyhow::Context;
use order_bench::cli::{Options, USAGE};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        eprintln!("{USAGE}");
        return Ok(());
    };
    let report = order_bench::run(&options).await?;
    let table = report.to_markdown();
    if let Some(path) = &options.out {
        std::fs::write(path, &table)
            .with_context(|| format!("failed to write {}", path.display()))?;
        eprintln!("table written to {}", path.display());
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(table.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
