//! Check Status on a panel (a reserved domain's records, an agent ingress's NS delegation):
//! the records looked up now by the code `POST .../dns_check` runs, and the answer shown as
//! a success or as each record with what was expected, what was found and the error code.

use axum::extract::{Path, State};
use axum::response::Response;
use ferry_dnscheck::Expectation;
use maud::{html, Markup};
use serde_json::Value;

use super::listed::OnDashboard;
use super::problem;
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::dns_check;
use crate::resource::find;
use crate::AppState;

/// A resource whose panel has Check Status.
pub(crate) trait Checked: OnDashboard {
    /// The records the customer creates for it.
    fn expectations(s: &AppState, r: &Self) -> Vec<Expectation>;

    /// Its panel, with Check Status's answer when it was just asked.
    fn panel(s: &AppState, signed: &Signed, r: &Self, result: Option<&Markup>) -> Response;
}

/// One's panel.
pub(crate) async fn panel<R: Checked>(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    match find::<R>(&s, &id).await {
        Ok(r) => R::panel(&s, &signed, &r, None),
        Err(e) => problem(e),
    }
}

/// "Check Status": one's panel with its records looked up now.
pub(crate) async fn check<R: Checked>(
    State(s): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    match find::<R>(&s, &id).await {
        Ok(r) => {
            let result = dns_check::answer(&s, R::expectations(&s, &r)).await;
            R::panel(&s, &posted.signed, &r, Some(&check_result(&result)))
        }
        Err(e) => problem(e),
    }
}

/// Check Status's answer: a success panel, or each record with what was expected, what was
/// found and the error code.
fn check_result(r: &Value) -> Markup {
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
