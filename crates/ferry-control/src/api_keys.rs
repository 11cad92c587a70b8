//! `/api_keys`: bearer keys for this API. The token is in the create response only.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::ApiKey;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::validate;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api_keys", post(create).get(list))
        .route("/api_keys/{id}", get(read).patch(update).delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
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
}

fn render(s: &AppState, k: &ApiKey, token: Option<&str>) -> Value {
    json!({
        "id": k.id.to_string(),
        "uri": s.url(&format!("/api_keys/{}", k.id)),
        "description": k.description,
        "metadata": k.metadata,
        "created_at": k.created_at,
        "token": token,
        "owner_id": k.owner_id,
    })
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let description = c.description.unwrap_or_default();
    let metadata = c.metadata.unwrap_or_default();
    validate::description(&description)?;
    validate::metadata(&metadata)?;
    let owner = crate::credentials::owner(&s, c.owner_id.unwrap_or_default()).await?;
    let (k, token) = s
        .store
        .create_api_key(&description, &metadata, &owner)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(render(&s, &k, Some(token.expose()))),
    ))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "ak", &[])?;
    let listed = s.store.list::<ferry_store::ApiKey>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        "/api_keys",
        "keys",
        &q.page,
        listed,
        |k| k.id.to_string(),
        |k| render(&s, k, None),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<ApiKey, ApiError> {
    let id = path_id(id, "ak")?;
    s.store
        .get::<ferry_store::ApiKey>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key", &id))
}

async fn read(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(render(&s, &find(&s, &id).await?, None)))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<Update>,
) -> Result<Json<Value>, ApiError> {
    let mut k = find(&s, &id).await?;
    validate::patch(&mut k.description, u.description);
    validate::patch(&mut k.metadata, u.metadata);
    validate::description(&k.description)?;
    validate::metadata(&k.metadata)?;
    s.store.update(&k).await?;
    Ok(Json(render(&s, &k, None)))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let k = find(&s, &id).await?;
    s.store.delete::<ferry_store::ApiKey>(k.id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}
