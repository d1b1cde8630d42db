//! The model file's text: laid out by hand so that a retrained model diffs
//! (one line per feature, each written once for all naive Bayes heads) and
//! read back through serde with unknown fields refused.

use super::logistic::LogisticFile;
use super::model::{HeadCounts, ModelFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

impl ModelFile {
    /// The file's text: the heads' classes and documents, then one line
    /// per feature with its counts in each head (in the heads' order), so
    /// a retrained model diffs and each feature is written once.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\n  \"format\": {},\n  \"trained_on\": {},\n  \"heads\": {{",
            js(&self.format),
            js(&self.trained_on)
        );
        let mut features: BTreeMap<&str, Vec<&[u32]>> = BTreeMap::new();
        for (h, (name, head)) in self.heads.iter().enumerate() {
            let meta = StoredHead {
                classes: head.classes.clone(),
                documents: head.documents.clone(),
            };
            let sep = if h == 0 { "\n" } else { ",\n" };
            out.push_str(&format!("{sep}    {}: {}", js(name), js(&meta)));
            for (f, counts) in &head.features {
                let row = features
                    .entry(f)
                    .or_insert_with(|| vec![&[]; self.heads.len()]);
                row[h] = counts;
            }
        }
        // One unindented line per feature: tens of thousands of them, so
        // every byte of a line is a share of the file.
        out.push_str("\n  },\n  \"features\": {");
        for (i, (f, row)) in features.iter().enumerate() {
            let sep = if i == 0 { "\n" } else { ",\n" };
            out.push_str(&format!("{sep}{}:{}", js(f), js(row)));
        }
        let p = &self.priority;
        out.push_str(&format!(
            "\n  }},\n  \"priority\": {{\n    \"classes\": {},\n    \"documents\": {},\n    \"bias\": {},\n    \"features\": {{",
            js(&p.classes),
            p.documents,
            js(&p.bias)
        ));
        for (i, (f, w)) in p.features.iter().enumerate() {
            let sep = if i == 0 { "\n" } else { ",\n" };
            out.push_str(&format!("{sep}{}:{}", js(f), js(w)));
        }
        out.push_str("\n    }\n  }\n}\n");
        out
    }

    /// Reads a model file's text (any format version: the caller checks).
    pub fn from_json(text: &str) -> Result<ModelFile, String> {
        let stored: Stored =
            serde_json::from_str(text).map_err(|e| format!("not a model file: {e}"))?;
        let mut heads: BTreeMap<String, HeadCounts> = stored
            .heads
            .into_iter()
            .map(|(name, h)| {
                let head = HeadCounts {
                    classes: h.classes,
                    documents: h.documents,
                    features: BTreeMap::new(),
                };
                (name, head)
            })
            .collect();
        for (f, row) in stored.features {
            if row.len() != heads.len() {
                return Err(format!(
                    "feature `{f}` has counts for {} heads, not {}",
                    row.len(),
                    heads.len()
                ));
            }
            for (head, counts) in heads.values_mut().zip(row) {
                if !counts.is_empty() {
                    head.features.insert(f.clone(), counts);
                }
            }
        }
        Ok(ModelFile {
            format: stored.format,
            trained_on: stored.trained_on,
            heads,
            priority: stored.priority,
        })
    }
}

/// The file's layout (see [`ModelFile::to_json`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: String,
    trained_on: BTreeMap<String, usize>,
    heads: BTreeMap<String, StoredHead>,
    features: BTreeMap<String, Vec<Vec<u32>>>,
    /// Absent in files of other formats (refused by version, not here).
    #[serde(default)]
    priority: LogisticFile,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredHead {
    classes: Vec<String>,
    documents: Vec<u32>,
}

/// Compact JSON of one value, for the hand-laid-out file.
fn js<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
