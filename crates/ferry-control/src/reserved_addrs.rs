//! `/reserved_addrs`: TCP addresses on the edge's port range. Outside dev mode a TCP endpoint
//! that asks for an address gets it only when it is reserved here.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::{NewReservedAddr, ReservedAddr};
use ferry_types::ErrorCode;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::validate;
use crate::{ApiError, AppState};

const REGIONS: &[&str] = &["us", "eu", "au", "ap", "jp", "in", "sa"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reserved_addrs", post(create).get(list))
        .route(
            "/reserved_addrs/{id}",
            get(read).patch(update).delete(remove),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
}

fn render(s: &AppState, a: &ReservedAddr) -> Value {
    json!({
        "id": a.id.to_string(),
        "uri": s.url(&format!("/reserved_addrs/{}", a.id)),
        "created_at": a.created_at,
        "description": a.description,
        "metadata": a.metadata,
        "addr": a.addr,
        "region": a.region,
        "endpoint_configuration": null,
    })
}

/// A port of the TCP range that no reservation holds, tried from a random start.
async fn free_addr(s: &AppState) -> Result<String, ApiError> {
    let taken = s.store.reserved_addr_list().await?;
    let (lo, hi) = s.config.tcp_ports;
    let span = u32::from(hi - lo) + 1;
    let start = rand::thread_rng().gen_range(0..span);
    for i in 0..span {
        let port = lo + ((start + i) % span) as u16;
        let addr = format!("{}:{port}", s.config.tcp_public_host);
        if !taken.contains(&addr) {
            return Ok(addr);
        }
    }
    Err(ApiError::new(
        ErrorCode::AlreadyExists,
        format!("every port of this edge's TCP range {lo}-{hi} is reserved"),
    ))
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let region = c
        .region
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us".into());
    if !REGIONS.contains(&region.as_str()) {
        return Err(ApiError::field(
            "region",
            format!("{region:?} is not one of {}", REGIONS.join(", ")),
        ));
    }
    let new = NewReservedAddr {
        description: c.description.unwrap_or_default(),
        metadata: c.metadata.unwrap_or_default(),
        addr: free_addr(&s).await?,
        region,
    };
    validate::description(&new.description)?;
    validate::metadata(&new.metadata)?;
    let a = s.store.create::<ferry_store::ReservedAddr>(new).await?;
    Ok((StatusCode::CREATED, Json(render(&s, &a))))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "ra", &[])?;
    let listed = s.store.list::<ferry_store::ReservedAddr>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        "/reserved_addrs",
        "reserved_addrs",
        &q.page,
        listed,
        |a| a.id.to_string(),
        |a| render(&s, a),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<ReservedAddr, ApiError> {
    let id = path_id(id, "ra")?;
    s.store
        .get::<ferry_store::ReservedAddr>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("reserved address", &id))
}

async fn read(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(render(&s, &find(&s, &id).await?)))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<Update>,
) -> Result<Json<Value>, ApiError> {
    let mut a = find(&s, &id).await?;
    if u.description.is_none() && u.metadata.is_none() {
        return Err(ApiError::new(
            ErrorCode::UpdateEmpty,
            "the update names no field to change",
        ));
    }
    validate::patch(&mut a.description, u.description);
    validate::patch(&mut a.metadata, u.metadata);
    validate::description(&a.description)?;
    validate::metadata(&a.metadata)?;
    s.store.update(&a).await?;
    Ok(Json(render(&s, &a)))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let a = find(&s, &id).await?;
    s.store
        .delete::<ferry_store::ReservedAddr>(a.id.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
