//! "TLS Certificates": certificates (chain, leaf first) with their private keys, served for
//! the names they cover. Upload one as PEM files or pasted text (through
//! `POST /tls_certificates`'s own code: a key where the certificate belongs, or the other way
//! round, is refused beside its field with its code), see each one's parsed subject, names,
//! validity and key type, delete one. The private key is never shown again.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::TlsCertificate;
use maud::html;
use serde_json::json;

use super::certificates::{facts, facts_head, pem_input, pem_of};
use super::{body, csrf_field, older, problem, see, shell, Before, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::resource::{delete_one, Resource};
use crate::AppState;

const NAV: &str = "TLS Certificates";
const PATH: &str = "/dashboard/tls-certificates";

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    page(&s, &signed, before, None, ("", "")).await
}

/// The list and the upload form; `entered` is what the form held (description, certificate
/// PEM). A pasted key is not kept for the next try.
async fn page(
    s: &AppState,
    signed: &Signed,
    before: Before,
    error: Option<FormError>,
    entered: (&str, &str),
) -> Response {
    let listed = match s.store.list::<TlsCertificate>(&before.page()).await {
        Ok(l) => l,
        Err(e) => return problem(e.into()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let body = html! {
        h1 { (NAV) }
        @if listed.items.is_empty() {
            p { "No TLS certificates yet." }
        } @else {
            table {
                thead { tr { th { "ID" } th { "Description" } (facts_head()) th { span.hint { "Actions" } } } }
                tbody {
                    @for c in &listed.items {
                        tr {
                            td data-label="ID" {
                                code { (c.id) }
                                @if !c.managed_by.is_empty() { " " span.hint { "managed" } }
                            }
                            td data-label="Description" { (c.description) }
                            (facts(&c.parsed))
                            td {
                                form.inline method="post" action={ (PATH) "/" (c.id) "/delete" } {
                                    (csrf_field(&signed.csrf))
                                    button.danger type="submit" aria-label={ "Delete " (c.id) } { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        (older(PATH, listed.more, listed.items.last().map(|c| c.id.as_str())))
        h2 { "Upload a TLS Certificate" }
        form.stack method="post" action=(PATH) enctype="multipart/form-data" {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="description" { "Description" }
                input #description name="description" value=(entered.0) aria-describedby="description-error";
                (FormError::at(e, Some("description")))
            }
            (pem_input("certificate_pem", "Certificate (chain, leaf first)", "-----BEGIN CERTIFICATE-----", entered.1, e))
            (pem_input("private_key_pem", "Private Key", "-----BEGIN PRIVATE KEY-----", "", e))
            div { button type="submit" { "Upload TLS Certificate" } }
        }
    };
    (status, shell(NAV, Some(signed), NAV, body)).into_response()
}

/// Uploads one as `POST /tls_certificates` does.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let description = posted.fields.get("description");
    let certificate_pem = pem_of(&posted.fields, "certificate_pem");
    let private_key_pem = pem_of(&posted.fields, "private_key_pem");
    let created = async {
        let c = body(json!({
            "description": description,
            "certificate_pem": certificate_pem,
            "private_key_pem": private_key_pem,
        }))?;
        <TlsCertificate as Resource>::create(&s, c).await
    }
    .await;
    match created {
        Ok(_) => see(PATH),
        Err(e) => {
            let entered = (description.as_str(), certificate_pem.as_str());
            page(
                &s,
                &posted.signed,
                Before::none(),
                Some(FormError(e)),
                entered,
            )
            .await
        }
    }
}

/// Deletes one as `DELETE /tls_certificates/{id}` does; the edge stops serving it.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<TlsCertificate>(&s, &id).await {
        Ok(()) => see(PATH),
        Err(e) => problem(e),
    }
}
