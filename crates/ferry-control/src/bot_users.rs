//! `/bot_users`: owners of authtokens that belong to no person. Deactivating (or deleting) a
//! bot revokes its authtokens: their live sessions are closed and they stop authenticating.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::BotUser;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bot_users", post(create).get(list))
        .route("/bot_users/{id}", get(read).patch(update).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

fn render(s: &AppState, b: &BotUser) -> Value {
    json!({
        "id": b.id.to_string(),
        "uri": s.url(&format!("/bot_users/{}", b.id)),
        "name": b.name,
        "active": b.active,
        "created_at": b.created_at,
    })
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = c.name.unwrap_or_default();
    crate::validate::description(&name)
        .map_err(|_| ApiError::field("name", "longer than 255 bytes"))?;
    let b = s
        .store
        .create::<BotUser>(ferry_store::NewBotUser {
            name,
            active: c.active.unwrap_or(true),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(render(&s, &b))))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "bot", &[])?;
    let listed = s.store.list::<ferry_store::BotUser>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        "/bot_users",
        "bot_users",
        &q.page,
        listed,
        |b| b.id.to_string(),
        |b| render(&s, b),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<BotUser, ApiError> {
    let id = path_id(id, "bot")?;
    s.store
        .get::<ferry_store::BotUser>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("bot user", &id))
}

async fn read(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(render(&s, &find(&s, &id).await?)))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<Update>,
) -> Result<Json<Value>, ApiError> {
    let mut b = find(&s, &id).await?;
    crate::validate::patch(&mut b.name, u.name);
    let deactivated = b.active && u.active == Some(false);
    if let Some(active) = u.active {
        b.active = active;
    }
    s.store.update(&b).await?;
    if deactivated {
        let tokens = s.store.credentials_owned_by(b.id.as_str()).await?;
        let closed = s.live.close_sessions_of(&tokens);
        tracing::info!(bot = %b.id, closed, "bot user deactivated: its sessions are closed");
    }
    Ok(Json(render(&s, &b)))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let b = find(&s, &id).await?;
    let tokens = s.store.credentials_owned_by(b.id.as_str()).await?;
    for t in &tokens {
        s.store.delete::<ferry_store::Credential>(t).await?;
    }
    s.live.close_sessions_of(&tokens);
    s.store
        .delete::<ferry_store::BotUser>(b.id.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
