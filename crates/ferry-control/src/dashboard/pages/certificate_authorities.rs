//! "Certificate Authorities": the CA certificates agents' mutual TLS checks clients against.
//! Upload one as a PEM file or pasted text (through `POST /certificate_authorities`'s own
//! code, so a private key or a file that is no certificate is refused with its words and
//! code beside the field), see each one's parsed subject, validity and key type, delete one.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_store::CertificateAuthority;
use maud::html;
use serde_json::json;

use super::certificates::{facts, facts_head, pem_input, pem_of};
use super::{body, csrf_field, older, problem, see, shell, Before, FormError};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::resource::{delete_one, Resource};
use crate::AppState;

const NAV: &str = "Certificate Authorities";
const PATH: &str = "/dashboard/certificate-authorities";

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: Signed,
    Query(before): Query<Before>,
) -> Response {
    page(&s, &signed, before, None, ("", "")).await
}

/// The list and the upload form; `entered` is what the form held (description, PEM).
async fn page(
    s: &AppState,
    signed: &Signed,
    before: Before,
    error: Option<FormError>,
    entered: (&str, &str),
) -> Response {
    let listed = match s.store.list::<CertificateAuthority>(&before.page()).await {
        Ok(l) => l,
        Err(e) => return problem(e.into()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, FormError::status);
    let e = error.as_ref();
    let body = html! {
        h1 { (NAV) }
        @if listed.items.is_empty() {
            p { "No certificate authorities yet." }
        } @else {
            table {
                thead { tr { th { "ID" } th { "Description" } (facts_head()) th { span.hint { "Actions" } } } }
                tbody {
                    @for c in &listed.items {
                        tr {
                            td data-label="ID" { code { (c.id) } }
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
        h2 { "Upload a Certificate Authority" }
        form.stack method="post" action=(PATH) enctype="multipart/form-data" {
            (csrf_field(&signed.csrf))
            (FormError::at(e, None))
            div {
                label for="description" { "Description" }
                input #description name="description" value=(entered.0) aria-describedby="description-error";
                (FormError::at(e, Some("description")))
            }
            (pem_input("ca_pem", "CA Certificate", "-----BEGIN CERTIFICATE-----", entered.1, e))
            div { button type="submit" { "Upload Certificate Authority" } }
        }
    };
    (status, shell(NAV, Some(signed), NAV, body)).into_response()
}

/// Uploads one as `POST /certificate_authorities` does.
pub(crate) async fn create(State(s): State<AppState>, posted: Posted) -> Response {
    let description = posted.fields.get("description");
    let ca_pem = pem_of(&posted.fields, "ca_pem");
    let created = async {
        let c = body(json!({ "description": description, "ca_pem": ca_pem }))?;
        <CertificateAuthority as Resource>::create(&s, c).await
    }
    .await;
    match created {
        Ok(_) => see(PATH),
        Err(e) => {
            let entered = (description.as_str(), ca_pem.as_str());
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

/// Deletes one as `DELETE /certificate_authorities/{id}` does.
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Response {
    match delete_one::<CertificateAuthority>(&s, &id).await {
        Ok(()) => see(PATH),
        Err(e) => problem(e),
    }
}
