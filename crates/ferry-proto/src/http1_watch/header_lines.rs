//! A message's header lines in one string, `name: value\r\n` each, names in lower case. An
//! inspector keeps tens of thousands of heads and reads few of them: one allocation per head
//! instead of two per line is most of what a capture costs to make and to drop
//! (BENCHMARKS.md, issue 17).

/// Header lines, in order, names in lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderLines(String);

impl HeaderLines {
    /// The lines of `pairs`, in order. A value's line breaks (which no parsed header has)
    /// become spaces, so that every line reads back as it went in.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut text = String::new();
        for (name, value) in pairs {
            text.extend(name.as_ref().chars().map(|c| c.to_ascii_lowercase()));
            text.push_str(": ");
            text.extend(
                value
                    .as_ref()
                    .chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
            );
            text.push_str("\r\n");
        }
        HeaderLines(text)
    }

    /// Each line's name and value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .split_terminator("\r\n")
            .map(|line| line.split_once(": ").unwrap_or((line, "")))
    }

    /// The bytes the lines take.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_in_order_with_names_lowered() {
        let h = HeaderLines::from_pairs([("Host", "a"), ("X-Two", "1: 2"), ("empty", "")]);
        let back: Vec<_> = h.iter().collect();
        assert_eq!(back, [("host", "a"), ("x-two", "1: 2"), ("empty", "")]);
        let odd = HeaderLines::from_pairs([("a", "x\r\ny: z")]);
        assert_eq!(odd.iter().collect::<Vec<_>>(), [("a", "x  y: z")]);
        assert!(HeaderLines::default().is_empty());
    }
}
