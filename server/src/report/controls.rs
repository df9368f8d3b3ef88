//! Which of the report's figures evidence which control, for the printable evidence report.
//! Identifiers and titles are NIST CSF 2.0's (Cybersecurity Framework 2.0, February 2024) and
//! the OWASP Top 10 Non-Human Identities Risks (2025).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control {
    pub id: &'static str,
    pub framework: &'static str,
    pub title: &'static str,
    /// Which figures of the report evidence the control, in one sentence.
    pub evidence: &'static str,
}

const CSF: &str = "NIST CSF 2.0";
const NHI: &str = "OWASP Top 10 Non-Human Identities 2025";

pub const CONTROLS: &[Control] = &[
    Control {
        id: "PR.AA-01",
        framework: CSF,
        title: "Identities and credentials for authorized users, services, and hardware are managed by the organization",
        evidence: "handoffs.total counts custody handoffs each signed by an enrolled tablet for a named staff member authenticated by badge and PIN, and break_glass counts the accesses that bypassed that check.",
    },
    Control {
        id: "PR.AA-05",
        framework: CSF,
        title: "Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed, and incorporate the principles of least privilege and separation of duties",
        evidence: "revocation.custody_ends and revocation.confirmed_share show that access to a shared device's apps was closed whenever its holder's custody ended, and exceptions.resolved shows overlapping or unauthorized custody reviewed by a manager.",
    },
    Control {
        id: "PR.AA-06",
        framework: CSF,
        title: "Physical access to assets is managed, monitored, and enforced commensurate with risk",
        evidence: "handoffs.per_shift, overdue.series and missing show who held each shared device when, which devices were not returned on time and which went missing.",
    },
    Control {
        id: "PR.PS-04",
        framework: CSF,
        title: "Log records are generated and made available for continuous monitoring",
        evidence: "Every handoff counted in handoffs.total and every review counted in exceptions.resolved is an entry of the site's signed, append-only audit ledger, exportable as a bundle that verifies offline.",
    },
    Control {
        id: "DE.CM-03",
        framework: CSF,
        title: "Personnel activity and technology usage are monitored to find potentially adverse events",
        evidence: "exceptions.by_kind, exceptions.age_ms, overdue.now and break_glass show the adverse custody events the fold detected and how long they waited for review.",
    },
    Control {
        id: "NHI1",
        framework: NHI,
        title: "Improper Offboarding",
        evidence: "revocation.confirmed, revocation.failed and revocation.pending show whether the sessions and custody-bound tokens of each ended custody were revoked at every connector, and revocation.confirm_ms how quickly.",
    },
    Control {
        id: "NHI7",
        framework: NHI,
        title: "Long-Lived Secrets",
        evidence: "revocation.confirm_ms shows that custody-bound access tokens, which expire after 15 minutes anyway, stopped working as soon as the custody they were issued for ended.",
    },
];
