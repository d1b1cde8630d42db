//! Every name on the page in Chinese and English, and times in the page's
//! zone: one place, so a table and a chart never name a thing twice over.

use crate::core::RejectCode;
use crate::model::{Category, Priority, Stage, Timestamp, channel_zh};
use std::collections::BTreeMap;

/// What the page names things with.
pub struct Names<'a> {
    /// Department id → Chinese name (rules/departments.toml).
    pub departments: Option<&'a BTreeMap<String, String>>,
    pub zone: chrono::FixedOffset,
}

/// "中文 english", or the English alone when there is no Chinese name.
fn both(zh: Option<&str>, en: &str) -> String {
    match zh {
        Some(zh) => format!("{zh} {en}"),
        None => en.to_string(),
    }
}

impl Names<'_> {
    pub fn department(&self, id: &str) -> String {
        both(
            self.departments.and_then(|m| m.get(id)).map(String::as_str),
            id,
        )
    }

    pub fn channel(&self, channel: &str) -> String {
        both(channel_zh(channel), channel)
    }

    pub fn category(&self, c: Category) -> String {
        both(Some(c.zh()), c.as_str())
    }

    /// A category as the rows hold it (a name, maybe one this build lacks).
    pub fn category_named(&self, name: &str) -> String {
        both(Category::parse(name).map(Category::zh), name)
    }

    pub fn priority(&self, p: Priority) -> String {
        both(Some(p.zh()), p.as_str())
    }

    pub fn priority_named(&self, name: &str) -> String {
        both(Priority::parse(name).map(Priority::zh), name)
    }

    pub fn stage(&self, s: Stage) -> String {
        both(Some(s.zh()), s.as_str())
    }

    /// A dead letter's reason code.
    pub fn reason(&self, code: &str) -> String {
        both(RejectCode::named(code).map(RejectCode::zh), code)
    }

    /// A dead letter's origin (a file or topic; "–" when it has none).
    pub fn source(&self, origin: &str) -> String {
        match origin {
            "" => "–".into(),
            o => o.to_string(),
        }
    }

    /// A time in the page's zone, to the minute.
    pub fn local(&self, t: Timestamp) -> String {
        t.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}
