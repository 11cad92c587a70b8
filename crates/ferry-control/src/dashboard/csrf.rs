//! Cross-site request forgery: every dashboard form carries its session's CSRF token in a
//! hidden `csrf` field and every POST is refused (403) unless it matches. The sign-in form,
//! which has no session yet, is a double submit: the token is both in a cookie set with the
//! page and in the form, and a cross-site page can read neither.
//!
//! Forms come URL-encoded, or as `multipart/form-data` when they upload a file (a PEM): both
//! are read into the same [`Fields`], a file as its text.

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use ferry_types::ErrorCode;
use subtle::ConstantTimeEq;

use super::pages::problem;
use super::session::Signed;
use crate::{ApiError, AppState};

/// The name of the hidden field.
pub(crate) const FIELD: &str = "csrf";

/// The largest form the dashboard reads: a few short fields, or a PEM certificate chain.
const MAX_FORM: usize = 256 * 1024;

/// The fields of a submitted form, in order; a name may repeat.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// Decodes an `application/x-www-form-urlencoded` body.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_urlencoded::from_bytes(body).map(Fields).map_err(|e| {
            ApiError::new(
                ErrorCode::FieldInvalid,
                format!("the form is not readable: {e}"),
            )
        })
    }

    /// Decodes a `multipart/form-data` body whose bytes are already read; a file's contents
    /// must be text (PEM is).
    async fn multipart(req: Request, s: &AppState) -> Result<Self, ApiError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            ApiError::new(
                ErrorCode::FieldInvalid,
                format!("the form is not readable: {e}"),
            )
        };
        let mut form = Multipart::from_request(req, s)
            .await
            .map_err(|e| unreadable(&e))?;
        let mut fields = Vec::new();
        while let Some(field) = form.next_field().await.map_err(|e| unreadable(&e))? {
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ApiError::new(
                    ErrorCode::PemInvalid,
                    format!(
                        "field {name:?}: the file is not text; upload a PEM file (-----BEGIN ...)"
                    ),
                )
            })?;
            fields.push((name, text));
        }
        Ok(Fields(fields))
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
}

/// `a == b` in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The refusal of a POST whose token is missing or wrong.
pub(crate) fn refused() -> Response {
    problem(ApiError::new(
        ErrorCode::DashboardCsrfRefused,
        "this form was not sent from the dashboard's own page (its CSRF token is missing or wrong); reload the page and try again",
    ))
}

/// A form POSTed by a signed-in browser from one of the dashboard's own pages.
pub(crate) struct Posted {
    /// Who sent it.
    pub signed: Signed,
    /// What it holds, the CSRF token included.
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, s).await?;
        let body = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
            problem(ApiError::new(
                ErrorCode::DashboardFormTooLarge,
                format!("the form is larger than {MAX_FORM} bytes"),
            ))
        })?;
        let multipart = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let fields = if multipart {
            let req = Request::from_parts(parts, axum::body::Body::from(body));
            Fields::multipart(req, s).await
        } else {
            Fields::parse(&body)
        }
        .map_err(problem)?;
        if !same(&fields.get(FIELD), &signed.csrf) {
            return Err(refused());
        }
        Ok(Posted { signed, fields })
    }
}
