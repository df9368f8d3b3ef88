//! Enrollment: what the tablet sends to join a ward (docs/PROTOCOL.md §2.1) and what it keeps.

use baton_core::key_rotation::SignedKeyRotation;
use serde::{Deserialize, Serialize};

use super::roster::Roster;

/// The longest label the server accepts, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// Who this tablet is, as the server enrolled it. Kept in IndexedDB; the signing key is kept
/// apart, encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub tablet_id: String,
    pub site_id: String,
    pub ward_id: String,
    /// The server's authority key, hex: the only signer allowed to quarantine and release.
    pub server_public_key: String,
    /// This tablet's own key, hex: the key it signs with now.
    pub public_key: String,
    pub label: String,
    pub enrolled_at_ms: u64,
    /// The rotations of this tablet's own key, oldest first (`tablet::key_rotation`): the first
    /// one's `previous` is the key it enrolled with, the last one's `next` is `public_key`. Its
    /// events signed by the earlier keys stay its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_rotations: Vec<SignedKeyRotation>,
}

/// `POST /api/v1/enroll`.
#[derive(Debug, Serialize)]
pub struct EnrollRequest<'a> {
    pub code: &'a str,
    pub public_key: &'a str,
    pub label: &'a str,
}

/// The server's answer to an enrollment.
#[derive(Debug, Deserialize)]
pub struct EnrollResponse {
    pub tablet_id: String,
    pub site_id: String,
    pub ward_id: String,
    pub server_public_key: String,
    pub roster: Roster,
}

/// What a code field holds once a scanner's or a person's stray spaces and lower case are gone.
/// Separators stay: the server ignores them and people read codes in groups.
pub fn normalise_code(typed: &str) -> String {
    typed.trim().to_ascii_uppercase()
}

/// Why a label is refused, before asking the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelProblem {
    Empty,
    TooLong,
    ControlCharacter,
}

/// The server's rule: 1 to 64 printable characters once trimmed.
pub fn check_label(label: &str) -> Result<&str, LabelProblem> {
    let label = label.trim();
    if label.is_empty() {
        Err(LabelProblem::Empty)
    } else if label.chars().count() > MAX_LABEL_CHARS {
        Err(LabelProblem::TooLong)
    } else if label.chars().any(char::is_control) {
        Err(LabelProblem::ControlCharacter)
    } else {
        Ok(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_are_cleaned_and_checked_as_the_server_would() {
        assert_eq!(normalise_code("  abcde-fghjk\n"), "ABCDE-FGHJK");
        assert_eq!(
            check_label("  4E nurses' station "),
            Ok("4E nurses' station")
        );
        assert_eq!(check_label("   "), Err(LabelProblem::Empty));
        assert_eq!(check_label(&"x".repeat(65)), Err(LabelProblem::TooLong));
        assert_eq!(check_label("a\u{7}b"), Err(LabelProblem::ControlCharacter));
    }
}
