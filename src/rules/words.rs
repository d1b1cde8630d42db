//! A complaint's text as words: Chinese segmented by jieba (its dictionary
//! plus every word of the ruleset's keyword lists, so a keyword is one
//! token), Latin script split on non-letters, lower-cased, apostrophes
//! dropped and stemmed (Snowball English: "charged" and "charges" are both
//! "charg"). Keywords match whole words or word sequences, never parts of
//! a word: `电视` is not found in `电视剧`, "plan" not in "planet".
//!
//! Words are grouped into clauses (split at punctuation and at "but",
//! "但是" and the like), the scope of a negation (rules/keywords.rs).
//! A complaint is segmented once per decision (receipt and reopen).

use jieba_rs::Jieba;
use rust_stemmers::{Algorithm, Stemmer};
use std::sync::OnceLock;

/// Words that start a new clause as well as punctuation does.
const CLAUSE_BREAKS: &[&str] = &[
    "但", "但是", "可是", "不过", "而是", "只是", "却", "but", "however", "instead", "though",
    "although",
];

/// The dictionary frequency a keyword gets at least: enough to win over a
/// dictionary word that straddles it (宽带网|速 in 宽带网速), not over a
/// common longer word that contains it (电视剧, 电视机).
const KEYWORD_FREQ: usize = 500_000;

/// One word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// What keywords compare with: lower case, stemmed for Latin script.
    pub stem: String,
    /// As written, lower case, without apostrophes, when it differs from
    /// the stem (Latin words only).
    raw: Option<String>,
    /// Index of the clause the word is in.
    pub clause: u32,
}

impl Word {
    /// As written, lower case (Latin: without apostrophes); `*` prefixes
    /// compare with this.
    pub fn raw(&self) -> &str {
        self.raw.as_deref().unwrap_or(&self.stem)
    }
}

/// The segmenter of one ruleset: jieba's dictionary plus the ruleset's
/// own Chinese words.
#[derive(Clone)]
pub struct Segmenter {
    jieba: Jieba,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

/// jieba with its shipped dictionary, loaded once per process.
fn base() -> &'static Jieba {
    static BASE: OnceLock<Jieba> = OnceLock::new();
    BASE.get_or_init(Jieba::new)
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Chinese, Japanese and Korean characters: segmented by the dictionary.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Letters and digits of other scripts: words split at anything else.
fn is_latin(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

impl Segmenter {
    /// jieba's dictionary plus `words` (their Chinese runs), each given the
    /// frequency that keeps it whole where the text has it as a word.
    pub fn with_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Segmenter {
        let mut jieba = base().clone();
        for w in words {
            for run in han_runs(w) {
                let freq = jieba.suggest_freq(run).max(KEYWORD_FREQ);
                jieba.add_word(run, Some(freq), None);
            }
        }
        Segmenter { jieba }
    }

    /// The words of `text`, which should be lower case already.
    pub fn words(&self, text: &str) -> Vec<Word> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut clause = 0u32;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if is_cjk(c) {
                let end = rest.find(|c: char| !is_cjk(c)).unwrap_or(rest.len());
                for t in self.jieba.cut(&rest[..end], false) {
                    push(&mut out, &mut clause, t.word.to_string(), None);
                }
                rest = &rest[end..];
            } else if is_latin(c) {
                let end = rest
                    .find(|c: char| !is_latin(c) && !is_apostrophe(c))
                    .unwrap_or(rest.len());
                let raw: String = rest[..end].chars().filter(|c| !is_apostrophe(*c)).collect();
                let stem = stemmer().stem(&raw).into_owned();
                let raw = (raw != stem).then_some(raw);
                push(&mut out, &mut clause, stem, raw);
                rest = &rest[end..];
            } else {
                // Punctuation ends a clause; spaces and word joiners do not.
                if !c.is_whitespace() && !is_apostrophe(c) && c != '-' && c != '_' {
                    clause += 1;
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

fn push(out: &mut Vec<Word>, clause: &mut u32, stem: String, raw: Option<String>) {
    if CLAUSE_BREAKS.contains(&raw.as_deref().unwrap_or(&stem)) {
        *clause += 1;
    }
    out.push(Word {
        stem,
        raw,
        clause: *clause,
    });
}

/// The runs of CJK characters in `text`.
pub fn han_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_cjk(c)).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(s: &Segmenter, text: &str) -> Vec<String> {
        s.words(text).into_iter().map(|w| w.stem).collect()
    }

    #[test]
    fn chinese_is_cut_into_dictionary_words() {
        let s = Segmenter::with_words(["网速", "上不了网"]);
        let w = stems(&s, "送的电视剧会员没到账");
        assert!(w.contains(&"电视剧".to_string()), "{w:?}");
        assert!(!w.contains(&"电视".to_string()), "{w:?}");
        assert!(stems(&s, "家里上不了网").contains(&"上不了网".to_string()));
    }

    #[test]
    fn latin_words_are_lowercase_stems_without_apostrophes() {
        let s = Segmenter::with_words([]);
        let w = s.words("i was charged twice, can't connect");
        let stems: Vec<&str> = w.iter().map(|w| w.stem.as_str()).collect();
        assert_eq!(stems, ["i", "was", "charg", "twice", "cant", "connect"]);
        assert_eq!(w[2].raw(), "charged");
        assert_eq!(w[3].clause, 0);
        assert_eq!(w[4].clause, 1);
    }

    #[test]
    fn clauses_break_at_punctuation_and_but() {
        let s = Segmenter::with_words([]);
        let w = s.words("不是网络问题,是账单 but the bill");
        let last = w.last().unwrap();
        assert_eq!(w[0].clause, 0);
        assert_eq!(last.clause, 2, "{w:?}");
    }

    #[test]
    fn mixed_scripts_split_between_them() {
        let s = Segmenter::with_words([]);
        assert_eq!(stems(&s, "12300投诉")[0], "12300");
        assert_eq!(stems(&s, "12300投诉")[1], "投诉");
        assert_eq!(stems(&s, "5g信号"), ["5g", "信号"]);
    }
}
