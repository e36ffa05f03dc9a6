//! "Did you mean ...?" suggestions for misspelt keys and names.

/// Longer words get no suggestion.
const MAX_WORD: usize = 64;

/// The candidate closest to `word`, if one is close enough to be a likely typo:
/// a Jaro-Winkler similarity of at least 0.8, or at most two edits away.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // No key or name bosun knows is this long, so no typo of one is: and the string
    // metrics cost time in the length of the word (the fuzzer's 354 KB enum value
    // took seconds).
    if word.len() > MAX_WORD {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (c, strsim::jaro_winkler(word, c), strsim::levenshtein(word, c)))
        .filter(|(c, jw, lev)| *jw >= 0.8 || (*lev <= 2 && *lev < c.len().max(word.len())))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["image", "memory", "desired_count", "environment"];
        assert_eq!(did_you_mean("imgae", keys), Some("image"));
        assert_eq!(did_you_mean("desired_cnt", keys), Some("desired_count"));
        assert_eq!(did_you_mean("enviroment", keys), Some("environment"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("web", ["edge"]), None);
    }

    #[test]
    fn long_words_get_no_suggestion() {
        // Found by the fuzzer: a 354 KB `type:` value spent seconds in the metrics.
        assert_eq!(did_you_mean(&"x".repeat(354_000), ["service", "task"]), None);
        assert_eq!(did_you_mean(&format!("service{}", "x".repeat(60)), ["service"]), None);
    }
}
