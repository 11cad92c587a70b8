//! `/tls_certificates`: uploaded certificates (chain, leaf first) with their private keys.
//! The key is kept for serving and never returned.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::{NewTlsCertificate, TlsCertificate};
use ferry_types::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};
use x509_parser::pem::Pem;

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::{pem, validate};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tls_certificates", post(create).get(list))
        .route(
            "/tls_certificates/{id}",
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
    certificate_pem: Option<String>,
    #[serde(default)]
    private_key_pem: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
}

fn render(s: &AppState, c: &TlsCertificate) -> Value {
    let p = &c.parsed;
    json!({
        "id": c.id.to_string(),
        "uri": s.url(&format!("/tls_certificates/{}", c.id)),
        "created_at": c.created_at,
        "description": c.description,
        "metadata": c.metadata,
        "certificate_pem": c.certificate_pem,
        "subject_common_name": p["subject_common_name"],
        "subject_alternative_names": p["subject_alternative_names"],
        "issued_at": null,
        "not_before": p["not_before"],
        "not_after": p["not_after"],
        "key_usages": p["key_usages"],
        "extended_key_usages": p["extended_key_usages"],
        "private_key_type": p["private_key_type"],
        "issuer_common_name": p["issuer_common_name"],
        "serial_number": p["serial_number"],
        "subject_organization": p["subject_organization"],
        "subject_organizational_unit": p["subject_organizational_unit"],
        "subject_locality": p["subject_locality"],
        "subject_province": p["subject_province"],
        "subject_country": p["subject_country"],
    })
}

/// The key must be one PEM private key block.
fn check_key(key: &str) -> Result<(), ApiError> {
    let mut found = false;
    for block in Pem::iter_from_buffer(key.as_bytes()) {
        let block = block.map_err(|e| {
            ApiError::new(
                ErrorCode::PemInvalid,
                format!("field \"private_key_pem\": not readable PEM: {e}"),
            )
        })?;
        if block.label == "CERTIFICATE" {
            return Err(ApiError::new(
                ErrorCode::PemInvalid,
                "field \"private_key_pem\": this is a certificate, not a private key",
            ));
        }
        found |= block.label.ends_with("PRIVATE KEY");
    }
    if !found {
        return Err(ApiError::new(
            ErrorCode::PemInvalid,
            "field \"private_key_pem\": no -----BEGIN ... PRIVATE KEY----- block found",
        ));
    }
    Ok(())
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let certificate_pem = c.certificate_pem.unwrap_or_default();
    let private_key_pem = c.private_key_pem.unwrap_or_default();
    if certificate_pem.trim().is_empty() {
        return Err(ApiError::field("certificate_pem", "is required"));
    }
    if private_key_pem.trim().is_empty() {
        return Err(ApiError::field("private_key_pem", "is required"));
    }
    let ders = pem::certificates("certificate_pem", &certificate_pem)?;
    let parsed = pem::describe(&pem::parse("certificate_pem", &ders[0])?);
    check_key(&private_key_pem)?;
    let new = NewTlsCertificate {
        description: c.description.unwrap_or_default(),
        metadata: c.metadata.unwrap_or_default(),
        certificate_pem,
        private_key_pem,
        parsed,
    };
    validate::description(&new.description)?;
    validate::metadata(&new.metadata)?;
    let cert = s.store.create::<ferry_store::TlsCertificate>(new).await?;
    Ok((StatusCode::CREATED, Json(render(&s, &cert))))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "cert", &[])?;
    let listed = s.store.list::<ferry_store::TlsCertificate>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        "/tls_certificates",
        "tls_certificates",
        &q.page,
        listed,
        |c| c.id.to_string(),
        |c| render(&s, c),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<TlsCertificate, ApiError> {
    let id = path_id(id, "cert")?;
    s.store
        .get::<ferry_store::TlsCertificate>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("TLS certificate", &id))
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
        .delete::<ferry_store::TlsCertificate>(c.id.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
