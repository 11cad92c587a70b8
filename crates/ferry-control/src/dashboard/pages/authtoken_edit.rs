//! Editing an authtoken's "ACL Rules" and description, through the REST API's own PATCH
//! (`PATCH /credentials/{id}`): the same rule check, the error beside the field it concerns.
//! The token itself cannot be shown again or changed; revoking it is on the list page.

use axum::extract::{Path, State};
use axum::response::Response;
use ferry_store::{BotUser, Credential};
use maud::html;
use serde_json::json;

use super::authtokens::{acl_field, acl_rules};
use super::form::Field;
use super::listed::{form_page, update, OnDashboard};
use super::{csrf_field, owner_name, problem, see, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::resource::find;
use crate::AppState;

/// The edit form, filled with what is stored.
pub(crate) async fn form(
    State(s): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    match find::<Credential>(&s, &id).await {
        Ok(c) => {
            let acl = c.acl.join("\n");
            page(&s, &signed, &c, (&c.description, &acl), None).await
        }
        Err(e) => problem(e),
    }
}

/// The form for `c`, holding `entered` (description, ACL rules one a line).
async fn page(
    s: &AppState,
    signed: &Signed,
    c: &Credential,
    entered: (&str, &str),
    error: Option<FormError>,
) -> Response {
    let bots = match s.store.all::<BotUser>().await {
        Ok(b) => b,
        Err(e) => return problem(e.into()),
    };
    form_page("Edit Authtoken", signed, Credential::NAV, error, |e| {
        html! {
            p { a href="/dashboard/authtokens" { "← Back" } }
            h1 { "Edit Authtoken" }
            dl {
                dt { "ID" } dd { code { (c.id) } }
                dt { "Owner" } dd { (owner_name(&bots, &c.owner_id)) }
                dt { "Created" } dd { (c.created_at) }
            }
            form.stack method="post" action={ "/dashboard/authtokens/" (c.id) "/edit" } {
                (csrf_field(&signed.csrf))
                (FormError::at(e, None))
                (Field::new("description", "Description", entered.0).show(e))
                (acl_field(entered.1, "One rule a line; none lets the token bind any name. Agents already connected keep the names they bound.").show(e))
                div { button type="submit" { "Save" } }
            }
        }
    })
}

/// Saves it as `PATCH /credentials/{id}` does.
pub(crate) async fn save(
    State(s): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let description = posted.fields.get("description");
    let acl = posted.fields.get("acl");
    let fields = json!({ "description": description, "acl": acl_rules(&acl) });
    match update::<Credential>(&s, &id, fields).await {
        Ok(_) => see("/dashboard/authtokens"),
        Err(e) => match find::<Credential>(&s, &id).await {
            Ok(c) => {
                let entered = (description.as_str(), acl.as_str());
                page(&s, &posted.signed, &c, entered, Some(FormError(e))).await
            }
            Err(_) => problem(e),
        },
    }
}
