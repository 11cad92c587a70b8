//! Every request: `Ngrok-Version: 2`, then a valid API key. A body on GET or DELETE is
//! refused as ngrok does. `/metrics` needs the key but no version: it is not an ngrok
//! operation, and Prometheus sends no such header.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferry_store::ApiKey;
use ferry_types::ErrorCode;

use crate::{ApiError, AppState};

pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The API's description is public, as ngrok's is.
    if req.uri().path() == "/openapi.json" {
        return next.run(req).await;
    }
    let (headers, method) = (req.headers().clone(), req.method().clone());
    let versioned = req.uri().path() != "/metrics";
    match admit(&state, &headers, &method, versioned).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    versioned: bool,
) -> Result<(), ApiError> {
    let token = match headers.get(AUTHORIZATION).map(|v| v.to_str()) {
        None => {
            return Err(ApiError::new(
                ErrorCode::ApiKeyMissing,
                "no API key: send the header Authorization: Bearer <API key>",
            ))
        }
        Some(Err(_)) => {
            return Err(ApiError::new(
                ErrorCode::ApiKeyMalformed,
                "the Authorization header is not readable text",
            ))
        }
        Some(Ok(v)) => match v.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim().to_string(),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::ApiKeyMalformed,
                    "the Authorization header must be \"Bearer <API key>\"",
                ))
            }
        },
    };
    api_key(state, &token).await?;
    match headers.get("ngrok-version").map(|v| v.to_str()) {
        _ if !versioned => {}
        None => {
            return Err(ApiError::new(
                ErrorCode::VersionMissing,
                "the Ngrok-Version header is missing; send Ngrok-Version: 2",
            ))
        }
        Some(Ok(v)) if v.trim() == "2" => {}
        Some(v) => {
            return Err(ApiError::new(
                ErrorCode::VersionUnsupported,
                format!(
                    "Ngrok-Version {:?} is not supported; this API speaks version 2",
                    v.unwrap_or("?")
                ),
            ))
        }
    }
    let has_body = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || headers.contains_key("transfer-encoding");
    if has_body && (method == Method::GET || method == Method::DELETE) {
        return Err(ApiError::new(
            ErrorCode::BodyUnexpected,
            format!("a {method} request takes no body"),
        ));
    }
    Ok(())
}

/// The API key `token` is, or why it is refused: the REST API's Bearer check and the
/// dashboard's sign-in alike.
pub(crate) async fn api_key(state: &AppState, token: &str) -> Result<ApiKey, ApiError> {
    match state.store.verify_api_key(token).await? {
        Err(e) => Err(ApiError::new(
            ErrorCode::ApiKeyMalformed,
            format!("the API key is malformed: {e}"),
        )),
        Ok(None) => {
            if let Ok(Ok(Some(_))) = state.store.verify_authtoken(token).await {
                return Err(ApiError::new(
                    ErrorCode::ApiKeyWrongKind,
                    "this is an authtoken (for agents), not an API key; create API keys with `ferry edge api-key create` or POST /api_keys",
                ));
            }
            Err(ApiError::new(
                ErrorCode::ApiKeyInvalid,
                "the API key is not valid: it is unknown, deleted or mistyped",
            ))
        }
        Ok(Some(key)) => Ok(key),
    }
}
