//! "API Keys": the keys of the REST API (and of this dashboard); create one, shown once;
//! delete one, which also ends its dashboard sessions.

use axum::extract::{Query, State};
use axum::response::Response;
use ferry_store::{ApiKey, BotUser};
use maud::html;
use serde_json::json;

use super::form::{row_button, Field};
use super::listed::{create as create_one, list_page, older, Before};
use super::{csrf_field, owner_name, problem, show_created, shown_once, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::AppState;

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
    let bots = match s.store.all::<BotUser>().await {
        Ok(b) => b,
        Err(e) => return problem(e.into()),
    };
    let new = match signed.take_shown(s, PAGE).await {
        Ok(new) => new,
        Err(e) => return problem(e),
    };
    list_page::<ApiKey>(s, signed, before, error, |listed, e| {
        html! {
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
                            td { (row_button(&signed.csrf, &format!("/dashboard/api-keys/{}/delete", k.id), "Delete", k.id.as_str())) }
                        }
                    }
                }
            }
            (older(listed))
            h2 { "Add an API Key" }
            form.stack method="post" action="/dashboard/api-keys" {
                (csrf_field(&signed.csrf))
                (FormError::at(e, None))
                (Field::new("description", "Description", description).show(e))
                div { button type="submit" { "Add API Key" } }
            }
        }
    })
    .await
}

/// Creates one as `POST /api_keys` does, owned as the signed-in key is; its token waits for
/// the list page, once.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let description = posted.fields.get("description");
    let fields = json!({ "description": description, "owner_id": posted.signed.key.owner_id });
    match create_one::<ApiKey>(&s, fields).await {
        Ok(v) => show_created(&s, &posted.signed, PAGE, &v, "/dashboard/api-keys").await,
        Err(e) => {
            let error = Some(FormError(e));
            page(&s, &posted.signed, Before::none(), error, &description).await
        }
    }
}
