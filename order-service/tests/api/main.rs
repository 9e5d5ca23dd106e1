//! The order service through real HTTP: every route, and the durability promises.

mod helpers;

mod auth;
mod compaction;
mod concurrency;
mod contract;
mod crash;
mod create;
mod delete;
mod deliveries;
mod fsync_failure;
mod get;
mod health;
mod https;
mod idempotency;
mod list;
mod openapi;
mod outbox;
mod python_client;
mod request_guard;
mod restart;
mod standby;
mod storage_damage;
mod torn_tail;
mod trace;
mod update;
