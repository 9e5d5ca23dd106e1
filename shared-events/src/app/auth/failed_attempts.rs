//! Addresses that keep presenting bad credentials are refused for a while (429), so that
//! guessing tokens costs the guesser time rather than the service work.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many addresses in the table, those that are neither counting nor refused are
/// forgotten: the table cannot grow without bound under a flood from many addresses.
const MAX_ADDRESSES: usize = 10_000;

/// Bad credentials counted per address.
pub struct FailedAttempts {
    limit: u32,
    lockout: Duration,
    by_address: Mutex<HashMap<IpAddr, Count>>,
}

struct Count {
    failures: u32,
    /// When the first failure of the current count happened.
    since: Instant,
    /// Until when the address is refused, once it reached the limit.
    refused_until: Option<Instant>,
}

impl FailedAttempts {
    /// An address that fails `limit` times within `lockout` is refused for `lockout`.
    pub fn new(limit: u32, lockout: Duration) -> FailedAttempts {
        FailedAttempts {
            limit,
            lockout,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// How much longer `address` is refused, if it is.
    pub fn refused_for(&self, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let table = self.lock();
        let until = table.get(&address)?.refused_until?;
        (until > now).then(|| until - now)
    }

    /// Counts one bad credential from `address`.
    pub fn record(&self, address: IpAddr) {
        let now = Instant::now();
        let mut table = self.lock();
        if table.len() >= MAX_ADDRESSES {
            let lockout = self.lockout;
            table.retain(|_, count| {
                count.refused_until.is_some_and(|until| until > now)
                    || now.duration_since(count.since) < lockout
            });
        }
        let count = table.entry(address).or_insert(Count {
            failures: 0,
            since: now,
            refused_until: None,
        });
        let expired = now.duration_since(count.since) >= self.lockout
            && count.refused_until.is_none_or(|until| until <= now);
        if expired {
            *count = Count {
                failures: 0,
                since: now,
                refused_until: None,
            };
        }
        count.failures += 1;
        if count.failures >= self.limit {
            count.refused_until = Some(now + self.lockout);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Count>> {
        self.by_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_at_the_limit_and_let_in_again_after_the_lockout() {
        let attempts = FailedAttempts::new(3, Duration::from_millis(200));
        let (guesser, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        attempts.record(guesser);
        attempts.record(guesser);
        assert_eq!(attempts.refused_for(guesser), None, "below the limit");
        attempts.record(guesser);
        let refused = attempts.refused_for(guesser).expect("refused at the limit");
        assert!(refused <= Duration::from_millis(200), "{refused:?}");
        assert_eq!(attempts.refused_for(other), None, "only the guesser");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(attempts.refused_for(guesser), None, "after the lockout");
        attempts.record(guesser);
        assert_eq!(attempts.refused_for(guesser), None, "counting starts again");
    }
}
