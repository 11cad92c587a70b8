//! Error responses from the edge, each carrying its `ERR_FERRY_` code.

use bytes::Bytes;
use ferry_types::ErrorCode;
use http::{header, HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::http_proxy::Body;

/// Whether the client asked for JSON (an API client) rather than a page.
pub fn wants_json(request_headers: &HeaderMap) -> bool {
    request_headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

pub fn error_response(code: ErrorCode, detail: &str, wants_json: bool) -> Response<Body> {
    let (content_type, body) = ferry_types::error_page::render(code, detail, wants_json);
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = header::HeaderValue::from_str(&code.to_string()) {
        h.insert("ferry-error-code", v);
    }
    resp
}
