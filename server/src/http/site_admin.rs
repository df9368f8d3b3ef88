//! Who may administer a site through `/api/v1/admin/sites/{site_id}/...`: an admin account,
//! either of every site (no site, as `baton create-account` makes them) or of that site (as an
//! admin of every site makes them from the dashboard). Shared by the site's connectors,
//! accounts and configuration, and `GET /api/v1/admin/sites`, the sites an admin may pick.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::storage::AccountRole;

/// Only an admin; every other account is refused alike, whatever its site.
pub(super) fn require_admin(session: &ManagerSession) -> Result<(), ApiError> {
    if session.account.role != AccountRole::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only an admin administers a site's accounts, configuration and connectors.",
        ));
    }
    Ok(())
}

/// An admin who may administer `site_id`, and a site that exists. An admin of another site
/// is refused before the site is looked up, so the answer does not tell which sites exist.
pub(super) async fn admin_of_site(
    state: &AppState,
    session: &ManagerSession,
    site_id: &str,
) -> Result<(), ApiError> {
    require_admin(session)?;
    if let Some(own_site) = &session.account.site_id
        && own_site != site_id
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "other_site",
            "This admin account administers another site only.",
        ));
    }
    let config = state
        .storage
        .site_config(site_id)
        .await
        .map_err(ApiError::storage)?;
    if config.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_site",
            "No such site.",
        ));
    }
    Ok(())
}

/// `GET /api/v1/admin/sites`: the sites this admin administers (every site, or their own).
pub async fn list_sites(
    State(state): State<AppState>,
    session: ManagerSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&session)?;
    let site_ids = match &session.account.site_id {
        Some(site_id) => vec![site_id.clone()],
        None => state
            .storage
            .list_site_ids()
            .await
            .map_err(ApiError::storage)?,
    };
    Ok(Json(serde_json::json!({ "site_ids": site_ids })))
}
