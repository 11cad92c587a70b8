//! `/agent_ingresses`: domains whose names the agent ingress owns. The answer names the
//! edge's own name servers (`ns_targets`) and one `tunnel.<region>.<domain>` per region; an
//! agent that dials one of those names (SNI) is taken by the agent ingress.

use ferry_api::requests::{AgentIngressCreate as Create, AgentIngressUpdate as Update, Policy};
use ferry_store::{AgentIngress, NewAgentIngress};
use ferry_types::Hostname;
use serde_json::{json, Value};

use crate::openapi::{null_obj, policy, policy_input, s, strings};
use crate::resource::{ApiResult, Resource, Rest, Schemas};
use crate::validate;
use crate::{described, managed};
use crate::{ApiError, AppState};

/// A `certificate_management_policy` in its stored form, with `default_key` when no key type
/// is given: only Let's Encrypt is an authority.
pub(crate) fn resolve_policy(p: Policy, default_key: &str) -> Result<Value, ApiError> {
    let authority = p.authority.unwrap_or_else(|| "letsencrypt".into());
    if authority != "letsencrypt" {
        return Err(ApiError::field(
            "certificate_management_policy.authority",
            format!("{authority:?} is not supported; use \"letsencrypt\""),
        ));
    }
    let key = p.private_key_type.unwrap_or_else(|| default_key.into());
    if key != "rsa" && key != "ecdsa" {
        return Err(ApiError::field(
            "certificate_management_policy.private_key_type",
            format!("{key:?} is not supported; use \"rsa\" or \"ecdsa\""),
        ));
    }
    Ok(json!({ "authority": authority, "private_key_type": key }))
}

/// `tunnel.<region>.<domain>` for each region, this node's (`--region`) and then those of
/// the other live nodes: what agents dial.
fn region_domains(s: &AppState, a: &AgentIngress) -> Vec<String> {
    let mut regions = s.config.regions.clone();
    for r in s.live.live_regions() {
        if !regions.contains(&r) {
            regions.push(r);
        }
    }
    regions
        .iter()
        .map(|r| format!("tunnel.{r}.{}", a.domain))
        .collect()
}

/// What an agent ingress's managed certificate covers: its domain and every region name.
fn names(s: &AppState, a: &AgentIngress) -> Vec<String> {
    std::iter::once(a.domain.clone())
        .chain(region_domains(s, a))
        .collect()
}

/// Tells the edge every agent ingress domain after a change, and has its DNS zones rebuilt.
async fn publish(s: &AppState) -> Result<(), ApiError> {
    let domains = s.store.agent_ingress_domains().await?;
    s.live.agent_ingresses_changed(domains);
    s.live.dns_changed().await;
    Ok(())
}

impl Resource for AgentIngress {
    const REST: Rest = Rest::new(
        "/agent_ingresses",
        "ingresses",
        "agent ingress",
        "AgentIngress",
    );
    type Create = Create;
    type Update = Update;

    fn render(s: &AppState, a: &Self) -> Value {
        let fields = json!({
            // Relative, as in ngrok's API and the guides.
            "uri": format!("/agent_ingresses/{}", a.id),
            "domain": a.domain,
            "ns_targets": s.config.ns_targets,
            "region_domains": region_domains(s, a),
            "certificate_management_policy": a.cert_policy,
            "certificate_management_status": managed::status(&a.cert_policy, &a.cert_status, &a.created_at),
        });
        described::item(s, a, fields)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let domain = validate::required(
            "domain",
            c.domain,
            "is required, such as \"connect.example.com\"",
        )?;
        let domain = Hostname::parse(domain.trim())
            .map_err(|e| ApiError::field("domain", e))?
            .to_string();
        let cert_policy = match c.certificate_management_policy {
            Some(p) => resolve_policy(p, "rsa")?,
            None => Value::Null,
        };
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let new = NewAgentIngress {
            description,
            metadata,
            domain,
            cert_policy,
            ..Default::default()
        };
        let a = s
            .store
            .create::<AgentIngress>(new)
            .await
            .map_err(ApiError::unique("domain", "is already an agent ingress"))?;
        let mut a = a;
        if !a.cert_policy.is_null() {
            let id = a.id.to_string();
            a.cert_status = managed::apply(s, &id, &a.cert_policy, names(s, &a)).await?;
        }
        publish(s).await?;
        Ok(Self::render(s, &a))
    }

    async fn update(s: &AppState, a: &mut Self, u: Update) -> ApiResult<()> {
        if let Some(p) = u.certificate_management_policy {
            a.cert_policy = resolve_policy(p, "rsa")?;
            let id = a.id.to_string();
            a.cert_status = managed::apply(s, &id, &a.cert_policy, names(s, a)).await?;
        }
        described::patch(a, u.description, u.metadata)
    }

    async fn updated(s: &AppState, _before: &Self, _after: &Self) -> ApiResult<()> {
        s.live.dns_changed().await;
        Ok(())
    }

    async fn deleted(s: &AppState, a: &Self) -> ApiResult<()> {
        managed::apply(s, a.id.as_str(), &Value::Null, Vec::new()).await?;
        publish(s).await
    }

    fn schemas() -> Schemas {
        Schemas {
            item: described::schema(&[
                ("domain", s()),
                ("ns_targets", strings()),
                ("region_domains", strings()),
                ("certificate_management_policy", policy()),
                ("certificate_management_status", null_obj()),
            ]),
            create: described::input(
                &[
                    ("domain", s()),
                    ("certificate_management_policy", policy_input()),
                ],
                &["domain"],
            ),
            update: described::input(&[("certificate_management_policy", policy_input())], &[]),
        }
    }
}
