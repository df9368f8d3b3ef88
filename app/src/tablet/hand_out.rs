//! A charge nurse's bulk hand-out at shift start: the charge nurse gives badge and PIN once,
//! then hands devices to one person or several in turn, each recipient by a badge scan and each
//! device by a scan, and every device gets its own signed check-out that names both
//! (`capture::hand_out_body`).
//!
//! The charge nurse's authentication holds only while the run is in use: after
//! `RUN_IDLE_LIMIT_MS` without a scan, or when the page is left, the next device needs badge
//! and PIN again, so a run left open on an unattended tablet cannot hand out devices.

use super::roster::{StaffMember, is_supervisor};

/// How long a run stays open without a scan.
pub const RUN_IDLE_LIMIT_MS: u64 = 2 * 60 * 1000;

/// Whether this person may issue a bulk hand-out.
pub fn may_issue(member: &StaffMember) -> bool {
    member.active && is_supervisor(&member.role)
}

/// An open run: who issues it, and when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub issuer: StaffMember,
    last_used_ms: u64,
}

/// Why a scan in a run was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRefusal {
    /// The run was idle too long; the issuer must give badge and PIN again.
    Expired,
    /// The recipient is the issuer.
    IssuerIsRecipient,
    /// The recipient's staff record is deactivated.
    Inactive,
}

impl Run {
    pub fn open(issuer: StaffMember, now_ms: u64) -> Run {
        Run {
            issuer,
            last_used_ms: now_ms,
        }
    }

    /// Whether the run is still open at `now_ms`.
    pub fn is_open(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_used_ms) < RUN_IDLE_LIMIT_MS
    }

    /// Checks a recipient scanned at `now_ms`; an accepted scan keeps the run open.
    pub fn accept_recipient(
        &mut self,
        recipient: &StaffMember,
        now_ms: u64,
    ) -> Result<(), RunRefusal> {
        self.use_at(now_ms)?;
        if recipient.staff_id == self.issuer.staff_id {
            return Err(RunRefusal::IssuerIsRecipient);
        }
        if !recipient.active {
            return Err(RunRefusal::Inactive);
        }
        Ok(())
    }

    /// Marks a device scan at `now_ms`, refused once the run has expired.
    pub fn use_at(&mut self, now_ms: u64) -> Result<(), RunRefusal> {
        if !self.is_open(now_ms) {
            return Err(RunRefusal::Expired);
        }
        self.last_used_ms = now_ms;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(staff_id: &str, role: &str) -> StaffMember {
        StaffMember {
            staff_id: staff_id.to_owned(),
            display_name: format!("Person {staff_id}"),
            role: role.to_owned(),
            badge_id: format!("B-{staff_id}"),
            home_ward: "W-4E".to_owned(),
            pin_verifier: String::new(),
            active: true,
        }
    }

    #[test]
    fn only_an_active_charge_nurse_or_manager_issues_a_run() {
        assert!(may_issue(&member("S-1", "charge_nurse")));
        assert!(may_issue(&member("S-1", "manager")));
        assert!(!may_issue(&member("S-1", "nurse")));
        let mut gone = member("S-1", "charge_nurse");
        gone.active = false;
        assert!(!may_issue(&gone));
    }

    #[test]
    fn a_run_stays_open_while_used_and_closes_after_the_idle_limit() {
        let start = 1_000_000;
        let mut run = Run::open(member("S-1", "charge_nurse"), start);
        let nurse = member("S-2", "nurse");
        // Each scan pushes the limit back.
        run.accept_recipient(&nurse, start + RUN_IDLE_LIMIT_MS - 1)
            .unwrap();
        run.use_at(start + 2 * RUN_IDLE_LIMIT_MS - 2).unwrap();
        assert!(run.is_open(start + 3 * RUN_IDLE_LIMIT_MS - 3));
        assert_eq!(
            run.use_at(start + 3 * RUN_IDLE_LIMIT_MS - 2),
            Err(RunRefusal::Expired)
        );
        // An expired run stays expired.
        assert_eq!(
            run.accept_recipient(&nurse, start + 3 * RUN_IDLE_LIMIT_MS),
            Err(RunRefusal::Expired)
        );
    }

    #[test]
    fn the_issuer_and_deactivated_staff_cannot_receive() {
        let mut run = Run::open(member("S-1", "charge_nurse"), 0);
        assert_eq!(
            run.accept_recipient(&member("S-1", "charge_nurse"), 1),
            Err(RunRefusal::IssuerIsRecipient)
        );
        let mut gone = member("S-3", "nurse");
        gone.active = false;
        assert_eq!(run.accept_recipient(&gone, 2), Err(RunRefusal::Inactive));
        assert_eq!(run.accept_recipient(&member("S-2", "nurse"), 3), Ok(()));
    }
}
