//! "Domains": the reserved domains; a domain's row opens its panel with its "DNS Targets"
//! ("N targets"), "Check Status" and its per-record result, and its certificate.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ferry_dnscheck::Expectation;
use ferry_store::{Listed, ReservedDomain};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::check_status::Checked;
use super::form::{panel_button, Field};
use super::listed::{create as create_one, older, refused, OnDashboard, WithForm};
use super::{csrf_field, see, shell, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::dns_check;
use crate::resource::Resource;
use crate::AppState;

/// The list and the form; what the form held is its domain.
impl WithForm for ReservedDomain {
    type Entered = String;

    fn view(
        _s: &AppState,
        signed: &Signed,
        listed: &Listed<Self>,
        domain: &String,
        e: Option<&FormError>,
    ) -> Markup {
        html! {
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
            (older(listed))
            h2 { "Reserve a Domain" }
            form.stack method="post" action="/dashboard/domains" {
                (csrf_field(&signed.csrf))
                (FormError::at(e, None))
                (Field::new("domain", "Domain", domain)
                    .required()
                    .placeholder("*.customer1.example.com")
                    .hint("A name, or a wildcard such as *.customer1.example.com.")
                    .show(e))
                div { button type="submit" { "Reserve Domain" } }
            }
        }
    }
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
    match create_one::<ReservedDomain>(&s, json!({ "domain": domain })).await {
        Ok(v) => see(&format!(
            "/dashboard/domains/{}",
            v["id"].as_str().unwrap_or_default()
        )),
        Err(e) => refused::<ReservedDomain>(&s, &posted.signed, e, &domain).await,
    }
}

impl Checked for ReservedDomain {
    fn expectations(_s: &AppState, d: &Self) -> Vec<Expectation> {
        dns_check::expectations(d)
    }

    fn panel(s: &AppState, signed: &Signed, d: &Self, result: Option<&Markup>) -> Response {
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
                    (panel_button(&signed.csrf, &format!("/dashboard/domains/{}/check", d.id), "Check Status", false))
                    @if let Some(r) = result { (r) }
                }
            }
            h2 { "Certificate" }
            (certificate(&shown))
            h2 { "Delete" }
            (panel_button(&signed.csrf, &format!("/dashboard/domains/{}/delete", d.id), "Delete Domain", true))
        };
        shell(&d.domain, Some(signed), Self::NAV, body).into_response()
    }
}

fn target_of(e: &Expectation) -> String {
    match &e.want {
        ferry_dnscheck::Want::Cname { target, .. } => target.clone(),
        ferry_dnscheck::Want::Ns { targets } => targets.join(", "),
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
