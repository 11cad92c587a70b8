//! "Bot Users": the owners of authtokens that belong to no person; create one, deactivate
//! one (ngrok's `PATCH /bot_users/{id}` with `active: false`: its agents are disconnected and
//! its authtokens stop authenticating).

use axum::extract::{Path, State};
use axum::response::Response;
use ferry_store::{BotUser, Listed};
use maud::{html, Markup};
use serde_json::json;

use super::form::{row_button, Field};
use super::listed::{create as create_one, older, refused, update, WithForm};
use super::{csrf_field, problem, see, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::AppState;

/// The list and the create form; what the form held is the name.
impl WithForm for BotUser {
    type Entered = String;

    fn view(
        _s: &AppState,
        signed: &Signed,
        listed: &Listed<Self>,
        name: &String,
        e: Option<&FormError>,
    ) -> Markup {
        html! {
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
                                        (row_button(&signed.csrf, &format!("/dashboard/bot-users/{}/deactivate", b.id), "Deactivate", b.id.as_str()))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (older(listed))
            h2 { "Add a Bot User" }
            form.stack method="post" action="/dashboard/bot-users" {
                (csrf_field(&signed.csrf))
                (FormError::at(e, None))
                (Field::new("name", "Name", name).required().show(e))
                div { button type="submit" { "Add Bot User" } }
            }
        }
    }
}

/// Creates one as `POST /bot_users` does.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let name = posted.fields.get("name");
    match create_one::<BotUser>(&s, json!({ "name": name })).await {
        Ok(_) => see("/dashboard/bot-users"),
        Err(e) => refused::<BotUser>(&s, &posted.signed, e, &name).await,
    }
}

/// Deactivates one as `PATCH /bot_users/{id}` with `{"active": false}` does.
pub(crate) async fn deactivate(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match update::<BotUser>(&s, &id, json!({ "active": false })).await {
        Ok(_) => see("/dashboard/bot-users"),
        Err(e) => problem(e),
    }
}
