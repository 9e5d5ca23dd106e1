//! The `order-bench` binary: parse the command line, run, print the table.

use std::io::Write;

use anyhow::Context;
use order_bench::cli::{Options, USAGE};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `order-bench seed DIR N`: a data directory to profile start-up or memory on by hand.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, dir, count] = args.as_slice()
        && command == "seed"
    {
        let count: usize = count
            .parse()
            .context("seed DIR N: N is a number of orders")?;
        let took = order_bench::seed::seed(std::path::Path::new(dir), count).await?;
        eprintln!("seeded {count} orders in {dir} in {took:.1?}");
        return Ok(());
    }
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
