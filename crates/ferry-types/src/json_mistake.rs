//! What is wrong with a hand-written JSON body, said the way a person fixing a curl command
//! needs it: where, and for the slips the guides' own examples make (typographic quotes from a
//! word processor, a trailing comma, a closing brace left out), what to change. The REST API
//! and the agent API both answer with it, so the same mistake reads the same on either.

use std::fmt;

/// A JSON syntax mistake, with the position of its cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonMistake {
    /// 1-based line of the mistake: of the typographic quote when there is one, else where
    /// the parser stopped.
    pub line: usize,
    /// 1-based column on that line, in characters.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub cause: String,
}

impl fmt::Display for JsonMistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.cause
        )
    }
}

impl JsonMistake {
    /// Explains the syntax error `e` that serde_json met in `body`.
    pub fn explain(body: &[u8], e: &serde_json::Error) -> JsonMistake {
        let text = String::from_utf8_lossy(body);
        if let Some((line, column, c)) = typographic_quote(&text) {
            return JsonMistake {
                line,
                column,
                cause: format!(
                    "typographic quote {c} (U+{:04X}); JSON strings need straight double quotes (\")",
                    c as u32
                ),
            };
        }
        let raw = e.to_string();
        let msg = raw
            .rsplit_once(" at line ")
            .map_or(raw.as_str(), |(m, _)| m);
        let cause = if msg.starts_with("trailing comma") {
            "a trailing comma before the closing bracket; remove the last comma".to_string()
        } else if e.is_eof() {
            format!("the body ends before the JSON is complete ({msg}): a closing `}}` or `]` is missing")
        } else {
            msg.to_string()
        };
        JsonMistake {
            line: e.line(),
            column: e.column(),
            cause,
        }
    }
}

/// The first typographic quote outside a string (line, column, char); serde only says
/// "expected value" there. One inside a string ("customer’s API") is text, and blaming it
/// would hide the real mistake.
fn typographic_quote(text: &str) -> Option<(usize, usize, char)> {
    let mut in_string = false;
    let mut escaped = false;
    for (ln, l) in text.lines().enumerate() {
        for (col, c) in l.chars().enumerate() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
            } else if matches!(c, '\u{201C}' | '\u{201D}' | '\u{2018}' | '\u{2019}') {
                return Some((ln + 1, col + 1, c));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(body: &str) -> JsonMistake {
        let e = serde_json::from_str::<serde_json::Value>(body).unwrap_err();
        JsonMistake::explain(body.as_bytes(), &e)
    }

    #[test]
    fn the_guides_slips_are_named_where_they_are() {
        let m = explain("{\"domain\": \u{201C}connect.example.test\u{201D}}");
        assert_eq!((m.line, m.column), (1, 12));
        assert!(m.cause.contains("typographic quote"), "{m}");

        let m = explain("{\n  \"addr\": 443,\n}");
        assert!(m.cause.contains("trailing comma"), "{m}");
        assert_eq!(m.line, 3);

        let m = explain("{\"addr\": 443");
        assert!(m.cause.contains("closing `}`"), "{m}");
    }

    #[test]
    fn a_typographic_quote_inside_a_string_is_text() {
        let m = explain("{\"description\":\"customer\u{2019}s API\",}");
        assert!(m.cause.contains("trailing comma"), "{m}");
    }

    #[test]
    fn other_mistakes_keep_serdes_words_and_position() {
        let m = explain("{\"a\" 1}");
        assert_eq!((m.line, m.column), (1, 6));
        assert_eq!(m.cause, "expected `:`");
    }
}
