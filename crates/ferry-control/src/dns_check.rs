//! Check Status: `POST /reserved_domains/{id}/dns_check` and `POST
//! /agent_ingresses/{id}/dns_check` look the customer's records up now (through
//! `--dns-check-resolver`, [`ferry_dnscheck`]) and answer 200 with each record's verdict. A
//! wrong record, or a resolver that does not answer, is `ok: false` in the answer, never an
//! error status: the check itself worked, and the page or script that asked shows why.
//!
//! A reserved domain under the edge's own base domain has no `cname_target` and no
//! `acme_challenge_cname_target` (the edge's DNS already answers for it): there is nothing
//! for the customer to create, so the answer is `ok: true` with no records, where ngrok
//! says `ERR_NGROK_424` ("does not require a CNAME record").

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::post;
use axum::Json;
use ferry_api::requests::NoFields;
use ferry_dnscheck::{Expectation, Verdict, Want};
use ferry_store::{AgentIngress, ReservedDomain};
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::openapi::{b, input, ns, obj, s, strings, Operation};
use crate::resource::{find, ApiResult};
use crate::{rfc3339, AppState};

/// The two Check Status operations.
pub(crate) fn operations() -> Vec<Operation> {
    vec![
        Operation::new(
            Method::POST,
            "/reserved_domains/{id}/dns_check",
            post(reserved_domain),
        )
        .summary("Check Status: look up the domain's CNAME and _acme-challenge CNAME now")
        .id("rd")
        .optional_request(input(&[], &[]))
        .answer(200, Some(Operation::schema_ref("DnsCheck"))),
        Operation::new(
            Method::POST,
            "/agent_ingresses/{id}/dns_check",
            post(agent_ingress),
        )
        .summary("Check Status: look up the domain's NS delegation now")
        .id("agin")
        .optional_request(input(&[], &[]))
        .answer(200, Some(Operation::schema_ref("DnsCheck"))),
    ]
}

/// The answer's schema: `expected` is a string, a list for NS.
pub(crate) fn component() -> (&'static str, Value) {
    let record = obj(&[
        ("name", s()),
        ("type", json!({ "type": "string", "enum": ["CNAME", "NS"] })),
        ("expected", json!({ "oneOf": [s(), strings()] })),
        ("found", strings()),
        ("ok", b()),
        ("error_code", ns()),
        ("msg", s()),
    ]);
    (
        "DnsCheck",
        obj(&[
            ("ok", b()),
            ("checked_at", s()),
            ("records", json!({ "type": "array", "items": record })),
        ]),
    )
}

async fn reserved_domain(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(NoFields {}): JsonBody<NoFields>,
) -> ApiResult<Json<Value>> {
    let d = find::<ReservedDomain>(&s, &id).await?;
    Ok(Json(answer(&s, expectations(&d)).await))
}

/// The records the customer creates for `d`: its CNAME, and for a wildcard the
/// `_acme-challenge` CNAME; none under the edge's own base domain. The dashboard lists them as
/// "DNS Targets".
pub(crate) fn expectations(d: &ReservedDomain) -> Vec<Expectation> {
    let mut expected = Vec::new();
    if !d.cname_target.is_empty() {
        expected.push(Expectation::domain_cname(&d.domain, &d.cname_target));
    }
    if !d.acme_target.is_empty() {
        expected.push(Expectation::acme_cname(&d.domain, &d.acme_target));
    }
    expected
}

async fn agent_ingress(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(NoFields {}): JsonBody<NoFields>,
) -> ApiResult<Json<Value>> {
    let a = find::<AgentIngress>(&s, &id).await?;
    Ok(Json(answer(&s, ingress_expectations(&s, &a)).await))
}

/// The record the customer creates for an agent ingress: the NS delegation of its domain to
/// the edge's name servers. The dashboard's Check Status looks up the same.
pub(crate) fn ingress_expectations(s: &AppState, a: &AgentIngress) -> Vec<Expectation> {
    vec![Expectation::ns(&a.domain, &s.config.ns_targets)]
}

/// Looks `expected` up now and answers each record's verdict, as the REST answer shows it.
pub(crate) async fn answer(s: &AppState, expected: Vec<Expectation>) -> Value {
    let checked_at = rfc3339(SystemTime::now());
    let verdicts = ferry_dnscheck::check(s.dns.as_ref(), expected).await;
    json!({
        "ok": verdicts.iter().all(Verdict::ok),
        "checked_at": checked_at,
        "records": verdicts.iter().map(render).collect::<Vec<_>>(),
    })
}

/// One record: `error_code` is ngrok's code where ngrok has one, else Ferry's; `msg` ends
/// with Ferry's code, as every REST message does.
fn render(v: &Verdict) -> Value {
    let e = &v.expectation;
    let expected = match &e.want {
        Want::Cname { target, .. } => json!(target),
        Want::Ns { targets } => json!(targets),
    };
    let code = v.code();
    let msg = match code {
        Some(code) => format!("{} [{code}]", v.msg()),
        None => v.msg(),
    };
    json!({
        "name": e.name,
        "type": e.record_type(),
        "expected": expected,
        "found": v.found,
        "ok": v.ok(),
        "error_code": code.map(|c| c.ngrok().map(str::to_string).unwrap_or_else(|| c.to_string())),
        "msg": msg,
    })
}
