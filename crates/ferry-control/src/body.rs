//! Reading JSON bodies the way the guides' users need: a malformed body gets the line, the
//! column and the cause (a trailing comma, a typographic quote, an object left open), an
//! unknown field is named, and a wrong value names its field.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use ferry_types::{ErrorCode, JsonMistake};
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
        parse(&bytes).map(JsonBody)
    }
}

/// Decodes `bytes` into `T`, turning every failure into an error a person can act on.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        describe(bytes, &path, e.inner())
    })?;
    de.end().map_err(|e| describe(bytes, "", &e))?;
    Ok(value)
}

fn describe(bytes: &[u8], path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            ErrorCode::JsonMalformed,
            format!("malformed JSON body at {}", JsonMistake::explain(bytes, e)),
        ),
        Category::Data => {
            let raw = e.to_string();
            let what = raw
                .rsplit_once(" at line ")
                .map(|(m, _)| m.to_string())
                .unwrap_or(raw);
            if what.starts_with("unknown field") {
                ApiError::new(
                    ErrorCode::FieldUnknown,
                    format!("{what} (line {line}, column {column})"),
                )
            } else if path.is_empty() || path == "." {
                ApiError::new(
                    ErrorCode::FieldInvalid,
                    format!("the body: {what} (line {line}, column {column})"),
                )
            } else {
                ApiError::new(
                    ErrorCode::FieldInvalid,
                    format!("field {path:?}: {what} (line {line}, column {column})"),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        #[serde(default)]
        domain: String,
        #[serde(default)]
        active: Option<bool>,
    }

    #[test]
    fn a_typographic_quote_inside_a_string_is_not_blamed() {
        let e = parse::<T>("{\"domain\":\"customer\u{2019}s API\",}".as_bytes()).unwrap_err();
        assert!(e.msg.contains("trailing comma"), "{}", e.msg);
        assert!(!e.msg.contains("typographic"), "{}", e.msg);
    }

    #[test]
    fn guide_mistakes_get_a_position_and_a_cause() {
        let e = parse::<T>(r#"{"domain": “connect.example.test”}"#.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::JsonMalformed);
        assert!(e.msg.contains("typographic quote"), "{}", e.msg);
        assert!(e.msg.contains("line 1"), "{}", e.msg);

        let e = parse::<T>(br#"{"domain":"a",}"#).unwrap_err();
        assert!(e.msg.contains("trailing comma"), "{}", e.msg);

        let e = parse::<T>(br#"{"domain":"a""#).unwrap_err();
        assert!(e.msg.contains("missing"), "{}", e.msg);

        let e = parse::<T>(br#"{"domian":"a"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::FieldUnknown);
        assert!(e.msg.contains("domian"), "{}", e.msg);

        let e = parse::<T>(br#"{"active":"yes"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::FieldInvalid);
        assert!(e.msg.contains("\"active\""), "{}", e.msg);
    }
}
