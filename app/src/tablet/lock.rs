//! The inactivity lockout of the device Baton runs on, while someone holds it: after the site's
//! `inactivity_lockout_minutes` without a touch, a key or a pointer, the screen locks until one
//! of the device's custodians gives badge and PIN again (checked offline by `pin.rs`, with its
//! throttle). No browser API here; `browser/activity.rs` reports input and
//! `components/lock_screen.rs` draws the lock.
//!
//! The lock is the custodian's screen lock, not the end of their custody: it signs nothing. The
//! signed `lockout` body (docs/PROTOCOL.md §1.5) closes custody intervals, which revokes the
//! custodian's app access; a nurse who looks away for five minutes keeps the device. Anyone else
//! who finds the device locked can still return it: the lock screen offers the check-in of this
//! device, with that person's own badge and PIN, which ends the custody and wipes the session.

/// Where the lock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lock {
    #[default]
    Unlocked,
    /// Only the lock screen shows.
    Locked,
    /// Someone other than the custodian is checking this device in from the lock screen: only
    /// that check-in shows; cancelling it locks again.
    HandingIn,
}

/// Whether the screen should lock now. A site may set the lockout to 0 minutes to turn it off;
/// a device nobody holds has no session to protect.
pub fn should_lock(
    now_ms: u64,
    last_input_ms: u64,
    lockout_minutes: u32,
    holders: &[String],
) -> bool {
    lockout_minutes > 0
        && !holders.is_empty()
        && now_ms.saturating_sub(last_input_ms) >= u64::from(lockout_minutes) * 60_000
}

/// The lock at start-up: a page reload must not be a way around the lock, so a device held by
/// someone starts locked.
pub fn lock_at_start(lockout_minutes: u32, holders: &[String]) -> Lock {
    if lockout_minutes > 0 && !holders.is_empty() {
        Lock::Locked
    } else {
        Lock::Unlocked
    }
}

/// Whether this person may unlock: only someone who holds the device.
pub fn may_unlock(holders: &[String], staff_id: &str) -> bool {
    holders.iter().any(|holder| holder == staff_id)
}

/// The lock once the device's holders changed: nobody holds it any more, so there is nothing to
/// lock; otherwise it stays as it is (a transfer to the next nurse happens unlocked, in front of
/// both).
pub fn lock_after_custody_change(lock: Lock, holders: &[String]) -> Lock {
    if holders.is_empty() {
        Lock::Unlocked
    } else {
        lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_764_000_000_000;

    fn alder() -> Vec<String> {
        vec!["S-0001".to_owned()]
    }

    #[test]
    fn a_held_device_locks_after_the_sites_minutes_without_input() {
        assert!(!should_lock(T0 + 299_999, T0, 5, &alder()));
        assert!(should_lock(T0 + 300_000, T0, 5, &alder()));
        // Nobody holds it: nothing to protect.
        assert!(!should_lock(T0 + 3_600_000, T0, 5, &[]));
        // The site turned the lockout off.
        assert!(!should_lock(T0 + 3_600_000, T0, 0, &alder()));
        // A clock that stepped back never locks early.
        assert!(!should_lock(T0 - 1, T0, 5, &alder()));
    }

    #[test]
    fn a_reload_of_a_held_device_starts_locked() {
        assert_eq!(lock_at_start(5, &alder()), Lock::Locked);
        assert_eq!(lock_at_start(5, &[]), Lock::Unlocked);
        assert_eq!(lock_at_start(0, &alder()), Lock::Unlocked);
    }

    #[test]
    fn only_a_holder_unlocks_and_the_end_of_custody_lifts_the_lock() {
        assert!(may_unlock(&alder(), "S-0001"));
        assert!(!may_unlock(&alder(), "S-0002"));
        assert!(!may_unlock(&[], "S-0001"));
        assert_eq!(
            lock_after_custody_change(Lock::HandingIn, &[]),
            Lock::Unlocked
        );
        assert_eq!(
            lock_after_custody_change(Lock::Locked, &alder()),
            Lock::Locked
        );
    }
}
