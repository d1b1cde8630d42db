//! JSONL files: `decisions.jsonl`, `sla_events.jsonl`, `complaints.jsonl`,
//! `dead_letters.jsonl` in one directory.

use super::{OutputSink, SinkError};
use crate::core::Output;
use crate::model::{ComplaintRow, DeadLetter, Decision, SlaEvent};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

struct JsonlFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlFile {
    fn create(path: PathBuf) -> Result<JsonlFile, SinkError> {
        let file = File::create(&path).map_err(|source| SinkError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(JsonlFile {
            path,
            out: BufWriter::with_capacity(1 << 16, file),
        })
    }

    fn write<T: Serialize>(&mut self, row: &T) -> Result<(), SinkError> {
        let err = |e: std::io::Error| SinkError::Io {
            path: self.path.display().to_string(),
            source: e,
        };
        serde_json::to_writer(&mut self.out, row).map_err(|e| err(e.into()))?;
        self.out.write_all(b"\n").map_err(err)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|source| SinkError::Io {
            path: self.path.display().to_string(),
            source,
        })
    }
}

/// The replay outputs of docs/contract.md in a directory.
pub struct JsonlSink {
    decisions: JsonlFile,
    sla: JsonlFile,
    dead: JsonlFile,
    complaints: JsonlFile,
}

impl JsonlSink {
    /// Creates (truncates) the four files in `dir`, creating `dir` if needed.
    pub fn create(dir: &Path) -> Result<JsonlSink, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(JsonlSink {
            decisions: JsonlFile::create(dir.join("decisions.jsonl"))?,
            sla: JsonlFile::create(dir.join("sla_events.jsonl"))?,
            dead: JsonlFile::create(dir.join("dead_letters.jsonl"))?,
            complaints: JsonlFile::create(dir.join("complaints.jsonl"))?,
        })
    }
}

impl OutputSink for JsonlSink {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        match o {
            Output::Decision(d) => self.decisions.write(d),
            Output::Sla(e) => self.sla.write(e),
            Output::DeadLetter(r) => self.dead.write(&r.letter),
            Output::Complaint(row) => self.complaints.write(row),
            Output::Event(_) | Output::Changed(_) => Ok(()),
        }
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.decisions.flush()?;
        self.sla.flush()?;
        self.dead.flush()?;
        self.complaints.flush()
    }
}

/// Keeps outputs in memory: for tests and benchmarks.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub decisions: Vec<Decision>,
    pub sla: Vec<SlaEvent>,
    pub dead_letters: Vec<DeadLetter>,
    pub complaints: Vec<ComplaintRow>,
}

impl OutputSink for MemorySink {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        match o {
            Output::Decision(d) => self.decisions.push(d.clone()),
            Output::Sla(e) => self.sla.push(e.clone()),
            Output::DeadLetter(r) => self.dead_letters.push(r.letter.clone()),
            Output::Complaint(row) => self.complaints.push(row.clone()),
            Output::Event(_) | Output::Changed(_) => {}
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}
