//! Whether a service's sessions hold a broker connection: what its readiness probe and the
//! `amqp_connected` gauge tell.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The broker connections of one service's supervised sessions (its shard consumers, its
/// failure drain, its listeners). Each session counts as disconnected from the moment it starts
/// until it connects, and again from the moment its connection fails until it has a new one.
/// Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct BrokerLink {
    counts: Arc<Counts>,
    /// The service whose `amqp_connected` gauge follows; none without one.
    service: Option<&'static str>,
}

#[derive(Debug, Default)]
struct Counts {
    sessions: AtomicUsize,
    disconnected: AtomicUsize,
}

impl BrokerLink {
    /// No session yet, of `service` (`inventory`), whose gauge follows.
    pub fn of(service: &'static str) -> BrokerLink {
        BrokerLink {
            counts: Arc::default(),
            service: Some(service),
        }
    }

    /// False while any session of the service has no connection: the broker is unreachable,
    /// or the session is between connections.
    pub fn is_connected(&self) -> bool {
        self.counts.disconnected.load(Ordering::SeqCst) == 0
    }

    /// Counts a session that starts, disconnected; it stops counting when the guard drops.
    pub(crate) fn session(&self) -> SessionLink {
        self.counts.sessions.fetch_add(1, Ordering::SeqCst);
        self.counts.disconnected.fetch_add(1, Ordering::SeqCst);
        self.publish();
        SessionLink {
            link: self.clone(),
            connected: false,
        }
    }

    fn publish(&self) {
        if let Some(service) = self.service {
            let connected = self.counts.sessions.load(Ordering::SeqCst) > 0 && self.is_connected();
            metrics::gauge!("amqp_connected", "service" => service)
                .set(f64::from(u8::from(connected)));
        }
    }
}

/// One session's part in its service's [`BrokerLink`].
#[derive(Debug)]
pub(crate) struct SessionLink {
    link: BrokerLink,
    connected: bool,
}

impl SessionLink {
    /// Records whether the session holds a connection now.
    pub(crate) fn set_connected(&mut self, connected: bool) {
        if connected == self.connected {
            return;
        }
        self.connected = connected;
        if connected {
            self.link.counts.disconnected.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.link.counts.disconnected.fetch_add(1, Ordering::SeqCst);
        }
        self.link.publish();
    }
}

impl Drop for SessionLink {
    fn drop(&mut self) {
        if !self.connected {
            self.link.counts.disconnected.fetch_sub(1, Ordering::SeqCst);
        }
        self.link.counts.sessions.fetch_sub(1, Ordering::SeqCst);
        self.link.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_only_while_every_session_is() {
        let link = BrokerLink::default();
        assert!(link.is_connected(), "no session: nothing is missing");
        let mut consumer = link.session();
        let mut drain = link.session();
        assert!(!link.is_connected(), "sessions start disconnected");
        consumer.set_connected(true);
        assert!(!link.is_connected(), "the drain is not connected yet");
        drain.set_connected(true);
        assert!(link.is_connected());
        consumer.set_connected(false);
        consumer.set_connected(false);
        assert!(!link.is_connected(), "the consumer lost its connection");
        drop(consumer);
        assert!(
            link.is_connected(),
            "a session that ended is not waited for"
        );
        drop(drain);
        assert!(link.is_connected());
    }
}
