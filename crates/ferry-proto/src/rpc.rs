//! RPC framing: ngrok's agents write one bare JSON value on a stream and do not half-close,
//! so a reader must find the end of the value itself instead of waiting for FIN.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::MAX_RPC_SIZE;

/// Why bytes from a peer are not the message expected: always the sender's fault, never
/// cured by waiting for more bytes (that is [`Decoded::Incomplete`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Over [`MAX_RPC_SIZE`] without a complete value: refused before buffering more.
    #[error("message is larger than {MAX_RPC_SIZE} bytes")]
    TooLarge,
    /// Not JSON; the position helps whoever wrote the sender.
    #[error("malformed JSON at line {line}, column {column}: {cause}")]
    Malformed {
        /// 1-based.
        line: usize,
        /// 1-based.
        column: usize,
        /// serde_json's explanation.
        cause: String,
    },
    /// Valid JSON, but a key has the wrong type or a required one is missing.
    #[error("message does not have the expected shape: {0}")]
    Shape(String),
}

/// Result of looking for one JSON value at the start of a buffer.
#[derive(Debug)]
pub enum Decoded {
    /// More bytes are needed.
    Incomplete,
    /// A whole value, and how many bytes it used (trailing whitespace included).
    Value(Value, usize),
}

/// Finds one JSON value at the start of `buf`. Whitespace after it (Go agents end with `\n`)
/// is counted as consumed.
pub fn decode_json_prefix(buf: &[u8]) -> Result<Decoded, DecodeError> {
    let start = buf
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(buf.len());
    if start == buf.len() {
        return if buf.len() > MAX_RPC_SIZE {
            Err(DecodeError::TooLarge)
        } else {
            Ok(Decoded::Incomplete)
        };
    }
    let mut stream = serde_json::Deserializer::from_slice(&buf[start..]).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => {
            let mut end = start + stream.byte_offset();
            while end < buf.len() && buf[end].is_ascii_whitespace() {
                end += 1;
            }
            Ok(Decoded::Value(v, end))
        }
        Some(Err(e)) if e.is_eof() => {
            if buf.len() > MAX_RPC_SIZE {
                Err(DecodeError::TooLarge)
            } else {
                Ok(Decoded::Incomplete)
            }
        }
        Some(Err(e)) => Err(DecodeError::Malformed {
            line: e.line(),
            column: e.column(),
            cause: e.to_string(),
        }),
        None => Ok(Decoded::Incomplete),
    }
}

/// Decodes a message whatever the spelling of its keys. ngrok's Go server matches keys
/// case-insensitively and the clients disagree (`AuthToken` / `Authtoken`, `LocalUrlScheme` /
/// `LocalURLScheme`), so every key is folded to lower case without underscores before the
/// typed decode; Ferry's message structs name their fields in that folded form.
pub fn from_value_folded<T: DeserializeOwned>(v: &Value) -> Result<T, DecodeError> {
    serde_json::from_value(fold_keys(v)).map_err(|e| DecodeError::Shape(e.to_string()))
}

/// `v` with every object key, at any depth, lower-cased and stripped of underscores, so a
/// caller can look a key up whatever the sender's spelling.
pub fn fold_keys(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (fold_key(k), fold_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(fold_keys).collect()),
        other => other.clone(),
    }
}

fn fold_key(k: &str) -> String {
    k.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_value_without_fin_and_eats_trailing_newline() {
        let buf = b"{\"a\":1}\n";
        match decode_json_prefix(buf).unwrap() {
            Decoded::Value(v, n) => {
                assert_eq!(v["a"], 1);
                assert_eq!(n, buf.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let buf = br#"  {"Version":["3","2"],"Extra":{"AuthToken":"x y"}}"#;
        for n in 0..buf.len() {
            assert!(
                matches!(decode_json_prefix(&buf[..n]), Ok(Decoded::Incomplete)),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn malformed_names_position() {
        match decode_json_prefix(b"{\"a\":1,}") {
            Err(DecodeError::Malformed {
                line: 1, column, ..
            }) => assert_eq!(column, 8),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn folding_merges_spellings() {
        #[derive(serde::Deserialize)]
        struct T {
            authtoken: String,
            localurlscheme: String,
        }
        let a: T =
            from_value_folded(&serde_json::json!({"AuthToken": "x", "LocalURLScheme": "http"}))
                .unwrap();
        let b: T =
            from_value_folded(&serde_json::json!({"Authtoken": "x", "local_url_scheme": "http"}))
                .unwrap();
        assert_eq!(
            (a.authtoken, a.localurlscheme),
            (b.authtoken, b.localurlscheme)
        );
    }
}
