//! Every sentence the app shows, in one place so that a translation touches one file.

pub const PRODUCT_NAME: &str = "Baton";
pub const HOME_HEADING: &str = "Baton";
pub const HOME_TAGLINE: &str = "Signed custody handoffs for shared clinical devices.";
pub const NOT_ENROLLED: &str =
    "This tablet is not enrolled yet. A manager's enrollment code links it to a ward.";
pub const KEY_READY: &str = "Signing key generated on this device (ed25519, from the browser's secure random source). Fingerprint:";
pub const KEY_FAILED: &str = "This browser could not generate a signing key:";
pub const EVENT_FORMAT: &str = "Signed event format version";
pub const ONLINE: &str = "Online";
pub const OFFLINE: &str =
    "Offline: handoffs are kept on this tablet and sent when the network returns";
pub const DASHBOARD_HEADING: &str = "Manager dashboard";
pub const DASHBOARD_SIGN_IN_NEEDED: &str =
    "Sign in with a manager account to see the custody board.";
pub const NOT_FOUND_HEADING: &str = "Page not found";
pub const BACK_HOME: &str = "Back to the start screen";
