//! A site's revocation connectors, managed by an admin through the API (docs/PROTOCOL.md §5.6):
//! list (the connectors file's too, read-only), create, replace, disable and enable again.
//!
//! Every connector is checked by `connectors::validate`, the rules the connectors file is
//! loaded with. Its secret is sealed with the token vault before it is stored and is never
//! answered, logged or ledgered: answers say `"secret_set": true`. Every change is ledgered as
//! a governance entry by the admin, in the transaction that makes it. The delivery worker reads
//! a site's connectors from storage at each attempt, so a change applies at once on every
//! server process sharing the database.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use super::site_admin::admin_of_site;
use crate::connectors::{self, ConnectorConfig};
use crate::storage::{SiteConnectorRecord, StorageError};

/// The most connectors one site may have through the API, disabled ones included: each is one
/// more delivery for every revocation of the site.
pub const MAX_CONNECTORS_PER_SITE: i64 = 16;

fn storage_error(error: StorageError) -> ApiError {
    match error {
        StorageError::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            "connector_exists",
            "The site already has a connector of that name; replace it with PUT instead.",
        ),
        StorageError::TooManyConnectors { limit } => ApiError::new(
            StatusCode::CONFLICT,
            "too_many_connectors",
            format!(
                "The site already has {limit} connectors (disabled ones count); replace one \
                 instead."
            ),
        ),
        other if other.is_unavailable() || other.disk_fault().is_some() => ApiError::storage(other),
        other => ApiError::internal(other),
    }
}

/// A name the connectors file holds cannot be made, changed or disabled here.
fn refuse_file_name(state: &AppState, name: &str) -> Result<(), ApiError> {
    if state.connectors.iter().any(|file_name| file_name == name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "file_connector",
            format!(
                "{name:?} is a connector of the server's connectors file: it is changed there, \
                 and an API connector may not take its name."
            ),
        ));
    }
    Ok(())
}

fn unknown_connector() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_connector",
        "The site has no connector of that name made through the API.",
    )
}

/// The body as a connector, checked: the JSON the connectors file holds (`kind`, `name`,
/// `url`, and the kind's fields with its secret). For a replacement the name comes from the
/// path; a body that names another is refused.
fn connector_from_body(
    mut body: Value,
    path_name: Option<&str>,
) -> Result<ConnectorConfig, ApiError> {
    let unprocessable = |code: &'static str, message: String| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    };
    let Some(object) = body.as_object_mut() else {
        return Err(unprocessable(
            "bad_connector",
            "The body must be a JSON object describing one connector.".to_owned(),
        ));
    };
    if let Some(path_name) = path_name {
        match object.get("name") {
            None => {
                object.insert("name".to_owned(), Value::String(path_name.to_owned()));
            }
            Some(Value::String(name)) if name == path_name => {}
            Some(_) => {
                return Err(unprocessable(
                    "name_mismatch",
                    "The body names another connector than the path; a connector cannot be \
                     renamed."
                        .to_owned(),
                ));
            }
        }
    }
    // serde's messages name fields and kinds, never a string value the body holds.
    let connector: ConnectorConfig = serde_json::from_value(body)
        .map_err(|error| unprocessable("bad_connector", error.to_string()))?;
    connectors::validate(&connector).map_err(|error| unprocessable(error.code, error.message))?;
    Ok(connector)
}

/// What a connector answers as: never its secret.
fn api_view(record: &SiteConnectorRecord) -> Value {
    let mut view: Value = serde_json::from_str(&record.config_json)
        .unwrap_or_else(|_| serde_json::json!({ "name": record.name, "kind": record.kind }));
    view["source"] = "api".into();
    view["enabled"] = record.enabled.into();
    view["secret_set"] = record.sealed_secret.is_some().into();
    view["created_by"] = record.created_by.clone().into();
    view["created_at_ms"] = record.created_at_ms.into();
    view["updated_by"] = record.updated_by.clone().into();
    view["updated_at_ms"] = record.updated_at_ms.into();
    view
}

fn file_view(state: &AppState, name: &str) -> Value {
    let mut view = state
        .connector_configs
        .iter()
        .find(|connector| connector.name() == name)
        .map_or_else(
            || serde_json::json!({ "name": name }),
            |connector| {
                let mut view = connector.public_json();
                view["secret_set"] = connector.secret().is_some().into();
                view
            },
        );
    view["source"] = "file".into();
    view["enabled"] = true.into();
    view
}

/// The record to store: the public JSON in the clear, the secret sealed and bound to it.
fn sealed_record(
    state: &AppState,
    site_id: &str,
    connector: &ConnectorConfig,
    username: &str,
    now_ms: i64,
) -> SiteConnectorRecord {
    let config_json = connector.public_json().to_string();
    let sealed_secret = connector.secret().map(|secret| {
        state
            .token_vault
            .seal_connector_secret(secret, site_id, &config_json)
    });
    SiteConnectorRecord {
        site_id: site_id.to_owned(),
        name: connector.name().to_owned(),
        kind: connector.kind().to_owned(),
        config_json,
        sealed_secret,
        enabled: true,
        created_by: username.to_owned(),
        created_at_ms: now_ms,
        updated_by: username.to_owned(),
        updated_at_ms: now_ms,
    }
}

/// `GET /api/v1/admin/sites/{site_id}/connectors`: the file's connectors (read-only, every
/// site gets them) and the site's own, by name.
pub async fn list(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(site_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let mut connectors: Vec<Value> = state
        .connectors
        .iter()
        .map(|name| file_view(&state, name))
        .collect();
    connectors.extend(
        state
            .storage
            .list_site_connectors(&site_id)
            .await
            .map_err(storage_error)?
            .iter()
            .map(api_view),
    );
    Ok(Json(serde_json::json!({
        "site_id": site_id,
        "max_connectors": MAX_CONNECTORS_PER_SITE,
        "connectors": connectors,
    })))
}

/// `POST /api/v1/admin/sites/{site_id}/connectors`: a new, enabled connector.
pub async fn create(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(site_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let connector = connector_from_body(body, None)?;
    refuse_file_name(&state, connector.name())?;
    let now = crate::sync::now_ms() as i64;
    let record = sealed_record(&state, &site_id, &connector, &session.account.username, now);
    let entry = crate::ledger::governance_entry(
        serde_json::json!({ "type": "connector_created", "connector": connector.public_json() }),
        &session.account.username,
        now as u64,
    );
    state
        .storage
        .create_site_connector(&record, MAX_CONNECTORS_PER_SITE, &entry)
        .await
        .map_err(storage_error)?;
    tracing::info!(
        site_id,
        connector = record.name,
        kind = record.kind,
        by = session.account.username,
        "connector created"
    );
    Ok((StatusCode::CREATED, Json(api_view(&record))))
}

/// `PUT /api/v1/admin/sites/{site_id}/connectors/{name}`: the whole connector again, secret
/// included (a new URL never inherits the old secret), enabled or not as it was.
pub async fn replace(
    State(state): State<AppState>,
    session: ManagerSession,
    Path((site_id, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    refuse_file_name(&state, &name)?;
    let connector = connector_from_body(body, Some(&name))?;
    let now = crate::sync::now_ms() as i64;
    let record = sealed_record(&state, &site_id, &connector, &session.account.username, now);
    let entry = crate::ledger::governance_entry(
        serde_json::json!({ "type": "connector_replaced", "connector": connector.public_json() }),
        &session.account.username,
        now as u64,
    );
    if !state
        .storage
        .replace_site_connector(&record, &entry)
        .await
        .map_err(storage_error)?
    {
        return Err(unknown_connector());
    }
    tracing::info!(
        site_id,
        connector = record.name,
        kind = record.kind,
        by = session.account.username,
        "connector replaced"
    );
    let stored = state
        .storage
        .find_site_connector(&site_id, &name)
        .await
        .map_err(storage_error)?
        .ok_or_else(unknown_connector)?;
    Ok(Json(api_view(&stored)))
}

/// `POST /api/v1/admin/sites/{site_id}/connectors/{name}/disable`: no new deliveries, and the
/// pending ones are cancelled (recorded as `cancelled`, ledgered with the change).
pub async fn disable(
    state: State<AppState>,
    session: ManagerSession,
    path: Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    switch(state, session, path, false).await
}

/// `POST /api/v1/admin/sites/{site_id}/connectors/{name}/enable`: revocations recorded from
/// now on are delivered to it again; those cancelled while it was disabled stay cancelled.
pub async fn enable(
    state: State<AppState>,
    session: ManagerSession,
    path: Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    switch(state, session, path, true).await
}

async fn switch(
    State(state): State<AppState>,
    session: ManagerSession,
    Path((site_id, name)): Path<(String, String)>,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    refuse_file_name(&state, &name)?;
    let action_type = if enabled {
        "connector_enabled"
    } else {
        "connector_disabled"
    };
    let switched = state
        .storage
        .set_site_connector_enabled(
            &site_id,
            &name,
            enabled,
            &session.account.username,
            crate::sync::now_ms() as i64,
            serde_json::json!({ "type": action_type, "connector": name }),
        )
        .await
        .map_err(storage_error)?
        .ok_or_else(unknown_connector)?;
    if switched.changed {
        tracing::info!(
            site_id,
            connector = name,
            enabled,
            cancelled = switched.cancelled_revocation_ids.len(),
            by = session.account.username,
            "connector switched"
        );
    }
    let stored = state
        .storage
        .find_site_connector(&site_id, &name)
        .await
        .map_err(storage_error)?
        .ok_or_else(unknown_connector)?;
    let mut view = api_view(&stored);
    view["changed"] = switched.changed.into();
    view["cancelled_revocation_ids"] = serde_json::json!(switched.cancelled_revocation_ids);
    Ok(Json(view))
}
