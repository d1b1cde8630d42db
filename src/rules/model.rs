//! `rules/model.json`: a text classifier learned from labelled complaints
//! (`complaintflow rules learn`) over a complaint's words, its word pairs
//! and runs of its Chinese text: multinomial naive Bayes heads for the
//! category and the lead department (character pairs), and a logistic
//! regression head for the priority (single characters to triples,
//! `rules::logistic`). Rules read its answer as `c.model`
//! and weigh it beside the keyword evidence.
//!
//! The file holds counts and integer weights, not probabilities: it is
//! exact, diffable and small, and the probabilities follow from it when it
//! is loaded. A file of another format version is refused, like any
//! unreadable rule file.

use super::features::{Grams, each_feature, features, features_of, key, key_of};
use super::logistic::{self, LogisticFile};
use super::words::{Segmenter, Words};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// The format this build reads and writes.
pub const FORMAT: &str = "complaintflow-text-model/2";
/// The file in a rules directory.
pub const FILE: &str = "model.json";
/// The naive Bayes heads every model has (the priority head is logistic).
pub const HEADS: [&str; 2] = ["category", "lead_department"];
/// Additive smoothing of feature counts.
const ALPHA: f64 = 0.1;
/// Confidences are given in steps of this, so that decisions remembered by
/// what the rule read (rules/memo.rs) are shared by similar complaints.
pub const CONFIDENCE_STEP: f64 = 0.05;

/// A model's counts, as trained and as the file holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub format: String,
    /// What it was trained on, for people: sources and example counts.
    pub trained_on: BTreeMap<String, usize>,
    pub heads: BTreeMap<String, HeadCounts>,
    pub priority: LogisticFile,
}

/// One head's counts: per class, the documents and, per feature, the
/// documents of that class that have it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadCounts {
    pub classes: Vec<String>,
    pub documents: Vec<u32>,
    pub features: BTreeMap<String, Vec<u32>>,
}

/// One labelled example.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub category: String,
    pub lead_department: String,
    pub priority: String,
}

/// A head ready to predict: log priors and log likelihoods.
#[derive(Debug, Clone)]
struct Head {
    classes: Vec<rhai::ImmutableString>,
    priors: Vec<f64>,
    /// Per feature row of the model's index, one log likelihood per class
    /// (0 for a feature this head never had: it says nothing).
    likelihood: Vec<f64>,
}

/// A head's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub class: rhai::ImmutableString,
    /// The answer's probability, rounded down to [`CONFIDENCE_STEP`].
    pub confidence: f64,
}

/// The model's answers for one complaint.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub category: Answer,
    pub lead_department: Answer,
    pub priority: Answer,
}

/// A loaded model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Row of each feature the model knows, by key.
    index: FxHashMap<u64, u32>,
    /// In the order of [`HEADS`].
    heads: [Head; 2],
    /// Rows below this are the naive Bayes heads' features; the priority
    /// head's own come after.
    bayes_rows: u32,
    priority: Logistic,
}

/// The priority head ready to predict.
#[derive(Debug, Clone)]
struct Logistic {
    classes: Vec<rhai::ImmutableString>,
    bias: Vec<f64>,
    /// Per feature row of the model's index, one weight per class with the
    /// feature's rarity folded in (0 for a feature this head never had).
    weights: Vec<f64>,
    /// Per feature row, the feature's rarity (0 when the head lacks it), for
    /// scaling a complaint's features to unit length.
    rarity: Vec<f64>,
}

/// A head of the model, by its place in [`HEADS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadName {
    Category = 0,
    LeadDepartment = 1,
    Priority = 2,
}

impl HeadCounts {
    fn add(&mut self, class: &str, features: &[String]) {
        let i = match self.classes.iter().position(|c| c == class) {
            Some(i) => i,
            None => {
                self.classes.push(class.to_string());
                self.documents.push(0);
                for counts in self.features.values_mut() {
                    counts.push(0);
                }
                self.classes.len() - 1
            }
        };
        self.documents[i] = self.documents[i].saturating_add(1);
        let n = self.classes.len();
        for f in features {
            let counts = self.features.entry(f.clone()).or_insert_with(|| vec![0; n]);
            counts[i] = counts[i].saturating_add(1);
        }
    }

    /// `rows`: how many rows of `index` the naive Bayes heads' features take.
    fn compile(
        &self,
        head: &str,
        index: &FxHashMap<u64, u32>,
        rows: usize,
    ) -> Result<Head, String> {
        let n = self.classes.len();
        if n == 0 || self.documents.len() != n {
            return Err(format!(
                "head `{head}`: classes and document counts disagree or are empty"
            ));
        }
        let docs: f64 = self.documents.iter().map(|&d| f64::from(d)).sum();
        if docs == 0.0 {
            return Err(format!("head `{head}`: no documents"));
        }
        let mut totals = vec![0f64; n];
        for (f, counts) in &self.features {
            if counts.len() != n {
                return Err(format!(
                    "head `{head}`: feature `{f}` has {} counts for {n} classes",
                    counts.len()
                ));
            }
            for (t, &c) in totals.iter_mut().zip(counts) {
                *t += f64::from(c);
            }
        }
        let vocabulary = self.features.len() as f64;
        let denominators: Vec<f64> = totals
            .iter()
            .map(|t| (t + ALPHA * vocabulary).ln())
            .collect();
        let mut likelihood = vec![0f64; rows * n];
        for (f, counts) in &self.features {
            let row = index[&key(f)] as usize * n;
            for (i, (&c, d)) in counts.iter().zip(&denominators).enumerate() {
                likelihood[row + i] = (f64::from(c) + ALPHA).ln() - d;
            }
        }
        Ok(Head {
            classes: self.classes.iter().map(|c| c.as_str().into()).collect(),
            priors: self
                .documents
                .iter()
                .map(|&d| ((f64::from(d) + ALPHA) / (docs + ALPHA * n as f64)).ln())
                .collect(),
            likelihood,
        })
    }
}

impl Head {
    fn answer(&self, rows: &[u32]) -> Answer {
        let n = self.classes.len();
        let mut scores = self.priors.clone();
        for &r in rows {
            let lp = &self.likelihood[r as usize * n..(r as usize + 1) * n];
            for (s, l) in scores.iter_mut().zip(lp) {
                *s += l;
            }
        }
        let (best, top) = scores
            .iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |acc, (i, &s)| if s > acc.1 { (i, s) } else { acc },
            );
        let total: f64 = scores.iter().map(|s| (s - top).exp()).sum();
        answer(&self.classes[best], 1.0 / total)
    }
}

/// A class with its probability rounded down to [`CONFIDENCE_STEP`].
fn answer(class: &rhai::ImmutableString, p: f64) -> Answer {
    Answer {
        class: class.clone(),
        // Whole steps divided once: 19 / 20 is exactly 0.95.
        confidence: (p / CONFIDENCE_STEP).floor() / (1.0 / CONFIDENCE_STEP).round(),
    }
}

impl Logistic {
    fn compile(file: &LogisticFile, index: &FxHashMap<u64, u32>) -> Result<Logistic, String> {
        let k = file.classes.len();
        if k == 0 || file.bias.len() != k || file.documents == 0 {
            return Err(
                "priority head: classes, biases and documents disagree or are empty".into(),
            );
        }
        let unit = |w: i32| f64::from(w) / logistic::SCALE;
        let mut weights = vec![0.0; index.len() * k];
        let mut rarity = vec![0.0; index.len()];
        for (f, row) in &file.features {
            let (Some((&documents, w)), true) = (row.split_first(), row.len() == k + 1) else {
                return Err(format!(
                    "priority head: feature `{f}` has {} numbers, not its documents and {k} weights",
                    row.len()
                ));
            };
            let documents = u32::try_from(documents)
                .ok()
                .filter(|d| (1..=file.documents).contains(d))
                .ok_or_else(|| format!("priority head: feature `{f}` in {documents} documents"))?;
            let i = index[&key(f)] as usize;
            rarity[i] = logistic::rarity(file.documents, documents);
            for (slot, w) in weights[i * k..(i + 1) * k].iter_mut().zip(w) {
                *slot = unit(*w) * rarity[i];
            }
        }
        Ok(Logistic {
            classes: file.classes.iter().map(|c| c.as_str().into()).collect(),
            bias: file.bias.iter().map(|b| unit(*b)).collect(),
            weights,
            rarity,
        })
    }

    fn answer(&self, rows: &[u32]) -> Answer {
        let k = self.classes.len();
        let mut p = vec![0.0; k];
        let mut length = 0.0;
        for &r in rows {
            let r = r as usize;
            length += self.rarity[r] * self.rarity[r];
            for (s, w) in p.iter_mut().zip(&self.weights[r * k..(r + 1) * k]) {
                *s += w;
            }
        }
        // The features' values are their rarities scaled to unit length.
        let length = if length > 0.0 { length.sqrt() } else { 1.0 };
        for (s, b) in p.iter_mut().zip(&self.bias) {
            *s = *s / length + b;
        }
        logistic::softmax(&mut p);
        let best = (0..k).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        answer(&self.classes[best], p[best])
    }
}

impl ModelFile {
    /// Counts `examples`, segmented with `segmenter`.
    pub fn train(
        examples: &[Example],
        segmenter: &Segmenter,
        trained_on: BTreeMap<String, usize>,
    ) -> ModelFile {
        let mut category = HeadCounts::default();
        let mut lead = HeadCounts::default();
        let mut priority = Vec::with_capacity(examples.len());
        for e in examples {
            let text = e.text.to_lowercase();
            let words = segmenter.words(&text);
            let f = features(&words, &text);
            category.add(&e.category, &f);
            lead.add(&e.lead_department, &f);
            let all = features_of(&words, &text, Grams::OneToThree);
            priority.push((all, e.priority.clone()));
        }
        ModelFile {
            format: FORMAT.to_string(),
            trained_on,
            heads: BTreeMap::from([
                (HEADS[0].to_string(), category),
                (HEADS[1].to_string(), lead),
            ]),
            priority: logistic::train(&priority),
        }
    }
}

impl Model {
    /// Reads and checks a model file's text.
    pub fn parse(text: &str) -> Result<Model, String> {
        let file = ModelFile::from_json(text)?;
        if file.format != FORMAT {
            return Err(format!(
                "format `{}`, but this complaintflow reads `{FORMAT}`: retrain it with `complaintflow rules learn`",
                file.format
            ));
        }
        // The naive Bayes heads' features take the first rows, so that
        // those heads read a prefix of a complaint's sorted rows.
        let mut index = FxHashMap::default();
        let number = |index: &mut FxHashMap<u64, u32>, f: &String| {
            let next = index.len() as u32;
            index.entry(key(f)).or_insert(next);
        };
        for f in file.heads.values().flat_map(|h| h.features.keys()) {
            number(&mut index, f);
        }
        let bayes_rows = index.len() as u32;
        for f in file.priority.features.keys() {
            number(&mut index, f);
        }
        let head = |name: &str| {
            file.heads
                .get(name)
                .ok_or_else(|| format!("no `{name}` head"))?
                .compile(name, &index, bayes_rows as usize)
        };
        Ok(Model {
            heads: [head(HEADS[0])?, head(HEADS[1])?],
            priority: Logistic::compile(&file.priority, &index)?,
            index,
            bayes_rows,
        })
    }

    /// The rows of the features of a complaint's words and lower-case
    /// text that the model knows (features no training document had say
    /// nothing about a class), sorted and each once.
    pub fn rows(&self, words: &Words, lower_text: &str) -> Vec<u32> {
        // Looked up first, then made unique: most of a text's features are
        // unknown to the model, so fewer rows than keys are sorted.
        let mut rows = Vec::with_capacity(words.len() * 2 + lower_text.len() / 3);
        each_feature(words, lower_text, Grams::OneToThree, |parts| {
            if let Some(&row) = self.index.get(&key_of(parts)) {
                rows.push(row);
            }
        });
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// One head's answer for the feature rows of a complaint.
    pub fn answer(&self, head: HeadName, rows: &[u32]) -> Answer {
        // Rows are sorted (`rows`): naive Bayes reads only its prefix.
        let bayes = &rows[..rows.partition_point(|&r| r < self.bayes_rows)];
        match head {
            HeadName::Category => self.heads[0].answer(bayes),
            HeadName::LeadDepartment => self.heads[1].answer(bayes),
            HeadName::Priority => self.priority.answer(rows),
        }
    }

    /// Every head's answer for a complaint's words and lower-case text.
    pub fn predict(&self, words: &Words, lower_text: &str) -> Prediction {
        let rows = self.rows(words, lower_text);
        Prediction {
            category: self.answer(HeadName::Category, &rows),
            lead_department: self.answer(HeadName::LeadDepartment, &rows),
            priority: self.answer(HeadName::Priority, &rows),
        }
    }
}

/// Accuracy of category, lead department and priority in `folds`-fold
/// cross-validation: every example is predicted by a model that did not
/// see it.
pub fn cross_validate(examples: &[Example], segmenter: &Segmenter, folds: usize) -> [f64; 3] {
    let folds = folds.clamp(2, examples.len().max(2));
    let (mut category, mut lead, mut priority) = (0usize, 0usize, 0usize);
    for k in 0..folds {
        let train: Vec<Example> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, e)| e.clone())
            .collect();
        let Ok(model) =
            Model::parse(&ModelFile::train(&train, segmenter, BTreeMap::new()).to_json())
        else {
            continue;
        };
        for e in examples.iter().skip(k).step_by(folds) {
            let text = e.text.to_lowercase();
            let p = model.predict(&segmenter.words(&text), &text);
            category += (p.category.class == e.category.as_str()) as usize;
            lead += (p.lead_department.class == e.lead_department.as_str()) as usize;
            priority += (p.priority.class == e.priority.as_str()) as usize;
        }
    }
    let n = examples.len().max(1) as f64;
    [category, lead, priority].map(|x| x as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str, category: &str, lead: &str) -> Example {
        Example {
            text: text.into(),
            category: category.into(),
            lead_department: lead.into(),
            priority: "general".into(),
        }
    }

    fn model() -> (Model, Segmenter) {
        let s = Segmenter::with_words([]);
        let examples = [
            example("宽带断网了,一直连不上", "technical", "technical"),
            example("网络很慢,视频一直缓冲", "technical", "technical"),
            example("the internet keeps dropping", "technical", "technical"),
            example("这个月账单多扣了五十元", "business", "business"),
            example("套餐费用不对,要求退款", "business", "business"),
            example("I was billed twice this month", "business", "business"),
            example("客服态度很差,挂我电话", "other", "customer_service"),
        ];
        let file = ModelFile::train(&examples, &s, BTreeMap::from([("test".into(), 7)]));
        (Model::parse(&file.to_json()).unwrap(), s)
    }

    #[test]
    fn learns_words_and_character_pairs() {
        let (m, s) = model();
        let p = |t: &str| m.predict(&s.words(t), t);
        assert_eq!(p("视频缓冲得厉害").category.class, "technical");
        assert_eq!(p("扣了我的钱,要退款").category.class, "business");
        assert_eq!(p("billed twice").lead_department.class, "business");
        let c = p("视频缓冲得厉害").category.confidence;
        let steps = c / CONFIDENCE_STEP;
        assert!(
            (0.0..=1.0).contains(&c) && (steps - steps.round()).abs() < 1e-9,
            "{c}"
        );
    }

    #[test]
    fn the_priority_head_reads_character_runs_and_refuses_bad_rows() {
        let s = Segmenter::with_words([]);
        let example = |text: String, priority: &str| Example {
            text,
            category: "technical".into(),
            lead_department: "technical".into(),
            priority: priority.into(),
        };
        let mut examples = Vec::new();
        for place in ["东区", "西区", "南区"] {
            examples.push(example(format!("{place}整栋楼都断网了"), "urgent"));
            examples.push(example(format!("{place}我家宽带断网了"), "general"));
        }
        let mut file = ModelFile::train(&examples, &s, BTreeMap::new());
        // Triples are the priority head's alone; the other heads read pairs.
        assert!(file.priority.features.contains_key("c:整栋楼"));
        assert!(!file.heads["category"].features.contains_key("c:整栋楼"));
        let m = Model::parse(&file.to_json()).unwrap();
        let p = |t: &str| m.predict(&s.words(t), t).priority;
        assert_eq!(p("北区整栋楼断网").class, "urgent");
        assert_eq!(p("北区我家宽带断网").class, "general");
        assert!(p("北区整栋楼断网").confidence > 0.5);
        file.priority.features.insert("c:整栋楼".into(), vec![3, 1]);
        let err = Model::parse(&file.to_json()).unwrap_err();
        assert!(
            err.contains("has 2 numbers, not its documents and 2 weights"),
            "{err}"
        );
        file.priority
            .features
            .insert("c:整栋楼".into(), vec![0, 1, 1]);
        let err = Model::parse(&file.to_json()).unwrap_err();
        assert!(err.contains("in 0 documents"), "{err}");
    }

    #[test]
    fn the_file_round_trips_and_other_formats_are_refused() {
        let s = Segmenter::with_words([]);
        let file = ModelFile::train(
            &[example("断网", "technical", "technical")],
            &s,
            BTreeMap::new(),
        );
        let back = ModelFile::from_json(&file.to_json()).unwrap();
        assert_eq!(back, file);
        let other = file
            .to_json()
            .replace(FORMAT, "complaintflow-naive-bayes/1");
        assert!(Model::parse(&other).unwrap_err().contains("retrain"));
        assert!(Model::parse("{\"format\": 1").is_err());
        let no_head = file.to_json().replace("\"lead_department\"", "\"lead\"");
        assert!(
            Model::parse(&no_head)
                .unwrap_err()
                .contains("no `lead_department` head")
        );
    }
}
