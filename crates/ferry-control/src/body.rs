//! A JSON request body as an extractor: the Content-Type checked, an empty body read as `{}`,
//! then [`ferry_api::parse`], whose errors say where.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use ferry_types::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body decoded into `T` (which denies unknown fields).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_ascii_lowercase());
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(ErrorCode::JsonMalformed, format!("reading the body: {e}"))
        })?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            match content_type.as_deref() {
                None => {
                    return Err(ApiError::new(
                        ErrorCode::ContentTypeMissing,
                        "the request has a body but no Content-Type; send Content-Type: application/json",
                    ))
                }
                Some(t) if t.split(';').next().map(str::trim) != Some("application/json") => {
                    return Err(ApiError::new(
                        ErrorCode::ContentTypeUnsupported,
                        format!("Content-Type {t:?} is not supported; send application/json"),
                    ))
                }
                Some(_) => bytes,
            }
        };
        ferry_api::parse(&bytes)
            .map(JsonBody)
            .map_err(ApiError::from)
    }
}
