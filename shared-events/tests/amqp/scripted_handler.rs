//! A handler whose behaviour a test scripts, and which records what it was called with.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use shared_events::runtime::{EventHandler, Handled, HandlerError};
use shared_events::{EventType, Money, Order, OrderEvent, OrderLine, OrderStatus};
use tokio::time::Instant;
use uuid::Uuid;

use crate::helpers::SERVICE;

/// What the scripted handler does with an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Script {
    /// Applies it.
    Apply,
    /// Fails retryably this many times per event, then applies it.
    FailRetryably(usize),
    /// Always fails retryably.
    AlwaysRetryable,
    /// Fails permanently.
    Permanent,
}

/// A handler that follows a [`Script`] (until [`ScriptedHandler::fix`]) and records its calls.
pub(crate) struct ScriptedHandler {
    script: Script,
    delay: Duration,
    fixed: AtomicBool,
    calls: Mutex<Vec<(Uuid, Instant)>>,
    applied: Mutex<HashSet<Uuid>>,
    in_progress: AtomicUsize,
}

impl ScriptedHandler {
    /// A handler following `script`.
    pub(crate) fn new(script: Script) -> Arc<ScriptedHandler> {
        ScriptedHandler::slow(script, Duration::ZERO)
    }

    /// A handler following `script` that takes `delay` per call.
    pub(crate) fn slow(script: Script, delay: Duration) -> Arc<ScriptedHandler> {
        Arc::new(ScriptedHandler {
            script,
            delay,
            fixed: AtomicBool::new(false),
            calls: Mutex::new(Vec::new()),
            applied: Mutex::new(HashSet::new()),
            in_progress: AtomicUsize::new(0),
        })
    }

    /// From now on, applies every event (the bug is fixed).
    pub(crate) fn fix(&self) {
        self.fixed.store(true, Ordering::SeqCst);
    }

    /// Calls per event id.
    pub(crate) fn calls(&self) -> HashMap<Uuid, Vec<Instant>> {
        let mut calls: HashMap<Uuid, Vec<Instant>> = HashMap::new();
        for (id, at) in self.calls.lock().expect("lock").iter() {
            calls.entry(*id).or_default().push(*at);
        }
        calls
    }

    /// How many calls in all.
    pub(crate) fn call_count(&self) -> usize {
        self.calls.lock().expect("lock").len()
    }

    /// The events applied (each once, however often delivered).
    pub(crate) fn applied(&self) -> HashSet<Uuid> {
        self.applied.lock().expect("lock").clone()
    }

    /// Calls that started and have not returned.
    pub(crate) fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::SeqCst)
    }
}

impl EventHandler for ScriptedHandler {
    const SERVICE: &'static str = SERVICE;

    async fn handle(&self, event: &OrderEvent) -> Result<Handled, HandlerError> {
        self.in_progress.fetch_add(1, Ordering::SeqCst);
        let prior = {
            let mut calls = self.calls.lock().expect("lock");
            let prior = calls.iter().filter(|(id, _)| *id == event.id).count();
            calls.push((event.id, Instant::now()));
            prior
        };
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let result = if self.fixed.load(Ordering::SeqCst) {
            Ok(())
        } else {
            match self.script {
                Script::Apply => Ok(()),
                Script::FailRetryably(times) if prior < times => {
                    Err(HandlerError::Retryable(format!("flaky #{prior}")))
                }
                Script::FailRetryably(_) => Ok(()),
                Script::AlwaysRetryable => {
                    Err(HandlerError::Retryable("downstream is down".to_owned()))
                }
                Script::Permanent => Err(HandlerError::Permanent(
                    "cannot make sense of it".to_owned(),
                )),
            }
        };
        let result = result.map(|()| {
            if self.applied.lock().expect("lock").insert(event.id) {
                Handled::Applied
            } else {
                Handled::Duplicate
            }
        });
        self.in_progress.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// A new order's creation event.
pub(crate) fn sample_event() -> OrderEvent {
    let now = Utc::now();
    let order = Order {
        order_id: Uuid::now_v7(),
        customer_name: "Ada".to_owned(),
        customer_email: Some("ada@example.com".to_owned()),
        items: vec![OrderLine {
            product: "widget".to_owned(),
            quantity: 2,
            amount: Money::from_cents(250),
        }],
        total_amount: Money::from_cents(500),
        status: OrderStatus::Pending,
        order_date: now,
        order_update: now,
        version: 1,
        changed_by: None,
    };
    OrderEvent::new(EventType::Created, "shared-events-tests", order, None, now)
}
