//! Editing an authtoken's "ACL Rules" and description, through the REST API's own PATCH
//! (`PATCH /credentials/{id}`): the same rule check, the error beside the field it concerns.
//! The token itself cannot be shown again or changed; revoking it is on the list page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::{BotUser, Credential};
use maud::html;
use serde_json::json;

use super::{body, csrf_field, owner_name, problem, see, shell, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::resource::{find, update_one};
use crate::AppState;

const NAV: &str = "Authtokens";

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
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let body = html! {
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
            div {
                label for="description" { "Description" }
                input #description name="description" value=(entered.0) aria-describedby="description-error";
                (FormError::at(e, Some("description")))
            }
            div {
                label for="acl" { "ACL Rules" }
                textarea #acl name="acl" rows="3" placeholder="bind:*.customer1.example.com"
                    aria-describedby="acl-hint acl-error" { (entered.1) }
                p.hint #acl-hint { "One rule a line; none lets the token bind any name. Agents already connected keep the names they bound." }
                (FormError::at(e, Some("acl")))
            }
            div { button type="submit" { "Save" } }
        }
    };
    (status, shell("Edit Authtoken", Some(signed), NAV, body)).into_response()
}

/// Saves it as `PATCH /credentials/{id}` does.
pub(crate) async fn save(
    State(s): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let description = posted.fields.get("description");
    let acl_text = posted.fields.get("acl");
    let acl: Vec<&str> = acl_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let saved = async {
        let u = body(json!({ "description": description, "acl": acl }))?;
        update_one::<Credential>(&s, &id, u).await
    }
    .await;
    match saved {
        Ok(_) => see("/dashboard/authtokens"),
        Err(e) => match find::<Credential>(&s, &id).await {
            Ok(c) => {
                let entered = (description.as_str(), acl_text.as_str());
                page(&s, &posted.signed, &c, entered, Some(FormError(e))).await
            }
            Err(_) => problem(e),
        },
    }
}
