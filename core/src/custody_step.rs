//! What one event does: the custody effect of each body type, and the exceptions about an
//! event's signer that are raised whatever the body.

use crate::body::{AuthMethod, Body, BreakGlassReason, Checklist, DeviceCondition, PersonAuth};
use crate::device_fold::{FoldContext, FoldEvent};
use crate::exceptions::{Exception, ExceptionKind, Severity};
use crate::ids::{StaffId, WardId};
use crate::keys::Role;
use crate::state::{CustodyEnd, CustodyEndReason, CustodyInterval, DeviceCustody};

/// Exceptions about the signer of an event rather than its content, raised even for voided
/// events.
pub(crate) fn signer_exceptions(event: &FoldEvent, context: FoldContext<'_>) -> Vec<Exception> {
    let mut exceptions = Vec::new();
    let device = event.body.device();
    let skew_ms = event.wall_ms.abs_diff(event.hlc.ms);
    if skew_ms > context.rules.max_clock_skew_ms {
        exceptions.push(
            Exception::about_device(
                device,
                event.hlc.ms,
                ExceptionKind::ClockSkew,
                Severity::Warning,
            )
            .with_evidence([event.id])
            .with_signer(event.signer)
            .with_detail(format!(
                "wall clock and hybrid clock differ by {skew_ms} ms"
            )),
        );
    }
    let revoked_from_ms = context
        .keys
        .info(&event.signer)
        .and_then(|info| info.revoked_from_ms);
    if let Some(revoked_from_ms) = revoked_from_ms.filter(|&from_ms| event.hlc.ms >= from_ms) {
        exceptions.push(
            Exception::about_device(
                device,
                event.hlc.ms,
                ExceptionKind::RevokedSignerEvent,
                Severity::Critical,
            )
            .with_evidence([event.id])
            .with_people(event.body.people())
            .with_signer(event.signer)
            .with_detail(format!(
                "signed at {} ms, signer revoked from {revoked_from_ms} ms",
                event.hlc.ms
            )),
        );
    }
    exceptions
}

/// The effect of one non-voided event on a device's custody.
pub(crate) struct CustodyStep<'a> {
    pub(crate) custody: &'a mut DeviceCustody,
    pub(crate) exceptions: &'a mut Vec<Exception>,
    pub(crate) event: &'a FoldEvent,
    pub(crate) context: FoldContext<'a>,
}

impl CustodyStep<'_> {
    pub(crate) fn apply(&mut self) {
        let event = self.event;
        // Checked before the effect: such an event can reach the fold without verification (a
        // log loaded from storage, a merge), and it must then change nothing.
        if event.body.requires_authority()
            && self.context.keys.role(&event.signer) != Role::Authority
        {
            let detail = if matches!(event.body, Body::Quarantine { .. } | Body::Release { .. }) {
                format!(
                    "{} signed by a tablet has no effect",
                    event.body.type_name()
                )
            } else {
                format!(
                    "{} naming a person authenticated by a dashboard session, signed by a tablet, has no effect",
                    event.body.type_name()
                )
            };
            self.raise(
                self.exception(ExceptionKind::AuthorityRequired, Severity::Critical)
                    .with_evidence([event.id])
                    .with_people(event.body.people())
                    .with_signer(event.signer)
                    .with_detail(detail),
            );
            return;
        }
        match &event.body {
            Body::CheckOut {
                custodian,
                ward,
                shift,
                expected_return_ms,
                ..
            } => {
                self.take(custodian, ward, shift.as_deref(), *expected_return_ms);
            }
            Body::BreakGlass {
                custodian,
                ward,
                reason,
                ..
            } => {
                let reason = match reason {
                    BreakGlassReason::Emergency => "emergency",
                    BreakGlassReason::SecondPartyAbsent => "second party absent",
                };
                self.raise(
                    self.exception(ExceptionKind::BreakGlassUsed, Severity::Warning)
                        .with_evidence([event.id])
                        .with_people([&custodian.staff])
                        .with_detail(format!("break-glass access: {reason}")),
                );
                self.take(custodian, ward, None, None);
            }
            Body::CheckIn {
                returned_by,
                ward,
                checklist,
                ..
            } => {
                self.custody.missing_report = None;
                self.custody.last_ward = Some(ward.clone());
                if self.end_custodies(CustodyEndReason::CheckedIn, |_| true) == 0 {
                    self.raise(
                        self.exception(ExceptionKind::CheckInWithoutCustody, Severity::Warning)
                            .with_evidence([event.id])
                            .with_people([&returned_by.staff])
                            .with_detail("checked in while nobody held the device"),
                    );
                }
                self.check_checklist(checklist, &returned_by.staff);
                self.check_home_ward(ward, &returned_by.staff);
            }
            Body::Transfer {
                from,
                to,
                ward,
                shift,
                expected_return_ms,
                ..
            } => {
                let from_holds = self
                    .custody
                    .open_intervals()
                    .any(|interval| interval.staff == from.staff);
                if !from_holds {
                    let opened = self
                        .custody
                        .open_intervals()
                        .map(|interval| interval.opened_by);
                    let exception = self
                        .exception(ExceptionKind::TransferFromNonCustodian, Severity::Warning)
                        .with_evidence(opened.chain([event.id]))
                        .with_people([&from.staff].into_iter().chain(self.custody.custodians()))
                        .with_detail("transferred by someone who did not hold the device");
                    self.raise(exception);
                }
                self.end_custodies(CustodyEndReason::Transferred, |_| true);
                self.take(to, ward, shift.as_deref(), *expected_return_ms);
            }
            Body::ReportMissing { .. } => {
                if self.custody.missing_report.is_none() {
                    self.custody.missing_report = Some(event.id);
                }
            }
            Body::ReportFound { ward, .. } => {
                self.custody.missing_report = None;
                self.custody.last_ward = Some(ward.clone());
                self.end_custodies(CustodyEndReason::Found, |_| true);
            }
            Body::Lockout { custodian, .. } => {
                self.end_custodies(CustodyEndReason::Lockout, |interval| {
                    custodian
                        .as_ref()
                        .is_none_or(|custodian| interval.staff == *custodian)
                });
            }
            Body::Correction { .. } => {}
            Body::Quarantine { .. } => {
                self.custody.quarantine = Some(event.id);
                self.end_custodies(CustodyEndReason::Quarantined, |_| true);
            }
            Body::Release { .. } => self.custody.quarantine = None,
        }
    }

    /// Opens a custody for `person`, which a check-out, break-glass or transfer does.
    fn take(
        &mut self,
        person: &PersonAuth,
        ward: &WardId,
        shift: Option<&str>,
        expected_return_ms: Option<u64>,
    ) {
        let event = self.event;
        if let Some(quarantine) = self.custody.quarantine {
            self.raise(
                self.exception(ExceptionKind::UsedWhileQuarantined, Severity::Critical)
                    .with_evidence([quarantine, event.id])
                    .with_people([&person.staff])
                    .with_detail("taken into use while quarantined"),
            );
        }
        // The device is evidently in someone's hands again.
        self.custody.missing_report = None;
        self.custody.last_ward = Some(ward.clone());
        self.end_custodies(CustodyEndReason::Renewed, |interval| {
            interval.staff == person.staff
        });
        if self.custody.open_intervals().next().is_some() {
            let opened = self
                .custody
                .open_intervals()
                .map(|interval| interval.opened_by);
            let exception = self
                .exception(ExceptionKind::OverlappingCustody, Severity::Warning)
                .with_evidence(opened.chain([event.id]))
                .with_people(self.custody.custodians().into_iter().chain([&person.staff]))
                .with_detail("taken while another custody was still open");
            self.raise(exception);
        }
        let expected_return_ms = expected_return_ms
            .unwrap_or_else(|| self.context.rules.expected_return_ms(event.hlc.ms, shift));
        self.custody.open_custody(CustodyInterval {
            staff: person.staff.clone(),
            method: person.method,
            opened_by: event.id,
            start_ms: event.hlc.ms,
            expected_return_ms,
            end: None,
        });
        if person.method == AuthMethod::BreakGlass && !matches!(event.body, Body::BreakGlass { .. })
        {
            self.raise(
                self.exception(ExceptionKind::BreakGlassUsed, Severity::Warning)
                    .with_evidence([event.id])
                    .with_people([&person.staff])
                    .with_detail("authenticated by break-glass"),
            );
        }
    }

    /// Closes the open custodies selected by `should_close`; returns how many were closed.
    fn end_custodies(
        &mut self,
        reason: CustodyEndReason,
        should_close: impl FnMut(&CustodyInterval) -> bool,
    ) -> usize {
        let end = CustodyEnd {
            event: self.event.id,
            end_ms: self.event.hlc.ms,
            reason,
        };
        self.custody.close_custodies(&end, should_close)
    }

    fn check_checklist(&mut self, checklist: &Checklist, returned_by: &StaffId) {
        let mut problems = Vec::new();
        let mut severity = Severity::Info;
        if !checklist.local_data_wiped {
            problems.push("local data not wiped");
            severity = Severity::Critical;
        }
        if !checklist.apps_signed_out {
            problems.push("apps not signed out");
            severity = severity.max(Severity::Warning);
        }
        match checklist.condition {
            DeviceCondition::Ok => {}
            DeviceCondition::Damaged => {
                problems.push("returned damaged");
                severity = severity.max(Severity::Warning);
            }
            DeviceCondition::NeedsCharging => problems.push("returned needing charge"),
        }
        if !problems.is_empty() {
            self.raise(
                self.exception(ExceptionKind::IncompleteChecklist, severity)
                    .with_evidence([self.event.id])
                    .with_people([returned_by])
                    .with_detail(problems.join(", ")),
            );
        }
    }

    fn check_home_ward(&mut self, ward: &WardId, returned_by: &StaffId) {
        let Some(home_ward) = self.context.registry.home_ward(self.event.body.device()) else {
            return;
        };
        if home_ward != ward {
            self.raise(
                self.exception(ExceptionKind::AwayFromHomeWard, Severity::Info)
                    .with_evidence([self.event.id])
                    .with_people([returned_by])
                    .with_detail(format!("checked in on {ward}, home ward is {home_ward}")),
            );
        }
    }

    /// Starts an exception about this device.
    fn exception(&self, kind: ExceptionKind, severity: Severity) -> Exception {
        Exception::about_device(&self.custody.device, self.event.hlc.ms, kind, severity)
    }

    fn raise(&mut self, exception: Exception) {
        self.exceptions.push(exception);
    }
}
