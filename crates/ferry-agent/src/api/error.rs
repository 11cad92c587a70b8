//! Errors of the agent API in ngrok's shape: an integer `error_code` (the agent API's own
//! numbering: 102 invalid tunnel configuration, 103 failed to start), `status_code`, `msg` and
//! `details`. Ferry's searchable code rides along in `details.ferry_code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_types::ErrorCode;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    ngrok_code: u32,
    code: ErrorCode,
    msg: String,
    err: String,
}

impl ApiError {
    fn new(
        status: StatusCode,
        ngrok_code: u32,
        code: ErrorCode,
        msg: &str,
        err: impl Into<String>,
    ) -> Self {
        Self {
            status,
            ngrok_code,
            code,
            msg: msg.to_string(),
            err: err.into(),
        }
    }

    pub fn invalid_config(err: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            102,
            ErrorCode::ApiInvalidTunnel,
            "invalid tunnel configuration",
            err,
        )
    }

    pub fn bad_json(err: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            102,
            ErrorCode::ApiMalformedJson,
            "invalid tunnel configuration",
            err,
        )
    }

    pub fn start_failed(err: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            103,
            ErrorCode::ApiTunnelStartFailed,
            "failed to start tunnel",
            err,
        )
    }

    pub fn name_taken(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            104,
            ErrorCode::ApiTunnelNameTaken,
            "tunnel name already in use",
            format!("a tunnel named {name:?} is already running; stop it first (DELETE /api/tunnels/{name}) or pick another name"),
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            100,
            ErrorCode::ApiNotFound,
            "not found",
            what,
        )
    }

    pub fn host_not_allowed(host: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            105,
            ErrorCode::ApiHostNotAllowed,
            "host not allowed",
            format!("the agent API answers only localhost, its own tunnel domains and web_allow_hosts; {host:?} is none of them (DNS rebinding protection)"),
        )
    }

    pub fn cross_site(origin: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            105,
            ErrorCode::ApiHostNotAllowed,
            "cross-site request refused",
            format!("requests from {origin} may not change the agent's tunnels or replay requests"),
        )
    }

    pub fn not_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            102,
            ErrorCode::ApiMalformedJson,
            "invalid tunnel configuration",
            "the body must be JSON, sent with Content-Type: application/json",
        )
    }

    pub fn replay_failed(status: StatusCode, err: impl Into<String>) -> Self {
        Self::new(
            status,
            106,
            ErrorCode::ApiReplayFailed,
            "replay failed",
            err,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error_code": self.ngrok_code,
            "status_code": self.status.as_u16(),
            "msg": self.msg,
            "details": { "err": self.err, "ferry_code": self.code.to_string() },
        });
        (self.status, Json(body)).into_response()
    }
}

/// Explains a JSON syntax error the way a person fixing a curl command needs it: where, what,
/// and for the guides' usual slips (typographic quotes, a trailing comma, a missing closing
/// brace), what to change.
pub fn explain_json(body: &[u8], e: &serde_json::Error) -> String {
    format!(
        "invalid JSON at {}",
        ferry_types::JsonMistake::explain(body, e)
    )
}
