//! A complaint's features as the model names them: its words, its pairs of
//! words in a clause and runs of its Chinese characters (rules/model.rs
//! counts and weighs them), and the hashed keys a loaded model finds them
//! by without building their names.

use super::words::{Words, han_runs};
use std::collections::HashSet;

/// Feature names longer than this are not kept (bounded input).
const MAX_FEATURE_BYTES: usize = 64;

/// Which Chinese character runs a feature list has: the naive Bayes
/// heads read pairs only, the priority head single characters to triples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grams {
    Pairs,
    OneToThree,
}

impl Grams {
    fn lengths(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Grams::Pairs => 2..=2,
            Grams::OneToThree => 1..=3,
        }
    }
}

/// Calls `f` with each feature of a text, as the parts its name is made
/// of: its words, its pairs of words in a clause and the character runs of
/// `grams` of its Chinese text (repeats included; callers count each once).
/// Predicting hashes the parts where they lie and allocates nothing.
pub(super) fn each_feature(
    words: &Words,
    lower_text: &str,
    grams: Grams,
    mut f: impl FnMut(&[&str]),
) {
    let mut emit = |parts: &[&str]| {
        if parts.iter().map(|p| p.len()).sum::<usize>() <= MAX_FEATURE_BYTES {
            f(parts);
        }
    };
    let mut previous = None;
    for w in words.iter() {
        emit(&["w:", w.stem]);
        if let Some(p) = previous.filter(|p: &super::words::Word| p.clause == w.clause) {
            emit(&["p:", p.stem, " ", w.stem]);
        }
        previous = Some(w);
    }
    for run in han_runs(lower_text) {
        // The last four character boundaries, newest last: the run of the
        // last `n` characters starts `n` boundaries back.
        let mut bounds = [0usize; 4];
        let ends = run.char_indices().skip(1).map(|(i, _)| i);
        for (seen, end) in ends.chain([run.len()]).enumerate() {
            bounds.rotate_left(1);
            bounds[3] = end;
            for n in grams.lengths().filter(|n| *n <= seen + 1) {
                emit(&["c:", &run[bounds[3 - n]..end]]);
            }
        }
    }
}

/// The features of a text that `grams` selects, each once, as the model
/// file names them.
pub(super) fn features_of(words: &Words, lower_text: &str, grams: Grams) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    each_feature(words, lower_text, grams, |parts| {
        let f = parts.concat();
        if seen.insert(f.clone()) {
            out.push(f);
        }
    });
    out
}

/// The naive Bayes heads' features of a text, each once.
pub fn features(words: &Words, lower_text: &str) -> Vec<String> {
    features_of(words, lower_text, Grams::Pairs)
}

/// A feature's key in a loaded model.
pub(super) fn key(feature: &str) -> u64 {
    key_of(&[feature])
}

/// The key of the feature whose name is `parts` joined: FNV-1a over the
/// bytes, so the parts need not be joined first.
pub(super) fn key_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
