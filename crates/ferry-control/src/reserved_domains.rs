//! `/reserved_domains`: outside dev mode an endpoint binds only a reserved name, exactly or
//! under a reserved wildcard. Certificates are another issue (ACME); the fields are here with
//! ngrok's defaults so that clients and the guides read them.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::delete;
use ferry_api::requests::{
    ReservedDomainCreate as Create, ReservedDomainUpdate as Update, ResolvesTo,
};
use ferry_store::{NewReservedDomain, ReservedDomain, TlsCertificate};
use ferry_types::{ErrorCode, HostPattern, Hostname};
use rand::Rng;
use serde_json::{json, Value};

use crate::agent_ingresses::resolve_policy;
use crate::openapi::{b, input, ns, null_obj, obj, policy, policy_input, reference, s, Operation};
use crate::resource::{find, ApiResult, Resource, Rest, Schemas};
use crate::validate;
use crate::{described, managed};
use crate::{ApiError, AppState};

fn resolves_to(v: Vec<ResolvesTo>) -> Value {
    Value::Array(v.into_iter().map(|r| json!({ "value": r.value })).collect())
}

fn random_label(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}

/// Parses `domain`: a host name, or `*.` and a host name (`*` only as the first label).
fn parse_domain(raw: Option<String>) -> Result<HostPattern, ApiError> {
    let raw = validate::required(
        "domain",
        raw,
        "is required, such as \"app.example.com\" or \"*.customer1.example.com\"",
    )?;
    let raw = raw.trim();
    if raw.contains('*') && !(raw.starts_with("*.") && raw[2..].find('*').is_none()) {
        return Err(ApiError::new(
            ErrorCode::WildcardPosition,
            format!("field \"domain\": {raw:?}: `*` is allowed only as the whole first label (\"*.example.com\")"),
        ));
    }
    HostPattern::parse(raw).map_err(|e| ApiError::field("domain", e))
}

/// `region` is deprecated in ngrok: accepted (the guide sends `"us"`) and answered as `""`.
fn deprecated_region(_asked: Option<String>) -> String {
    String::new()
}

async fn check_certificate(s: &AppState, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Ok(());
    }
    let id = ferry_types::ResourceId::parse(id, "cert")
        .map_err(|e| ApiError::field("certificate_id", e))?;
    if s.store.get::<TlsCertificate>(id.as_str()).await?.is_none() {
        return Err(ApiError::field(
            "certificate_id",
            format!("{id} is not an uploaded TLS certificate"),
        ));
    }
    Ok(())
}

impl Resource for ReservedDomain {
    const REST: Rest = Rest::new(
        "/reserved_domains",
        "reserved_domains",
        "reserved domain",
        "ReservedDomain",
    );
    type Create = Create;
    type Update = Update;

    fn render(s: &AppState, d: &Self) -> Value {
        let opt = |v: &str| if v.is_empty() { Value::Null } else { json!(v) };
        let fields = json!({
            "domain": d.domain,
            "region": d.region,
            "cname_target": opt(&d.cname_target),
            "http_endpoint_configuration": null,
            "https_endpoint_configuration": null,
            "certificate": managed::certificate(s, &d.certificate_id, &d.managed_cert_id),
            "certificate_management_policy": d.cert_policy,
            "certificate_management_status": managed::status(&d.cert_policy, &d.cert_status, &d.created_at),
            "acme_challenge_cname_target": opt(&d.acme_target),
            "resolves_to": d.resolves_to,
            "error_redirect_url": null,
            "is_dev": false,
        });
        described::item(s, d, fields)
    }

    async fn create(s: &AppState, c: Create) -> ApiResult<Value> {
        let pattern = parse_domain(c.domain)?;
        let certificate_id = c.certificate_id.unwrap_or_default();
        check_certificate(s, &certificate_id).await?;
        let base = Hostname::parse(&s.config.base_domain).ok();
        let (host, wildcard) = match &pattern {
            HostPattern::Exact(h) => (h.clone(), false),
            HostPattern::Wildcard(b) => (b.clone(), true),
        };
        let own = base
            .as_ref()
            .is_some_and(|b| host == *b || host.is_below(b));
        let cert_policy = match (c.certificate_management_policy, certificate_id.is_empty()) {
            (Some(_), false) => {
                return Err(ApiError::field(
                    "certificate_management_policy",
                    "cannot be given together with certificate_id",
                ))
            }
            (Some(p), true) => resolve_policy(p, "ecdsa")?,
            (None, true) if !own => {
                json!({ "authority": "letsencrypt", "private_key_type": "ecdsa" })
            }
            (None, _) => Value::Null,
        };
        let (description, metadata) = described::created(c.description, c.metadata)?;
        let new = NewReservedDomain {
            description,
            metadata,
            domain: pattern.to_string(),
            region: deprecated_region(c.region),
            certificate_id,
            cert_policy,
            cname_target: if own {
                String::new()
            } else {
                format!(
                    "{}.{}.cname.{}",
                    random_label(16),
                    random_label(16),
                    s.config.base_domain
                )
            },
            acme_target: if wildcard && !own {
                format!(
                    "{}.acme-challenge.{}",
                    random_label(8),
                    s.config.base_domain
                )
            } else {
                String::new()
            },
            resolves_to: resolves_to(c.resolves_to.unwrap_or_default()),
            ..Default::default()
        };
        let d = s
            .store
            .create::<ReservedDomain>(new)
            .await
            .map_err(ApiError::unique("domain", "is already reserved"))?;
        let mut d = d;
        if d.cert_policy.is_null() {
            if !d.certificate_id.is_empty() {
                s.live.certificates_changed();
            }
        } else {
            let id = d.id.to_string();
            d.cert_status = managed::apply(s, &id, &d.cert_policy, vec![d.domain.clone()]).await?;
        }
        // Its CNAME and ACME challenge targets are answered from now on.
        s.live.dns_changed().await;
        Ok(Self::render(s, &d))
    }

    async fn update(s: &AppState, d: &mut Self, u: Update) -> ApiResult<()> {
        if u.description.is_none()
            && u.metadata.is_none()
            && u.certificate_id.is_none()
            && u.certificate_management_policy.is_none()
            && u.resolves_to.is_none()
        {
            return Err(ApiError::new(
                ErrorCode::UpdateEmpty,
                "the update names no field to change",
            ));
        }
        let before_policy = d.cert_policy.clone();
        if let Some(cert) = u.certificate_id {
            check_certificate(s, &cert).await?;
            if !cert.is_empty() {
                d.cert_policy = Value::Null;
            }
            d.certificate_id = cert;
        }
        if let Some(p) = u.certificate_management_policy {
            d.cert_policy = resolve_policy(p, "ecdsa")?;
            d.certificate_id.clear();
        }
        if d.cert_policy != before_policy {
            let id = d.id.to_string();
            d.cert_status = managed::apply(s, &id, &d.cert_policy, vec![d.domain.clone()]).await?;
        }
        if let Some(r) = u.resolves_to {
            d.resolves_to = resolves_to(r);
        }
        described::patch(d, u.description, u.metadata)
    }

    async fn updated(s: &AppState, _before: &Self, _after: &Self) -> ApiResult<()> {
        s.live.certificates_changed();
        s.live.dns_changed().await;
        Ok(())
    }

    /// Its targets leave DNS at once: a name left answering would point a customer's
    /// CNAME at an edge that no longer serves it. Its managed certificate goes with it.
    async fn deleted(s: &AppState, d: &Self) -> ApiResult<()> {
        managed::apply(s, d.id.as_str(), &Value::Null, Vec::new()).await?;
        s.live.dns_changed().await;
        Ok(())
    }

    fn schemas() -> Schemas {
        let resolves_to_input =
            || json!({ "type": "array", "items": input(&[("value", s())], &["value"]) });
        let mut certificate = reference();
        certificate["nullable"] = json!(true);
        Schemas {
            item: described::schema(&[
                ("domain", s()),
                ("region", s()),
                ("cname_target", ns()),
                ("http_endpoint_configuration", null_obj()),
                ("https_endpoint_configuration", null_obj()),
                ("certificate", certificate),
                ("certificate_management_policy", policy()),
                ("certificate_management_status", null_obj()),
                ("acme_challenge_cname_target", ns()),
                (
                    "resolves_to",
                    json!({ "type": "array", "items": obj(&[("value", s())]) }),
                ),
                ("error_redirect_url", ns()),
                ("is_dev", b()),
            ]),
            create: described::input(
                &[
                    ("domain", s()),
                    ("region", s()),
                    ("certificate_id", s()),
                    ("certificate_management_policy", policy_input()),
                    ("resolves_to", resolves_to_input()),
                ],
                &["domain"],
            ),
            update: described::input(
                &[
                    ("certificate_id", s()),
                    ("certificate_management_policy", policy_input()),
                    ("resolves_to", resolves_to_input()),
                ],
                &[],
            ),
        }
    }
}

/// Detaching a reserved domain's certificate or its certificate management policy.
pub(crate) fn detach_operations() -> Vec<Operation> {
    vec![
        Operation::new(
            Method::DELETE,
            "/reserved_domains/{id}/certificate",
            delete(detach_certificate),
        )
        .summary("Detach the certificate")
        .id("rd")
        .answer(204, None),
        Operation::new(
            Method::DELETE,
            "/reserved_domains/{id}/certificate_management_policy",
            delete(detach_policy),
        )
        .summary("Detach the certificate_management_policy")
        .id("rd")
        .answer(204, None),
    ]
}

async fn detach_certificate(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut d = find::<ReservedDomain>(&s, &id).await?;
    if !d.cert_policy.is_null() {
        return Err(ApiError::new(
            ErrorCode::NotSupported,
            "the certificate is managed (a certificate_management_policy is attached); delete the policy instead",
        ));
    }
    d.certificate_id.clear();
    s.store.update(&d).await?;
    s.live.certificates_changed();
    Ok(StatusCode::NO_CONTENT)
}

async fn detach_policy(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut d = find::<ReservedDomain>(&s, &id).await?;
    d.cert_policy = Value::Null;
    s.store.update(&d).await?;
    managed::apply(&s, d.id.as_str(), &d.cert_policy, Vec::new()).await?;
    Ok(StatusCode::NO_CONTENT)
}
