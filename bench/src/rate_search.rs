//! The search for the highest rate a system keeps up with: double from a starting rate until a
//! step fails, then bisect between the last success and the first failure.

/// The search's state: what passed, what failed, and how many steps of each kind remain.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSearch {
    start: f64,
    /// The highest rate that was kept up with.
    passed: Option<f64>,
    /// The lowest rate that was not.
    failed: Option<f64>,
    doublings_left: u32,
    bisections_left: u32,
}

impl RateSearch {
    /// A search from `start`, doubling at most `doublings` times after it, then bisecting at most
    /// `bisections` times.
    pub fn new(start: f64, doublings: u32, bisections: u32) -> RateSearch {
        RateSearch {
            start,
            passed: None,
            failed: None,
            doublings_left: doublings,
            bisections_left: bisections,
        }
    }

    /// The next rate to try, or `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        match (self.passed, self.failed) {
            (None, None) => Some(self.start),
            (Some(passed), None) => (self.doublings_left > 0).then_some(passed * 2.0),
            (passed, Some(failed)) => {
                let low = passed.unwrap_or(0.0);
                // Bisecting further than 5% apart is noise on a shared machine.
                let apart = (failed - low) / failed;
                (self.bisections_left > 0 && apart > 0.05).then(|| ((low + failed) / 2.0).round())
            }
        }
    }

    /// Records the outcome of trying `rate`.
    pub fn record(&mut self, rate: f64, kept_up: bool) {
        let bisecting = self.failed.is_some();
        let doubling = !bisecting && self.passed.is_some();
        if kept_up {
            self.passed = Some(self.passed.map_or(rate, |passed| passed.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |failed| failed.min(rate)));
        }
        if bisecting {
            self.bisections_left = self.bisections_left.saturating_sub(1);
        } else if doubling && kept_up {
            self.doublings_left = self.doublings_left.saturating_sub(1);
        }
    }

    /// The highest rate kept up with so far.
    pub fn best(&self) -> Option<f64> {
        self.passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a system that keeps up with rates up to `capacity`.
    fn search(capacity: f64, doublings: u32, bisections: u32) -> (Vec<f64>, Option<f64>) {
        let mut search = RateSearch::new(200.0, doublings, bisections);
        let mut tried = Vec::new();
        while let Some(rate) = search.next() {
            tried.push(rate);
            search.record(rate, rate <= capacity);
            assert!(tried.len() < 50, "the search does not end: {tried:?}");
        }
        (tried, search.best())
    }

    #[test]
    fn doubles_until_a_failure_then_bisects() {
        let (tried, best) = search(700.0, 8, 3);
        assert_eq!(tried, vec![200.0, 400.0, 800.0, 600.0, 700.0, 750.0]);
        assert_eq!(best, Some(700.0));
    }

    #[test]
    fn stops_doubling_at_the_limit() {
        let (tried, best) = search(1e9, 2, 3);
        assert_eq!(tried, vec![200.0, 400.0, 800.0]);
        assert_eq!(best, Some(800.0));
    }

    #[test]
    fn a_failing_start_bisects_downwards() {
        let (tried, best) = search(120.0, 8, 2);
        assert_eq!(tried, vec![200.0, 100.0, 150.0]);
        assert_eq!(best, Some(100.0));
    }

    #[test]
    fn nothing_kept_up_with_gives_no_best() {
        let (tried, best) = search(10.0, 8, 2);
        assert_eq!(tried, vec![200.0, 100.0, 50.0]);
        assert_eq!(best, None);
    }
}
