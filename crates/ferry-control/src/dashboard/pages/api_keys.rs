//! "API Keys": the keys of the REST API (and of this dashboard); create one, shown once;
//! delete one, which also ends its dashboard sessions.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::{ApiKey, BotUser};
use maud::html;
use serde_json::json;

use super::{
    body, csrf_field, older, owner_name, problem, see, shell, shown_once, Before, FormError,
};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::{Shown, Signed};
use crate::resource::{delete_one, Resource};
use crate::{ApiError, AppState};

const NAV: &str = "API Keys";
const PAGE: &str = "api_keys";

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
    description: &str,
) -> Response {
    let loaded = async {
        Ok::<_, ApiError>((
            s.store.list::<ApiKey>(&before.page()).await?,
            s.store.all::<BotUser>().await?,
        ))
    }
    .await;
    let (listed, bots) = match loaded {
        Ok(l) => l,
        Err(e) => return problem(e),
    };
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let new = match signed.take_shown(s, PAGE).await {
        Ok(new) => new,
        Err(e) => return problem(e),
    };
    let body = html! {
        h1 { "API Keys" }
        @if let Some(new) = &new {
            (shown_once("Your new API key", "Save it now: it will not be displayed again.", new))
        }
        table {
            thead { tr { th { "ID" } th { "Description" } th { "Owner" } th { "Created" } th { span.hint { "Actions" } } } }
            tbody {
                @for k in &listed.items {
                    tr {
                        td data-label="ID" {
                            code { (k.id) }
                            @if k.id == signed.key.id { " (this session's key)" }
                        }
                        td data-label="Description" { (k.description) }
                        td data-label="Owner" { (owner_name(&bots, &k.owner_id)) }
                        td data-label="Created" { (k.created_at) }
                        td {
                            form.inline method="post" action={ "/dashboard/api-keys/" (k.id) "/delete" } {
                                (csrf_field(&signed.csrf))
                                button.danger type="submit" aria-label={ "Delete " (k.id) } { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        (older("/dashboard/api-keys", listed.more, listed.items.last().map(|k| k.id.as_str())))
        h2 { "Add an API Key" }
        form.stack method="post" action="/dashboard/api-keys" {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="description" { "Description" }
                input #description name="description" value=(description) aria-describedby="description-error";
                (FormError::at(e, Some("description")))
            }
            div { button type="submit" { "Add API Key" } }
        }
    };
    (status, shell("API Keys", Some(signed), NAV, body)).into_response()
}

/// Creates one as `POST /api_keys` does, owned as the signed-in key is; its token waits for
/// the list page, once.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let description = posted.fields.get("description");
    let created = async {
        let c =
            body(json!({ "description": description, "owner_id": posted.signed.key.owner_id }))?;
        <ApiKey as Resource>::create(&s, c).await
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
            see("/dashboard/api-keys")
        }
        Err(e) => {
            let before = Before { before: None };
            page(&s, &posted.signed, before, Some(FormError(e)), &description).await
        }
    }
}

/// Deletes one as `DELETE /api_keys/{id}` does; a session signed in with it ends at its next
/// request.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<ApiKey>(&s, &id).await {
        Ok(()) => see("/dashboard/api-keys"),
        Err(e) => problem(e),
    }
}
