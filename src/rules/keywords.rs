//! `rules/keywords.toml`: named keyword lists, matched in one pass over the
//! description so rules stay fast however long the lists grow. Scripts read
//! the result as `c.keywords.<list>`: the first word of that list found in
//! the text, or "" when none is. A word in Latin script matches whole words
//! only ("plan" is not in "explanation"); a trailing `*` makes it a prefix
//! ("vulnerab*" matches "vulnerability"). Chinese words match anywhere.

use aho_corasick::AhoCorasick;
use rhai::ImmutableString;
use std::collections::BTreeMap;

/// Compiled keyword lists.
#[derive(Debug, Clone)]
pub struct Keywords {
    names: Vec<ImmutableString>,
    /// List index of every pattern.
    list_of: Vec<usize>,
    /// The words as written in the file, lower-cased; shared with every
    /// decision that reports them.
    words: Vec<ImmutableString>,
    /// Per pattern: must the match start / end at a word boundary?
    bounds: Vec<(bool, bool)>,
    none: ImmutableString,
    matcher: AhoCorasick,
}

/// Whether a word edge is a letter or digit of Latin script, so the text
/// around it must not continue the word.
fn latin(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric())
}

impl Keywords {
    /// Parses the TOML text: `list = ["word", ...]` per list.
    pub fn parse(text: &str) -> Result<Keywords, String> {
        let lists: BTreeMap<String, Vec<String>> =
            toml::from_str(text).map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        let mut list_of = Vec::new();
        let mut words = Vec::new();
        let mut bounds = Vec::new();
        for (i, (name, list)) in lists.into_iter().enumerate() {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!(
                    "list name `{name}`: use lower-case letters, digits and _"
                ));
            }
            for w in list {
                let w = w.trim().to_lowercase();
                let (w, prefix) = match w.strip_suffix('*') {
                    Some(stem) => (stem.to_string(), true),
                    None => (w, false),
                };
                if w.is_empty() {
                    return Err(format!("list `{name}` has an empty word"));
                }
                bounds.push((latin(w.chars().next()), !prefix && latin(w.chars().last())));
                list_of.push(i);
                words.push(ImmutableString::from(w));
            }
            names.push(name.into());
        }
        let matcher =
            AhoCorasick::new(words.iter().map(|w| w.as_str())).map_err(|e| e.to_string())?;
        Ok(Keywords {
            names,
            list_of,
            words,
            bounds,
            none: ImmutableString::new(),
            matcher,
        })
    }

    /// No lists (a ruleset without `keywords.toml`).
    pub fn empty() -> Keywords {
        Keywords::parse("").expect("empty lists compile")
    }

    /// Names of the lists, sorted.
    pub fn names(&self) -> &[ImmutableString] {
        &self.names
    }

    /// For every list, the earliest word of it found in `text` (lower case), or "".
    pub fn first_matches(&self, text: &str) -> Vec<(ImmutableString, ImmutableString)> {
        let mut found: Vec<Option<(usize, usize)>> = vec![None; self.names.len()];
        for m in self.matcher.find_overlapping_iter(text) {
            let id = m.pattern().as_usize();
            let (start, end) = self.bounds[id];
            if (start && latin(text[..m.start()].chars().next_back()))
                || (end && latin(text[m.end()..].chars().next()))
            {
                continue;
            }
            let slot = &mut found[self.list_of[id]];
            if slot.is_none_or(|(start, _)| m.start() < start) {
                *slot = Some((m.start(), id));
            }
        }
        let word = |f: Option<(usize, usize)>| {
            f.map_or_else(|| self.none.clone(), |(_, id)| self.words[id].clone())
        };
        self.names
            .iter()
            .zip(found)
            .map(|(n, f)| (n.clone(), word(f)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_words_match_whole_words_and_stars_mark_prefixes() {
        let k = Keywords::parse("biz = [\"plan\"]\nsec = [\"vulnerab*\"]\ntech = [\"网速\"]\n")
            .unwrap();
        let hit = |text: &str| -> Vec<String> {
            k.first_matches(text)
                .iter()
                .map(|(_, w)| w.to_string())
                .collect()
        };
        assert_eq!(hit("thanks for the explanation"), ["", "", ""]);
        assert_eq!(
            hit("my plan, 网速慢, a vulnerability"),
            ["plan", "vulnerab", "网速"]
        );
        assert_eq!(hit("套餐plan很贵"), ["plan", "", ""]);
    }

    #[test]
    fn finds_the_earliest_word_of_each_list() {
        let k =
            Keywords::parse("tech = [\"断网\", \"Slow\"]\nbiz = [\"扣费\"]\nnone = [\"zzz\"]\n")
                .unwrap();
        let m = k.first_matches("very slow, 断网 and 扣费");
        let m: Vec<(&str, &str)> = m.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(m, [("biz", "扣费"), ("none", ""), ("tech", "slow")]);
    }

    #[test]
    fn refuses_bad_lists() {
        assert!(Keywords::parse("Bad-Name = [\"x\"]").is_err());
        assert!(Keywords::parse("a = [\" \"]").is_err());
        assert!(Keywords::parse("a = \"not a list\"").is_err());
    }
}
