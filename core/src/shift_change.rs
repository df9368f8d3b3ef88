//! A ward's shift change as a charge nurse reviews it: for each device of the ward, who held it
//! when the window opened, who held it when it closed, and every custody opened or ended in
//! between. The rows a charge nurse chases come first: devices still with someone from before
//! the window (not handed over), then those returned or handed over, then the idle ones.
//!
//! Derived from the fold's custody intervals, so it agrees with the board and the timelines.

use serde::Serialize;

use crate::fold::CustodyState;
use crate::ids::{DeviceId, EventId, StaffId, WardId};
use crate::rules::SiteRules;
use crate::state::{CustodyEndReason, CustodyInterval, DeviceCustody};

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_DAY: i64 = 24 * 60 * MS_PER_MINUTE;

/// What happened to a device over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftOutcome {
    /// Someone who held it when the window opened still holds it when it closes, with no
    /// handoff in between: it was not handed over.
    NotHandedOver,
    /// Held at the start, and at the end by someone else (or by the same person again after a
    /// handoff in between).
    HandedOver,
    /// Held at the start, nobody holds it at the end.
    Returned,
    /// Nobody held it at the start; someone holds it at the end.
    CheckedOut,
    /// Nobody held it at either end, but custodies opened and ended in between.
    UsedAndReturned,
    /// No custody at either end and none in between.
    Idle,
}

/// A custody opened or ended inside the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowHandoff {
    pub at_ms: u64,
    pub staff: StaffId,
    pub event: EventId,
    /// `None` when the custody opened; the reason when it ended.
    pub ended: Option<CustodyEndReason>,
}

/// One device of the ward over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftChangeRow {
    pub device: DeviceId,
    pub held_at_start: Vec<StaffId>,
    pub held_at_end: Vec<StaffId>,
    /// In time order.
    pub handoffs: Vec<WindowHandoff>,
    pub outcome: ShiftOutcome,
}

/// Every device whose home ward is `ward` (the registry's, or a device the fold knows whose
/// latest event named the ward), over `[from_ms, to_ms)`, the rows to chase first, then by
/// device id.
pub fn shift_change(
    state: &CustodyState,
    ward: &WardId,
    from_ms: u64,
    to_ms: u64,
) -> Vec<ShiftChangeRow> {
    let mut devices: Vec<&DeviceId> = state
        .registry()
        .home_wards
        .iter()
        .filter(|(_, home)| *home == ward)
        .map(|(device, _)| device)
        .collect();
    for custody in state.devices() {
        let unregistered = !state.registry().home_wards.contains_key(&custody.device);
        if unregistered && custody.last_ward.as_ref() == Some(ward) {
            devices.push(&custody.device);
        }
    }
    let mut rows: Vec<ShiftChangeRow> = devices
        .into_iter()
        .map(|device| row(device, state.device(device), from_ms, to_ms))
        .collect();
    rows.sort_by(|left, right| {
        left.outcome
            .cmp(&right.outcome)
            .then_with(|| left.device.cmp(&right.device))
    });
    rows
}

fn held_at(interval: &CustodyInterval, at_ms: u64) -> bool {
    interval.start_ms <= at_ms && interval.end.as_ref().is_none_or(|end| end.end_ms > at_ms)
}

fn row(
    device: &DeviceId,
    custody: Option<&DeviceCustody>,
    from_ms: u64,
    to_ms: u64,
) -> ShiftChangeRow {
    let intervals: &[CustodyInterval] = custody.map_or(&[], |custody| &custody.intervals);
    let holders = |at_ms: u64| -> Vec<StaffId> {
        let mut staff: Vec<StaffId> = intervals
            .iter()
            .filter(|interval| held_at(interval, at_ms))
            .map(|interval| interval.staff.clone())
            .collect();
        staff.sort();
        staff.dedup();
        staff
    };
    let held_at_start = holders(from_ms);
    // The window is half-open: what is held at its last instant is what the next shift has.
    let held_at_end = holders(to_ms.saturating_sub(1));
    let inside = |at_ms: u64| from_ms <= at_ms && at_ms < to_ms;
    let mut handoffs: Vec<WindowHandoff> = Vec::new();
    for interval in intervals {
        if inside(interval.start_ms) {
            handoffs.push(WindowHandoff {
                at_ms: interval.start_ms,
                staff: interval.staff.clone(),
                event: interval.opened_by,
                ended: None,
            });
        }
        if let Some(end) = interval.end.as_ref().filter(|end| inside(end.end_ms)) {
            handoffs.push(WindowHandoff {
                at_ms: end.end_ms,
                staff: interval.staff.clone(),
                event: end.event,
                ended: Some(end.reason),
            });
        }
    }
    // Ends before opens at the same moment: a transfer closes one custody as it opens the next.
    handoffs.sort_by_key(|handoff| (handoff.at_ms, handoff.ended.is_none()));
    let outcome = match (held_at_start.is_empty(), held_at_end.is_empty()) {
        (false, false) => {
            let unchanged = held_at_start == held_at_end;
            // The same people, with none of their custodies ended inside the window.
            let untouched = unchanged
                && !handoffs.iter().any(|handoff| {
                    handoff.ended.is_some() && held_at_start.contains(&handoff.staff)
                });
            if untouched {
                ShiftOutcome::NotHandedOver
            } else {
                ShiftOutcome::HandedOver
            }
        }
        (false, true) => ShiftOutcome::Returned,
        (true, false) => ShiftOutcome::CheckedOut,
        (true, true) if handoffs.is_empty() => ShiftOutcome::Idle,
        (true, true) => ShiftOutcome::UsedAndReturned,
    };
    ShiftChangeRow {
        device: device.clone(),
        held_at_start,
        held_at_end,
        handoffs,
        outcome,
    }
}

/// A shift's start, in UTC milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftStart {
    pub shift: String,
    pub at_ms: u64,
}

/// The starts of the site's shifts at or before `before_ms`, newest first, at most `count`:
/// the shift changes a charge nurse can review.
pub fn recent_shift_starts(rules: &SiteRules, before_ms: u64, count: usize) -> Vec<ShiftStart> {
    let offset_ms = i64::from(rules.utc_offset_minutes) * MS_PER_MINUTE;
    let local_day = (before_ms as i64 + offset_ms).div_euclid(MS_PER_DAY);
    let mut starts: Vec<ShiftStart> = Vec::new();
    // Enough days back for `count` starts, however few shifts a day the site has.
    let days_back = (count / rules.shifts.len().max(1)) as i64 + 1;
    for day in (local_day - days_back..=local_day).rev() {
        let mut today: Vec<ShiftStart> = rules
            .shifts
            .iter()
            .filter_map(|shift| {
                let local = day * MS_PER_DAY + i64::from(shift.start_minute_of_day) * MS_PER_MINUTE;
                let at_ms = u64::try_from(local - offset_ms).ok()?;
                (at_ms <= before_ms).then(|| ShiftStart {
                    shift: shift.name.clone(),
                    at_ms,
                })
            })
            .collect();
        today.sort_by_key(|start| std::cmp::Reverse(start.at_ms));
        starts.extend(today);
    }
    starts.truncate(count);
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CustodyEnd;

    fn staff(id: &str) -> StaffId {
        StaffId::new(id).unwrap()
    }

    fn event(byte: u8) -> EventId {
        EventId([byte; 32])
    }

    fn interval(who: &str, start_ms: u64, end: Option<(u64, CustodyEndReason)>) -> CustodyInterval {
        CustodyInterval {
            staff: staff(who),
            method: crate::body::AuthMethod::BadgePin,
            opened_by: event(start_ms as u8),
            start_ms,
            expected_return_ms: start_ms + 1_000,
            end: end.map(|(end_ms, reason)| CustodyEnd {
                event: event(end_ms as u8),
                end_ms,
                reason,
            }),
        }
    }

    fn outcome_of(intervals: Vec<CustodyInterval>) -> (ShiftOutcome, usize) {
        let device = DeviceId::new("D-0001").unwrap();
        let mut custody = DeviceCustody::new(device.clone());
        custody.intervals = intervals;
        let row = row(&device, Some(&custody), 100, 200);
        (row.outcome, row.handoffs.len())
    }

    #[test]
    fn each_outcome_follows_from_who_held_the_device_at_each_end() {
        use CustodyEndReason::*;
        assert_eq!(outcome_of(vec![]), (ShiftOutcome::Idle, 0));
        assert_eq!(
            outcome_of(vec![interval("S-0001", 50, None)]),
            (ShiftOutcome::NotHandedOver, 0)
        );
        assert_eq!(
            outcome_of(vec![
                interval("S-0001", 50, Some((150, Transferred))),
                interval("S-0002", 150, None),
            ]),
            (ShiftOutcome::HandedOver, 2)
        );
        assert_eq!(
            outcome_of(vec![interval("S-0001", 50, Some((120, CheckedIn)))]),
            (ShiftOutcome::Returned, 1)
        );
        assert_eq!(
            outcome_of(vec![interval("S-0002", 180, None)]),
            (ShiftOutcome::CheckedOut, 1)
        );
        assert_eq!(
            outcome_of(vec![interval("S-0002", 110, Some((130, CheckedIn)))]),
            (ShiftOutcome::UsedAndReturned, 2)
        );
        // Returned and taken out again by the same person inside the window: handed over,
        // not left with the outgoing shift.
        assert_eq!(
            outcome_of(vec![
                interval("S-0001", 50, Some((120, CheckedIn))),
                interval("S-0001", 150, None),
            ]),
            (ShiftOutcome::HandedOver, 2)
        );
        // Ended exactly at the window's close belongs to the next window.
        assert_eq!(
            outcome_of(vec![interval("S-0001", 50, Some((200, CheckedIn)))]),
            (ShiftOutcome::NotHandedOver, 0)
        );
    }

    #[test]
    fn a_transfer_reads_as_the_end_then_the_start() {
        let device = DeviceId::new("D-0001").unwrap();
        let mut custody = DeviceCustody::new(device.clone());
        custody.intervals = vec![
            interval("S-0001", 50, Some((150, CustodyEndReason::Transferred))),
            interval("S-0002", 150, None),
        ];
        let row = row(&device, Some(&custody), 100, 200);
        assert_eq!(row.held_at_start, [staff("S-0001")]);
        assert_eq!(row.held_at_end, [staff("S-0002")]);
        let order: Vec<_> = row
            .handoffs
            .iter()
            .map(|h| (h.staff.as_str(), h.ended))
            .collect();
        assert_eq!(
            order,
            [
                ("S-0001", Some(CustodyEndReason::Transferred)),
                ("S-0002", None)
            ]
        );
    }

    #[test]
    fn recent_shift_starts_are_the_rules_starts_newest_first_in_local_time() {
        let rules = SiteRules {
            utc_offset_minutes: 60,
            ..SiteRules::default()
        };
        // 2026-11-28 12:00 UTC is 13:00 local: the day shift began at 07:00 local, 06:00 UTC.
        let noon_utc: u64 = 1_795_867_200_000;
        let starts = recent_shift_starts(&rules, noon_utc, 3);
        let hours: Vec<(String, i64)> = starts
            .iter()
            .map(|start| {
                (
                    start.shift.clone(),
                    (start.at_ms as i64 - noon_utc as i64) / (60 * MS_PER_MINUTE),
                )
            })
            .collect();
        assert_eq!(
            hours,
            [
                ("day".to_owned(), -6),
                ("night".to_owned(), -18),
                ("day".to_owned(), -30)
            ]
        );
    }
}
