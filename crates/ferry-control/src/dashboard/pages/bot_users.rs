//! "Bot Users": the owners of authtokens that belong to no person; create one, deactivate
//! one (ngrok's `PATCH /bot_users/{id}` with `active: false`: its agents are disconnected and
//! its authtokens stop authenticating).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::BotUser;
use maud::html;
use serde_json::json;

use super::{body, csrf_field, older, problem, see, shell, Before, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::resource::{update_one, Resource};
use crate::AppState;

const NAV: &str = "Bot Users";

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    page(&s, &signed, before, None, "").await
}

async fn page(
    s: &AppState,
    signed: &Signed,
    before: Before,
    error: Option<FormError>,
    name: &str,
) -> Response {
    let listed = match s.store.list::<BotUser>(&before.page()).await {
        Ok(l) => l,
        Err(e) => return problem(e.into()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let body = html! {
        h1 { "Bot Users" }
        @if listed.items.is_empty() {
            p { "No bot users yet." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "ID" } th { "Active" } th { "Created" } th { span.hint { "Actions" } } } }
                tbody {
                    @for b in &listed.items {
                        tr {
                            td data-label="Name" { (b.name) }
                            td data-label="ID" { code { (b.id) } }
                            td data-label="Active" { @if b.active { "yes" } @else { "no" } }
                            td data-label="Created" { (b.created_at) }
                            td {
                                @if b.active {
                                    form.inline method="post" action={ "/dashboard/bot-users/" (b.id) "/deactivate" } {
                                        (csrf_field(&signed.csrf))
                                        button.danger type="submit" aria-label={ "Deactivate " (b.id) } { "Deactivate" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (older("/dashboard/bot-users", listed.more, listed.items.last().map(|b| b.id.as_str())))
        h2 { "Add a Bot User" }
        form.stack method="post" action="/dashboard/bot-users" {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="name" { "Name" }
                input #name name="name" value=(name) required aria-describedby="name-error";
                (FormError::at(e, Some("name")))
            }
            div { button type="submit" { "Add Bot User" } }
        }
    };
    (status, shell("Bot Users", Some(signed), NAV, body)).into_response()
}

/// Creates one as `POST /bot_users` does.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let name = posted.fields.get("name");
    let created = async {
        let c = body(json!({ "name": name }))?;
        <BotUser as Resource>::create(&s, c).await
    }
    .await;
    match created {
        Ok(_) => see("/dashboard/bot-users"),
        Err(e) => {
            page(
                &s,
                &posted.signed,
                Before { before: None },
                Some(FormError(e)),
                &name,
            )
            .await
        }
    }
}

/// Deactivates one as `PATCH /bot_users/{id}` with `{"active": false}` does.
pub(crate) async fn deactivate(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    let done = async {
        let u = body(json!({ "active": false }))?;
        update_one::<BotUser>(&s, &id, u).await
    }
    .await;
    match done {
        Ok(_) => see("/dashboard/bot-users"),
        Err(e) => problem(e),
    }
}
