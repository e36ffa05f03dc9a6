//! "Did you mean ...?" suggestions for misspelt keys and names.

/// The candidate closest to `word`, if one is close enough to be a likely typo:
/// a Jaro-Winkler similarity of at least 0.8, or at most two edits away.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
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
}
