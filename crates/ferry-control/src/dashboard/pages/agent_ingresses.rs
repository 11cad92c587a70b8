//! "Agent Ingresses": domains whose names the edge's agents dial. Each one's panel shows the
//! name servers to delegate the domain to (`ns_targets`), the names agents dial
//! (`region_domains`), and "Check Status" of the NS delegation.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ferry_dnscheck::Expectation;
use ferry_store::{AgentIngress, Listed};
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

const PATH: &str = AgentIngress::PATH;

/// The list and the create form; what the form held is the domain and the description.
impl WithForm for AgentIngress {
    type Entered = (String, String);

    fn view(
        s: &AppState,
        signed: &Signed,
        listed: &Listed<Self>,
        entered: &(String, String),
        e: Option<&FormError>,
    ) -> Markup {
        html! {
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
            (older(listed))
            h2 { "Add an Agent Ingress" }
            form.stack method="post" action=(PATH) {
                (csrf_field(&signed.csrf))
                (FormError::at(e, None))
                (Field::new("domain", "Domain", &entered.0)
                    .required()
                    .placeholder("connect.example.com")
                    .hint("A domain you delegate to this edge's name servers; agents dial tunnel.<region>.<domain>.")
                    .show(e))
                (Field::new("description", "Description", &entered.1).show(e))
                div { button type="submit" { "Add Agent Ingress" } }
            }
        }
    }
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
    let fields = json!({ "domain": domain, "description": description });
    match create_one::<AgentIngress>(&s, fields).await {
        Ok(v) => see(&format!("{PATH}/{}", v["id"].as_str().unwrap_or_default())),
        Err(e) => {
            let entered = (domain, description);
            refused::<AgentIngress>(&s, &posted.signed, e, &entered).await
        }
    }
}

impl Checked for AgentIngress {
    fn expectations(s: &AppState, a: &Self) -> Vec<Expectation> {
        dns_check::ingress_expectations(s, a)
    }

    fn panel(s: &AppState, signed: &Signed, a: &Self, result: Option<&Markup>) -> Response {
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
            (panel_button(&signed.csrf, &format!("{PATH}/{}/check", a.id), "Check Status", false))
            @if let Some(r) = result { (r) }
            h2 #region-domains { "Region Domains" }
            p { "Agents dial one of these (the agent's " code { "server_addr" } "):" }
            ul { @for n in &region_domains { li { code { (n) } } } }
            h2 { "Delete" }
            (panel_button(&signed.csrf, &format!("{PATH}/{}/delete", a.id), "Delete Agent Ingress", true))
        };
        shell(&a.domain, Some(signed), Self::NAV, body).into_response()
    }
}
