//! `complaintflow report`: a self-contained HTML page for the complaint
//! analysis meeting (投诉分析会), from a replay's output directory.

pub mod figures;
pub mod html;

pub use figures::{Figures, Rows, compute};

use crate::model::{ComplaintRow, DeadLetter, SlaEvent};
use std::path::Path;

/// Report failures: an output file missing or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
}

fn jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: name.clone(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| ReportError::Row {
                path: name.clone(),
                line: n + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Reads the rows a replay wrote into `dir`.
pub fn read_dir(dir: &Path) -> Result<Rows, ReportError> {
    Ok(Rows {
        complaints: jsonl::<ComplaintRow>(&dir.join("complaints.jsonl"))?,
        sla: jsonl::<SlaEvent>(&dir.join("sla_events.jsonl"))?,
        dead_letters: jsonl::<DeadLetter>(&dir.join("dead_letters.jsonl"))?,
    })
}
