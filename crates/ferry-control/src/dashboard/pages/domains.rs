//! "Domains": the reserved domains; a domain's row opens its panel with its "DNS Targets"
//! ("N targets"), "Check Status" and its per-record result, and its certificate.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::ReservedDomain;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{body, csrf_field, older, problem, see, shell, Before, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::dns_check;
use crate::resource::{delete_one, find, Resource};
use crate::AppState;

const NAV: &str = "Domains";

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    list_page(&s, &signed, before, None, "").await
}

async fn list_page(
    s: &AppState,
    signed: &Signed,
    before: Before,
    error: Option<FormError>,
    domain: &str,
) -> Response {
    let listed = match s.store.list::<ReservedDomain>(&before.page()).await {
        Ok(l) => l,
        Err(e) => return problem(e.into()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let body = html! {
        h1 { "Domains" }
        @if listed.items.is_empty() {
            p { "No domains are reserved yet." }
        } @else {
            table {
                thead { tr { th { "Domain" } th { "DNS Targets" } th { "Created" } } }
                tbody {
                    @for d in &listed.items {
                        tr {
                            td data-label="Domain" {
                                a href={ "/dashboard/domains/" (d.id) } { (d.domain) }
                            }
                            td data-label="DNS Targets" { (targets(d)) }
                            td data-label="Created" { (d.created_at) }
                        }
                    }
                }
            }
        }
        (older("/dashboard/domains", listed.more, listed.items.last().map(|d| d.id.as_str())))
        h2 { "Reserve a Domain" }
        form.stack method="post" action="/dashboard/domains" {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="domain" { "Domain" }
                input #domain name="domain" value=(domain) required
                    placeholder="*.customer1.example.com" aria-describedby="domain-hint domain-error";
                p.hint #domain-hint { "A name, or a wildcard such as *.customer1.example.com." }
                (FormError::at(e, Some("domain")))
            }
            div { button type="submit" { "Reserve Domain" } }
        }
    };
    (status, shell("Domains", Some(signed), NAV, body)).into_response()
}

/// "N targets": how many records the customer creates.
fn targets(d: &ReservedDomain) -> String {
    match dns_check::expectations(d).len() {
        1 => "1 target".into(),
        n => format!("{n} targets"),
    }
}

/// Creates one as `POST /reserved_domains` does, then opens its panel.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let domain = posted.fields.get("domain");
    let created = async {
        let c = body(json!({ "domain": domain }))?;
        <ReservedDomain as Resource>::create(&s, c).await
    }
    .await;
    match created {
        Ok(v) => see(&format!(
            "/dashboard/domains/{}",
            v["id"].as_str().unwrap_or_default()
        )),
        Err(e) => {
            let before = Before { before: None };
            list_page(&s, &posted.signed, before, Some(FormError(e)), &domain).await
        }
    }
}

/// A domain's panel.
pub(crate) async fn panel(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    match find::<ReservedDomain>(&s, &id).await {
        Ok(d) => panel_page(&s, &signed, &d, None),
        Err(e) => problem(e),
    }
}

/// "Check Status": the records looked up now, by the code `POST .../dns_check` runs.
pub(crate) async fn check(
    State(s): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    match find::<ReservedDomain>(&s, &id).await {
        Ok(d) => {
            let result = dns_check::answer(&s, dns_check::expectations(&d)).await;
            panel_page(&s, &posted.signed, &d, Some(&result))
        }
        Err(e) => problem(e),
    }
}

/// Deletes it as `DELETE /reserved_domains/{id}` does.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<ReservedDomain>(&s, &id).await {
        Ok(()) => see("/dashboard/domains"),
        Err(e) => problem(e),
    }
}

fn panel_page(
    s: &AppState,
    signed: &Signed,
    d: &ReservedDomain,
    result: Option<&Value>,
) -> Response {
    let shown = <ReservedDomain as Resource>::render(s, d);
    let expected = dns_check::expectations(d);
    let body = html! {
        p { a href="/dashboard/domains" { "← Back" } }
        h1 { (d.domain) }
        dl {
            dt { "ID" } dd { code { (d.id) } }
            dt { "Created" } dd { (d.created_at) }
            @if !d.description.is_empty() { dt { "Description" } dd { (d.description) } }
        }
        h2 #dns-targets { "DNS Targets" }
        @if expected.is_empty() {
            p { "0 targets: this name is under the edge's own domain, whose DNS already answers for it." }
        } @else {
            details open[result.is_some()] {
                summary { (targets(d)) }
                p { "Create these records at your DNS provider:" }
                table {
                    thead { tr { th { "Record" } th { "Type" } th { "Target" } } }
                    tbody {
                        @for e in &expected {
                            tr {
                                td data-label="Record" { code { (e.name) } }
                                td data-label="Type" { (e.record_type()) }
                                td data-label="Target" { code { (target_of(e)) } }
                            }
                        }
                    }
                }
                form method="post" action={ "/dashboard/domains/" (d.id) "/check" } {
                    (csrf_field(&signed.csrf))
                    button type="submit" { "Check Status" }
                }
                @if let Some(r) = result { (check_result(r)) }
            }
        }
        h2 { "Certificate" }
        (certificate(&shown))
        h2 { "Delete" }
        form method="post" action={ "/dashboard/domains/" (d.id) "/delete" } {
            (csrf_field(&signed.csrf))
            button.danger type="submit" { "Delete Domain" }
        }
    };
    shell(&d.domain, Some(signed), NAV, body).into_response()
}

fn target_of(e: &ferry_dnscheck::Expectation) -> String {
    match &e.want {
        ferry_dnscheck::Want::Cname { target, .. } => target.clone(),
        ferry_dnscheck::Want::Ns { targets } => targets.join(", "),
    }
}

/// Check Status's answer: a success panel, or each record with what was expected, what was
/// found and the error code.
pub(super) fn check_result(r: &Value) -> Markup {
    let records = r["records"].as_array().cloned().unwrap_or_default();
    let ok = r["ok"].as_bool().unwrap_or(false);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let list = |v: &Value| match v {
        Value::Array(items) if items.is_empty() => "nothing".to_string(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        v => text(v),
    };
    html! {
        section.panel.success[ok].failure[!ok] #check-status role="status" aria-live="polite" {
            @if ok {
                h3 { "DNS records are configured correctly" }
            } @else {
                h3 { "DNS records are not configured correctly yet" }
            }
            p.hint { "Checked at " (text(&r["checked_at"])) }
            table {
                thead { tr { th { "Record" } th { "Status" } th { "Expected" } th { "Found" } } }
                tbody {
                    @for rec in &records {
                        tr {
                            td data-label="Record" { code { (text(&rec["name"])) } " " (text(&rec["type"])) }
                            td data-label="Status" {
                                @if rec["ok"].as_bool().unwrap_or(false) {
                                    span.mark-ok { "OK" }
                                } @else {
                                    span.mark-bad { "Not OK" }
                                    " " code { (text(&rec["error_code"])) }
                                }
                                p { (text(&rec["msg"])) }
                            }
                            td data-label="Expected" { code { (list(&rec["expected"])) } }
                            td data-label="Found" { code { (list(&rec["found"])) } }
                        }
                    }
                }
            }
        }
    }
}

/// The certificate served for the domain and its provisioning job, as the REST answer has
/// them.
fn certificate(d: &Value) -> Markup {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let status = &d["certificate_management_status"];
    let job = &status["provisioning_job"];
    html! {
        dl {
            dt { "Certificate" }
            dd {
                @match text(&d["certificate"]["id"]) {
                    Some(id) => code { (id) },
                    None => "none yet",
                }
            }
            dt { "Management" }
            dd {
                @match text(&d["certificate_management_policy"]["authority"]) {
                    Some(a) => { "managed by " (a) " (" (text(&d["certificate_management_policy"]["private_key_type"]).unwrap_or_default()) ")" },
                    None => "not managed",
                }
            }
            @if let Some(renews) = text(&status["renews_at"]) {
                dt { "Renews at" } dd { (renews) }
            }
            @if !job.is_null() {
                dt { "Provisioning" } dd { (text(&job["msg"]).unwrap_or_default()) }
                @if let Some(code) = text(&job["error_code"]) { dt { "Error" } dd { code { (code) } } }
                @if let Some(at) = text(&job["started_at"]) { dt { "Started at" } dd { (at) } }
                @if let Some(at) = text(&job["retries_at"]) { dt { "Retries at" } dd { (at) } }
            }
        }
    }
}
