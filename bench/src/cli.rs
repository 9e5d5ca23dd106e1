//! The command line: the mode, the load's shape, what to skip, where to write the table.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

/// What `--help` prints.
pub const USAGE: &str = "\
order-bench: measures the order platform beside its references (json-server, the broker's own
ceiling), in one run on one machine, and prints one Markdown table.

Usage: order-bench [--quick] [--connections N] [--duration SECS] [--sizes N,N,...]
                   [--skip creates|json-server|broker|pipeline|notification-scale|startup]...
                   [--out FILE] [--no-build] [--with-token]
       order-bench seed DIR N   (a data directory with N orders, kept, to profile by hand)

  --quick            the short mode (under two minutes): 3 s per measurement, sizes 0,100000,
                     a short rate search for the pipeline, 1,500 events for
                     notification-scale (full: 6,000)
  --connections N    HTTP connections of the closed-loop create load (default 16)
  --duration SECS    length of each measurement, after a 1 s warm-up (quick: 3, full: 10)
  --sizes LIST       orders stored before the create benchmark (quick: 0,100000;
                     full: 0,100000,1000000); startup is measured with the largest
  --skip WHAT        leave out a part; may be repeated
  --out FILE         also write the Markdown table to FILE
  --with-token       the creates carry a clerk's bearer token, checked against a tokens file,
                     to measure what the authentication costs
  --no-build         do not run `cargo build --release -p order-service -p order-platform
                     -p notification-service` first; the binaries beside order-bench are used
                     as they are

Progress goes to standard error, the table to standard output. The broker is
ORDERS__AMQP__URL or amqp://guest:guest@127.0.0.1:5672/%2f; json-server runs through npx.
Scratch data lives in target/bench/ and is removed at the end.";

/// The parts of a run that `--skip` can leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Durable creates at each size.
    Creates,
    /// json-server 0.17.4, the file-backed reference.
    JsonServer,
    /// The broker's own ceiling.
    Broker,
    /// The whole pipeline's highest sustained rate.
    Pipeline,
    /// Notification throughput with 1 and with 3 replicas.
    NotificationScale,
    /// Startup time and memory with the largest size stored.
    Startup,
}

/// Everything a run is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The short mode.
    pub quick: bool,
    /// Connections of the closed-loop create load.
    pub connections: usize,
    /// Length of each measurement.
    pub duration: Duration,
    /// Orders stored before each create measurement.
    pub sizes: Vec<usize>,
    /// Parts left out.
    pub skip: Vec<Part>,
    /// Where to write the table as well.
    pub out: Option<PathBuf>,
    /// Whether to build the service binaries first.
    pub build: bool,
    /// Whether the creates carry a bearer token (the service then has a tokens file).
    pub with_token: bool,
}

impl Part {
    fn parse(word: &str) -> anyhow::Result<Part> {
        Ok(match word {
            "creates" => Part::Creates,
            "json-server" => Part::JsonServer,
            "broker" => Part::Broker,
            "pipeline" => Part::Pipeline,
            "notification-scale" => Part::NotificationScale,
            "startup" => Part::Startup,
            other => bail!(
                "--skip takes creates, json-server, broker, pipeline, notification-scale or \
                 startup, not `{other}`"
            ),
        })
    }
}

impl Options {
    /// Parses `args` (without the program name); `None` when `--help` was asked for.
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Options>> {
        let mut quick = false;
        let mut connections = 16;
        let mut duration = None;
        let mut sizes = None;
        let mut skip = Vec::new();
        let mut out = None;
        let mut build = true;
        let mut with_token = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "-h" | "--help" => return Ok(None),
                "--quick" => quick = true,
                "--no-build" => build = false,
                "--with-token" => with_token = true,
                "--connections" => {
                    connections = value("--connections")?
                        .parse()
                        .context("--connections takes a whole number")?;
                    if connections == 0 {
                        bail!("--connections must be at least 1");
                    }
                }
                "--duration" => {
                    let secs: f64 = value("--duration")?
                        .parse()
                        .context("--duration takes a number of seconds")?;
                    if !(secs > 0.0 && secs <= 3600.0) {
                        bail!("--duration must be between 0 and 3600 seconds");
                    }
                    duration = Some(Duration::from_secs_f64(secs));
                }
                "--sizes" => sizes = Some(parse_sizes(&value("--sizes")?)?),
                "--skip" => skip.push(Part::parse(&value("--skip")?)?),
                "--out" => out = Some(PathBuf::from(value("--out")?)),
                other => bail!("unknown argument `{other}`\n\n{USAGE}"),
            }
        }
        let default_sizes = if quick {
            vec![0, 100_000]
        } else {
            vec![0, 100_000, 1_000_000]
        };
        Ok(Some(Options {
            quick,
            connections,
            duration: duration.unwrap_or_else(|| Duration::from_secs(if quick { 3 } else { 10 })),
            sizes: sizes.unwrap_or(default_sizes),
            with_token,
            skip,
            out,
            build,
        }))
    }

    /// Whether `part` runs.
    pub fn runs(&self, part: Part) -> bool {
        !self.skip.contains(&part)
    }

    /// Events the notification-scale part publishes for each replica count.
    pub fn scale_events(&self) -> usize {
        if self.quick { 1_500 } else { 6_000 }
    }

    /// The largest size, whose data directory startup is measured with.
    pub fn largest_size(&self) -> usize {
        self.sizes.iter().copied().max().unwrap_or(0)
    }
}

/// `0,100000,1_000_000` into numbers, sorted, without repeats.
fn parse_sizes(text: &str) -> anyhow::Result<Vec<usize>> {
    let mut sizes = text
        .split(',')
        .map(|part| {
            part.trim()
                .replace('_', "")
                .parse::<usize>()
                .with_context(|| format!("--sizes: `{part}` is not a whole number"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Options>> {
        Options::parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn quick_and_full_defaults_differ() -> anyhow::Result<()> {
        let quick = parse(&["--quick"])?.context("options")?;
        assert_eq!(quick.duration, Duration::from_secs(3));
        assert_eq!(quick.sizes, vec![0, 100_000]);
        assert_eq!(quick.scale_events(), 1_500);
        let full = parse(&[])?.context("options")?;
        assert_eq!(full.duration, Duration::from_secs(10));
        assert_eq!(full.sizes, vec![0, 100_000, 1_000_000]);
        assert_eq!(full.connections, 16);
        assert_eq!(full.scale_events(), 6_000);
        Ok(())
    }

    #[test]
    fn options_are_read() -> anyhow::Result<()> {
        let options = parse(&[
            "--connections",
            "4",
            "--duration",
            "1.5",
            "--sizes",
            "1000,0",
            "--skip",
            "broker",
            "--skip",
            "json-server",
            "--skip",
            "notification-scale",
            "--out",
            "t.md",
        ])?
        .context("options")?;
        assert_eq!(options.connections, 4);
        assert_eq!(options.duration, Duration::from_millis(1500));
        assert_eq!(options.sizes, vec![0, 1000]);
        assert!(!options.runs(Part::Broker) && !options.runs(Part::JsonServer));
        assert!(!options.runs(Part::NotificationScale));
        assert!(options.runs(Part::Pipeline));
        assert_eq!(options.out, Some(PathBuf::from("t.md")));
        Ok(())
    }

    #[test]
    fn mistakes_are_errors_and_help_is_none() -> anyhow::Result<()> {
        assert!(parse(&["--skip", "everything"]).is_err());
        assert!(parse(&["--connections", "0"]).is_err());
        assert!(parse(&["--sizes", "ten"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--help"])?.is_none());
        Ok(())
    }
}
