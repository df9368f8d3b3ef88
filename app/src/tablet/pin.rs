//! PINs, checked offline against the roster's argon2id verifiers, and the throttle that makes
//! guessing them slow: a growing wait after each wrong PIN and a lockout after five.
//!
//! The PIN itself is never stored, logged or put in an event; only the count of wrong attempts
//! for a person is kept (in IndexedDB, so a reload does not reset it).

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::roster::StaffMember;
use crate::browser::store::{EventStore, StoreError};

/// Wrong PINs in a row that lock a person out.
pub const MAX_WRONG_PINS: u32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_MS: u64 = 15 * 60_000;
/// Wrong PINs older than this (counted from the latest) are forgiven: a typo in the morning does
/// not count against the evening.
pub const FORGET_AFTER_MS: u64 = 15 * 60_000;

/// The wait before the next try after `wrong_pins` wrong PINs in a row (below the lockout).
/// One slip costs nothing; after that each guess costs more.
fn wait_after(wrong_pins: u32) -> u64 {
    match wrong_pins {
        0 | 1 => 0,
        2 => 1_000,
        3 => 2_000,
        _ => 4_000,
    }
}

/// Why a PIN could not be checked at all (as opposed to being wrong).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PinCheckError {
    #[error("the roster's PIN verifier for this person is not a valid argon2 hash")]
    BadVerifier,
}

/// Whether `pin` matches the argon2id PHC string `verifier`. The parameters (memory, passes,
/// lanes) come from the string, so the server can raise them without a tablet update.
pub fn pin_matches(verifier: &str, pin: &str) -> Result<bool, PinCheckError> {
    let hash = PasswordHash::new(verifier).map_err(|_| PinCheckError::BadVerifier)?;
    match argon2::Argon2::default().verify_password(pin.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(_) => Err(PinCheckError::BadVerifier),
    }
}

/// A person's recent wrong PINs on this tablet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAttempts {
    /// Wrong PINs in a row, not yet forgiven.
    pub wrong_pins: u32,
    pub last_wrong_ms: u64,
    /// Set when the fifth wrong PIN locks the person out.
    pub locked_until_ms: Option<u64>,
}

/// Whether a person may try a PIN now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinGate {
    Allowed,
    /// A short wait after recent wrong PINs.
    WaitUntil(u64),
    /// Too many wrong PINs: no tries until then.
    LockedUntil(u64),
}

impl PinAttempts {
    /// The attempts as they stand at `now_ms`, after forgiving old mistakes and ended lockouts.
    pub fn current(self, now_ms: u64) -> PinAttempts {
        match self.locked_until_ms {
            Some(until_ms) if now_ms < until_ms => self,
            Some(_) => PinAttempts::default(),
            None if now_ms.saturating_sub(self.last_wrong_ms) > FORGET_AFTER_MS => {
                PinAttempts::default()
            }
            None => self,
        }
    }

    pub fn gate(self, now_ms: u64) -> PinGate {
        let current = self.current(now_ms);
        if let Some(until_ms) = current.locked_until_ms {
            return PinGate::LockedUntil(until_ms);
        }
        let allowed_from = current.last_wrong_ms + wait_after(current.wrong_pins);
        if current.wrong_pins > 0 && now_ms < allowed_from {
            PinGate::WaitUntil(allowed_from)
        } else {
            PinGate::Allowed
        }
    }

    /// The attempts after a wrong PIN at `now_ms`.
    pub fn after_wrong_pin(self, now_ms: u64) -> PinAttempts {
        let wrong_pins = self.current(now_ms).wrong_pins + 1;
        PinAttempts {
            wrong_pins,
            last_wrong_ms: now_ms,
            locked_until_ms: (wrong_pins >= MAX_WRONG_PINS).then_some(now_ms + LOCKOUT_MS),
        }
    }

    /// Tries left before the lockout.
    pub fn tries_left(self, now_ms: u64) -> u32 {
        MAX_WRONG_PINS.saturating_sub(self.current(now_ms).wrong_pins)
    }
}

/// What a PIN check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    Verified,
    Wrong {
        tries_left: u32,
    },
    /// Not checked: a wait after recent wrong PINs is still running.
    WaitUntil(u64),
    /// Not checked, or the wrong PIN that caused it: locked out until then.
    LockedUntil(u64),
    /// The roster's verifier is unusable; the person cannot be checked on this tablet.
    BadVerifier,
}

/// Checks a person's PIN with the throttle: refuses while a wait or lockout runs, counts a wrong
/// PIN before answering (so closing the page does not undo it), and clears the count on success.
pub async fn check_pin<S: EventStore>(
    store: &S,
    member: &StaffMember,
    pin: &str,
    now_ms: u64,
) -> Result<PinOutcome, StoreError> {
    let attempts = store.pin_attempts(&member.staff_id).await?;
    match attempts.gate(now_ms) {
        PinGate::LockedUntil(until_ms) => return Ok(PinOutcome::LockedUntil(until_ms)),
        PinGate::WaitUntil(until_ms) => return Ok(PinOutcome::WaitUntil(until_ms)),
        PinGate::Allowed => {}
    }
    match pin_matches(&member.pin_verifier, pin) {
        Ok(true) => {
            if attempts != PinAttempts::default() {
                store
                    .save_pin_attempts(&member.staff_id, PinAttempts::default())
                    .await?;
            }
            Ok(PinOutcome::Verified)
        }
        Ok(false) => {
            let attempts = attempts.after_wrong_pin(now_ms);
            store.save_pin_attempts(&member.staff_id, attempts).await?;
            Ok(match attempts.locked_until_ms {
                Some(until_ms) => PinOutcome::LockedUntil(until_ms),
                None => PinOutcome::Wrong {
                    tries_left: attempts.tries_left(now_ms),
                },
            })
        }
        Err(PinCheckError::BadVerifier) => Ok(PinOutcome::BadVerifier),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_764_000_000_000;

    #[test]
    fn a_matching_pin_passes_and_any_other_fails() {
        // A verifier made as the server makes them (argon2 0.5 defaults: argon2id, m=19456,
        // t=2, p=1), with a fixed salt so the test needs no randomness.
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"baton-test-salt!").unwrap();
        let verifier = argon2::Argon2::default()
            .hash_password(b"482913", &salt)
            .unwrap()
            .to_string();
        assert!(verifier.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(pin_matches(&verifier, "482913"), Ok(true));
        assert_eq!(pin_matches(&verifier, "482914"), Ok(false));
        assert_eq!(pin_matches(&verifier, ""), Ok(false));
        assert_eq!(
            pin_matches("not a hash", "482913"),
            Err(PinCheckError::BadVerifier)
        );
    }

    #[test]
    fn one_slip_costs_nothing_then_each_wrong_pin_costs_a_longer_wait() {
        let attempts = PinAttempts::default();
        assert_eq!(attempts.gate(T0), PinGate::Allowed);
        let attempts = attempts.after_wrong_pin(T0);
        assert_eq!(attempts.gate(T0), PinGate::Allowed);
        assert_eq!(attempts.tries_left(T0), 4);
        let attempts = attempts.after_wrong_pin(T0);
        assert_eq!(attempts.gate(T0 + 999), PinGate::WaitUntil(T0 + 1_000));
        assert_eq!(attempts.gate(T0 + 1_000), PinGate::Allowed);
        let attempts = attempts.after_wrong_pin(T0 + 1_000);
        assert_eq!(attempts.gate(T0 + 1_000), PinGate::WaitUntil(T0 + 3_000));
        let attempts = attempts.after_wrong_pin(T0 + 3_000);
        assert_eq!(attempts.gate(T0 + 3_000), PinGate::WaitUntil(T0 + 7_000));
        assert_eq!(attempts.tries_left(T0 + 3_000), 1);
    }

    #[test]
    fn the_fifth_wrong_pin_locks_the_person_out_for_fifteen_minutes() {
        let mut attempts = PinAttempts::default();
        for attempt_idx in 0..MAX_WRONG_PINS {
            attempts = attempts.after_wrong_pin(T0 + u64::from(attempt_idx) * 5_000);
        }
        let locked_at = T0 + 4 * 5_000;
        assert_eq!(attempts.locked_until_ms, Some(locked_at + LOCKOUT_MS));
        assert_eq!(
            attempts.gate(locked_at + LOCKOUT_MS - 1),
            PinGate::LockedUntil(locked_at + LOCKOUT_MS)
        );
        assert_eq!(attempts.tries_left(locked_at), 0);
        // When the lockout ends the person starts afresh, with all five tries.
        assert_eq!(attempts.gate(locked_at + LOCKOUT_MS), PinGate::Allowed);
        assert_eq!(attempts.tries_left(locked_at + LOCKOUT_MS), MAX_WRONG_PINS);
    }

    #[test]
    fn old_wrong_pins_are_forgiven_but_recent_ones_add_up() {
        let attempts = PinAttempts::default()
            .after_wrong_pin(T0)
            .after_wrong_pin(T0 + 2_000)
            .after_wrong_pin(T0 + 5_000);
        assert_eq!(attempts.tries_left(T0 + 5_000 + FORGET_AFTER_MS), 2);
        let later = T0 + 5_000 + FORGET_AFTER_MS + 1;
        assert_eq!(attempts.tries_left(later), MAX_WRONG_PINS);
        assert_eq!(attempts.after_wrong_pin(later).wrong_pins, 1);
    }

    #[test]
    fn five_wrong_pins_lock_a_person_out_and_the_lockout_is_stored() {
        use crate::browser::store::{MemoryStore, block_on};
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"baton-test-salt!").unwrap();
        let mut member = crate::tablet::roster::tests::roster().staff[0].clone();
        member.pin_verifier = argon2::Argon2::default()
            .hash_password(b"1234", &salt)
            .unwrap()
            .to_string();
        let store = MemoryStore::new();
        let check =
            |pin: &str, now_ms: u64| block_on(check_pin(&store, &member, pin, now_ms)).unwrap();

        assert_eq!(check("0000", T0), PinOutcome::Wrong { tries_left: 4 });
        // A right PIN clears the count.
        assert_eq!(check("1234", T0 + 1), PinOutcome::Verified);
        assert_eq!(check("0000", T0 + 2), PinOutcome::Wrong { tries_left: 4 });
        assert_eq!(check("0000", T0 + 3), PinOutcome::Wrong { tries_left: 3 });
        // Too soon after two wrong PINs: not even checked.
        assert_eq!(check("1234", T0 + 4), PinOutcome::WaitUntil(T0 + 1_003));
        let mut now_ms = T0 + 10_000;
        assert_eq!(check("0000", now_ms), PinOutcome::Wrong { tries_left: 2 });
        now_ms += 10_000;
        assert_eq!(check("0000", now_ms), PinOutcome::Wrong { tries_left: 1 });
        now_ms += 10_000;
        assert_eq!(
            check("0000", now_ms),
            PinOutcome::LockedUntil(now_ms + LOCKOUT_MS)
        );
        // Locked: even the right PIN is refused, and the store remembers it.
        assert_eq!(
            check("1234", now_ms + 60_000),
            PinOutcome::LockedUntil(now_ms + LOCKOUT_MS)
        );
        let stored = block_on(store.pin_attempts(&member.staff_id)).unwrap();
        assert_eq!(stored.locked_until_ms, Some(now_ms + LOCKOUT_MS));
        assert_eq!(check("1234", now_ms + LOCKOUT_MS), PinOutcome::Verified);
    }
}
