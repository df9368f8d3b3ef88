//! Every sentence the app shows, in one place so that a translation touches one file. Messages
//! with values are functions.

use crate::tablet::pin::MAX_WRONG_PINS;

pub const PRODUCT_NAME: &str = "Baton";
pub const HOME_TAGLINE: &str = "Signed custody handoffs for shared clinical devices.";
pub const NOT_ENROLLED: &str =
    "This tablet is not enrolled yet. A manager's enrollment code links it to a ward.";
pub const KEY_READY: &str = "Signing key generated on this device (ed25519, from the browser's secure random source). Fingerprint:";
pub const KEY_FAILED: &str = "This browser could not generate a signing key:";
pub const EVENT_FORMAT: &str = "Signed event format version";
pub const ONLINE: &str = "Online";
pub const OFFLINE: &str =
    "Offline: handoffs are kept on this tablet and sent when the network returns";
pub const NOT_FOUND_HEADING: &str = "Page not found";
pub const BACK_HOME: &str = "Back to the start screen";

pub const UPDATE_READY: &str = "Update ready: tap to restart Baton";

// Start-up.
pub const STARTING: &str = "Opening this tablet's records…";
pub const STORAGE_FAILED: &str = "This tablet's storage could not be opened. Nothing can be captured until it is fixed; tell IT support.";
pub const START_FAILED_HEADING: &str = "Baton cannot start";

// Navigation.
pub const NAV_LABEL: &str = "Tasks";
pub const NAV_CHECK_OUT: &str = "Check out";
pub const NAV_CHECK_IN: &str = "Check in";
pub const NAV_BOARD: &str = "Ward board";
pub const NAV_TRANSFER: &str = "Hand over";
pub const NAV_REPORT: &str = "Missing / found";

// Enrollment.
pub const ENROLL_HEADING: &str = "Enroll this tablet";
pub const ENROLL_CODE_LABEL: &str = "Enrollment code";
pub const ENROLL_CODE_HINT: &str =
    "Scan the QR code or type the code the manager gives you, then press Enter.";
pub const ENROLL_LABEL_LABEL: &str = "Name of this tablet";
pub const ENROLL_LABEL_DEFAULT: &str = "Ward tablet";
pub const ENROLL_BUTTON: &str = "Enroll";
pub const ENROLL_BUSY: &str = "Enrolling…";
pub const ENROLL_CODE_MISSING: &str = "Enter the enrollment code.";
pub const ENROLL_LABEL_EMPTY: &str = "Give this tablet a name, for example its place on the ward.";
pub const ENROLL_LABEL_TOO_LONG: &str = "The name can be at most 64 characters.";
pub const ENROLL_LABEL_CONTROL: &str = "The name can only contain printable characters.";
pub const ENROLL_OFFLINE: &str = "Enrollment needs the network. Connect this tablet and try again.";
pub const ENROLL_UNREACHABLE: &str = "The Baton server could not be reached. Try again.";
pub const ENROLL_SAVE_FAILED: &str = "Enrolled, but this tablet could not store its key:";
pub const ALREADY_ENROLLED: &str = "This tablet is enrolled.";
pub const GO_TO_CHECK_OUT: &str = "Go to check-out";

pub fn enrolled_as(label: &str, tablet_id: &str, ward: &str) -> String {
    format!("“{label}” ({tablet_id}) captures handoffs for {ward}.")
}

// Capture, common to check-out and check-in.
pub const ASSET_TAG_LABEL: &str = "Device asset tag";
pub const ASSET_TAG_HINT: &str = "Scan the device's label, or type its tag and press Enter.";
pub const BADGE_LABEL: &str = "Staff badge";
pub const BADGE_HINT: &str = "Scan the badge, or type its number and press Enter.";
pub const FIND_DEVICE: &str = "Find device";
pub const FIND_PERSON: &str = "Find person";
pub const TAKEN_BY: &str = "Taken by";
pub const PIN_HINT: &str = "Type the PIN and press Enter.";
pub const CHECKING_PIN: &str = "Checking the PIN…";
pub const SAVING: &str = "Saving on this tablet…";
pub const START_AGAIN: &str = "Start again";
pub const SAVED_ON_TABLET: &str =
    "Signed and saved on this tablet. It is sent to the server automatically.";
pub const STORAGE_WRITE_FAILED: &str =
    "NOT SAVED. This tablet could not store the handoff, so nothing was recorded:";
pub const STORAGE_FULL: &str = "this tablet's storage is full. The device has not changed hands in the record: keep it where it is, ask IT support to free space on this tablet, then enter the PIN again.";
pub const STORAGE_WRITE_RETRY: &str = "Enter the PIN again; if it fails again, tell IT support.";
pub const INACTIVE_DEVICE: &str = "is retired from service and cannot be handed out.";

pub fn pin_label(name: &str) -> String {
    format!("PIN for {name}")
}

pub fn unknown_device(scanned: &str) -> String {
    format!("No device with the tag “{scanned}” is registered at this site.")
}

pub fn unknown_badge(scanned: &str) -> String {
    format!("No one on this site's roster has the badge “{scanned}”.")
}

pub fn inactive_person(name: &str) -> String {
    format!(
        "{name} is not active on this site's roster and cannot take or return devices. Ask the nurse in charge."
    )
}

pub fn wrong_pin(tries_left: u32) -> String {
    match tries_left {
        1 => "Wrong PIN. One more wrong PIN locks this person out.".to_owned(),
        n => format!("Wrong PIN. {n} tries left."),
    }
}

pub fn locked_out(name: &str, until: &str) -> String {
    format!(
        "Too many wrong PINs ({MAX_WRONG_PINS}) for {name}: locked out until {until}. Ask the nurse in charge."
    )
}

pub fn wait_before_pin(seconds: u64) -> String {
    format!("Wait {seconds} s before trying the PIN again.")
}

pub const BAD_VERIFIER: &str = "This person's PIN cannot be checked on this tablet (the roster entry is damaged). Ask IT support.";

pub fn held_by(names: &str, since: &str) -> String {
    format!("Held by {names} since {since}.")
}

pub const NOT_HELD: &str = "Not checked out, as far as this tablet knows.";

// Check-out.
pub const CHECK_OUT_HEADING: &str = "Check out a device";
pub const CHECK_OUT_BUTTON: &str = "Check out";
pub const CHECK_OUT_ALREADY_HELD: &str =
    "Checking it out now records overlapping custody; check it in first if it was returned.";

pub fn checked_out(tag: &str, name: &str, time: &str) -> String {
    format!("{tag} checked out to {name} at {time}.")
}

// Bulk hand-out.
pub const NAV_HAND_OUT: &str = "Hand out";
pub const HAND_OUT_HEADING: &str = "Hand out devices at shift start";
pub const HAND_OUT_EXPLAINED: &str = "A charge nurse gives badge and PIN once, then scans each person's badge and the devices they take. Every device is recorded as its own check-out, naming both.";
pub const HAND_OUT_ISSUED_BY: &str = "Charge nurse";
pub const HAND_OUT_START: &str = "Start hand-out";
pub const HAND_OUT_RECIPIENT: &str = "Hand out to: scan their badge";
pub const HAND_OUT_BUTTON: &str = "Hand out";
pub const HAND_OUT_NEXT_PERSON: &str = "Next person";
pub const HAND_OUT_FINISH: &str = "Finish hand-out";
pub const HAND_OUT_LIST: &str = "Handed out in this run";
pub const HAND_OUT_EXPIRED: &str = "The hand-out was idle for two minutes and has ended. The charge nurse gives badge and PIN again to go on.";
pub const HAND_OUT_TO_SELF: &str =
    "The charge nurse cannot hand a device to themself here. Use Check out with badge and PIN.";

pub fn may_not_issue(name: &str) -> String {
    format!(
        "{name} cannot start a hand-out: only a charge nurse or a manager can. Use Check out instead."
    )
}

pub fn hand_out_issued_by(name: &str) -> String {
    format!("Hand-out started by {name}.")
}

pub fn hand_out_device_label(name: &str) -> String {
    format!("Devices for {name}: scan each one")
}

pub fn hand_out_held(tag: &str, names: &str, since: &str) -> String {
    format!(
        "{tag} is held by {names} since {since}. Check it in first, or hand it over with both people present."
    )
}

pub fn handed_out(tag: &str, name: &str, time: &str) -> String {
    format!("{tag} handed out to {name} at {time}.")
}

// Check-in.
pub const CHECK_IN_HEADING: &str = "Check in a device";
pub const CHECK_IN_BUTTON: &str = "Check in";
pub const CHECKLIST_LEGEND: &str = "Return checklist";
pub const APPS_SIGNED_OUT: &str = "Signed out of every app";
pub const LOCAL_DATA_WIPED: &str = "Local patient data wiped";
pub const CONDITION_LEGEND: &str = "Condition";
pub const CONDITION_OK: &str = "OK";
pub const CONDITION_DAMAGED: &str = "Damaged";
pub const CONDITION_NEEDS_CHARGING: &str = "Needs charging";
pub const NOTE_LABEL: &str = "Note (optional)";

pub const AUTO_WIPE: &str = "This is the tablet you are using: its local data is wiped when it is checked in, and the record says whether the wipe succeeded.";

// The session wipe at the end of this device's custody.
pub const WIPE_DONE: &str =
    "Local data of the previous custodian wiped from this tablet; Baton's custody records kept.";
pub const WIPE_FAILED: &str =
    "The local data wipe did not finish, so it is not recorded as done. Not removed:";
pub const WIPE_RETRY: &str = "Wipe again";

pub fn wipe_removed(n_removed: usize) -> String {
    match n_removed {
        1 => "1 item removed.".to_owned(),
        n => format!("{n} items removed."),
    }
}

pub fn wipe_not_removed(item: &str, reason: &str) -> String {
    format!("{item}: {reason}")
}

// The inactivity lockout.
pub const LOCK_HEADING: &str = "This tablet is locked";
pub const UNLOCK_LEGEND: &str = "Custodian";
pub const UNLOCK_BUTTON: &str = "Unlock";
pub const HAND_IN_INSTEAD: &str = "Someone else: check this tablet in";
pub const BACK_TO_LOCK: &str = "Back to the lock screen";

pub fn locked_for(names: &str) -> String {
    format!("It is held by {names}. Scan your badge and enter your PIN to continue.")
}

pub fn not_the_custodian(name: &str) -> String {
    format!(
        "{name} does not hold this tablet. Only its custodian can unlock it; anyone can check it in."
    )
}

// Which registry device this tablet is.
pub const THIS_DEVICE_HEADING: &str = "This device";
pub const THIS_DEVICE_LINK: &str = "This device";
pub const THIS_DEVICE_EXPLAINED: &str = "When this tablet is itself a device in the registry, Baton wipes the previous custodian's local data when it is checked in and locks it after inactivity while someone holds it.";
pub const THIS_DEVICE_UNSET: &str = "This tablet has not been told which registry device it is.";
pub const THIS_DEVICE_SET_BY: &str = "Set by";
pub const THIS_DEVICE_SAVE: &str = "Save";

pub fn this_device_is(tag: &str, device_id: &str) -> String {
    format!("This tablet is {tag} ({device_id}).")
}

pub fn this_device_saved(tag: &str) -> String {
    format!("Saved: this tablet is {tag}.")
}

pub fn this_device_held(tag: &str) -> String {
    format!(
        "{tag} is checked out; which device this tablet is can be changed once it is checked in."
    )
}

// The tablet's own signing key.
pub const TABLET_KEY_HEADING: &str = "This tablet's signing key";
pub const TABLET_KEY_LINK: &str = "Signing key";
pub const TABLET_KEY_EXPLAINED: &str = "Rotating gives this tablet a new signing key: the old key signs over to the new one, the server accepts only the new key from then on, and every record signed so far stays valid.";
pub const TABLET_KEY_CONFIRMED_BY: &str = "Confirmed by a charge nurse or manager";
pub const TABLET_KEY_ROTATE: &str = "Rotate this tablet's signing key";
pub const TABLET_KEY_ROTATING: &str = "Sending this tablet's records, then changing its key…";
pub const KEY_ROTATION_OFFLINE: &str =
    "Rotating the key needs the network. Connect this tablet and try again.";
pub const KEY_ROTATION_SYNC_FAILED: &str = "This tablet could not send its records to the server, so its key was not changed. Try again when the sync succeeds.";
pub const KEY_ROTATION_NOT_SYNCED: &str = "The server does not have all of this tablet's records yet. They are being sent now; try again in a moment.";
pub const KEY_ROTATION_REFUSED: &str = "The server refused the new key; nothing changed.";
pub const KEY_ROTATION_NOT_TAKEN: &str =
    "The server did not take the new key; nothing changed. Try again.";
pub const KEY_ROTATION_UNSETTLED: &str = "This tablet is finishing a change of its signing key and cannot tell yet which key the server accepts. It retries with every sync; keep it connected.";
pub const KEY_CHANGING: &str = "This tablet's signing key is being changed. Nothing can be signed until the change is finished; keep the tablet connected and try again in a moment.";

pub fn key_rotation_not_now(not_now: crate::tablet::key_rotation::NotNow) -> String {
    use crate::tablet::key_rotation::NotNow;
    match not_now {
        NotNow::Offline => KEY_ROTATION_OFFLINE.to_owned(),
        NotNow::Unsynced { n_pending } => format!(
            "{n_pending} record(s) of this tablet are still waiting to be sent; the key can be rotated once the server has them all."
        ),
        NotNow::PendingKey => KEY_ROTATION_UNSETTLED.to_owned(),
    }
}

pub fn tablet_key_current(fingerprint: &str, n_earlier: usize) -> String {
    match n_earlier {
        0 => format!("Current key: {fingerprint}…"),
        n => format!("Current key: {fingerprint}… ({n} earlier key(s) retired)"),
    }
}

pub fn may_not_rotate(name: &str) -> String {
    format!("{name} cannot rotate this tablet's key: a charge nurse or a manager must confirm.")
}

pub const TABLET_KEY_ROTATED: &str = "Signing key rotated.";
pub const TABLET_KEY_OLD: &str = "Old key";
pub const TABLET_KEY_NEW: &str = "New key";

pub fn away_from_home(tag: &str, home_ward: &str) -> String {
    format!("{tag} belongs to {home_ward}. The return is recorded here; put it aside to go home.")
}
pub const RETURNED_BY: &str = "Returned by";

pub fn checked_in(tag: &str, name: &str, time: &str) -> String {
    format!("{tag} checked in by {name} at {time}.")
}

// Transfer.
pub const TRANSFER_HEADING: &str = "Hand a device to a colleague";
pub const HANDED_BY: &str = "Handed over by (the person who has it)";
pub const NEXT: &str = "Next";
pub const TRANSFER_BUTTON: &str = "Hand over";
pub const SAME_PERSON: &str =
    "The same person cannot hand a device to themselves. Scan the colleague's badge.";
pub const GIVER_NOT_HOLDER: &str = "As far as this tablet knows this person does not hold the device; the handover will be recorded and flagged for the manager.";

pub fn transferred(tag: &str, from: &str, to: &str, time: &str) -> String {
    format!("{tag} handed from {from} to {to} at {time}.")
}

// Missing and found.
pub const REPORT_HEADING: &str = "Report a device missing or found";
pub const REPORT_KIND_LEGEND: &str = "What happened";
pub const REPORT_MISSING: &str = "It is missing";
pub const REPORT_FOUND: &str = "It was found here";
pub const REPORTED_BY: &str = "Reported by";
pub const REPORT_NOTE: &str = "Where it was last seen or found (optional)";
pub const REPORT_MISSING_BUTTON: &str = "Report missing";
pub const REPORT_FOUND_BUTTON: &str = "Report found";

pub fn reported_missing(tag: &str, name: &str, time: &str) -> String {
    format!("{tag} reported missing by {name} at {time}. The manager's dashboard shows it now.")
}

pub fn reported_found(tag: &str, name: &str, time: &str) -> String {
    format!("{tag} reported found by {name} at {time}.")
}

// Break-glass.
pub const BREAK_GLASS_LINK: &str = "Emergency and no PIN or no second person? Break-glass hand-out";
pub const BREAK_GLASS_HEADING: &str = "Break-glass hand-out";
pub const BREAK_GLASS_WARNING: &str = "For emergencies only. The person is identified by badge alone, and the manager is alerted to every break-glass hand-out.";
pub const BREAK_GLASS_REASON: &str = "Why";
pub const BREAK_GLASS_EMERGENCY: &str = "Emergency: no time for the PIN";
pub const BREAK_GLASS_ABSENT: &str = "No second person to hand over";
pub const BREAK_GLASS_NOTE: &str = "What is happening (required)";
pub const BREAK_GLASS_BUTTON: &str = "Hand out (break-glass)";
pub const BREAK_GLASS_NOTE_REQUIRED: &str =
    "Write what is happening: the manager reviews every break-glass hand-out.";
pub const TAKEN_BY_BADGE: &str = "Taken by";

pub fn broke_glass(tag: &str, name: &str, time: &str) -> String {
    format!("{tag} handed out to {name} by break-glass at {time}. The manager is alerted.")
}

// Corrections.
pub const CORRECT_LINK: &str = "Correct";
pub const CORRECT_HEADING: &str = "Correct a record";
pub const CORRECT_EXPLAIN: &str = "A correction voids this record but keeps it: the board then ignores it, and the manager sees both, with who corrected it and why.";
pub const CORRECT_NOTE: &str = "What was wrong (required)";
pub const CORRECTED_BY: &str = "Corrected by";
pub const CORRECT_BUTTON: &str = "Void this record";
pub const CORRECT_NOTE_REQUIRED: &str = "Say what was wrong before voiding the record.";
pub const CORRECT_UNKNOWN: &str =
    "This tablet has no such record. Only records made on this tablet can be corrected here.";
pub const CORRECT_ALREADY: &str = "This record is already voided by a correction.";

pub fn corrected(tag: &str, name: &str, time: &str) -> String {
    format!("The record for {tag} was voided by {name} at {time}.")
}

// Sync.
pub const SYNCING: &str = "Sending…";
pub const WAITING_TO_SEND: &str = "waiting to send";
pub const LAST_SYNC: &str = "Last sync";
pub const NEVER_SYNCED: &str = "Not synced yet";
pub const SYNC_HEADING: &str = "Sync";
pub const SYNC_ALL_WELL: &str = "The server has accepted every handoff it was sent.";
pub const SYNC_FAILED: &str = "The last sync failed:";
pub const REFUSED_HEADING: &str = "Handoffs the server refused";
pub const RETRYING_HEADING: &str = "Handoffs the server will take later";
pub const RETRYING_HINT: &str = "These stay on this tablet and are sent again at every sync. A future_timestamp means this tablet's clock was ahead of the server's when they were signed: the server takes them once its own clock reaches theirs. Tell IT support.";

/// The warning on every screen while the tablet's clock is off the server's by more than the
/// site allows.
pub fn clock_skewed(amount: &str, ahead: bool) -> String {
    let direction = if ahead { "ahead of" } else { "behind" };
    format!(
        "This tablet's clock is {amount} {direction} the server's. Handoffs are still recorded, with the server's time, and the manager is shown the difference. Ask IT support to set this tablet's date and time."
    )
}
/// The warning on every screen while the tablet, started without the network, cannot believe
/// its own clock (`tablet::clock_check::Reference::Unchecked`); `since` is the last contact.
pub fn clock_unchecked(since: &str) -> String {
    format!(
        "This tablet has not been able to check its clock since {since}, and its clock looks wrong. Handoffs are still recorded, with the last time it knew, and the manager is shown the difference. Connect it to the network, and ask IT support to set this tablet's date and time."
    )
}
pub const REFUSED_HINT: &str =
    "These stay on this tablet as evidence. Show them to the nurse in charge or IT support.";

pub fn resent_after_restore(n_events: usize) -> String {
    format!(
        "The server was restored from a backup: this tablet sent {n_events} handoffs again, so none is lost."
    )
}

pub fn refused_count(n_refused: usize) -> String {
    format!("{n_refused} refused")
}

pub fn skipped_events(n_events: usize) -> String {
    format!(
        "{n_events} events from the server could not be read or their signature did not verify; they were skipped. Tell IT support."
    )
}

// Board.
pub const RECENT_HEADING: &str = "Handoffs on this tablet";
pub const NO_RECENT: &str = "No handoffs captured on this tablet yet.";
pub const DELIVERY_PENDING: &str = "Waiting to send";
pub const DELIVERY_STORED: &str = "Sent";
pub const DELIVERY_RETRY: &str = "Waiting to send again";
pub const DELIVERY_REFUSED: &str = "Refused";

pub fn handoff_summary(body_type: &str, person: &str) -> String {
    match body_type {
        "check_out" => format!("checked out to {person}"),
        "check_in" => format!("checked in by {person}"),
        "transfer" => format!("handed over by {person}"),
        "report_missing" => format!("reported missing by {person}"),
        "report_found" => format!("reported found by {person}"),
        "break_glass" => format!("break-glass hand-out to {person}"),
        "correction" => format!("correction by {person}"),
        other => format!("{other}: {person}"),
    }
}

pub const LEDGER_ALARM: &str = "Audit alarm: the server showed this tablet two different histories of the record. The evidence is kept on this tablet and was reported; tell the security team and do not re-enroll this tablet.";
pub const SERVER_BEHIND: &str = "The server's record is older than this tablet's (restored from a backup?); this tablet keeps its proof.";

pub const BOARD_HEADING: &str = "Ward board";
pub const BOARD_CAPTION: &str = "Every device of the site, from this tablet's records";
pub const BOARD_COL_DEVICE: &str = "Device";
pub const BOARD_COL_WARD: &str = "Home ward";
pub const BOARD_COL_STATUS: &str = "Status";
pub const BOARD_COL_HELD_BY: &str = "Held by";
pub const BOARD_COL_SINCE: &str = "Since";
pub const BOARD_COL_DUE: &str = "Due back";
pub const OVERLAPPING: &str = "Overlapping custody";
pub const EXCEPTIONS_HEADING: &str = "Needs attention";
pub const NO_EXCEPTIONS: &str = "Nothing needs attention.";
pub const STATUS_AVAILABLE: &str = "Available";
pub const STATUS_IN_USE: &str = "In use";
pub const STATUS_OVERDUE: &str = "Overdue";
pub const STATUS_MISSING: &str = "Missing";
pub const STATUS_QUARANTINED: &str = "Quarantined";

pub fn board_as_of(last_sync: &str, n_pending: usize) -> String {
    match n_pending {
        0 => format!("As of the last sync ({last_sync}), with every handoff made here."),
        1 => format!(
            "As of the last sync ({last_sync}), with every handoff made here; 1 is not sent yet."
        ),
        n => format!(
            "As of the last sync ({last_sync}), with every handoff made here; {n} are not sent yet."
        ),
    }
}

pub fn exception_kind(kind: baton_core::exceptions::ExceptionKind) -> &'static str {
    use baton_core::exceptions::ExceptionKind;
    match kind {
        ExceptionKind::OverlappingCustody => "Overlapping custody",
        ExceptionKind::CheckInWithoutCustody => "Checked in but not checked out",
        ExceptionKind::IncompleteChecklist => "Return checklist not complete",
        ExceptionKind::Overdue => "Overdue",
        ExceptionKind::Missing => "Missing",
        ExceptionKind::BreakGlassUsed => "Break-glass access",
        ExceptionKind::ForkDetected => "Tablet signed conflicting records",
        ExceptionKind::PersistentGap => "Records missing from a tablet",
        ExceptionKind::ClockSkew => "Tablet clock wrong",
        ExceptionKind::TransferFromNonCustodian => "Handed over by someone not holding it",
        ExceptionKind::AwayFromHomeWard => "Returned away from its home ward",
        ExceptionKind::AuthorityRequired => "Action only a manager may take",
        ExceptionKind::RevokedSignerEvent => "Recorded by a decommissioned tablet",
        ExceptionKind::UsedWhileQuarantined => "Used while quarantined",
        ExceptionKind::RevocationFailed => "Access not closed: revocation failed",
    }
}

pub fn severity(severity: baton_core::exceptions::Severity) -> &'static str {
    use baton_core::exceptions::Severity;
    match severity {
        Severity::Info => "Info",
        Severity::Warning => "Warning",
        Severity::Critical => "Critical",
    }
}

/// The manager dashboard's sentences.
pub mod dash {
    pub const SIGN_IN_HEADING: &str = "Sign in to the dashboard";
    pub const USERNAME: &str = "Username";
    pub const PASSWORD: &str = "Password";
    pub const SIGN_IN: &str = "Sign in";
    pub const SIGNING_IN: &str = "Signing in…";
    pub const SIGN_OUT: &str = "Sign out";
    pub const CHECKING_SESSION: &str = "Checking your session…";
    pub const SIGN_IN_MISSING: &str = "Enter your username and password.";
    pub const UNREACHABLE: &str = "The server cannot be reached. The dashboard needs the network; check the connection and try again.";
    pub const SESSION_ENDED: &str = "Your session has ended. Sign in again.";
    pub const NAV_LABEL: &str = "Dashboard";
    pub const NAV_BOARD: &str = "Board";
    pub const NAV_EXCEPTIONS: &str = "Exceptions";
    pub const NAV_TABLETS: &str = "Tablets";
    pub const NAV_REPORTS: &str = "Reports and export";
    pub const NAV_SHIFT_CHANGE: &str = "Shift change";

    pub const SHIFT_CHANGE_HEADING: &str = "Shift change";
    pub const SHIFT_CHANGE_INTRO: &str = "Each device of the ward, from an hour before a shift starts to an hour after: who held it at each end, and every handoff between. Devices not handed over come first.";
    pub const SHIFT_CHANGE_START: &str = "Shift start";
    pub const COL_HELD_BEFORE: &str = "Held at the start";
    pub const COL_HELD_AFTER: &str = "Held at the end";
    pub const COL_HANDOFFS: &str = "Handoffs in the window";
    pub const COL_OUTCOME: &str = "Outcome";
    pub const NOBODY: &str = "nobody";
    pub const OPENED: &str = "took it";

    /// The window a shift-change view covers.
    pub fn shift_window(from: &str, to: &str) -> String {
        format!("From {from} to {to}")
    }

    /// A shift's start, as the choice offers it.
    pub fn shift_start_choice(shift: &str, at: &str) -> String {
        format!("{shift} shift, {at}")
    }

    /// A shift-change outcome as the charge nurse reads it.
    pub fn shift_outcome(outcome: &str) -> &'static str {
        match outcome {
            "not_handed_over" => "Not handed over",
            "handed_over" => "Handed over",
            "returned" => "Returned",
            "checked_out" => "Checked out",
            "used_and_returned" => "Used and returned",
            "idle" => "Not used",
            _ => "Unknown",
        }
    }
    pub const LIVE: &str = "Live";
    pub const RECONNECTING: &str = "Reconnecting…";
    pub const LOADING: &str = "Loading…";
    pub const READ_ONLY: &str = "Auditor: read only";

    pub const BOARD_HEADING: &str = "Custody board";
    pub const FILTER_WARD: &str = "Home ward";
    pub const FILTER_STATUS: &str = "Status";
    pub const FILTER_SEARCH: &str = "Search asset tag or person";
    pub const ALL_WARDS: &str = "All wards";
    pub const NO_MATCH: &str = "No device matches these filters.";
    pub const PREVIOUS_PAGE: &str = "Previous";
    pub const NEXT_PAGE: &str = "Next";

    /// Which exceptions of how many the queue shows, most severe and oldest first.
    pub fn exceptions_range(first: usize, last: usize, total: usize) -> String {
        format!("Exceptions {first}–{last} of {total}, most severe and oldest first")
    }

    /// Which rows of how many the board shows, e.g. "Devices 101–200 of 1,204".
    pub fn board_range(first: usize, last: usize, total: usize) -> String {
        format!("Devices {first}–{last} of {total}")
    }
    pub const COL_DEVICE: &str = "Device";
    pub const COL_HOME: &str = "Home ward";
    pub const COL_STATUS: &str = "Status";
    pub const COL_CUSTODIAN: &str = "Custodian";
    pub const COL_SINCE: &str = "Since";
    pub const COL_DUE: &str = "Expected back";
    pub const COL_RECORDED: &str = "Recorded on";
    pub const ACCESS_OPEN: &str = "Access still open";
    pub const AWAY: &str = "Away from home ward";
    pub const LAST_SYNC: &str = "last sync";
    pub const NEVER_SYNCED: &str = "never synced";

    pub fn status_filter(value: &str) -> &'static str {
        match value {
            "access_open" => "Access still open after return",
            "overdue" => "Overdue",
            "missing" => "Missing",
            "quarantined" => "Quarantined",
            "away" => "Away from home ward",
            "in_use" => "In use",
            "available" => "Available",
            _ => "Every status",
        }
    }

    pub const EXCEPTIONS_HEADING: &str = "Exceptions";
    pub const INCLUDE_RESOLVED: &str = "Show resolved";
    pub const NO_EXCEPTIONS: &str = "No open exception. Everything recorded is consistent.";
    pub const EVIDENCE: &str = "Evidence";
    pub const EVIDENCE_HINT: &str =
        "The signed events that prove it; each opens in the device's timeline.";
    pub const PEOPLE: &str = "People";
    pub const ACKNOWLEDGE: &str = "Acknowledge";
    pub const RESOLVE: &str = "Resolve";
    pub const NOTE: &str = "Note";
    pub const RESOLVE_NOTE_HINT: &str = "Required to resolve: what was done.";
    pub const NOTE_REQUIRED: &str = "Write a note before resolving: what was found and done.";
    pub const OPEN_TIMELINE: &str = "Device timeline";
    pub const REVOCATION_STATE: &str = "Revocation";

    pub fn review(state: &str, by: &str, at: &str) -> String {
        match state {
            "resolved" => format!("Resolved by {by} at {at}"),
            _ => format!("Acknowledged by {by} at {at}"),
        }
    }

    pub const DEVICE_HEADING: &str = "Device";
    pub const TIMELINE: &str = "Timeline";
    pub const NO_EVENTS: &str = "Nothing recorded for this device yet.";
    pub const COL_TIME: &str = "Time";
    pub const COL_EVENT: &str = "Event";
    pub const COL_TABLET: &str = "Tablet";
    pub const COL_SIGNER: &str = "Signed by key";
    pub const VOIDED: &str = "voided by a correction";
    pub const AUTHORITY: &str = "the server (manager action)";
    pub const REVOCATIONS: &str = "Access revocations";
    pub const NO_REVOCATIONS: &str = "No custody of this device has ended yet.";
    pub const ACTIONS: &str = "Manager actions";
    pub const ACTIONS_HINT: &str = "Each action is signed by the server, recorded in the audit ledger with your name, and shown in the timeline.";
    pub const QUARANTINE: &str = "Quarantine";
    pub const RELEASE: &str = "Release from quarantine";
    pub const MARK_MISSING: &str = "Mark missing";
    pub const MARK_FOUND: &str = "Mark found";
    pub const FOUND_WARD: &str = "Found on ward";
    pub const ACTION_DONE: &str = "Recorded.";

    pub const HOLDS: &str = "Holds now";
    pub const HOLDS_NOTHING: &str = "Holds no device.";
    pub const CUSTODIES: &str = "Every custody";
    pub const INACTIVE: &str = "inactive";

    pub const TABLETS_HEADING: &str = "Tablets";
    pub const DECOMMISSION: &str = "Decommission (lost or stolen)";
    pub const DECOMMISSIONED: &str = "Decommissioned";
    pub const CONFIRM_DECOMMISSION: &str =
        "Decommission this tablet? Its key is refused from now on; what it recorded before stays.";
    pub const ENROLLED: &str = "Enrolled";

    pub const NAV_ADMIN: &str = "Administration";
    pub const ADMIN_HEADING: &str = "Administration";
    pub const ENROLL_TABLET_HEADING: &str = "Enroll a tablet";
    pub const ENROLL_TABLET_HINT: &str = "Create a single-use code for a ward and scan it on the new tablet within its validity. It links the tablet to that ward.";
    pub const CREATE_CODE: &str = "Create an enrollment code";
    pub const WARD: &str = "Ward";
    pub const CODE_VALID_UNTIL: &str = "Valid until";
    pub const QR_ALT: &str = "QR code of the enrollment code";
    pub const IMPORT_HEADING: &str = "Import staff or devices";
    pub const IMPORT_HINT: &str = "A CSV file from the HR or asset system. Every row is checked before anything is written: one bad row and nothing changes.";
    pub const IMPORT_STAFF: &str = "Import staff (CSV)";
    pub const IMPORT_DEVICES: &str = "Import devices (CSV)";
    pub const IMPORT_FILE: &str = "CSV file";
    pub const IMPORT_NO_FILE: &str = "Choose a CSV file first.";
    pub const STAFF_HEADING: &str = "Staff";
    pub const DEACTIVATE: &str = "Deactivate (leaving)";
    pub const ACTIVATE: &str = "Reactivate";
    pub const ACTIVE: &str = "active";

    pub fn imported(created: u64, updated: u64) -> String {
        format!(
            "Imported: {created} new, {updated} updated. Tablets pick the change up at their next sync."
        )
    }

    pub const SITE_ADMIN_HEADING: &str = "Site administration";
    pub const SITE_ADMIN_HINT: &str = "Accounts, the site's configuration and its revocation connectors. Every change is recorded in the site's audit ledger with your name.";
    pub const ADMIN_NO_SITE_HINT: &str = "This admin account belongs to no site: enrollment codes, imports and the staff list are a site account's.";
    pub const SITE: &str = "Site";

    pub const ACCOUNTS_HEADING: &str = "Dashboard accounts";
    pub const ACCOUNTS_HINT: &str = "Leave the password empty to have one generated; it is shown once. Disabling an account ends its sessions at once.";
    pub const NEW_USERNAME: &str = "New account's username";
    pub const ROLE: &str = "Role";
    pub const ROLE_MANAGER: &str = "Manager";
    pub const ROLE_AUDITOR: &str = "Auditor (read only)";
    pub const ROLE_ADMIN: &str = "Admin of this site";
    pub const NEW_PASSWORD: &str = "Password (at least 12 characters, or empty)";
    pub const CREATE_ACCOUNT: &str = "Create the account";
    pub const DISABLE_ACCOUNT: &str = "Disable";
    pub const ENABLE_ACCOUNT: &str = "Enable";
    pub const RESET_PASSWORD: &str = "Reset the password";
    pub const DISABLED: &str = "disabled";
    pub const ENABLED: &str = "enabled";

    pub fn account_created(username: &str) -> String {
        format!("Account {username} created. It can sign in now.")
    }

    pub fn generated_password(username: &str) -> String {
        format!("Password of {username}, shown once (give it to them in person): ")
    }

    pub fn password_reset(username: &str) -> String {
        format!("New password of {username} set; its other sessions have ended.")
    }

    pub const SITE_CONFIG_HEADING: &str = "Site configuration";
    pub const SITE_CONFIG_HINT: &str = "Tablets take a change up at their next sync.";
    pub const LOCKOUT_MINUTES: &str = "Inactivity lockout (minutes)";
    pub const GRACE_MINUTES: &str = "Grace after a shift before overdue (minutes)";
    pub const CLOCK_SKEW_SECONDS: &str = "Tolerated clock difference (seconds)";
    pub const GAP_MINUTES: &str = "Missing event reported after (minutes)";
    pub const UTC_OFFSET_MINUTES: &str = "Offset from UTC (minutes)";
    pub const SHIFTS: &str = "Shifts";
    pub const SHIFT_NAME: &str = "Shift name";
    pub const SHIFT_START: &str = "Starts at";
    pub const SHIFT_DURATION: &str = "Length (minutes)";
    pub const ADD_SHIFT: &str = "Add a shift";
    pub const REMOVE_SHIFT: &str = "Remove this shift";
    pub const SAVE_CONFIG: &str = "Save the configuration";
    pub const CONFIG_SAVED: &str = "Configuration saved. Tablets take it up at their next sync.";
    pub const CONFIG_UNCHANGED: &str = "Nothing changed.";

    pub fn field_error(field: &str, message: &str) -> String {
        format!("{field}: {message}")
    }

    pub const CONNECTORS_HEADING: &str = "Revocation connectors";
    pub const CONNECTORS_HINT: &str = "Where Baton sends a custody's end so that access closes. Connectors of the server's file are read-only here. Secrets are never shown: a replacement needs its secret again.";
    pub const NO_CONNECTORS: &str =
        "No connector yet: custody ends revoke Baton's own tokens only.";
    pub const CONNECTOR_FROM_FILE: &str = "server file";
    pub const CONNECTOR_SECRET_SET: &str = "secret set";
    pub const DISABLE_CONNECTOR: &str = "Disable";
    pub const ENABLE_CONNECTOR: &str = "Enable";
    pub const CONNECTOR_FORM_HEADING: &str = "Add or replace a connector";
    pub const CONNECTOR_KIND: &str = "Kind";
    pub const CONNECTOR_NAME: &str = "Connector name";
    pub const CONNECTOR_URL: &str = "URL";
    pub const CONNECTOR_SECRET: &str = "Secret (webhook: at least 32 characters)";
    pub const CONNECTOR_AUDIENCE: &str = "Audience (client id of the receiver)";
    pub const CONNECTOR_CLIENT_ID: &str = "Client id";
    pub const CONNECTOR_CLIENT_SECRET: &str = "Client secret";
    pub const CONNECTOR_AUTH_METHOD: &str = "Client authentication";
    pub const CREATE_CONNECTOR: &str = "Add the connector";
    pub const REPLACE_CONNECTOR: &str = "Replace the connector of this name";
    pub const CONNECTOR_SAVED: &str = "Connector saved.";

    pub const REPORTS_HEADING: &str = "Reports and audit export";
    pub const PERIOD: &str = "Period";
    pub const PRINT: &str = "Print the evidence report";
    pub const HANDOFFS_PER_SHIFT: &str = "Handoffs per shift";
    pub const OVERDUE_OVER_TIME: &str = "Overdue devices over time";
    pub const EXCEPTIONS_BY_KIND: &str = "Exceptions by kind";
    pub const TIME_TO_REVOKE: &str = "From return to confirmed revocation";
    pub const NO_DATA: &str = "Nothing recorded in this period.";
    pub const EVIDENCE_REPORT: &str = "Evidence report";
    pub const CONTROLS: &str = "Controls evidenced";
    pub const EXPORT_HEADING: &str = "Audit export";
    pub const EXPORT_BUNDLE: &str =
        "Download the verifiable audit bundle of the whole ledger (JSON)";
    pub const EXPORT_BUNDLE_PERIOD: &str = "Download the verifiable audit bundle of this period (JSON): every entry recorded in it, proven complete";
    pub const EXPORT_DEVICE_BUNDLE: &str = "Download this device's verifiable audit bundle (JSON): each of its events proven in the ledger";
    pub const EXPORT_CSV: &str = "Download custodies of this period (CSV)";
    pub const VERIFY_HOW: &str = "An auditor verifies the bundle offline, without trusting this server: compare the server key below with the one received out of band, then run";

    pub fn period(days: u64) -> String {
        match days {
            1 => "Last 24 hours".to_owned(),
            days => format!("Last {days} days"),
        }
    }
}
