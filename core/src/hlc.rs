//! Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).
//!
//! Tablets' wall clocks drift and sometimes jump, yet the custody fold needs an order that
//! respects causality: an event must sort after every event its signer had seen when it was made.
//! A hybrid logical clock gives that while staying within the clock skew of physical time, so
//! an auditor can still read `ms` as "roughly when".
//!
//! The caller owns the clock state (the last timestamp it issued or received) and passes the
//! wall time in: this module never reads a clock.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::canonical::MAX_SAFE_INTEGER;

/// A hybrid logical timestamp. Orders by `ms`, then by `counter`.
///
/// On the wire it is `{"ms": <u64>, "c": <u32>}`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch: the largest physical time this clock has seen.
    pub ms: u64,
    /// Orders events that share the same `ms`.
    #[serde(rename = "c")]
    pub counter: u32,
}

/// Why the clock cannot advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HlcError {
    /// The clock would pass 2^53 - 1 ms (the year 287,396), which JSON cannot carry exactly. Only
    /// a corrupt wall clock or a forged remote timestamp gets here.
    #[error("hybrid clock ms {ms} would exceed 2^53-1")]
    OutOfRange { ms: u64 },
}

impl Hlc {
    pub const ZERO: Hlc = Hlc { ms: 0, counter: 0 };

    pub fn new(ms: u64, counter: u32) -> Hlc {
        Hlc { ms, counter }
    }

    /// The timestamp for a new local event, given the clock's last timestamp and the wall time.
    ///
    /// The result is strictly greater than `last`. When the counter would overflow (more than
    /// four billion events inside one millisecond), `ms` is carried forward by one millisecond
    /// and the counter restarts at zero; this keeps the clock monotonic and never fails for that
    /// reason, at the price of running one millisecond ahead.
    pub fn tick(last: Hlc, wall_ms: u64) -> Result<Hlc, HlcError> {
        if wall_ms > last.ms {
            return Hlc::checked(wall_ms, 0);
        }
        Hlc::successor(last.ms, last.counter)
    }

    /// The clock's new timestamp after receiving `remote` from another replica.
    ///
    /// The result is strictly greater than both `last` and `remote`. Callers pass only remote
    /// timestamps that passed verification, whose future-timestamp rule bounds how far a remote
    /// clock can drag this one ahead.
    pub fn receive(last: Hlc, remote: Hlc, wall_ms: u64) -> Result<Hlc, HlcError> {
        let ms = wall_ms.max(last.ms).max(remote.ms);
        if ms == wall_ms && ms > last.ms && ms > remote.ms {
            return Hlc::checked(ms, 0);
        }
        let counter = match (ms == last.ms, ms == remote.ms) {
            (true, true) => last.counter.max(remote.counter),
            (true, false) => last.counter,
            (false, true) => remote.counter,
            (false, false) => {
                unreachable!("ms is the maximum of three values and not the wall time")
            }
        };
        Hlc::successor(ms, counter)
    }

    /// The smallest timestamp greater than `(ms, counter)`.
    fn successor(ms: u64, counter: u32) -> Result<Hlc, HlcError> {
        match counter.checked_add(1) {
            Some(next_counter) => Hlc::checked(ms, next_counter),
            None => Hlc::checked(ms.saturating_add(1), 0),
        }
    }

    fn checked(ms: u64, counter: u32) -> Result<Hlc, HlcError> {
        if ms > MAX_SAFE_INTEGER {
            return Err(HlcError::OutOfRange { ms });
        }
        Ok(Hlc { ms, counter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tick_follows_the_wall_clock_when_it_moves_forward() {
        let first = Hlc::tick(Hlc::ZERO, 1_000).unwrap();
        assert_eq!(first, Hlc::new(1_000, 0));
        assert_eq!(Hlc::tick(first, 1_005).unwrap(), Hlc::new(1_005, 0));
    }

    #[test]
    fn tick_counts_when_the_wall_clock_stalls_or_goes_back() {
        let last = Hlc::new(1_000, 3);
        assert_eq!(Hlc::tick(last, 1_000).unwrap(), Hlc::new(1_000, 4));
        assert_eq!(Hlc::tick(last, 400).unwrap(), Hlc::new(1_000, 4));
    }

    #[test]
    fn counter_overflow_carries_into_ms() {
        let last = Hlc::new(1_000, u32::MAX);
        assert_eq!(Hlc::tick(last, 900).unwrap(), Hlc::new(1_001, 0));
        assert_eq!(
            Hlc::receive(last, Hlc::new(1_000, 5), 900).unwrap(),
            Hlc::new(1_001, 0)
        );
    }

    #[test]
    fn clocks_beyond_json_safe_integers_are_refused() {
        let edge = Hlc::new(MAX_SAFE_INTEGER, u32::MAX);
        assert_eq!(
            Hlc::tick(edge, 0),
            Err(HlcError::OutOfRange {
                ms: MAX_SAFE_INTEGER + 1
            })
        );
        assert_eq!(
            Hlc::tick(Hlc::ZERO, MAX_SAFE_INTEGER + 1),
            Err(HlcError::OutOfRange {
                ms: MAX_SAFE_INTEGER + 1
            })
        );
    }

    #[test]
    fn receive_from_a_clock_running_ahead() {
        let last = Hlc::new(1_000, 0);
        let remote = Hlc::new(5_000, 7);
        assert_eq!(
            Hlc::receive(last, remote, 1_001).unwrap(),
            Hlc::new(5_000, 8)
        );
        // Once the wall clock catches up, the counter resets.
        assert_eq!(
            Hlc::tick(Hlc::new(5_000, 8), 5_001).unwrap(),
            Hlc::new(5_001, 0)
        );
    }

    #[test]
    fn receive_when_all_three_agree_takes_the_larger_counter() {
        let received = Hlc::receive(Hlc::new(1_000, 2), Hlc::new(1_000, 9), 1_000).unwrap();
        assert_eq!(received, Hlc::new(1_000, 10));
    }

    fn any_hlc() -> impl Strategy<Value = Hlc> {
        (0u64..10_000, prop_oneof![0u32..5, Just(u32::MAX)])
            .prop_map(|(ms, counter)| Hlc::new(ms, counter))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn tick_is_monotonic_and_never_behind_the_wall(last in any_hlc(), wall_ms in 0u64..10_000) {
            let next = Hlc::tick(last, wall_ms).unwrap();
            prop_assert!(next > last);
            prop_assert!(next.ms >= wall_ms);
        }

        #[test]
        fn receive_is_causal(last in any_hlc(), remote in any_hlc(), wall_ms in 0u64..10_000) {
            let next = Hlc::receive(last, remote, wall_ms).unwrap();
            prop_assert!(next > last, "{next:?} must follow the local clock {last:?}");
            prop_assert!(next > remote, "{next:?} must follow the remote clock {remote:?}");
            prop_assert!(next.ms >= wall_ms);
        }

        #[test]
        fn ms_stays_at_the_wall_time_when_clocks_agree(
            start_ms in 0u64..1_000_000,
            steps in proptest::collection::vec((0u64..50, any::<bool>()), 1..50),
        ) {
            // Two replicas whose wall clocks agree exchange events: the logical part only orders
            // events within a millisecond, so `ms` is exactly the wall time.
            let mut wall_ms = start_ms;
            let mut first = Hlc::ZERO;
            let mut second = Hlc::ZERO;
            for (advance_ms, first_sends) in steps {
                wall_ms += advance_ms;
                if first_sends {
                    first = Hlc::tick(first, wall_ms).unwrap();
                    second = Hlc::receive(second, first, wall_ms).unwrap();
                } else {
                    second = Hlc::tick(second, wall_ms).unwrap();
                    first = Hlc::receive(first, second, wall_ms).unwrap();
                }
                prop_assert_eq!(first.ms, wall_ms);
                prop_assert_eq!(second.ms, wall_ms);
            }
        }
    }
}
