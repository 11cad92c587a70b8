//! "Authtokens": the agents' tokens with their owner and "ACL Rules"; "Add a Tunnel
//! Authtoken" with an "Owner" (the bot users and the signed-in key's owner); the new token
//! shown once, with a copy button; revoke.

use axum::extract::{Query, State};
use axum::response::Response;
use ferry_store::{BotUser, Credential};
use maud::html;
use serde_json::json;

use super::form::{row_button, Field};
use super::listed::{create as create_one, form_page, list_page, older, Before, OnDashboard};
use super::{csrf_field, owner_name, problem, show_created, shown_once, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::AppState;

const PAGE: &str = "authtokens";

/// The "ACL Rules" field: one rule a line, sent as the REST body's `acl` list.
pub(super) fn acl_field<'a>(entered: &'a str, hint: &'a str) -> Field<'a> {
    Field::new("acl", "ACL Rules", entered)
        .rows(3)
        .placeholder("bind:*.customer1.example.com")
        .hint(hint)
}

/// The rules of an "ACL Rules" field: its lines that are not blank, trimmed.
pub(super) fn acl_rules(entered: &str) -> Vec<&str> {
    entered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    let bots = match s.store.all::<BotUser>().await {
        Ok(b) => b,
        Err(e) => return problem(e.into()),
    };
    let new = match signed.take_shown(&s, PAGE).await {
        Ok(new) => new,
        Err(e) => return problem(e),
    };
    list_page::<Credential>(&s, &signed, before, None, |listed, _| {
        html! {
            h1 { "Authtokens" }
            @if let Some(new) = &new {
                (shown_once("Your new authtoken", "Copy it now: it will not be shown again.", new))
            }
            p { a.button href="/dashboard/authtokens/new" { "Add a Tunnel Authtoken" } }
            @if listed.items.is_empty() {
                p { "No authtokens yet." }
            } @else {
                table {
                    thead { tr { th { "ID" } th { "Description" } th { "Owner" } th { "ACL Rules" } th { "Created" } th { span.hint { "Actions" } } } }
                    tbody {
                        @for c in &listed.items {
                            tr {
                                td data-label="ID" { code { (c.id) } }
                                td data-label="Description" { (c.description) }
                                td data-label="Owner" { (owner_name(&bots, &c.owner_id)) }
                                td data-label="ACL Rules" {
                                    @if c.acl.is_empty() { "none (any name)" }
                                    @for rule in &c.acl { code { (rule) } " " }
                                }
                                td data-label="Created" { (c.created_at) }
                                td {
                                    a href={ "/dashboard/authtokens/" (c.id) "/edit" } aria-label={ "Edit " (c.id) } { "Edit" }
                                    " "
                                    (row_button(&signed.csrf, &format!("/dashboard/authtokens/{}/delete", c.id), "Revoke", c.id.as_str()))
                                }
                            }
                        }
                    }
                }
            }
            (older(listed))
        }
    })
    .await
}

/// What the form held, to show it again beside an error.
#[derive(Default)]
struct Entered {
    description: String,
    owner_id: Option<String>,
    acl: String,
}

pub(crate) async fn new(State(s): State<AppState>, signed: Signed) -> Response {
    form(&s, &signed, Entered::default(), None).await
}

async fn form(
    s: &AppState,
    signed: &Signed,
    entered: Entered,
    error: Option<FormError>,
) -> Response {
    let bots = match s.store.all::<BotUser>().await {
        Ok(b) => b,
        Err(e) => return problem(e.into()),
    };
    // The signed-in key's owner first, then every bot user.
    let own = &signed.key.owner_id;
    let selected = entered.owner_id.clone().unwrap_or_else(|| own.clone());
    let mut owners = vec![(own.clone(), owner_name(&bots, own))];
    owners.extend(
        bots.iter()
            .filter(|b| b.id.as_str() != own)
            .map(|b| (b.id.to_string(), owner_name(&bots, b.id.as_str()))),
    );
    form_page(
        "Add a Tunnel Authtoken",
        signed,
        Credential::NAV,
        error,
        |e| {
            html! {
                p { a href="/dashboard/authtokens" { "← Back" } }
                h1 { "Add a Tunnel Authtoken" }
                form.stack method="post" action="/dashboard/authtokens" {
                    (csrf_field(&signed.csrf))
                    (FormError::at(e, None))
                    (Field::new("description", "Description", &entered.description).show(e))
                    div {
                        label for="owner_id" { "Owner" }
                        select #owner_id name="owner_id" aria-describedby="owner_id-error" {
                            @for (id, name) in &owners {
                                option value=(id) selected[*id == selected] { (name) }
                            }
                        }
                        (FormError::at(e, Some("owner_id")))
                    }
                    (acl_field(&entered.acl, "One rule a line, such as bind:*.customer1.example.com; none lets the token bind any name.").show(e))
                    div { button type="submit" { "Save" } }
                }
            }
        },
    )
}

/// Creates one as `POST /credentials` does; its token waits for the list page, once.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let f = &posted.fields;
    let entered = Entered {
        description: f.get("description"),
        owner_id: Some(f.get("owner_id")),
        acl: f.get("acl"),
    };
    let fields = json!({
        "description": entered.description,
        "owner_id": entered.owner_id,
        "acl": acl_rules(&entered.acl),
    });
    match create_one::<Credential>(&s, fields).await {
        Ok(v) => show_created(&s, &posted.signed, PAGE, &v, "/dashboard/authtokens").await,
        Err(e) => form(&s, &posted.signed, entered, Some(FormError(e))).await,
    }
}
