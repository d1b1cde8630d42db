//! `rules/keywords.toml`: named, weighted keyword lists, matched against the
//! words of a complaint (rules/words.rs): a keyword is a word or a sequence
//! of words, never part of one (`电视` is not in `电视剧`, "plan" not in
//! "planet"). A trailing `*` makes the last word a prefix ("refund*" finds
//! "refunded"). Latin words compare stemmed ("charges" finds "charged").
//!
//! A list is an array (every word weighs 1) or a table of weight → words.
//! Rules read, per list, the first word found (`c.keywords.<list>`), every
//! word found (`c.words.<list>`) and the sum of their weights
//! (`c.score.<list>`), each word counted once.
//!
//! Two lists are negations, not evidence: a word of `negation` cancels the
//! evidence after it in its clause ("不是网络问题", "not a network
//! problem"), a word of `negation_after` the evidence before it ("网络没问题",
//! "the internet is fine").

use super::words::{Segmenter, Words};
use rhai::ImmutableString;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Lists that cancel evidence instead of being evidence.
pub const NEGATION: &str = "negation";
pub const NEGATION_AFTER: &str = "negation_after";

/// Weights allowed for a keyword.
const MAX_WEIGHT: i64 = 100;

/// One keyword, compiled to the words it is made of.
#[derive(Debug, Clone)]
struct Pattern {
    list: usize,
    word: ImmutableString,
    weight: i64,
    /// Stems to compare; with `prefix`, the last is compared as a prefix of
    /// the text word as written.
    stems: Vec<String>,
    prefix: bool,
}

/// What one list found in one text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListHits {
    /// Each word found, once, in the order of its first place in the text.
    pub words: Vec<ImmutableString>,
    pub score: i64,
}

/// Compiled keyword lists and the segmenter that knows their words.
#[derive(Debug, Clone)]
pub struct Keywords {
    /// Shared with every complaint's view of what the lists found.
    names: Arc<[ImmutableString]>,
    patterns: Vec<Pattern>,
    /// Patterns by their first stem (exact ones).
    by_first: FxHashMap<String, Vec<usize>>,
    /// Patterns whose only word is a prefix, by the prefix's first
    /// character (each word of a text checks only those).
    prefixes: FxHashMap<char, Vec<usize>>,
    segmenter: Segmenter,
}

/// The file's form of a list: words, or weight → words.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ListSpec {
    Words(Vec<String>),
    Weighted(BTreeMap<String, Vec<String>>),
}

fn weighted(name: &str, spec: ListSpec) -> Result<Vec<(String, i64)>, String> {
    match spec {
        ListSpec::Words(words) => Ok(words.into_iter().map(|w| (w, 1)).collect()),
        ListSpec::Weighted(groups) => {
            let mut out = Vec::new();
            for (weight, words) in groups {
                let w: i64 = weight
                    .parse()
                    .ok()
                    .filter(|w| (1..=MAX_WEIGHT).contains(w))
                    .ok_or_else(|| {
                        format!("list `{name}`: weight `{weight}` must be a whole number from 1 to {MAX_WEIGHT}")
                    })?;
                out.extend(words.into_iter().map(|word| (word, w)));
            }
            // Heaviest first: a word listed under two weights keeps the
            // heavier (each word counts once).
            out.sort_by_key(|w: &(String, i64)| std::cmp::Reverse(w.1));
            Ok(out)
        }
    }
}

impl Keywords {
    /// Parses the TOML text: `list = ["word", ...]` or
    /// `[list]` with `weight = ["word", ...]` lines.
    pub fn parse(text: &str) -> Result<Keywords, String> {
        let lists: BTreeMap<String, ListSpec> = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut words = Vec::new();
        let mut names = Vec::new();
        for (i, (name, spec)) in lists.into_iter().enumerate() {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!(
                    "list name `{name}`: use lower-case letters, digits and _"
                ));
            }
            for (w, weight) in weighted(&name, spec)? {
                let w = w.trim().to_lowercase();
                if w.trim_end_matches('*').trim().is_empty() {
                    return Err(format!("list `{name}` has an empty word"));
                }
                words.push((i, w, weight));
            }
            names.push(ImmutableString::from(name));
        }
        let segmenter = Segmenter::with_words(words.iter().map(|(_, w, _)| w.as_str()));
        let mut patterns = Vec::new();
        for (list, w, weight) in words {
            let (text, prefix) = match w.strip_suffix('*') {
                Some(stem) => (stem.to_string(), true),
                None => (w.clone(), false),
            };
            let parts = segmenter.words(&text);
            let mut stems: Vec<String> = parts.iter().map(|p| p.stem.to_string()).collect();
            let last_word = parts.len().checked_sub(1).and_then(|i| parts.get(i));
            if let (true, Some(last), Some(p)) = (prefix, stems.last_mut(), last_word) {
                *last = p.raw.to_string();
            }
            // "plan" and "plans" are one word: each counts once.
            if patterns
                .iter()
                .any(|p: &Pattern| p.list == list && p.stems == stems && p.prefix == prefix)
            {
                continue;
            }
            if stems.is_empty() {
                return Err(format!(
                    "list `{}`: `{w}` has no letters or characters to match",
                    names[list]
                ));
            }
            patterns.push(Pattern {
                list,
                word: text.into(),
                weight,
                stems,
                prefix,
            });
        }
        let mut by_first: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        let mut prefixes: FxHashMap<char, Vec<usize>> = FxHashMap::default();
        for (i, p) in patterns.iter().enumerate() {
            if p.prefix && p.stems.len() == 1 {
                let first = p.stems[0].chars().next().unwrap_or_default();
                prefixes.entry(first).or_default().push(i);
            } else {
                by_first.entry(p.stems[0].clone()).or_default().push(i);
            }
        }
        Ok(Keywords {
            names: names.into(),
            patterns,
            by_first,
            prefixes,
            segmenter,
        })
    }

    /// Names of the lists, sorted.
    pub fn names(&self) -> &Arc<[ImmutableString]> {
        &self.names
    }

    /// The segmenter that knows every keyword as a word.
    pub fn segmenter(&self) -> &Segmenter {
        &self.segmenter
    }

    /// Whether pattern `p` matches the words starting at `at`.
    fn matches_at(&self, p: &Pattern, words: &Words, at: usize) -> bool {
        let last = p.stems.len() - 1;
        let (Some(first), Some(end)) = (words.get(at), words.get(at + last)) else {
            return false;
        };
        // A keyword of several words does not reach across a clause.
        if first.clause != end.clause {
            return false;
        }
        p.stems.iter().enumerate().all(|(i, s)| {
            let Some(w) = words.get(at + i) else {
                return false;
            };
            if p.prefix && i == last {
                w.raw.starts_with(s.as_str())
            } else {
                w.stem == s
            }
        })
    }

    /// Every match in `words`: (position, pattern), in text order.
    fn find(&self, words: &Words) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for (at, w) in words.iter().enumerate() {
            if let Some(ps) = self.by_first.get(w.stem) {
                found.extend(
                    ps.iter()
                        .filter(|&&p| self.matches_at(&self.patterns[p], words, at))
                        .map(|&p| (at, p)),
                );
            }
            let candidates = w.raw.chars().next().and_then(|c| self.prefixes.get(&c));
            found.extend(
                candidates
                    .into_iter()
                    .flatten()
                    .filter(|&&p| w.raw.starts_with(self.patterns[p].stems[0].as_str()))
                    .map(|&p| (at, p)),
            );
        }
        found
    }

    /// Per list (in [`Keywords::names`] order), what it found in `words`;
    /// evidence a negation cancels is left out.
    pub fn hits(&self, words: &Words) -> Vec<ListHits> {
        let found = self.find(words);
        let list_named = |n: &str| self.names.iter().position(|x| x.as_str() == n);
        let (neg, neg_after) = (list_named(NEGATION), list_named(NEGATION_AFTER));
        let negations: Vec<(usize, usize, bool)> = found
            .iter()
            .filter(|(_, p)| {
                let l = Some(self.patterns[*p].list);
                l == neg || l == neg_after
            })
            .map(|&(at, p)| {
                (
                    at,
                    self.patterns[p].stems.len(),
                    Some(self.patterns[p].list) == neg,
                )
            })
            .collect();
        let clause = |at: usize| words.get(at).map(|w| w.clause);
        let cancelled = |at: usize, len: usize| {
            negations.iter().any(|&(n, n_len, before)| {
                clause(n) == clause(at)
                    && if before {
                        n + n_len <= at
                    } else {
                        at + len <= n
                    }
            })
        };
        let mut out = vec![ListHits::default(); self.names.len()];
        for (at, p) in found {
            let pat = &self.patterns[p];
            let is_negation = Some(pat.list) == neg || Some(pat.list) == neg_after;
            if !is_negation && cancelled(at, pat.stems.len()) {
                continue;
            }
            let hits = &mut out[pat.list];
            if !hits.words.contains(&pat.word) {
                hits.words.push(pat.word.clone());
                hits.score = hits.score.saturating_add(pat.weight);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(k: &Keywords, text: &str) -> Vec<Vec<String>> {
        let words = k.segmenter().words(&text.to_lowercase());
        k.hits(&words)
            .into_iter()
            .map(|h| h.words.iter().map(|w| w.to_string()).collect())
            .collect()
    }

    #[test]
    fn keywords_match_whole_words_and_stars_mark_prefixes() {
        let k = Keywords::parse(
            "biz = [\"plan\"]\nsec = [\"vulnerab*\"]\ntech = [\"网速\", \"电视\"]\n",
        )
        .unwrap();
        assert_eq!(
            found(&k, "thanks for the explanation, planet"),
            [vec![] as Vec<String>, vec![], vec![]]
        );
        assert_eq!(
            found(&k, "my plans, 网速慢, a vulnerability"),
            [["plan"], ["vulnerab"], ["网速"]]
        );
        assert_eq!(found(&k, "套餐送的电视剧会员")[2], Vec::<String>::new());
        assert_eq!(found(&k, "电视没有信号")[2], ["电视"]);
    }

    #[test]
    fn word_sequences_and_stems_match() {
        let k = Keywords::parse("t = [\"no internet\", \"charges\", \"top-up\"]").unwrap();
        assert_eq!(
            found(&k, "No Internet since we were charged for a top up"),
            [["no internet", "charges", "top-up"]]
        );
        assert_eq!(found(&k, "no, internet"), [Vec::<String>::new()]);
    }

    #[test]
    fn weights_add_up_once_per_word() {
        let k = Keywords::parse("[tech]\n3 = [\"断网\"]\n1 = [\"路由器\"]\n").unwrap();
        let words = k.segmenter().words("断网了,路由器重启还是断网");
        assert_eq!(k.hits(&words)[0].score, 4);
    }

    #[test]
    fn negations_cancel_evidence_in_their_clause() {
        let k = Keywords::parse(
            "negation = [\"不是\", \"not a\"]\nnegation_after = [\"没问题\", \"is fine\"]\ntech = [\"网络\", \"network\"]\nbiz = [\"账单\", \"bill\"]\n",
        )
        .unwrap();
        let tech = |t: &str| found(&k, t)[3].clone();
        assert!(tech("不是网络问题,是账单不对").is_empty());
        assert!(tech("网络没问题,账单不对").is_empty());
        assert!(tech("It is not a network problem, the bill is wrong").is_empty());
        assert!(tech("the network is fine but the bill").is_empty());
        assert_eq!(tech("账单没问题,网络断了"), ["网络"]);
        assert_eq!(found(&k, "不是网络问题,是账单不对")[0], ["账单"]);
    }

    #[test]
    fn refuses_bad_lists() {
        assert!(Keywords::parse("Bad-Name = [\"x\"]").is_err());
        assert!(Keywords::parse("a = [\" \"]").is_err());
        assert!(Keywords::parse("a = \"not a list\"").is_err());
        assert!(Keywords::parse("[a]\nheavy = [\"x\"]").is_err());
        assert!(Keywords::parse("[a]\n0 = [\"x\"]").is_err());
        assert!(Keywords::parse("a = [\"!!\"]").is_err());
    }
}
