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
use rustc_hash::FxHashMap;
use std::cell::RefCell;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    /// What keywords compare with: lower case, stemmed for Latin script.
    pub stem: &'a str,
    /// As written, lower case (Latin: without apostrophes); `*` prefixes
    /// compare with this.
    pub raw: &'a str,
    /// Index of the clause the word is in.
    pub clause: u32,
}

/// Where one word's stem and spelling are in [`Words`]' buffer.
#[derive(Debug, Clone, Copy)]
struct Placed {
    stem: (usize, usize),
    raw: (usize, usize),
    clause: u32,
}

/// The words of a text, in order. Their letters share one buffer, so
/// segmenting allocates per text, not per word.
#[derive(Debug, Clone, Default)]
pub struct Words {
    letters: String,
    placed: Vec<Placed>,
    clause: u32,
}

impl Words {
    pub fn len(&self) -> usize {
        self.placed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.placed.is_empty()
    }

    /// The word at `i`.
    pub fn get(&self, i: usize) -> Option<Word<'_>> {
        let p = self.placed.get(i)?;
        Some(Word {
            stem: &self.letters[p.stem.0..p.stem.1],
            raw: &self.letters[p.raw.0..p.raw.1],
            clause: p.clause,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Word<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Adds a word whose stem and spelling are in the buffer already.
    fn place(&mut self, stem: (usize, usize), raw: (usize, usize)) {
        let spelled = &self.letters[raw.0..raw.1];
        if CLAUSE_BREAKS.contains(&spelled) {
            self.clause += 1;
        }
        self.placed.push(Placed {
            stem,
            raw,
            clause: self.clause,
        });
    }

    fn push_han(&mut self, word: &str) {
        let start = self.letters.len();
        self.letters.push_str(word);
        let end = self.letters.len();
        self.place((start, end), (start, end));
    }

    /// A Latin word as written (lower case): its spelling without
    /// apostrophes, then its stem when that differs.
    fn push_latin(&mut self, written: &str) {
        let start = self.letters.len();
        self.letters
            .extend(written.chars().filter(|c| !is_apostrophe(*c)));
        let raw_end = self.letters.len();
        STEMS.with_borrow_mut(|cache| {
            let spelled = &self.letters[start..raw_end];
            if !cache.contains_key(spelled) {
                if cache.len() >= STEM_CACHE_WORDS {
                    cache.clear();
                }
                let stem = stemmer().stem(spelled).into_owned();
                cache.insert(spelled.into(), stem.into());
            }
            if let Some(stem) = cache.get(&self.letters[start..raw_end])
                && **stem != self.letters[start..raw_end]
            {
                self.letters.push_str(stem);
            }
        });
        let end = self.letters.len();
        let stem = if end > raw_end {
            (raw_end, end)
        } else {
            (start, raw_end)
        };
        self.place(stem, (start, raw_end));
    }

    /// Punctuation: the next word starts a new clause.
    fn break_clause(&mut self) {
        self.clause += 1;
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

/// Distinct Latin words a thread remembers the stem of: Snowball costs
/// more than the rest of segmenting, and complaints reuse few words.
/// Past the bound the cache starts again (memory stays bounded whatever
/// the text).
const STEM_CACHE_WORDS: usize = 50_000;

thread_local! {
    static STEMS: RefCell<FxHashMap<Box<str>, Box<str>>> = RefCell::default();
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
    pub fn words(&self, text: &str) -> Words {
        let mut out = Words {
            letters: String::with_capacity(text.len() + text.len() / 4),
            placed: Vec::with_capacity(text.len() / 3 + 1),
            clause: 0,
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let end = if is_cjk(c) {
                let end = rest.find(|c: char| !is_cjk(c)).unwrap_or(rest.len());
                for t in self.jieba.cut(&rest[..end], false) {
                    out.push_han(t.word);
                }
                end
            } else if is_latin(c) {
                let end = rest
                    .find(|c: char| !is_latin(c) && !is_apostrophe(c))
                    .unwrap_or(rest.len());
                out.push_latin(&rest[..end]);
                end
            } else {
                // Punctuation ends a clause; spaces and word joiners do not.
                if !c.is_whitespace() && !is_apostrophe(c) && c != '-' && c != '_' {
                    out.break_clause();
                }
                c.len_utf8()
            };
            rest = &rest[end..];
        }
        out
    }
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// The runs of CJK characters in `text`.
pub fn han_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_cjk(c)).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(s: &Segmenter, text: &str) -> Vec<String> {
        s.words(text).iter().map(|w| w.stem.to_string()).collect()
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
        let stems: Vec<&str> = w.iter().map(|w| w.stem).collect();
        assert_eq!(stems, ["i", "was", "charg", "twice", "cant", "connect"]);
        assert_eq!(w.get(2).unwrap().raw, "charged");
        assert_eq!(w.get(3).unwrap().clause, 0);
        assert_eq!(w.get(4).unwrap().clause, 1);
        // Stems come from the cache the second time: the same words.
        let again = s.words("i was charged twice, can't connect");
        assert_eq!(
            again.iter().collect::<Vec<_>>(),
            w.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn clauses_break_at_punctuation_and_but() {
        let s = Segmenter::with_words([]);
        let words = s.words("不是网络问题,是账单 but the bill");
        let w: Vec<Word> = words.iter().collect();
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
