//! `/credentials`: authtokens for agents, with their `bind:` ACL. The token is in the create
//! response only. Deleting one closes its live sessions.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::{Credential, NewCredential};
use ferry_types::{acl, ErrorCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::validate;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/credentials", post(create).get(list))
        .route("/credentials/{id}", get(read).patch(update).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    acl: Option<Vec<String>>,
    #[serde(default)]
    owner_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    acl: Option<Vec<String>>,
}

fn render(s: &AppState, c: &Credential, token: Option<&str>) -> Value {
    json!({
        "id": c.id.to_string(),
        "uri": s.url(&format!("/credentials/{}", c.id)),
        "created_at": c.created_at,
        "description": c.description,
        "metadata": c.metadata,
        "token": token,
        "acl": c.acl,
        "owner_id": c.owner_id,
    })
}

fn check_acl(rules: &[String]) -> Result<(), ApiError> {
    for (i, r) in rules.iter().enumerate() {
        acl::validate_rule(r).map_err(|e| {
            ApiError::new(
                ErrorCode::AclRuleInvalid,
                format!("field \"acl[{i}]\": {e}"),
            )
        })?;
    }
    Ok(())
}

/// An `owner_id` must name an existing bot user; empty means the caller's account.
pub(crate) async fn owner(s: &AppState, owner_id: String) -> Result<String, ApiError> {
    if owner_id.is_empty() {
        return Ok(owner_id);
    }
    let known = match ferry_types::ResourceId::parse(&owner_id, "bot") {
        Ok(_) => s
            .store
            .get::<ferry_store::BotUser>(&owner_id)
            .await?
            .is_some(),
        Err(_) => false,
    };
    if !known {
        return Err(ApiError::new(
            ErrorCode::OwnerUnknown,
            format!("field \"owner_id\": {owner_id:?} is not a bot user of this edge (create one with POST /bot_users)"),
        ));
    }
    Ok(owner_id)
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewCredential {
        description: c.description.unwrap_or_default(),
        metadata: c.metadata.unwrap_or_default(),
        acl: c.acl.unwrap_or_default(),
        owner_id: owner(&s, c.owner_id.unwrap_or_default()).await?,
    };
    validate::description(&new.description)?;
    validate::metadata(&new.metadata)?;
    check_acl(&new.acl)?;
    let (c, token) = s.store.create_credential(new).await?;
    Ok((
        StatusCode::CREATED,
        Json(render(&s, &c, Some(token.expose()))),
    ))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "cr", &[])?;
    let listed = s.store.list::<ferry_store::Credential>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        "/credentials",
        "credentials",
        &q.page,
        listed,
        |c| c.id.to_string(),
        |c| render(&s, c, None),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<Credential, ApiError> {
    let id = path_id(id, "cr")?;
    s.store
        .get::<ferry_store::Credential>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("credential", &id))
}

async fn read(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(render(&s, &find(&s, &id).await?, None)))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<Update>,
) -> Result<Json<Value>, ApiError> {
    let mut c = find(&s, &id).await?;
    validate::patch(&mut c.description, u.description);
    validate::patch(&mut c.metadata, u.metadata);
    if let Some(rules) = u.acl {
        check_acl(&rules)?;
        c.acl = rules;
    }
    validate::description(&c.description)?;
    validate::metadata(&c.metadata)?;
    s.store.update(&c).await?;
    Ok(Json(render(&s, &c, None)))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let c = find(&s, &id).await?;
    s.store
        .delete::<ferry_store::Credential>(c.id.as_str())
        .await?;
    let closed = s.live.close_sessions_of(&[c.id.to_string()]);
    tracing::info!(credential = %c.id, closed, "credential deleted: its sessions are closed");
    Ok(StatusCode::NO_CONTENT)
}
