//! `/certificate_authorities`: uploaded CA certificates for mutual TLS. The response carries
//! the parsed subject, validity and key usages.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::{CertificateAuthority, NewCertificateAuthority};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::{pem, validate};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/certificate_authorities", post(create).get(list))
        .route(
            "/certificate_authorities/{id}",
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
    ca_pem: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
}

fn render(s: &AppState, c: &CertificateAuthority) -> Value {
    let p = &c.parsed;
    json!({
        "id": c.id.to_string(),
        "uri": s.url(&format!("/certificate_authorities/{}", c.id)),
        "created_at": c.created_at,
        "description": c.description,
        "metadata": c.metadata,
        "ca_pem": c.ca_pem,
        "subject_common_name": p["subject_common_name"],
        "not_before": p["not_before"],
        "not_after": p["not_after"],
        "key_usages": p["key_usages"],
        "extended_key_usages": p["extended_key_usages"],
    })
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ca_pem = c.ca_pem.unwrap_or_default();
    if ca_pem.trim().is_empty() {
        return Err(ApiError::field(
            "ca_pem",
            "is required: the CA certificate in PEM",
        ));
    }
    let ders = pem::certificates("ca_pem", &ca_pem)?;
    let parsed = pem::describe(&pem::parse("ca_pem", &ders[0])?);
    let new = NewCertificateAuthority {
        description: c.description.unwrap_or_default(),
        metadata: c.metadata.unwrap_or_default(),
        ca_pem,
        parsed,
    };
    validate::description(&new.description)?;
    validate::metadata(&new.metadata)?;
    let ca = s
        .store
        .create::<ferry_store::CertificateAuthority>(new)
        .await?;
    Ok((StatusCode::CREATED, Json(render(&s, &ca))))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "ca", &[])?;
    let listed = s
        .store
        .list::<ferry_store::CertificateAuthority>(&q.page)
        .await?;
    Ok(Json(list_body(
        &s,
        "/certificate_authorities",
        "certificate_authorities",
        &q.page,
        listed,
        |c| c.id.to_string(),
        |c| render(&s, c),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<CertificateAuthority, ApiError> {
    let id = path_id(id, "ca")?;
    s.store
        .get::<ferry_store::CertificateAuthority>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("certificate authority", &id))
}

async fn read(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(render(&s, &find(&s, &id).await?)))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<Update>,
) -> Result<Json<Value>, ApiError> {
    let mut c = find(&s, &id).await?;
    validate::patch(&mut c.description, u.description);
    validate::patch(&mut c.metadata, u.metadata);
    validate::description(&c.description)?;
    validate::metadata(&c.metadata)?;
    s.store.update(&c).await?;
    Ok(Json(render(&s, &c)))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let c = find(&s, &id).await?;
    s.store
        .delete::<ferry_store::CertificateAuthority>(c.id.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
