//! The REST API's error body, shaped as ngrok's: `error_code` (a string), `status_code`,
//! `msg` and `details.operation_id`, always all present so ngrok's clients can read them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_types::{ErrorCode, ResourceId};
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub msg: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} {id} not found"))
    }

    pub fn field(field: &str, why: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::FieldInvalid, format!("field {field:?}: {why}"))
    }
}

impl From<ferry_store::StoreError> for ApiError {
    fn from(e: ferry_store::StoreError) -> Self {
        match e {
            ferry_store::StoreError::Duplicate { what, value } => Self::new(
                ErrorCode::AlreadyExists,
                format!("{what} {value:?} already exists"),
            ),
            other => {
                tracing::error!(error = %other, "store failure in the REST API");
                Self::new(
                    ErrorCode::Internal,
                    "the store failed; the edge's log has the cause",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut details = json!({ "operation_id": ResourceId::generate("op").to_string() });
        if let Some(ngrok) = self.code.ngrok() {
            details["ngrok_error_code"] = json!(ngrok);
        }
        let body = json!({
            "error_code": self.code.to_string(),
            "status_code": status.as_u16(),
            "msg": format!("{} [{}]", self.msg, self.code),
            "details": details,
        });
        (status, Json(body)).into_response()
    }
}
