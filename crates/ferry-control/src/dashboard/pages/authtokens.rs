//! "Authtokens": the agents' tokens with their owner and "ACL Rules"; "Add a Tunnel
//! Authtoken" with an "Owner" (the bot users and the signed-in key's owner); the new token
//! shown once, with a copy button; revoke.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::{BotUser, Credential};
use maud::html;
use serde_json::json;

use super::{
    body, csrf_field, older, owner_name, problem, see, shell, shown_once, Before, FormError,
};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::{Shown, Signed};
use crate::resource::{delete_one, Resource};
use crate::{ApiError, AppState};

const NAV: &str = "Authtokens";
const PAGE: &str = "authtokens";

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    let loaded = async {
        Ok::<_, ApiError>((
            s.store.list::<Credential>(&before.page()).await?,
            s.store.all::<BotUser>().await?,
        ))
    }
    .await;
    let (listed, bots) = match loaded {
        Ok(l) => l,
        Err(e) => return problem(e),
    };
    let new = match signed.take_shown(&s, PAGE).await {
        Ok(new) => new,
        Err(e) => return problem(e),
    };
    let body = html! {
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
                                form.inline method="post" action={ "/dashboard/authtokens/" (c.id) "/delete" } {
                                    (csrf_field(&signed.csrf))
                                    button.danger type="submit" aria-label={ "Revoke " (c.id) } { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        (older("/dashboard/authtokens", listed.more, listed.items.last().map(|c| c.id.as_str())))
    };
    shell("Authtokens", Some(&signed), NAV, body).into_response()
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
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    // The signed-in key's owner first, then every bot user.
    let own = &signed.key.owner_id;
    let selected = entered.owner_id.clone().unwrap_or_else(|| own.clone());
    let mut owners = vec![(own.clone(), owner_name(&bots, own))];
    owners.extend(
        bots.iter()
            .filter(|b| b.id.as_str() != own)
            .map(|b| (b.id.to_string(), owner_name(&bots, b.id.as_str()))),
    );
    let body = html! {
        p { a href="/dashboard/authtokens" { "← Back" } }
        h1 { "Add a Tunnel Authtoken" }
        form.stack method="post" action="/dashboard/authtokens" {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="description" { "Description" }
                input #description name="description" value=(entered.description) aria-describedby="description-error";
                (FormError::at(e, Some("description")))
            }
            div {
                label for="owner_id" { "Owner" }
                select #owner_id name="owner_id" aria-describedby="owner_id-error" {
                    @for (id, name) in &owners {
                        option value=(id) selected[*id == selected] { (name) }
                    }
                }
                (FormError::at(e, Some("owner_id")))
            }
            div {
                label for="acl" { "ACL Rules" }
                textarea #acl name="acl" rows="3" placeholder="bind:*.customer1.example.com"
                    aria-describedby="acl-hint acl-error" { (entered.acl) }
                p.hint #acl-hint { "One rule a line, such as bind:*.customer1.example.com; none lets the token bind any name." }
                (FormError::at(e, Some("acl")))
            }
            div { button type="submit" { "Save" } }
        }
    };
    (
        status,
        shell("Add a Tunnel Authtoken", Some(signed), NAV, body),
    )
        .into_response()
}

/// Creates one as `POST /credentials` does; its token waits for the list page, once.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let f = &posted.fields;
    let entered = Entered {
        description: f.get("description"),
        owner_id: Some(f.get("owner_id")),
        acl: f.get("acl"),
    };
    let acl: Vec<&str> = entered
        .acl
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let created = async {
        let c = body(json!({
            "description": entered.description,
            "owner_id": entered.owner_id,
            "acl": acl,
        }))?;
        <Credential as Resource>::create(&s, c).await
    }
    .await;
    match created {
        Ok(v) => {
            let shown = Shown {
                page: PAGE,
                id: v["id"].as_str().unwrap_or_default().to_string(),
                token: v["token"].as_str().unwrap_or_default().to_string(),
            };
            if let Err(e) = posted.signed.show_once(&s, shown).await {
                return problem(e);
            }
            see("/dashboard/authtokens")
        }
        Err(e) => form(&s, &posted.signed, entered, Some(FormError(e))).await,
    }
}

/// Revokes one as `DELETE /credentials/{id}` does: its agents are disconnected.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<Credential>(&s, &id).await {
        Ok(()) => see("/dashboard/authtokens"),
        Err(e) => problem(e),
    }
}
