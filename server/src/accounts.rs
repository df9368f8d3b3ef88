//! The rules of a dashboard account, one set for `baton create-account` and for the admin API:
//! what a username may be, how long a password must be, which roles belong to a site, and how a
//! password is made and hashed (argon2id, `seed::hash_secret`). No I/O but the random source.

use crate::storage::AccountRole;

/// The shortest password accepted, in characters: a generated one has 16 from an alphabet of
/// 31 (about 79 bits).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes: sign-in refuses longer ones before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Which rule an account's fields broke. `code` is the API's stable error code; the message
/// names the field and is safe to show (it never repeats a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountRuleError {
    #[error(
        "the username must be 1 to {MAX_USERNAME_CHARS} characters of letters, digits and . _ - @"
    )]
    BadUsername,
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the password must be at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    #[error("an admin of every site is not bound to a site: give no site")]
    AdminWithSite,
    #[error("a {0} belongs to one site: give its site")]
    SiteRequired(&'static str),
}

impl AccountRuleError {
    /// The API's error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            AccountRuleError::BadUsername => "bad_username",
            AccountRuleError::PasswordTooShort => "password_too_short",
            AccountRuleError::PasswordTooLong => "password_too_long",
            AccountRuleError::AdminWithSite | AccountRuleError::SiteRequired(_) => "bad_site",
        }
    }
}

/// The username as stored: trimmed, 1 to 64 of `A-Z a-z 0-9 . _ - @`.
pub fn check_username(username: &str) -> Result<String, AccountRuleError> {
    let username = username.trim();
    let valid = !username.is_empty()
        && username.chars().count() <= MAX_USERNAME_CHARS
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if valid {
        Ok(username.to_owned())
    } else {
        Err(AccountRuleError::BadUsername)
    }
}

/// A password a person chose: long enough to resist guessing, short enough to sign in with.
pub fn check_password(password: &str) -> Result<(), AccountRuleError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountRuleError::PasswordTooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountRuleError::PasswordTooShort);
    }
    Ok(())
}

/// The command line's rule: an admin is of every site, a manager or an auditor of one.
pub fn check_role_site(role: AccountRole, site: Option<&str>) -> Result<(), AccountRuleError> {
    match (role, site) {
        (AccountRole::Admin, Some(_)) => Err(AccountRuleError::AdminWithSite),
        (AccountRole::Manager | AccountRole::Auditor, None) => {
            Err(AccountRuleError::SiteRequired(role.as_str()))
        }
        _ => Ok(()),
    }
}

/// A new password: the one given, checked, or a generated one (`generated: true`), which the
/// caller shows once and never stores.
pub struct NewPassword {
    pub password: String,
    pub generated: bool,
}

impl NewPassword {
    pub fn given_or_generated(given: Option<String>) -> Result<NewPassword, AccountRuleError> {
        match given {
            Some(password) => {
                check_password(&password)?;
                Ok(NewPassword {
                    password,
                    generated: false,
                })
            }
            None => Ok(NewPassword {
                password: crate::seed::random_password(),
                generated: true,
            }),
        }
    }

    /// The argon2id PHC string to store. Slow on purpose: run it off the async workers.
    pub fn hash(&self) -> Result<String, argon2::password_hash::Error> {
        crate::seed::hash_secret(&self.password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_limited_to_a_safe_alphabet() {
        assert_eq!(
            check_username("  ward.manager@4e ").unwrap(),
            "ward.manager@4e"
        );
        for bad in ["", "   ", "two words", "élodie", "a\nb", &"x".repeat(65)] {
            assert_eq!(
                check_username(bad),
                Err(AccountRuleError::BadUsername),
                "{bad:?}"
            );
        }
        assert!(check_username(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn a_password_has_twelve_characters_at_least_and_a_bounded_length() {
        assert_eq!(
            check_password("eleven-char"),
            Err(AccountRuleError::PasswordTooShort)
        );
        assert!(check_password("twelve-chars").is_ok());
        // Characters, not bytes: twelve accented letters pass, eleven do not.
        assert!(check_password(&"é".repeat(12)).is_ok());
        assert_eq!(
            check_password(&"é".repeat(11)),
            Err(AccountRuleError::PasswordTooShort)
        );
        assert_eq!(
            check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(AccountRuleError::PasswordTooLong)
        );
    }

    #[test]
    fn a_generated_password_is_long_enough_and_a_given_one_is_kept() {
        let generated = NewPassword::given_or_generated(None).unwrap();
        assert!(generated.generated);
        assert!(check_password(&generated.password).is_ok());
        let given = NewPassword::given_or_generated(Some("correct horse battery".into())).unwrap();
        assert!(!given.generated);
        assert_eq!(given.password, "correct horse battery");
        assert!(NewPassword::given_or_generated(Some("short".into())).is_err());
    }

    #[test]
    fn the_command_line_binds_managers_and_auditors_to_a_site_and_admins_to_none() {
        assert!(check_role_site(AccountRole::Admin, None).is_ok());
        assert!(check_role_site(AccountRole::Manager, Some("SITE-DEMO")).is_ok());
        assert_eq!(
            check_role_site(AccountRole::Admin, Some("SITE-DEMO")),
            Err(AccountRuleError::AdminWithSite)
        );
        assert_eq!(
            check_role_site(AccountRole::Auditor, None),
            Err(AccountRuleError::SiteRequired("auditor"))
        );
    }
}
