//! `/agent_ingresses`: domains whose names the agent ingress owns. The answer names the
//! edge's own name servers (`ns_targets`) and one `tunnel.<region>.<domain>` per region; an
//! agent that dials one of those names (SNI) is taken by the agent ingress.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_store::{AgentIngress, NewAgentIngress};
use ferry_types::{ErrorCode, Hostname};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::page::{list_body, list_query, path_id};
use crate::validate;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent_ingresses", post(create).get(list))
        .route(
            "/agent_ingresses/{id}",
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
    domain: Option<String>,
    #[serde(default)]
    certificate_management_policy: Option<Policy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    certificate_management_policy: Option<Policy>,
}

/// `certificate_management_policy`: only Let's Encrypt is an authority.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    #[serde(default)]
    authority: Option<String>,
    #[serde(default)]
    private_key_type: Option<String>,
}

impl Policy {
    /// The stored form, with `default_key` when no key type is given.
    pub(crate) fn resolve(self, default_key: &str) -> Result<Value, ApiError> {
        let authority = self.authority.unwrap_or_else(|| "letsencrypt".into());
        if authority != "letsencrypt" {
            return Err(ApiError::field(
                "certificate_management_policy.authority",
                format!("{authority:?} is not supported; use \"letsencrypt\""),
            ));
        }
        let key = self.private_key_type.unwrap_or_else(|| default_key.into());
        if key != "rsa" && key != "ecdsa" {
            return Err(ApiError::field(
                "certificate_management_policy.private_key_type",
                format!("{key:?} is not supported; use \"rsa\" or \"ecdsa\""),
            ));
        }
        Ok(json!({ "authority": authority, "private_key_type": key }))
    }
}

fn render(s: &AppState, a: &AgentIngress) -> Value {
    let status = if a.cert_policy.is_null() {
        Value::Null
    } else {
        json!({ "renews_at": null, "provisioning_job": null })
    };
    json!({
        "id": a.id.to_string(),
        // Relative, as in ngrok's API and the guides.
        "uri": format!("/agent_ingresses/{}", a.id),
        "description": a.description,
        "metadata": a.metadata,
        "domain": a.domain,
        "ns_targets": s.config.ns_targets,
        "region_domains": s
            .config
            .regions
            .iter()
            .map(|r| format!("tunnel.{r}.{}", a.domain))
            .collect::<Vec<_>>(),
        "created_at": a.created_at,
        "certificate_management_policy": a.cert_policy,
        "certificate_management_status": status,
    })
}

/// Tells the edge every agent ingress domain after a change.
async fn publish(s: &AppState) -> Result<(), ApiError> {
    let domains = s.store.agent_ingress_domains().await?;
    s.live.agent_ingresses_changed(domains);
    Ok(())
}

async fn create(
    State(s): State<AppState>,
    JsonBody(c): JsonBody<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let domain = c.domain.unwrap_or_default();
    if domain.trim().is_empty() {
        return Err(ApiError::field(
            "domain",
            "is required, such as \"connect.example.com\"",
        ));
    }
    let domain = Hostname::parse(domain.trim())
        .map_err(|e| ApiError::field("domain", e))?
        .to_string();
    let new = NewAgentIngress {
        description: c.description.unwrap_or_default(),
        metadata: c.metadata.unwrap_or_default(),
        domain,
        cert_policy: match c.certificate_management_policy {
            Some(p) => p.resolve("rsa")?,
            None => Value::Null,
        },
    };
    validate::description(&new.description)?;
    validate::metadata(&new.metadata)?;
    let a = s
        .store
        .create::<ferry_store::AgentIngress>(new)
        .await
        .map_err(|e| match e {
            ferry_store::StoreError::Duplicate { value, .. } => ApiError::new(
                ErrorCode::AlreadyExists,
                format!("field \"domain\": {value} is already an agent ingress"),
            ),
            e => e.into(),
        })?;
    publish(&s).await?;
    Ok((StatusCode::CREATED, Json(render(&s, &a))))
}

async fn list(State(s): State<AppState>, q: RawQuery) -> Result<Json<Value>, ApiError> {
    let q = list_query(&q, "agin", &[])?;
    let listed = s.store.list::<ferry_store::AgentIngress>(&q.page).await?;
    Ok(Json(list_body(
        &s,
        "/agent_ingresses",
        "ingresses",
        &q.page,
        listed,
        |a| a.id.to_string(),
        |a| render(&s, a),
    )))
}

async fn find(s: &AppState, id: &str) -> Result<AgentIngress, ApiError> {
    let id = path_id(id, "agin")?;
    s.store
        .get::<ferry_store::AgentIngress>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent ingress", &id))
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
    validate::patch(&mut a.description, u.description);
    validate::patch(&mut a.metadata, u.metadata);
    if let Some(p) = u.certificate_management_policy {
        a.cert_policy = p.resolve("rsa")?;
    }
    validate::description(&a.description)?;
    validate::metadata(&a.metadata)?;
    s.store.update(&a).await?;
    Ok(Json(render(&s, &a)))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let a = find(&s, &id).await?;
    s.store
        .delete::<ferry_store::AgentIngress>(a.id.as_str())
        .await?;
    publish(&s).await?;
    Ok(StatusCode::NO_CONTENT)
}
