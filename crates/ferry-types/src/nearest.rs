//! "Did you mean ...?": the known word nearest to a mistyped one, for the config files'
//! unknown-key errors (the agent's ngrok.yml, the edge's --config file).

/// The word of `known` nearest to `typed` by edit distance, if one is near enough to be a
/// likely typo: at most 3 edits, or a third of the word for longer ones.
pub fn nearest<'k>(typed: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (levenshtein(typed, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_typo_finds_its_word_and_nonsense_finds_none() {
        let known = ["api_addr", "http_addr", "region"];
        assert_eq!(nearest("api_adr", known), Some("api_addr"));
        assert_eq!(nearest("regoin", known), Some("region"));
        assert_eq!(nearest("completely_unrelated", known), None);
    }
}
