//! Reading JSON bodies the way the guides' users need: a malformed body gets the line, the
//! column and the cause (a trailing comma, a typographic quote, an object left open), an
//! unknown field is named, and a wrong value names its field.

use ferry_types::{ErrorCode, JsonMistake};
use serde::de::DeserializeOwned;

/// A body refused: the code the answer carries and the words for the person who sent it.
#[derive(Debug)]
pub struct Refused {
    /// `ERR_FERRY_JSON_MALFORMED`, `ERR_FERRY_FIELD_UNKNOWN` or `ERR_FERRY_FIELD_INVALID`.
    pub code: ErrorCode,
    /// Where and why, with the line and the column in the body.
    pub msg: String,
}

impl Refused {
    fn new(code: ErrorCode, msg: String) -> Self {
        Self { code, msg }
    }
}

/// Decodes `bytes` into `T`, turning every failure into an error a person can act on.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Refused> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        describe(bytes, &path, e.inner())
    })?;
    de.end().map_err(|e| describe(bytes, "", &e))?;
    Ok(value)
}

fn describe(bytes: &[u8], path: &str, e: &serde_json::Error) -> Refused {
    use serde_json::error::Category;
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => Refused::new(
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
                Refused::new(
                    ErrorCode::FieldUnknown,
                    format!("{what} (line {line}, column {column})"),
                )
            } else if path.is_empty() || path == "." {
                Refused::new(
                    ErrorCode::FieldInvalid,
                    format!("the body: {what} (line {line}, column {column})"),
                )
            } else {
                Refused::new(
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
