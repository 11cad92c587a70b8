//! Errors of the agent API in ngrok's shape: an integer `error_code` (the agent API's own
//! numbering: 102 invalid tunnel configuration, 103 failed to start), `status_code`, `msg` and
//! `details`. Ferry's searchable code rides along in `details.ferry_code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferry_types::ErrorCode;
use serde_json::json;

/// A failed agent API request. Made only through the constructors below, one per situation,
/// so that the HTTP status, ngrok's number and Ferry's code always agree. ngrok documents
/// only 102 and 103; the other numbers are Ferry's.
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

    /// A tunnel body that is JSON but not a tunnel Ferry will run: an unknown key, no `name`
    /// or `addr`, a protection Ferry does not enforce (400, ngrok's 102).
    pub fn invalid_config(err: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            102,
            ErrorCode::ApiInvalidTunnel,
            "invalid tunnel configuration",
            err,
        )
    }

    /// A body that is not valid JSON; `err` comes from [`explain_json`] (400, ngrok's 102).
    pub fn bad_json(err: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            102,
            ErrorCode::ApiMalformedJson,
            "invalid tunnel configuration",
            err,
        )
    }

    /// A valid tunnel the agent could not start: the edge refused the bind, or the agent is
    /// offline (502, ngrok's 103).
    pub fn start_failed(err: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            103,
            ErrorCode::ApiTunnelStartFailed,
            "failed to start tunnel",
            err,
        )
    }

    /// `POST /api/tunnels` with the name of a running tunnel (409, 104).
    pub fn name_taken(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            104,
            ErrorCode::ApiTunnelNameTaken,
            "tunnel name already in use",
            format!("a tunnel named {name:?} is already running; stop it first (DELETE /api/tunnels/{name}) or pick another name"),
        )
    }

    /// No such tunnel, capture or path; `what` says which (404, 100).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            100,
            ErrorCode::ApiNotFound,
            "not found",
            what,
        )
    }

    /// The DNS-rebinding guard refused the request's `Host` (403, 105).
    pub fn host_not_allowed(host: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            105,
            ErrorCode::ApiHostNotAllowed,
            "host not allowed",
            format!("the agent API answers only localhost, its own tunnel domains and web_allow_hosts; {host:?} is none of them (DNS rebinding protection)"),
        )
    }

    /// A browser page of another site tried to change tunnels or replay a request (403, 105).
    pub fn cross_site(origin: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            105,
            ErrorCode::ApiHostNotAllowed,
            "cross-site request refused",
            format!("requests from {origin} may not change the agent's tunnels or replay requests"),
        )
    }

    /// A `POST` that is not `application/json`. The API insists because a page on another
    /// site can send a form or plain text without asking, but not JSON (415, ngrok's 102).
    pub fn not_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            102,
            ErrorCode::ApiMalformedJson,
            "invalid tunnel configuration",
            "the body must be JSON, sent with Content-Type: application/json",
        )
    }

    /// A replay that was not sent: a malformed body, or a tunnel that is gone or not HTTP. The
    /// caller picks the status (106).
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
