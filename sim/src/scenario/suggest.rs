//! "Did you mean …": the three valid spellings closest to an unknown name.
//!
//! Closeness is the optimal-string-alignment distance (Damerau–Levenshtein with adjacent
//! transpositions), ignoring case; a name that contains the given text (or is contained in it)
//! comes first, so `timeout` suggests `freeze_timeout`. Ties are broken alphabetically: the
//! answer depends only on the two inputs.

/// At most this many suggestions.
const SUGGESTIONS: usize = 3;
/// Only this many characters of a given name are compared (a 40 MB value costs no more than a
/// short one).
const COMPARED: usize = 64;

/// The (at most three) names of `names` closest to `given`, best first.
pub(crate) fn closest<'a>(given: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let g: Vec<char> = given
        .chars()
        .take(COMPARED)
        .flat_map(char::to_lowercase)
        .collect();
    let g_text: String = g.iter().collect();
    let mut scored: Vec<(bool, usize, &'a str)> = names
        .into_iter()
        .map(|n| {
            let lower: Vec<char> = n
                .chars()
                .take(COMPARED)
                .flat_map(char::to_lowercase)
                .collect();
            let l_text: String = lower.iter().collect();
            let inside =
                !g_text.is_empty() && (l_text.contains(&g_text) || g_text.contains(&l_text));
            (!inside, distance(&g, &lower), n)
        })
        .collect();
    scored.sort_unstable();
    scored.dedup_by(|a, b| a.2 == b.2);
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, _, n)| n)
        .collect()
}

/// `did you mean `A`, `B` or `C`?` for `given` among `names` (empty when `names` is).
pub(crate) fn did_you_mean<'a>(given: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    let best = closest(given, names);
    let quoted: Vec<String> = best.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => format!("did you mean {one}?"),
        [init @ .., last] => format!("did you mean {} or {last}?", init.join(", ")),
    }
}

/// Optimal string alignment distance between `a` and `b`.
fn distance(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    // Three rows: two back (for a transposition), one back, this one.
    let mut rows = vec![0usize; 3 * w];
    for (j, cell) in rows[..w].iter_mut().enumerate() {
        *cell = j;
    }
    let mut prev2 = 2; // row index holding i-2 (unused until i >= 2)
    let mut prev = 0;
    let mut cur = 1;
    for i in 1..=a.len() {
        rows[cur * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev * w + j] + 1)
                .min(rows[cur * w + j - 1] + 1)
                .min(rows[prev * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[prev2 * w + j - 2] + 1);
            }
            rows[cur * w + j] = d;
        }
        (prev2, prev, cur) = (prev, cur, prev2);
    }
    rows[prev * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        distance(&a, &b)
    }

    #[test]
    fn distances() {
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("ca", "ac"), 1);
        assert_eq!(d("OnFreeze", "OnFreeze"), 0);
    }

    #[test]
    fn three_closest_substring_first_ties_alphabetical() {
        let names = ["name", "level", "usage", "freeze_timeout", "latency"];
        assert_eq!(closest("timeout", names)[0], "freeze_timeout");
        assert_eq!(closest("x", ["b", "a", "c", "d"]), vec!["a", "b", "c"]);
        assert_eq!(
            did_you_mean("Sqll", ["Sql", "Exchange"]),
            "did you mean `Sql` or `Exchange`?"
        );
        assert_eq!(did_you_mean("a", ["b"]), "did you mean `b`?");
        assert_eq!(did_you_mean("a", []), "");
    }
}
