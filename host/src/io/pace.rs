//! Pacing a response: the first bytes at full speed, then at most a rate, as nginx's
//! `limit_rate` and `limit_rate_after` do. The connection's socket asks its pace how
//! much it may write now and, when nothing, how long to wait.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How a response is paced: `rate` bytes a second once `after` bytes have gone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Bytes a second.
    pub rate: u64,
    /// Bytes sent at full speed first.
    pub after: u64,
}

/// A response's pace while it is written.
#[derive(Debug)]
struct Pace {
    limit: Limit,
    sent: u64,
    /// When the first byte past `after` could go: the rate counts from there.
    limited_since: Option<Instant>,
}

/// What the socket may write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// As much as it has.
    Unlimited,
    /// At most this many bytes.
    Bytes(usize),
    /// Nothing until then.
    Until(Instant),
}

/// The smallest write a paced response waits for: smaller ones would cost a wake-up and
/// a system call for a few bytes each.
const MIN_WRITE: u64 = 16 * 1024;

impl Pace {
    fn allowance(&mut self, now: Instant) -> Allowance {
        let Limit { rate, after } = self.limit;
        if self.sent < after {
            return Allowance::Bytes(usize::try_from(after - self.sent).unwrap_or(usize::MAX));
        }
        let since = *self.limited_since.get_or_insert(now);
        let earned = (now - since).as_secs_f64() * rate as f64;
        let budget = (earned as u64).saturating_sub(self.sent - after);
        let smallest = MIN_WRITE.min(rate.max(1));
        if budget >= smallest {
            return Allowance::Bytes(usize::try_from(budget).unwrap_or(usize::MAX));
        }
        let wait = (smallest - budget) as f64 / rate.max(1) as f64;
        Allowance::Until(now + Duration::from_secs_f64(wait))
    }
}

/// The pace of the response a connection is writing, if it has one.
#[derive(Debug, Default)]
pub struct Pacer(Mutex<Option<Pace>>);

impl Pacer {
    /// Paces the response about to be written at `limit`, or not at all.
    pub fn start(&self, limit: Option<Limit>) {
        *self.0.lock().unwrap() = limit.map(|limit| Pace { limit, sent: 0, limited_since: None });
    }

    /// Narrows the pace of the response being written to `limit` where it is stricter.
    pub fn narrow(&self, limit: Limit) {
        let mut pace = self.0.lock().unwrap();
        match &mut *pace {
            Some(pace) => {
                pace.limit.rate = pace.limit.rate.min(limit.rate);
                pace.limit.after = pace.limit.after.min(limit.after);
            }
            None => *pace = Some(Pace { limit, sent: 0, limited_since: None }),
        }
    }

    /// What may be written now.
    pub fn allowance(&self) -> Allowance {
        match &mut *self.0.lock().unwrap() {
            Some(pace) => pace.allowance(Instant::now()),
            None => Allowance::Unlimited,
        }
    }

    /// Counts `bytes` written.
    pub fn sent(&self, bytes: usize) {
        if let Some(pace) = &mut *self.0.lock().unwrap() {
            pace.sent += bytes as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// (name, limit, bytes sent at t = 0, seconds later, the allowance then, relative).
    #[rustfmt::skip]
    const CASES: &[(&str, Limit, u64, f64, Want)] = &[
        ("before `after`: the rest of it at full speed", Limit { rate: 1000, after: MIB }, 0, 0.0, Want::Bytes(MIB)),
        ("part of `after` sent", Limit { rate: 1000, after: MIB }, MIB - 10, 0.0, Want::Bytes(10)),
        ("at `after`: nothing yet, wait for a write's worth", Limit { rate: 64 * 1024, after: 0 }, 0, 0.0, Want::WaitSecs(0.25)),
        ("a second at 64 KiB/s", Limit { rate: 64 * 1024, after: 0 }, 0, 1.0, Want::Bytes(64 * 1024)),
        ("a slow rate waits for less than 16 KiB", Limit { rate: 1000, after: 0 }, 0, 0.0, Want::WaitSecs(1.0)),
    ];

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Want {
        Bytes(u64),
        WaitSecs(f64),
    }

    #[test]
    fn allowance_table() {
        for &(name, limit, sent, later, want) in CASES {
            let start = Instant::now();
            let mut pace = Pace { limit, sent, limited_since: None };
            pace.allowance(start);
            let got = pace.allowance(start + Duration::from_secs_f64(later));
            match (got, want) {
                (Allowance::Bytes(got), Want::Bytes(want)) => {
                    assert_eq!(got as u64, want, "{name}")
                }
                (Allowance::Until(at), Want::WaitSecs(secs)) => {
                    let waited = (at - start).as_secs_f64() - later;
                    assert!((waited - secs).abs() < 1e-3, "{name}: waits {waited}");
                }
                (got, want) => panic!("{name}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn what_was_sent_is_paid_for() {
        let start = Instant::now();
        let mut pace =
            Pace { limit: Limit { rate: 100_000, after: 0 }, sent: 0, limited_since: None };
        pace.allowance(start);
        pace.sent = 100_000;
        assert_eq!(
            pace.allowance(start + Duration::from_secs(1)),
            Allowance::Until(start + Duration::from_secs_f64(1.16384))
        );
        assert_eq!(pace.allowance(start + Duration::from_secs(2)), Allowance::Bytes(100_000));
    }
}
