//! The cap on new WebSockets per client address: a token bucket per
//! address, in a table of bounded size.
//!
//! Every upgrade costs more than its handshake: `on_connect` hooks run,
//! presence joins and leaves reach every page that shows a count. One
//! client connecting and closing in a loop is cheap for it and costly for
//! everyone else; the cap makes it wait. IPv6 addresses count per /64 (a
//! single host often holds a whole /64).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::limits::Limits;

/// Most addresses tracked at once. Beyond it (after pruning), new
/// addresses pass unchecked until some entries are pruned: the table's
/// memory stays bounded (~100 bytes an entry), and the connection limit
/// still holds.
pub(crate) const MAX_ADDRESSES: usize = 65_536;

/// The most often the table is pruned once it is full.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// Refusals of one address are logged at most once per this interval.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// What [`ConnectRate::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConnectVerdict {
    Accept,
    /// Refuse it: a token comes back after this long (whole seconds, ≥ 1).
    Refuse {
        retry_after_secs: u64,
    },
}

struct Bucket {
    tokens: f64,
    last: Instant,
    /// When a refusal was last logged, and refusals since.
    logged: Option<Instant>,
    refused: u64,
}

struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    pruned: Option<Instant>,
}

/// New connections per second per address.
pub(crate) struct ConnectRate {
    rate: f64,
    burst: f64,
    capacity: usize,
    table: Mutex<Table>,
}

impl ConnectRate {
    pub(crate) fn new(rate: u32, burst: u32, capacity: usize) -> Self {
        ConnectRate {
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            capacity: capacity.max(1),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                pruned: None,
            }),
        }
    }

    /// The cap `limits` ask for, if any.
    pub(crate) fn from_limits(limits: &Limits) -> Option<ConnectRate> {
        limits
            .connections_per_address
            .map(|(rate, burst)| ConnectRate::new(rate, burst, MAX_ADDRESSES))
    }

    /// Takes a token from `ip`'s bucket.
    pub(crate) fn admit(&self, ip: IpAddr, now: Instant) -> ConnectVerdict {
        let key = key(ip);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if !table.buckets.contains_key(&key) && table.buckets.len() >= self.capacity {
            self.prune(&mut table, now);
            if table.buckets.len() >= self.capacity {
                return ConnectVerdict::Accept;
            }
        }
        let bucket = table.buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
            logged: None,
            refused: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.last = now;
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return ConnectVerdict::Accept;
        }
        bucket.refused += 1;
        if bucket
            .logged
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY)
        {
            tracing::warn!(
                address = %key,
                refused = bucket.refused,
                per_second = self.rate,
                burst = self.burst,
                "liveview: too many new connections from one address; answering 429"
            );
            bucket.logged = Some(now);
            bucket.refused = 0;
        }
        let wait = ((1.0 - bucket.tokens) / self.rate).ceil();
        // `wait` is in (0, 1 / rate], at most 1 s here.
        let retry_after_secs = if wait.is_finite() && wait >= 1.0 {
            wait as u64
        } else {
            1
        };
        ConnectVerdict::Refuse { retry_after_secs }
    }

    /// Forgets the addresses whose bucket is full again (forgetting them
    /// changes nothing) and whose last refusal was logged long enough ago.
    fn prune(&self, table: &mut Table, now: Instant) {
        if table
            .pruned
            .is_some_and(|at| now.saturating_duration_since(at) < PRUNE_EVERY)
        {
            return;
        }
        table.pruned = Some(now);
        let refill = Duration::from_secs_f64(self.burst / self.rate);
        table.buckets.retain(|_, bucket| {
            let idle = now.saturating_duration_since(bucket.last);
            idle < refill
                || bucket
                    .logged
                    .is_some_and(|at| now.saturating_duration_since(at) < LOG_EVERY)
        });
        if table.buckets.len() >= self.capacity {
            tracing::warn!(
                capacity = self.capacity,
                "liveview: the per-address connection table is full; new addresses pass unchecked"
            );
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .len()
    }
}

/// The bucket an address counts in: itself, or its /64 for IPv6 (an
/// IPv4-mapped IPv6 address counts as the IPv4 one).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

impl std::fmt::Debug for ConnectRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRate")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let limiter = ConnectRate::new(2, 3, 100);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(v4(1), start), ConnectVerdict::Accept);
        }
        assert_eq!(
            limiter.admit(v4(1), start),
            ConnectVerdict::Refuse {
                retry_after_secs: 1
            }
        );
        // Another address has its own bucket.
        assert_eq!(limiter.admit(v4(2), start), ConnectVerdict::Accept);
        // Half a second later one token is back.
        let later = start + Duration::from_millis(500);
        assert_eq!(limiter.admit(v4(1), later), ConnectVerdict::Accept);
        assert!(matches!(
            limiter.admit(v4(1), later),
            ConnectVerdict::Refuse { .. }
        ));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let limiter = ConnectRate::new(1, 1, 100);
        let now = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(limiter.admit(one, now), ConnectVerdict::Accept);
        assert!(matches!(
            limiter.admit(other, now),
            ConnectVerdict::Refuse { .. }
        ));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(limiter.admit(v4(1), now), ConnectVerdict::Accept);
        assert!(matches!(
            limiter.admit(mapped, now),
            ConnectVerdict::Refuse { .. }
        ));
    }

    #[test]
    fn the_table_is_bounded_and_pruned() {
        let limiter = ConnectRate::new(10, 20, 4);
        let start = Instant::now();
        for i in 0..4 {
            assert_eq!(limiter.admit(v4(i), start), ConnectVerdict::Accept);
        }
        // Full: a fifth address passes unchecked, and is not tracked.
        for _ in 0..100 {
            assert_eq!(limiter.admit(v4(9), start), ConnectVerdict::Accept);
        }
        assert_eq!(limiter.tracked(), 4);
        // Once the buckets are full again (2 s), they are pruned.
        let later = start + Duration::from_secs(3);
        assert_eq!(limiter.admit(v4(9), later), ConnectVerdict::Accept);
        assert_eq!(limiter.tracked(), 1);
    }
}
