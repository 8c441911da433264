//! Exponential backoff between reconnection attempts.

use std::time::Duration;

/// Exponential backoff from 50 ms, with jitter.
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(50);

    pub(crate) fn new(max: Duration) -> Self {
        Backoff {
            next: Self::MIN,
            max,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = Self::MIN;
    }

    pub(crate) fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // Jitter: between half and all of the delay.
        let random = uuid::Uuid::new_v4().as_u64_pair().0 % 1000;
        let half = base / 2;
        half + half * u32::try_from(random).unwrap_or(0) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(400));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next()).collect();
        assert!(delays[0] >= Duration::from_millis(25) && delays[0] <= Duration::from_millis(50));
        assert!(delays[5] >= Duration::from_millis(200) && delays[5] <= Duration::from_millis(400));
        backoff.reset();
        assert!(backoff.next() <= Duration::from_millis(50));
    }
}
