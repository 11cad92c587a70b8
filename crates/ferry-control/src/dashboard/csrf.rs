//! Cross-site request forgery: every dashboard form carries its session's CSRF token in a
//! hidden `csrf` field and every POST is refused (403) unless it matches. The sign-in form,
//! which has no session yet, is a double submit: the token is both in a cookie set with the
//! page and in the form, and a cross-site page can read neither.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::Response;
use ferry_types::ErrorCode;
use subtle::ConstantTimeEq;

use super::pages::problem;
use super::session::Signed;
use crate::{ApiError, AppState};

/// The name of the hidden field.
pub(crate) const FIELD: &str = "csrf";

/// The largest form the dashboard reads; its forms hold a few short fields.
const MAX_FORM: usize = 64 * 1024;

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
        let fields = Fields::parse(&body).map_err(problem)?;
        if !same(&fields.get(FIELD), &signed.csrf) {
            return Err(refused());
        }
        Ok(Posted { signed, fields })
    }
}
