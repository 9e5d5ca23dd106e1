//! The order platform's benchmark: durable creates at several store sizes, json-server 0.17.4
//! as the file-backed reference, the broker's own ceiling, the whole pipeline's highest
//! sustained rate, notification throughput with 1 and 3 replicas, and startup, in one run on
//! one machine, as one Markdown table.
//!
//! # Layout
//!
//! - [`cli`]: the command line.
//! - [`run`](mod@run): a whole run, part after part; a failed part is a line of the table.
//! - [`machine`]: cores, memory and CPU of this machine; how busy its cores were; a process's
//!   resident memory and CPU time.
//! - [`load`]: the HTTP client (hyper, one keep-alive connection per task) and the closed-loop
//!   driver with its HDR histogram.
//! - [`load_ceiling`]: the same client against a canned in-process server.
//! - [`seed`]: filling a data directory fast through the order store in process.
//! - [`service`]: the binaries beside order-bench, free ports, starting and stopping processes.
//! - [`startup`]: starting `order-service` and timing it until ready.
//! - [`creates`]: durable creates against the real `order-service`.
//! - [`json_server`]: json-server through npx, with the same load.
//! - [`broker`]: the broker's ceiling with a plain lapin publisher and consumers.
//! - [`pipeline`]: `order-platform` over RabbitMQ at a constant open-loop rate, judged per step.
//! - [`rate_search`]: doubling then bisecting to the highest rate kept up with.
//! - [`scale_out`]: `notification-service` replicas sharing the shards, emailing through a slow
//!   mail server.
//! - [`smtp_sink`]: that mail server, in process, taking a fixed time per message.
//! - [`report`]: the Markdown table and how numbers are written.

pub mod broker;
pub mod cli;
pub mod creates;
pub mod json_server;
pub mod load;
pub mod load_ceiling;
pub mod machine;
pub mod pipeline;
pub mod rate_search;
pub mod report;
pub mod run;
pub mod scale_out;
pub mod seed;
pub mod service;
pub mod smtp_sink;
pub mod startup;

pub use run::run;
