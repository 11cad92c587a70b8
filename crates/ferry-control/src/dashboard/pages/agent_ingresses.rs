//! "Agent Ingresses": domains whose names the edge's agents dial. Each one's panel shows the
//! name servers to delegate the domain to (`ns_targets`), the names agents dial
//! (`region_domains`), and "Check Status" of the NS delegation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::AgentIngress;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::domains::check_result;
use super::{body, csrf_field, older, problem, see, shell, Before, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::dns_check;
use crate::resource::{delete_one, find, Resource};
use crate::AppState;

const NAV: &str = "Agent Ingresses";
const PATH: &str = "/dashboard/agent-ingresses";

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    list_page(&s, &signed, before, None, ("", "")).await
}

/// The list and the create form; `entered` is what the form held (domain, description), kept
/// beside an error.
async fn list_page(
    s: &AppState,
    signed: &Signed,
    before: Before,
    error: Option<FormError>,
    entered: (&str, &str),
) -> Response {
    let listed = match s.store.list::<AgentIngress>(&before.page()).await {
        Ok(l) => l,
        Err(e) => return problem(e.into()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let body = html! {
        h1 { "Agent Ingresses" }
        @if listed.items.is_empty() {
            p { "No agent ingresses yet." }
        } @else {
            table {
                thead { tr { th { "Domain" } th { "Description" } th { "NS Targets" } th { "Created" } } }
                tbody {
                    @for a in &listed.items {
                        tr {
                            td data-label="Domain" {
                                a href={ (PATH) "/" (a.id) } { (a.domain) }
                            }
                            td data-label="Description" { (a.description) }
                            td data-label="NS Targets" { (names(&s.config.ns_targets)) }
                            td data-label="Created" { (a.created_at) }
                        }
                    }
                }
            }
        }
        (older(PATH, listed.more, listed.items.last().map(|a| a.id.as_str())))
        h2 { "Add an Agent Ingress" }
        form.stack method="post" action=(PATH) {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="domain" { "Domain" }
                input #domain name="domain" value=(entered.0) required
                    placeholder="connect.example.com" aria-describedby="domain-hint domain-error";
                p.hint #domain-hint { "A domain you delegate to this edge's name servers; agents dial tunnel.<region>.<domain>." }
                (FormError::at(e, Some("domain")))
            }
            div {
                label for="description" { "Description" }
                input #description name="description" value=(entered.1) aria-describedby="description-error";
                (FormError::at(e, Some("description")))
            }
            div { button type="submit" { "Add Agent Ingress" } }
        }
    };
    (status, shell(NAV, Some(signed), NAV, body)).into_response()
}

/// Names as code, one a line.
fn names(list: &[impl AsRef<str>]) -> Markup {
    html! {
        @for (i, n) in list.iter().enumerate() {
            @if i > 0 { br; }
            code { (n.as_ref()) }
        }
    }
}

/// Creates one as `POST /agent_ingresses` does, then opens its panel.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let domain = posted.fields.get("domain");
    let description = posted.fields.get("description");
    let created = async {
        let c = body(json!({ "domain": domain, "description": description }))?;
        <AgentIngress as Resource>::create(&s, c).await
    }
    .await;
    match created {
        Ok(v) => see(&format!("{PATH}/{}", v["id"].as_str().unwrap_or_default())),
        Err(e) => {
            let before = Before { before: None };
            let entered = (domain.as_str(), description.as_str());
            list_page(&s, &posted.signed, before, Some(FormError(e)), entered).await
        }
    }
}

/// One agent ingress's panel.
pub(crate) async fn panel(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    match find::<AgentIngress>(&s, &id).await {
        Ok(a) => panel_page(&s, &signed, &a, None),
        Err(e) => problem(e),
    }
}

/// "Check Status": the NS delegation looked up now, by the code `POST .../dns_check` runs.
pub(crate) async fn check(
    State(s): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    match find::<AgentIngress>(&s, &id).await {
        Ok(a) => {
            let result = dns_check::answer(&s, dns_check::ingress_expectations(&s, &a)).await;
            panel_page(&s, &posted.signed, &a, Some(&result))
        }
        Err(e) => problem(e),
    }
}

/// Deletes it as `DELETE /agent_ingresses/{id}` does.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<AgentIngress>(&s, &id).await {
        Ok(()) => see(PATH),
        Err(e) => problem(e),
    }
}

fn panel_page(s: &AppState, signed: &Signed, a: &AgentIngress, result: Option<&Value>) -> Response {
    // The REST answer's own fields, so the page cannot show other names than the API.
    let shown = <AgentIngress as Resource>::render(s, a);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ns_targets = strings(&shown["ns_targets"]);
    let region_domains = strings(&shown["region_domains"]);
    let body = html! {
        p { a href=(PATH) { "← Back" } }
        h1 { (a.domain) }
        dl {
            dt { "ID" } dd { code { (a.id) } }
            dt { "Created" } dd { (a.created_at) }
            @if !a.description.is_empty() { dt { "Description" } dd { (a.description) } }
        }
        h2 #ns-targets { "NS Targets" }
        p { "Delegate " code { (a.domain) } " to these name servers at your DNS provider (NS records):" }
        ul { @for n in &ns_targets { li { code { (n) } } } }
        form method="post" action={ (PATH) "/" (a.id) "/check" } {
            (csrf_field(&signed.csrf))
            button type="submit" { "Check Status" }
        }
        @if let Some(r) = result { (check_result(r)) }
        h2 #region-domains { "Region Domains" }
        p { "Agents dial one of these (the agent's " code { "server_addr" } "):" }
        ul { @for n in &region_domains { li { code { (n) } } } }
        h2 { "Delete" }
        form method="post" action={ (PATH) "/" (a.id) "/delete" } {
            (csrf_field(&signed.csrf))
            button.danger type="submit" { "Delete Agent Ingress" }
        }
    };
    shell(&a.domain, Some(signed), NAV, body).into_response()
}
