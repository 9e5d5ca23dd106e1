//! A whole run: each part in turn, each failure a line of the table instead of the end of the
//! run, and the table at the end.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use tokio::time::Instant;

use crate::cli::{Options, Part};
use crate::creates::{self, CreatesResult, errors_note};
use crate::json_server::{self, Skipped};
use crate::load::ClosedLoad;
use crate::machine::Machine;
use crate::pipeline::{CRITERION, Platform, Step};
use crate::rate_search::RateSearch;
use crate::report::{Report, Row, brief, latencies, mebibytes, per_second, ratio, thousands};
use crate::scale_out::{self, ScaleOutRun};
use crate::service::Layout;
use crate::startup::{StartupSample, start_order_service};
use crate::{broker, load_ceiling, seed};

/// Runs every part `options` asks for and returns the report.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let mut started = Instant::now();
    let mut building = None;
    let machine = Machine::detect();
    let layout = Layout::detect()?;
    let mut report = Report {
        machine,
        setup: format!(
            "{} mode; load generator, services and broker on this machine; {} connections, {} s \
             per measurement after a 1 s warm-up.",
            if options.quick { "Quick" } else { "Full" },
            options.connections,
            options.duration.as_secs_f64()
        ),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    if !layout.is_release() {
        report.notes.push(
            "order-bench and the services are debug builds: these numbers mean nothing; run with \
             --release."
                .to_owned(),
        );
    }
    if options.build {
        eprintln!("building order-service, order-platform and notification-service (cargo build)");
        let built = Instant::now();
        if let Err(error) = layout.build_services().await {
            report.notes.push(format!(
                "{error:#}; the binaries found were used as they are."
            ));
        }
        eprintln!("  done in {:.1} s", built.elapsed().as_secs_f64());
        building = Some(built.elapsed());
        started = Instant::now();
    }

    generator_ceiling(options, &mut report).await;

    let mut baseline = None;
    let mut startup = None;
    if options.runs(Part::Creates) {
        for &size in &options.sizes {
            eprintln!("durable creates with {} stored", thousands(size as u64));
            match creates::measure(
                &layout,
                size,
                options.connections,
                options.duration,
                options.with_token,
            )
            .await
            {
                Ok(result) => {
                    eprintln!("  {}", per_second(result.load.rate()));
                    if size == 0 || baseline.is_none() {
                        baseline = Some(result.load.rate());
                    }
                    report
                        .rows
                        .push(creates::row(&result, options.connections, baseline));
                    if size == options.largest_size() {
                        startup = Some(result.startup.clone());
                    }
                    seeding_note(&result, &mut report);
                }
                Err(error) => report.rows.push(Row::new(
                    format!("durable creates, {} stored", thousands(size as u64)),
                    format!("failed: {}", brief(&error)),
                )),
            }
        }
    }

    if options.runs(Part::JsonServer) {
        json_server_part(&layout, options, baseline, &mut report).await;
    }

    let mut ceiling = None;
    if options.runs(Part::Broker) {
        eprintln!("broker ceiling ({})", broker::broker_url_display());
        match broker::measure(options.duration).await {
            Ok(result) => {
                eprintln!("  {}", per_second(result.consumed_per_second));
                ceiling = Some(result.consumed_per_second);
                report.rows.push(Row::new(
                    "broker ceiling (confirmed publish, 1,000 in flight → fanout → 3 quorum \
                     queues, acking consumers)",
                    format!(
                        "{} events consumed by all three ({} publishes confirmed)",
                        per_second(result.consumed_per_second),
                        per_second(result.published_per_second)
                    ),
                ));
            }
            Err(error) => report.rows.push(Row::new(
                "broker ceiling",
                format!("skipped: {}", brief(&error)),
            )),
        }
    }

    if options.runs(Part::Pipeline) {
        pipeline_part(&layout, options, ceiling, &mut report).await;
    }

    if options.runs(Part::NotificationScale) {
        notification_scale_part(&layout, options, &mut report).await;
    }

    if options.runs(Part::Startup) {
        startup_part(&layout, options, startup, &mut report).await;
    }

    let took = started.elapsed().as_secs_f64();
    report.notes.push(match building {
        Some(build) if build > Duration::from_secs(5) => format!(
            "The run took {took:.0} s, after {:.0} s building the services.",
            build.as_secs_f64()
        ),
        _ => format!("The run took {took:.0} s."),
    });
    Ok(report)
}

/// The load generator against a canned server: the ceiling of what it can measure.
async fn generator_ceiling(options: &Options, report: &mut Report) {
    eprintln!("load generator alone (canned 201 server in this process)");
    let load = ClosedLoad {
        addr: ([127, 0, 0, 1], 0).into(),
        connections: options.connections,
        warmup: Duration::from_secs(1),
        duration: options.duration.min(Duration::from_secs(3)),
        path: "/orders".to_owned(),
        body: Bytes::from_static(seed::ORDER_BODY.as_bytes()),
        expect: StatusCode::CREATED,
        authorization: None,
    };
    let row = match load_ceiling::measure(load).await {
        Ok(result) => {
            eprintln!("  {}", per_second(result.rate()));
            format!(
                "{} {}",
                per_second(result.rate()),
                latencies(&result.latency)
            )
        }
        Err(error) => format!("failed: {}", brief(&error)),
    };
    report.rows.push(Row::new(
        format!(
            "load generator alone (canned 201 in process), {} conn",
            options.connections
        ),
        row,
    ));
}

fn seeding_note(result: &CreatesResult, report: &mut Report) {
    if result.stored > 0 {
        report.notes.push(format!(
            "Seeding {} orders through the store in process took {:.1} s ({} on disk).",
            thousands(result.stored as u64),
            result.seeded_in.as_secs_f64(),
            mebibytes(result.seeded_bytes)
        ));
    }
}

async fn json_server_part(
    layout: &Layout,
    options: &Options,
    baseline: Option<f64>,
    report: &mut Report,
) {
    eprintln!("json-server {}", json_server::VERSION);
    let measurement = format!(
        "json-server {}, {} stored, {} conn",
        json_server::VERSION,
        thousands(json_server::STORED as u64),
        options.connections
    );
    match json_server::measure(layout, options.connections, options.duration).await {
        Ok(result) => {
            eprintln!("  {}", per_second(result.load.rate()));
            let text = format!(
                "{} {}{}",
                per_second(result.load.rate()),
                latencies(&result.load.latency),
                errors_note(&result.load)
            );
            let row = match baseline {
                Some(base) => Row::new(measurement, text).compared(
                    "order-service, 0 stored",
                    format!(
                        "order-service / json-server: {}",
                        ratio(base / result.load.rate())
                    ),
                ),
                None => Row::new(measurement, text),
            };
            report.rows.push(row);
            if result.fetch > Duration::from_secs(10) {
                report.notes.push(format!(
                    "npm's cache was cold: fetching json-server {} took {:.0} s of this run.",
                    result.version,
                    result.fetch.as_secs_f64()
                ));
            }
        }
        Err(Skipped::NoNpx) => {
            report.rows.push(Row::new(
                measurement,
                format!("skipped: {}", Skipped::NoNpx),
            ));
        }
        Err(skipped) => {
            eprintln!("  skipped: {skipped}");
            report
                .rows
                .push(Row::new(measurement, format!("skipped: {skipped}")));
        }
    }
}

async fn pipeline_part(
    layout: &Layout,
    options: &Options,
    ceiling: Option<f64>,
    report: &mut Report,
) {
    eprintln!("whole pipeline (order-platform over RabbitMQ)");
    let measurement = "whole pipeline (order-platform over RabbitMQ): highest rate all 3 \
                       consumers keep up";
    let mut platform = match Platform::start(layout).await {
        Ok(platform) => platform,
        Err(error) => {
            report
                .rows
                .push(Row::new(measurement, format!("skipped: {}", brief(&error))));
            return;
        }
    };
    eprintln!("  namespace {}", platform.namespace());
    let outcome = search(layout, &mut platform, options).await;
    platform.stop().await;
    let (steps, best, half, trouble) = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            report
                .rows
                .push(Row::new(measurement, format!("failed: {}", brief(&error))));
            return;
        }
    };
    let result = match (best, &half) {
        (Some(best), Some(half)) => format!(
            "{} orders/s (201→last effect at {}: {})",
            per_second(best).trim_end_matches("/s"),
            per_second(half.rate),
            latencies(&half.latency)
        ),
        (Some(best), None) => format!("{} orders/s", per_second(best).trim_end_matches("/s")),
        (None, _) => "no rate tried was kept up with".to_owned(),
    };
    let row = match (best, ceiling) {
        (Some(best), Some(ceiling)) => {
            Row::new(measurement, result).compared("broker ceiling", ratio(best / ceiling))
        }
        _ => Row::new(measurement, result),
    };
    report.rows.push(row);
    let tried: Vec<String> = steps.iter().map(Step::summary).collect();
    report
        .notes
        .push(format!("Pipeline steps: {}.", tried.join("; ")));
    report
        .notes
        .push(format!("Pipeline criterion: {CRITERION}."));
    if let Some(trouble) = trouble {
        report.notes.push(trouble);
    }
}

/// The rate steps tried, the best rate, the step at half of it, and what cut the search short.
type SearchOutcome = (Vec<Step>, Option<f64>, Option<Step>, Option<String>);

/// Writes a step's samples to `target/bench/logs/pipeline-<rate>.csv`, for a closer look.
fn keep_samples(layout: &Layout, step: &Step) {
    if let Ok(path) = layout.log_path(&format!("pipeline-{}", step.rate.round())) {
        let _ = std::fs::write(path.with_extension("csv"), step.samples_csv());
    }
}

async fn search(
    layout: &Layout,
    platform: &mut Platform,
    options: &Options,
) -> anyhow::Result<SearchOutcome> {
    let (doublings, bisections, drain) = if options.quick {
        (5, 1, Duration::from_secs(20))
    } else {
        (7, 3, Duration::from_secs(90))
    };
    // A short, unjudged warm-up: connections, the outbox, the consumers' first batches.
    let warmup = platform.step(100.0, Duration::from_secs(1)).await?;
    platform.drain(&warmup, drain).await;

    let mut search = RateSearch::new(200.0, doublings, bisections);
    let mut steps: Vec<Step> = Vec::new();
    let mut trouble = None;
    while let Some(rate) = search.next() {
        eprintln!(
            "  {} for {:.0} s",
            per_second(rate),
            options.duration.as_secs_f64()
        );
        let step = platform.step(rate, options.duration).await?;
        eprintln!("    {}", step.summary());
        keep_samples(layout, &step);
        search.record(rate, step.verdict.kept_up);
        if let Some(exited) = platform.exited() {
            steps.push(step);
            trouble = Some(format!(
                "The search stopped: order-platform exited ({}) during the {} step; its log is {} \
                 and ends: {}",
                exited.status,
                per_second(rate),
                platform.log().display(),
                exited.tail
            ));
            break;
        }
        let kept_up = step.verdict.kept_up;
        let drained = kept_up || platform.drain(&step, drain).await;
        steps.push(step);
        if !drained {
            trouble = Some(format!(
                "The search stopped early: the backlog of the {} step did not drain within {} s.",
                per_second(rate),
                drain.as_secs()
            ));
            break;
        }
    }
    let best = search.best();
    let half = match best {
        Some(best) => {
            let target = (best / 2.0).round();
            let near = steps.iter().position(|step| {
                step.verdict.kept_up && (step.rate - target).abs() <= 0.1 * target
            });
            match near {
                Some(index) => Some(steps[index].clone()),
                None if trouble.is_none() => {
                    eprintln!(
                        "  {} (half the best) for {:.0} s",
                        per_second(target),
                        options.duration.as_secs_f64()
                    );
                    let step = platform.step(target, options.duration).await?;
                    eprintln!("    {}", step.summary());
                    steps.push(step.clone());
                    Some(step)
                }
                None => None,
            }
        }
        None => None,
    };
    Ok((steps, best, half, trouble))
}

/// Notification throughput with 1 replica, then 3, each over a fresh namespace, data directory
/// and mail server, and their ratio.
async fn notification_scale_part(layout: &Layout, options: &Options, report: &mut Report) {
    if let Err(error) = broker::reachable(&broker::bench_settings(Vec::new())).await {
        report.rows.push(Row::new(
            "notification throughput, 1 and 3 replicas",
            format!("skipped: {}", brief(&error)),
        ));
        return;
    }
    let events = options.scale_events();
    let mut runs: Vec<ScaleOutRun> = Vec::new();
    for replicas in scale_out::REPLICAS {
        eprintln!(
            "notification throughput, {}, {} events, SMTP {} ms per message",
            scale_out::replica_count(replicas),
            thousands(events as u64),
            scale_out::PER_MESSAGE.as_millis()
        );
        match scale_out::measure(layout, replicas, events).await {
            Ok(run) => {
                eprintln!("  {} emails", per_second(run.rate()));
                report.rows.push(run.row(runs.first()));
                report
                    .notes
                    .push(format!("Notification scale-out, {}.", run.summary()));
                runs.push(run);
            }
            Err(error) => report.rows.push(Row::new(
                format!(
                    "notification throughput, {}",
                    scale_out::replica_count(replicas)
                ),
                format!("failed: {}", brief(&error)),
            )),
        }
    }
    if let [one, three] = runs.as_slice() {
        let reached = three.rate() / one.rate();
        report.notes.push(format!(
            "Notification scale-out: {} replicas gave {} times the emails per second of {} \
             (target at least {}).",
            three.replicas,
            ratio(reached),
            one.replicas,
            scale_out::TARGET_RATIO
        ));
    }
}

async fn startup_part(
    layout: &Layout,
    options: &Options,
    measured: Option<StartupSample>,
    report: &mut Report,
) {
    let largest = options.largest_size();
    let sample = match measured {
        Some(sample) => Ok(sample),
        None => {
            eprintln!("startup with {} stored", thousands(largest as u64));
            startup_alone(layout, largest).await
        }
    };
    match sample {
        Ok(sample) => report.rows.push(sample.row()),
        Err(error) => report.rows.push(Row::new(
            format!(
                "order-service startup with {} stored",
                thousands(largest as u64)
            ),
            format!("failed: {}", brief(&error)),
        )),
    }
    if options.quick {
        report.notes.push(format!(
            "Quick mode measures startup with the largest quick size ({} orders), not 1,000,000.",
            thousands(largest as u64)
        ));
    }
}

/// Seeds a directory and starts the service on it, when the create benchmark did not.
async fn startup_alone(layout: &Layout, stored: usize) -> anyhow::Result<StartupSample> {
    let scratch = layout.scratch_dir("startup-")?;
    let data_dir = scratch.path().join("data");
    seed::seed(&data_dir, stored).await?;
    let service = start_order_service(
        layout,
        &data_dir,
        &layout.log_path(&format!("order-service-startup-{stored}"))?,
        stored,
    )
    .await?;
    let sample = service.startup.clone();
    service.process.stop().await;
    Ok(sample)
}
