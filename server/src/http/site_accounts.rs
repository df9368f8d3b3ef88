//! A site's dashboard accounts, administered by an admin (docs/PROTOCOL.md §2.6a): list them
//! (never a password hash), create one, disable and enable it again, reset its password.
//!
//! The rules are `accounts`' (the ones `baton create-account` applies), and passwords are
//! hashed with argon2id by the same code, under the sign-in's cap on concurrent hashes. A
//! generated password is answered once and stored nowhere; a password is never logged or
//! ledgered. Every change is ledgered as a governance entry by the admin, in the transaction
//! that makes it. Disabling an account deletes its sessions in that transaction, and sign-in and
//! every session refuse a disabled account from then on (`Storage::find_account` does not see
//! it); a password reset ends the account's sessions too, except the admin's own when they
//! reset their own password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use super::site_admin::admin_of_site;
use crate::accounts::{self, AccountRuleError, NewPassword};
use crate::storage::{AccountListing, AccountRecord, AccountRole, StorageError};

fn rule_error(error: AccountRuleError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        error.code(),
        format!("{error}; nothing was changed."),
    )
}

fn storage_error(error: StorageError) -> ApiError {
    match error {
        StorageError::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            "username_taken",
            "An account of that username exists already (perhaps disabled, or of another \
             site); choose another.",
        ),
        other => ApiError::storage(other),
    }
}

fn unknown_account() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_account",
        "The site has no account of that username.",
    )
}

fn account_view(account: &AccountListing) -> Value {
    json!({
        "username": account.username,
        "role": account.role.as_str(),
        "site_id": account.site_id,
        "disabled": account.disabled_at_ms.is_some(),
        "disabled_at_ms": account.disabled_at_ms,
    })
}

async fn find_listing(
    state: &AppState,
    site_id: &str,
    username: &str,
) -> Result<AccountListing, ApiError> {
    state
        .storage
        .list_site_accounts(site_id)
        .await
        .map_err(ApiError::storage)?
        .into_iter()
        .find(|account| account.username == username)
        .ok_or_else(unknown_account)
}

/// Hashes a new password off the async workers, under the cap that sign-in's hashes share.
async fn hash_password(
    state: &AppState,
    new_password: NewPassword,
) -> Result<(NewPassword, String), ApiError> {
    let argon2_slot = state.rate_limits.argon2.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let _argon2_slot = argon2_slot;
        let hash = new_password.hash().map_err(ApiError::internal)?;
        Ok((new_password, hash))
    })
    .await
    .map_err(ApiError::internal)?
}

/// `GET /api/v1/admin/sites/{site_id}/accounts`: the site's accounts, disabled ones included.
pub async fn list(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(site_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let accounts: Vec<Value> = state
        .storage
        .list_site_accounts(&site_id)
        .await
        .map_err(ApiError::storage)?
        .iter()
        .map(account_view)
        .collect();
    Ok(Json(json!({ "site_id": site_id, "accounts": accounts })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    username: String,
    role: String,
    /// Absent: one is generated and answered once.
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/v1/admin/sites/{site_id}/accounts`: a manager, auditor or admin of the site.
pub async fn create(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(site_id): Path<String>,
    Json(new_account): Json<NewAccount>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let username = accounts::check_username(&new_account.username).map_err(rule_error)?;
    let role = AccountRole::parse(&new_account.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_role",
            "The role must be manager, auditor or admin; nothing was changed.",
        )
    })?;
    let new_password = NewPassword::given_or_generated(new_account.password).map_err(rule_error)?;
    let (new_password, password_hash) = hash_password(&state, new_password).await?;
    let now_ms = crate::sync::now_ms();
    let entry = crate::ledger::governance_entry(
        json!({
            "type": "account_created",
            "username": username,
            "role": role.as_str(),
            "site_id": site_id,
            "password_generated": new_password.generated,
        }),
        &session.account.username,
        now_ms,
    );
    let account = AccountRecord {
        username: username.clone(),
        password_hash,
        role,
        site_id: Some(site_id.clone()),
    };
    state
        .storage
        .create_site_account(&account, &entry, now_ms as i64)
        .await
        .map_err(storage_error)?;
    tracing::info!(
        site_id,
        username,
        role = role.as_str(),
        by = session.account.username,
        "account created"
    );
    let mut answer = json!({
        "account": account_view(&AccountListing {
            username,
            role,
            site_id: Some(site_id),
            disabled_at_ms: None,
        }),
    });
    if new_password.generated {
        answer["password"] = new_password.password.into();
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `POST /api/v1/admin/sites/{site_id}/accounts/{username}/disable`: sign-in refused and every
/// session ended, at once. An admin cannot disable their own account.
pub async fn disable(
    state: State<AppState>,
    session: ManagerSession,
    path: Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    switch(state, session, path, true).await
}

/// `POST /api/v1/admin/sites/{site_id}/accounts/{username}/enable`: the account may sign in
/// again (with the password it had).
pub async fn enable(
    state: State<AppState>,
    session: ManagerSession,
    path: Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    switch(state, session, path, false).await
}

async fn switch(
    State(state): State<AppState>,
    session: ManagerSession,
    Path((site_id, username)): Path<(String, String)>,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    if disabled && username == session.account.username {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "own_account",
            "An admin cannot disable their own account; another admin can.",
        ));
    }
    let action_type = if disabled {
        "account_disabled"
    } else {
        "account_enabled"
    };
    let changed = state
        .storage
        .set_account_disabled(
            &site_id,
            &username,
            disabled,
            &session.account.username,
            crate::sync::now_ms() as i64,
            json!({ "type": action_type, "username": username }),
        )
        .await
        .map_err(ApiError::storage)?
        .ok_or_else(unknown_account)?;
    if changed.changed {
        tracing::info!(
            site_id,
            username,
            disabled,
            sessions_ended = changed.sessions_ended,
            by = session.account.username,
            "account switched"
        );
    }
    let mut view = account_view(&find_listing(&state, &site_id, &username).await?);
    view["changed"] = changed.changed.into();
    view["sessions_ended"] = changed.sessions_ended.into();
    Ok(Json(view))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// Absent: one is generated and answered once.
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/v1/admin/sites/{site_id}/accounts/{username}/password`: a new password, given or
/// generated; the account's sessions end (the admin's own stays when it is their account).
pub async fn reset_password(
    State(state): State<AppState>,
    session: ManagerSession,
    Path((site_id, username)): Path<(String, String)>,
    Json(reset): Json<PasswordReset>,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let new_password = NewPassword::given_or_generated(reset.password).map_err(rule_error)?;
    // An unknown account costs no hash.
    find_listing(&state, &site_id, &username).await?;
    let (new_password, password_hash) = hash_password(&state, new_password).await?;
    let own_session = (username == session.account.username).then(|| session.session_hash());
    let changed = state
        .storage
        .reset_account_password(
            &site_id,
            &username,
            &password_hash,
            own_session.as_deref(),
            &session.account.username,
            crate::sync::now_ms() as i64,
            json!({
                "type": "account_password_reset",
                "username": username,
                "password_generated": new_password.generated,
            }),
        )
        .await
        .map_err(ApiError::storage)?
        .ok_or_else(unknown_account)?;
    tracing::info!(
        site_id,
        username,
        sessions_ended = changed.sessions_ended,
        by = session.account.username,
        "account password reset"
    );
    let mut answer = json!({ "username": username, "sessions_ended": changed.sessions_ended });
    if new_password.generated {
        answer["password"] = new_password.password.into();
    }
    Ok(Json(answer))
}
